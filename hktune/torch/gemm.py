"""The eager implementations behind ``hktune::gemm_abt`` (bf16: C[M,N] = A[M,K] @ Bt[N,K]^T) and
``hktune::scaled_gemm_abt`` (fp8_e4m3 with per-tensor float32 scales, bf16 out:
C = scale_a * scale_b * (A @ Bt^T)).

Every call ends in exactly one of: the tuned kernel of the inputs' dtype at the shape, the tuned
kernel at a zero-padded shape, or the dtype's vendor call (bf16: torch.matmul; fp8_e4m3:
torch._scaled_mm with the same scales, hktune.dtypes) -- and is counted (hktune.torch.stats) with
its reason.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from hktune import dtypes
from hktune.run.verify import MeasureError
from hktune.torch import kernels, plan as planning
from hktune.torch.cache import DerivedCache
from hktune.torch.device import arch_of, stream_of
from hktune.torch.stats import note, note_copy

log = logging.getLogger("hktune.torch")

_INT_MAX = 2**31 - 1    # the C ABI takes int M, N, K
_ALIGN = 16             # bytes: GPU kernels load 16-byte vectors (cp.async, buffer loads)
_padded_bt = DerivedCache()  # weights padded once, not per call
FP8 = dtypes.get("fp8_e4m3")
# The plain dtypes (same element type in and out, no extra operands) gemm_abt serves, by torch dtype:
# bf16 today; another such entry in hktune.dtypes is served with no edit here.
_PLAIN = {d.in_torch: d for d in dtypes.DTYPES.values() if not d.extra_operands and d.torch_name == d.out_torch_name}


_known: dict[tuple, tuple[tuple, str, str]] = {}   # plain GEMMs decided for the vendor: key -> (validity, reason, detail)
_MAX_KNOWN = 4096


def _key(A: torch.Tensor, Bt: torch.Tensor, M: int | None = None) -> tuple:
    """_known's key of A [M,K] (or any [..., K] with M rows given) and Bt [N,K]."""
    return (A.device, Bt.device, A.dtype, Bt.dtype, A.shape[0] if M is None else M, Bt.shape[0], A.shape[-1])


def known_fallback(x: torch.Tensor, weight: torch.Tensor) -> tuple[str, str] | None:
    """(reason, detail) when a plain GEMM of x [..., K] and weight [N, K] (this devices, dtypes and
    shape) already went to the vendor under the current plans (plan.validity), else None: the
    eager linear then calls the vendor at once, without the plan's layers (their host time is what
    a host-bound model, e.g. small-batch decoding, would otherwise pay per call)."""
    K = x.shape[-1]
    if K == 0:
        return None
    hit = _known.get(_key(x, weight, x.numel() // K))
    return (hit[1], hit[2]) if hit is not None and hit[0] == planning.validity() else None


def _fallback(A: torch.Tensor, Bt: torch.Tensor, reason: str, detail: str = "", extra: tuple = ()) -> torch.Tensor:
    """The vendor call, counted: torch.mm for bf16 (and any dtype hktune has no kernel for), the
    scaled dtype's own vendor (torch._scaled_mm with the same scales) when scales are given. A plain
    GEMM's decision is remembered (known_fallback)."""
    note("fallback", reason, (A.shape[0], Bt.shape[0], A.shape[1]), detail)
    if not extra:
        if len(_known) >= _MAX_KNOWN:   # e.g. a new sequence length every call
            _known.clear()
        _known[_key(A, Bt)] = (planning.validity(), reason, detail)
        return torch.mm(A, Bt.t())
    C = torch.empty(A.shape[0], Bt.shape[0], device=A.device, dtype=FP8.out_torch)
    FP8.vendor(dtypes.Inputs(A, Bt, extra), C)
    return C


def _ready(t: torch.Tensor, name: str) -> torch.Tensor:
    """Row-major and 16-byte aligned, as the C ABI assumes; copies (and counts) otherwise."""
    if not t.is_contiguous():
        note_copy(f"{name}: not contiguous")
        return t.contiguous()
    if t.data_ptr() % _ALIGN:
        note_copy(f"{name}: misaligned")
        return t.clone()
    return t


def _pad(t: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    return F.pad(t, (0, cols - t.shape[1], 0, rows - t.shape[0]))


def gemm_abt(A: torch.Tensor, Bt: torch.Tensor) -> torch.Tensor:
    """A [M,K] @ Bt [N,K]^T -> C [M,N] through the tuned kernel where the tables allow it."""
    if A.dim() != 2 or Bt.dim() != 2 or A.shape[1] != Bt.shape[1]:
        raise ValueError(f"hktune::gemm_abt: expected A [M,K] and Bt [N,K], got {tuple(A.shape)} and {tuple(Bt.shape)}")
    dt = _PLAIN.get(A.dtype)
    if dt is None or Bt.dtype != A.dtype:
        served = ", ".join(str(t) for t in _PLAIN)
        return _fallback(A, Bt, "dtype", f"{A.dtype}/{Bt.dtype}: tuned kernels take {served} (fp8: scaled_gemm_abt)")
    return _run(A, Bt, dt, ())


def check_scaled(A: torch.Tensor, Bt: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> None:
    """What ``hktune::scaled_gemm_abt`` takes: A [M,K] and Bt [N,K] in float8_e4m3fn, and one
    float32 scale per tensor (0-dim or [1]) on their device; ValueError otherwise."""
    op = "hktune::scaled_gemm_abt"
    if A.dim() != 2 or Bt.dim() != 2 or A.shape[1] != Bt.shape[1]:
        raise ValueError(f"{op}: expected A [M,K] and Bt [N,K], got {tuple(A.shape)} and {tuple(Bt.shape)}")
    if A.dtype != FP8.in_torch or Bt.dtype != FP8.in_torch:
        raise ValueError(f"{op}: A and Bt must be {FP8.in_torch}, got {A.dtype}/{Bt.dtype}")
    for name, s in (("scale_a", scale_a), ("scale_b", scale_b)):
        if s.dtype != torch.float32 or s.numel() != 1 or s.dim() > 1:
            raise ValueError(f"{op}: {name} must be one float32 per tensor (shape () or [1]), "
                             f"got {s.dtype} {tuple(s.shape)}")
        if s.device != A.device:
            raise ValueError(f"{op}: {name} is on {s.device}, A on {A.device}")


def scaled_gemm_abt(A: torch.Tensor, Bt: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> torch.Tensor:
    """scale_a * scale_b * (A [M,K] @ Bt [N,K]^T) -> bf16 C [M,N] (fp8_e4m3 inputs) through the
    tuned fp8 kernel where the tables allow it, else torch._scaled_mm with the same scales."""
    check_scaled(A, Bt, scale_a, scale_b)
    # The kernel reads each scale through a pointer: one contiguous float32 element.
    return _run(A, Bt, FP8, (scale_a.reshape(1).contiguous(), scale_b.reshape(1).contiguous()))


def _run(A: torch.Tensor, Bt: torch.Tensor, dt: dtypes.DType, extra: tuple) -> torch.Tensor:
    """The plan for (arch, dtype, M, N, K), carried out: the tuned kernel (padded if need be) with
    the dtype's extra operands after C (hktune.dtypes.kernel_args), or the vendor call."""
    M, K = A.shape
    N = Bt.shape[0]
    if A.device != Bt.device:
        return _fallback(A, Bt, "device", f"A on {A.device}, Bt on {Bt.device}", extra)
    arch = arch_of(A.device)
    if arch is None:
        return _fallback(A, Bt, "device", f"no hktune family for device type {A.device.type}", extra)
    if M == 0 or N == 0 or K == 0:
        return _fallback(A, Bt, "empty", "", extra)
    if max(M, N, K) > _INT_MAX:
        return _fallback(A, Bt, "too_large", "M, N and K must fit a C int", extra)
    p = planning.plan_for(M, N, K, arch, dt.name)
    if p.kind == "fallback":
        return _fallback(A, Bt, p.reason, p.detail, extra)
    assert p.entry is not None and p.family is not None and p.space is not None and p.run_shape is not None
    try:
        lib = kernels.library(p.family, arch, p.space, p.entry.config, dt.name)
    except kernels.KernelUnavailable as e:
        log.warning("hktune.torch: %s; using the vendor call for this config from now on", e)
        planning.mark_failed(p, str(e))
        return _fallback(A, Bt, "build_failed", str(e), extra)
    Mp, Np, Kp = p.run_shape
    if p.padded:
        Ap = _pad(A, Mp, Kp)
        Btp = _padded_bt.get(Bt, lambda t: _pad(t, Np, Kp), Np, Kp) if (Np, Kp) != (N, K) else _ready(Bt, "Bt")
    else:
        Ap, Btp = _ready(A, "A"), _ready(Bt, "Bt")
    C = torch.empty(Mp, Np, device=A.device, dtype=dt.out_torch)
    try:
        if A.device.type == "cuda":
            with torch.cuda.device(A.device):  # the kernel launches on the current device
                lib(Ap, Btp, C, stream_of(A.device), extra)
        else:
            lib(Ap, Btp, C, 0, extra)
    except MeasureError as e:  # non-zero return: the kernel refused the shape and launched nothing
        log.warning("hktune.torch: %s %dx%dx%d: %s; using the vendor call for this config from now on", lib.path, Mp, Np, Kp, e)
        planning.mark_failed(p, str(e))
        return _fallback(A, Bt, "launch_error", str(e), extra)
    note(p.kind, p.reason, (M, N, K), p.detail)
    if p.padded:
        # Only the top-left block is the product; contiguous so the op's output strides are
        # what its fake (and torch.compile) assume.
        return C[:M, :N].contiguous() if Np != N else C[:M]
    return C
