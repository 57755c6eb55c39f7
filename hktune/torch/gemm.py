"""The eager implementation behind ``hktune::gemm_abt``: C[M,N] = A[M,K] @ Bt[N,K]^T.

Every call ends in exactly one of: the tuned kernel at the shape, the tuned kernel at a
zero-padded shape, or torch.matmul -- and is counted (hktune.torch.stats) with its reason.
"""
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from hktune.run.verify import MeasureError
from hktune.torch import kernels, plan as planning
from hktune.torch.cache import DerivedCache
from hktune.torch.device import arch_of, stream_of
from hktune.torch.stats import note, note_copy

log = logging.getLogger("hktune.torch")

_INT_MAX = 2**31 - 1    # the C ABI takes int M, N, K
_ALIGN = 16             # bytes: GPU kernels load 16-byte vectors (cp.async, buffer loads)
_padded_bt = DerivedCache()  # weights padded once, not per call


def _fallback(A: torch.Tensor, Bt: torch.Tensor, reason: str, detail: str = "") -> torch.Tensor:
    note("fallback", reason, (A.shape[0], Bt.shape[0], A.shape[1]), detail)
    return torch.mm(A, Bt.t())


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
    M, K = A.shape
    N = Bt.shape[0]
    if A.dtype != torch.bfloat16 or Bt.dtype != torch.bfloat16:
        return _fallback(A, Bt, "dtype", f"{A.dtype}/{Bt.dtype}: tuned kernels are bf16 only")
    if A.device != Bt.device:
        return _fallback(A, Bt, "device", f"A on {A.device}, Bt on {Bt.device}")
    arch = arch_of(A.device)
    if arch is None:
        return _fallback(A, Bt, "device", f"no hktune family for device type {A.device.type}")
    if M == 0 or N == 0 or K == 0:
        return _fallback(A, Bt, "empty")
    if max(M, N, K) > _INT_MAX:
        return _fallback(A, Bt, "too_large", "M, N and K must fit a C int")
    p = planning.plan_for(M, N, K, arch)
    if p.kind == "fallback":
        return _fallback(A, Bt, p.reason, p.detail)
    assert p.entry is not None and p.family is not None and p.space is not None and p.run_shape is not None
    try:
        lib = kernels.library(p.family, arch, p.space, p.entry.config)
    except kernels.KernelUnavailable as e:
        log.warning("hktune.torch: %s; using torch.matmul for this config from now on", e)
        planning.mark_failed(p, str(e))
        return _fallback(A, Bt, "build_failed", str(e))
    Mp, Np, Kp = p.run_shape
    if p.padded:
        Ap = _pad(A, Mp, Kp)
        Btp = _padded_bt.get(Bt, lambda t: _pad(t, Np, Kp), Np, Kp) if (Np, Kp) != (N, K) else _ready(Bt, "Bt")
    else:
        Ap, Btp = _ready(A, "A"), _ready(Bt, "Bt")
    C = torch.empty(Mp, Np, device=A.device, dtype=torch.bfloat16)
    try:
        if A.device.type == "cuda":
            with torch.cuda.device(A.device):  # the kernel launches on the current device
                lib(Ap, Btp, C, stream_of(A.device))
        else:
            lib(Ap, Btp, C, 0)
    except MeasureError as e:  # non-zero return: the kernel refused the shape and launched nothing
        log.warning("hktune.torch: %s %dx%dx%d: %s; using torch.matmul for this config from now on", lib.path, Mp, Np, Kp, e)
        planning.mark_failed(p, str(e))
        return _fallback(A, Bt, "launch_error", str(e))
    note(p.kind, p.reason, (M, N, K), p.detail)
    if p.padded:
        # Only the top-left block is the product; contiguous so the op's output strides are
        # what its fake (and torch.compile) assume.
        return C[:M, :N].contiguous() if Np != N else C[:M]
    return C
