"""A linear with a bias on a GPU goes to the vendor whole (F.linear: the bias in cuBLAS's epilogue; for
fp8, torch._scaled_mm(bias=...)), counted as fallback "bias": hktune's kernels have no bias epilogue
and the separate pass over C would cost more than tuning gains, so a biased model is never slower
because of hktune. On the CPU (host family) the tuned kernel still serves biased linears
(tests/test_torch_ops.py). No GPU here: a meta-device tensor stands for one (any non-CPU device)."""
from __future__ import annotations

import torch

import hktune.torch as ht
from hktune.torch.functional import bias_to_vendor


def _meta(*shape: int, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    return torch.empty(*shape, device="meta", dtype=dtype)


def test_a_biased_linear_off_the_cpu_is_the_vendor_s_whole_call():
    ht.reset_stats()
    with torch.no_grad():
        y = ht.linear(_meta(2, 32, 128), _meta(256, 128), _meta(256))
        assert y.shape == (2, 32, 256) and y.device.type == "meta"
        s = ht.stats()
        assert s["fallback"] == 1 and s["reasons"] == {"bias": 1}, s
        ht.linear(_meta(64, 128), _meta(256, 128))               # no bias: planned as any GEMM
        assert ht.stats()["reasons"] == {"bias": 1, "device": 1}
    assert bias_to_vendor(_meta(4, 4), _meta(4)) and not bias_to_vendor(_meta(4, 4), None)
    assert not bias_to_vendor(torch.zeros(4, 4), torch.zeros(4))  # the CPU keeps the tuned path


def test_an_fp8_linear_with_a_bias_off_the_cpu_is_scaled_mm_with_its_bias():
    ht.reset_stats()
    w8 = _meta(256, 128, dtype=torch.float8_e4m3fn)
    with torch.no_grad():
        y = ht.scaled_linear(_meta(64, 128), w8, torch.empty((), device="meta"), _meta(256),
                             input_scale=torch.empty((), device="meta"))
    assert y.shape == (64, 256) and y.dtype == torch.bfloat16
    assert ht.stats()["reasons"] == {"bias": 1}
