"""Data types: what a problem's ``dtype`` means, and the one place its verification tolerances live.

A new dtype is one entry in DTYPES (plus kernels that serve it: a family lists its dtypes in
family.yaml). The key of every study, table entry, header entry and torch op carries the dtype
and the layout."""
from __future__ import annotations

from dataclasses import dataclass

from hktune.errors import BadInput


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


DTYPES = {
    # bf16 in and out, fp32 accumulation: output rounding costs 2^-8 relative per element, so 2^-7
    # leaves room for another summation order; well-formed kernels land near 2e-3 Frobenius.
    "bf16": DType("bf16", "bfloat16", "bfloat16", 2, 2, 2.0**-7, 1e-2, 1e-2),
}
DEFAULT = "bf16"
LAYOUT = "ABt"  # A [M,K] and Bt [N,K] row-major, C [M,N] row-major: C = A Bt^T


def get(name: str) -> DType:
    try:
        return DTYPES[name]
    except KeyError:
        raise BadInput(f"unknown dtype {name!r} (known: {', '.join(DTYPES)})") from None
