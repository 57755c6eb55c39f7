"""Data types: what a problem's ``dtype`` means, from the inputs a trial is checked with to the
vendor call it is timed against. A new dtype is one entry in DTYPES (plus kernels that serve it:
a family lists its dtypes in family.yaml). The key of every study, table entry, header entry and
torch op carries the dtype and the layout.

The interface (every consumer goes through it; nothing else in hktune knows what bf16 means):

``DType`` fields
    name                      the key's dtype ("bf16")
    torch_name, out_torch_name   torch.<name> of A/Bt and of C (``in_torch``/``out_torch`` give the dtypes)
    bytes, out_bytes          bytes per input / output element (working-set sizes)
    element_rtol, atol_rms    element-wise bound: |C - ref| <= element_rtol*|ref| + atol_rms*rms(ref)
    frobenius_max             relative Frobenius error above which a result is wrong
    layouts                   the layouts it serves ("ABt": A [M,K], Bt [N,K], C [M,N], row-major)
    vendor_name               the vendor call's name in table entries ("torch.matmul")
    extra_operands, extra_doc the C names of the extra kernel operands (kernel_args) and what they
                              are: the launch signature ``hktune export`` writes for the dtype

``DType`` methods (torch is imported inside them: the command line must not pay for it)
    random_inputs(m, n, k, device, generator) -> Inputs
        fresh random inputs, never zeros (zeros hide unwritten outputs and run faster)
    reference(inputs) -> fp32 tensor [M,N]    the exact-input fp32 product
    vendor(inputs, out) -> None               the vendor BLAS into ``out`` (timed against the kernel)
    vendor_launch(inputs, out) -> callable    the same, its views made now: a timed loop only calls it
    kernel_args(inputs) -> tuple of tensors   extra device pointers the kernel takes after C, in
                                              order: hktune_gemm(A, Bt, C, *extra, M, N, K, stream)
    empty_out(m, n, device) / nan_out(...)    an output buffer (poisoned with NaN for checks)

``Inputs``: A, Bt (device tensors in ``in_torch``) and ``extra`` (e.g. per-tensor float32 scales
of A and Bt for a scaled fp8 dtype; empty for bf16).

A scaled dtype (fp8 e4m3 with per-tensor scales, bf16 out) is a subclass here overriding
random_inputs (quantise with scales), reference (dequantise, then fp32 product), vendor
(torch._scaled_mm) and kernel_args (the scales), and one DTYPES entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hktune.errors import BadInput


@dataclass(frozen=True)
class Inputs:
    """One problem's inputs on a device; ``extra`` are the dtype's additional kernel operands."""

    A: Any
    Bt: Any
    extra: tuple[Any, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DType:
    name: str
    torch_name: str          # torch.<torch_name> of A and Bt
    out_torch_name: str      # torch.<out_torch_name> of C
    bytes: int               # per input element
    out_bytes: int
    element_rtol: float      # |C - ref| <= element_rtol * |ref| + atol_rms * rms(ref), element-wise
    atol_rms: float
    frobenius_max: float     # relative Frobenius error above which a result is wrong
    layouts: tuple[str, ...] = ("ABt",)
    vendor_name: str = "torch.matmul"   # what vendor() calls, as the table's entries name it
    extra_operands: tuple[str, ...] = ()  # names of kernel_args in the C ABI (after C), e.g. scale_a
    extra_doc: str = ""                   # what they are, for the exported header's launch signature

    # -- torch side (runs in the worker) ---------------------------------------------------------
    @property
    def in_torch(self) -> Any:
        import torch  # heavy optional import (docs/design.md: the exceptions)

        return getattr(torch, self.torch_name)

    @property
    def out_torch(self) -> Any:
        import torch

        return getattr(torch, self.out_torch_name)

    def random_inputs(self, m: int, n: int, k: int, device: Any, generator: Any) -> Inputs:
        """Normal values rounded to the input dtype: never zeros."""
        import torch

        A = torch.randn(m, k, generator=generator, device=device, dtype=torch.float32).to(self.in_torch)
        Bt = torch.randn(n, k, generator=generator, device=device, dtype=torch.float32).to(self.in_torch)
        return Inputs(A, Bt)

    def reference(self, x: Inputs) -> Any:
        """fp32 product of the inputs (upcast exactly); TF32 must be off so fp32 means fp32."""
        return x.A.float() @ x.Bt.float().t()

    def vendor(self, x: Inputs, out: Any) -> None:
        self.vendor_launch(x, out)()

    def vendor_launch(self, x: Inputs, out: Any) -> Any:
        """A zero-argument vendor call into ``out`` with its views made now."""
        import torch

        A, B = x.A, x.Bt.t()
        return lambda: torch.mm(A, B, out=out)

    def kernel_args(self, x: Inputs) -> tuple[Any, ...]:
        return x.extra

    def empty_out(self, m: int, n: int, device: Any) -> Any:
        import torch

        return torch.empty(m, n, device=device, dtype=self.out_torch)

    def nan_out(self, m: int, n: int, device: Any) -> Any:
        import torch

        return torch.full((m, n), float("nan"), device=device, dtype=self.out_torch)

    def set_bytes(self, m: int, n: int, k: int) -> int:
        """Bytes of one input set: A, Bt and C."""
        return self.bytes * (m * k + n * k) + self.out_bytes * m * n


@dataclass(frozen=True)
class ScaledFP8(DType):
    """fp8 inputs with per-tensor float32 scales, bf16 out: C = scale_a * scale_b * (A Bt^T).

    Inputs are normal values quantised the way an fp8 linear layer quantises them: scale = amax /
    the format's largest finite value (448 for e4m3fn), A = fp8(A32 / scale). The scales are not
    powers of two, so a kernel that drops or misapplies one fails. The reference is the fp32
    product of the dequantised inputs (fp8 -> fp32 is exact, then times the scale): the error
    measured is the kernel's alone (accumulation order and bf16 output), not the quantisation's."""

    fmax: float = 448.0
    extra_operands: tuple[str, ...] = ("scale_a", "scale_b")
    extra_doc: str = ("scale_a, scale_b: device pointers to one float32 each (per-tensor scales of A and Bt); "
                      "C = scale_a * scale_b * (A Bt^T)")

    def random_inputs(self, m: int, n: int, k: int, device: Any, generator: Any) -> Inputs:
        import torch

        def quantise(rows: int) -> tuple[Any, Any]:
            x = torch.randn(rows, k, generator=generator, device=device, dtype=torch.float32)
            scale = (x.abs().amax() / self.fmax).reshape(1)
            return (x / scale).to(self.in_torch), scale

        A, sa = quantise(m)
        Bt, sb = quantise(n)
        return Inputs(A, Bt, (sa, sb))

    def reference(self, x: Inputs) -> Any:
        sa, sb = x.extra
        return (x.A.float() * sa) @ (x.Bt.float() * sb).t()

    def vendor_launch(self, x: Inputs, out: Any) -> Any:
        """torch._scaled_mm with the same scales (cuBLASLt on NVIDIA, hipBLASLt on ROCm; its default
        accumulation, with periodic fp32 promotion), bf16 into ``out``."""
        import torch

        sa, sb = (t.reshape(()) for t in x.extra)
        A, B, dt = x.A, x.Bt.t(), self.out_torch
        return lambda: torch._scaled_mm(A, B, scale_a=sa, scale_b=sb, out_dtype=dt, out=out)


DTYPES = {
    # bf16 in and out, fp32 accumulation: output rounding costs 2^-8 relative per element, so 2^-7
    # leaves room for another summation order; well-formed kernels land near 2e-3 Frobenius.
    "bf16": DType("bf16", "bfloat16", "bfloat16", 2, 2, 2.0**-7, 1e-2, 1e-2),
    # OCP e4m3fn in (sm_90, gfx950), per-tensor fp32 scales, fp32 accumulation, bf16 out. Against
    # the dequantised fp32 product the only errors left are bf16 output rounding and summation
    # order, as for bf16. Measured 2026-12-04: torch._scaled_mm (CPU) 1.7e-3 Frobenius at
    # 256x256x1024; the gfx950 fp8 template in the ISA emulator 3.3e-3 with 0 elements out of
    # bounds (the same as every bf16 HipKittens body: HK's bf16 store); a 2% scale error or dropped
    # scales fail (tests/test_fp8.py). So bf16's bounds apply unchanged.
    "fp8_e4m3": ScaledFP8("fp8_e4m3", "float8_e4m3fn", "bfloat16", 1, 2, 2.0**-7, 1e-2, 1e-2,
                          vendor_name="torch._scaled_mm"),
}
DEFAULT = "bf16"
LAYOUT = "ABt"  # A [M,K] and Bt [N,K] row-major, C [M,N] row-major: C = A Bt^T


def get(name: str) -> DType:
    try:
        return DTYPES[name]
    except KeyError:
        raise BadInput(f"unknown dtype {name!r} (known: {', '.join(DTYPES)})") from None
