"""The dtype seam (hktune.dtypes): inputs, reference, vendor call and extra kernel operands come
from the dtype object, and the worker protocol carries the dtype (issue 20)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from hktune.dtypes import DTYPES, DType, Inputs
from hktune.run.measure import Evaluator, Settings, make_sets
from hktune.run.runner import Worker
from hktune.run.verify import MeasureError

BF16 = DTYPES["bf16"]
CPU = torch.device("cpu")


def test_bf16_inputs_reference_and_vendor():
    gen = torch.Generator().manual_seed(1)
    x = BF16.random_inputs(48, 40, 32, CPU, gen)
    assert x.A.dtype == x.Bt.dtype == torch.bfloat16 and x.A.shape == (48, 32) and x.Bt.shape == (40, 32)
    assert bool((x.A != 0).all()) and bool((x.Bt != 0).all()) and x.extra == ()
    ref = BF16.reference(x)
    assert ref.dtype == torch.float32 and torch.equal(ref, x.A.float() @ x.Bt.float().t())
    out = BF16.empty_out(48, 40, CPU)
    BF16.vendor_launch(x, out)()
    assert out.dtype == torch.bfloat16 and torch.equal(out, torch.mm(x.A, x.Bt.t()))
    assert bool(BF16.nan_out(4, 4, CPU).isnan().all())
    assert BF16.set_bytes(48, 40, 32) == 2 * (48 * 32 + 40 * 32) + 2 * 48 * 40


@dataclass(frozen=True)
class ScaledHalf(DType):
    """A toy scaled dtype: fp16 inputs, a per-tensor float32 scale of A as an extra kernel operand."""

    def random_inputs(self, m, n, k, device, generator):  # noqa: ANN001, ANN201
        x = super().random_inputs(m, n, k, device, generator)
        return Inputs(x.A, x.Bt, (torch.tensor([0.5], device=device),))

    def reference(self, x):  # noqa: ANN001, ANN201
        return (x.A.float() * x.extra[0]) @ x.Bt.float().t()

    def vendor_launch(self, x, out):  # noqa: ANN001, ANN201
        return lambda: out.copy_(((x.A.float() * x.extra[0]) @ x.Bt.float().t()).to(out.dtype))


SCALED = ScaledHalf("scaled16", "float16", "float16", 2, 2, 2.0**-7, 1e-2, 1e-2)


class TorchKernel:
    """Stands in for a compiled library (the Library call signature, extra operands included)."""

    def __init__(self, use_scale: bool) -> None:
        self.use_scale, self.extras = use_scale, []

    def __call__(self, A, Bt, C, stream, extra=()):  # noqa: ANN001, ANN204
        self.extras.append(extra)
        s = extra[0] if self.use_scale else 1.0
        C.copy_(((A.float() * s) @ Bt.float().t()).to(C.dtype))


def test_extra_operands_reach_the_kernel_and_the_reference_uses_them():
    ev = Evaluator(CPU, Settings(seed=3))
    good = TorchKernel(use_scale=True)
    assert ev.verify(good, 32, 32, 32, inputs=2, back_to_back=2, dtype=SCALED) < SCALED.frobenius_max
    assert good.extras and all(len(e) == 1 and float(e[0]) == 0.5 for e in good.extras)
    with pytest.raises(MeasureError, match="wrong result"):
        ev.verify(TorchKernel(use_scale=False), 32, 32, 32, inputs=1, back_to_back=1, dtype=SCALED)


def test_input_sets_follow_the_dtype():
    sets = make_sets(32, 32, 32, CPU, llc=1 << 16, s=Settings(), dtype=SCALED)
    assert sets.dtype is SCALED and len(sets.X) == len(sets.A) >= 3
    assert sets.A[0].dtype == torch.float16 and sets.C[0].dtype == torch.float16
    assert all(len(x) == 1 for x in sets.X)
    out = SCALED.empty_out(32, 32, CPU)
    SCALED.vendor_launch(sets.inputs(0), out)()
    assert torch.allclose(out.float(), sets.ref[0], rtol=1e-2, atol=1e-2)


def test_the_worker_protocol_carries_the_dtype():
    sent = []
    w = Worker("cpu", dtype="bf16")
    w.request = lambda msg, timeout_s=None: sent.append(msg) or {"ok": True}  # type: ignore[method-assign]
    w.evaluate("lib.so", None, 8, 8, 8)
    w.evaluate("lib.so", None, 8, 8, 8, dtype="other")
    w.prepare(8, 8, 8)
    assert [m["dtype"] for m in sent] == ["bf16", "other", "bf16"]
