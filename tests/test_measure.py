import math

import torch

from hktune.run.verify import check, parse_config_string, reference


def _pair(m=64, n=48, k=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, k, generator=g).to(torch.bfloat16)
    B = torch.randn(n, k, generator=g).to(torch.bfloat16)
    return A, B, reference(A, B)


def test_correct_bf16_output_passes():
    A, B, ref = _pair()
    err, why = check(ref.to(torch.bfloat16), ref)
    assert why is None and 0 < err < 5e-3


def test_one_wrong_element_fails():
    A, B, ref = _pair()
    C = ref.to(torch.bfloat16)
    C[10, 7] = -C[10, 7] + 1
    err, why = check(C, ref)
    assert why and "1 of" in why and "[10,7]" in why


def test_unwritten_nan_fails():
    A, B, ref = _pair()
    C = ref.to(torch.bfloat16)
    C[-1, -1] = float("nan")
    err, why = check(C, ref)
    assert math.isinf(err) and "NaN" in why


def test_small_systematic_error_fails_on_frobenius_or_elements():
    A, B, ref = _pair()
    err, why = check((ref * 1.03).to(torch.bfloat16), ref)
    assert why is not None


def test_parse_config_string():
    assert parse_config_string("A=1,B=22") == {"A": 1, "B": 22}


def test_fresh_inputs_keep_exact_references():
    """A fresh measurement's inputs (issue 19: no winner's curse): new values at every address, and
    each stored reference still equals the fp32 product of its inputs."""
    import torch

    from hktune.run.measure import Settings, make_sets, refresh
    from hktune.run.verify import reference

    sets = make_sets(64, 48, 32, torch.device("cpu"), 1 << 16, Settings())
    before = [a.clone() for a in sets.A]
    refresh(sets, torch.Generator().manual_seed(5))
    assert all(not torch.equal(a, b) for a, b in zip(sets.A, before))
    for A, Bt, ref in zip(sets.A, sets.Bt, sets.ref):
        assert torch.equal(ref, reference(A, Bt))
        assert (A != 0).all()
