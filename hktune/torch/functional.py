"""``matmul`` and ``linear`` on torch tensors, through ``torch.ops.hktune.gemm_abt``.

The C ABI wants B transposed (Bt [N,K], row-major). ``linear``'s weight already is ([out, in]),
so it goes in as is. ``matmul``'s B [K,N] is transposed once and the copy cached per tensor
(identity + ``_version``), so a fixed B is not copied on every call and an in-place update of B
is seen at the next call. Leading dims of A / x are flattened into M, as nn.Linear does.
"""
from __future__ import annotations

import torch

from hktune.torch import gemm, ops  # ops also registers torch.ops.hktune.gemm_abt
from hktune.torch.cache import DerivedCache
from hktune.torch.stats import note

_transposed = DerivedCache()


def _bt_of(B: torch.Tensor) -> torch.Tensor:
    """B [K,N] as Bt [N,K] contiguous: cached in eager mode, traced under torch.compile."""
    view = B.t()
    if view.is_contiguous():
        return view  # B is already column-major: no copy at all
    if torch.compiler.is_compiling() or (B.requires_grad and torch.is_grad_enabled()):
        # Under compile the copy is part of the graph; with autograd it must stay in the graph
        # so that B gets its gradient. Neither may use a cached, detached copy.
        return view.contiguous()
    return _transposed.get(B, lambda b: b.t().contiguous())


def _gemm(a2: torch.Tensor, bt: torch.Tensor) -> torch.Tensor:
    """The custom op where it is needed (ops.through_op), else its implementation directly."""
    return torch.ops.hktune.gemm_abt(a2, bt) if ops.through_op(a2, bt) else gemm.gemm_abt(a2, bt)


def matmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A @ B`` for A [..., M, K] and a 2-D B [K, N]; other forms (1-D, batched B) use torch.matmul."""
    if A.dim() < 2 or B.dim() != 2:
        if not torch.compiler.is_compiling():
            note("fallback", "unsupported_rank", (0, 0, 0), f"matmul of {tuple(A.shape)} and {tuple(B.shape)}")
        return torch.matmul(A, B)
    K = A.shape[-1]
    if B.shape[0] != K:
        raise RuntimeError(f"matmul: shapes {tuple(A.shape)} and {tuple(B.shape)} cannot be multiplied")
    C = _gemm(A.reshape(-1, K), _bt_of(B))
    return C.reshape(*A.shape[:-1], B.shape[1])


BIAS_DETAIL = ("the vendor adds the bias in its GEMM's epilogue; hktune's kernels have none, and a separate "
               "pass over C costs more on a GPU than tuning gains")


def bias_to_vendor(x: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether a linear with this bias goes to the vendor as a whole (F.linear: addmm, the bias in
    the GEMM's epilogue): on every device but the CPU. A tuned kernel plus a separate bias add
    reads and writes C once more: 4 bytes per output element against 2K flops, 2-7% of the GEMM at
    K 14336-4096 on an H200 (4.8 TB/s, ~650 TFLOP/s), more than the tuned kernels gain there
    (docs/torch.md). On the CPU (the host family) that pass is noise beside the GEMM."""
    return bias is not None and x.device.type != "cpu"


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` (F.linear) for x [..., K], weight [N, K], bias [N]."""
    if weight.dim() != 2 or x.dim() < 1:
        if not torch.compiler.is_compiling():
            note("fallback", "unsupported_rank", (0, 0, 0), f"linear of {tuple(x.shape)} and {tuple(weight.shape)}")
        return torch.nn.functional.linear(x, weight, bias)
    K = x.shape[-1]
    if bias_to_vendor(x, bias):
        if not torch.compiler.is_compiling():
            note("fallback", "bias", (x.numel() // max(K, 1), weight.shape[0], K), BIAS_DETAIL)
        return torch.nn.functional.linear(x, weight, bias)
    if not ops.through_op(x, weight):
        known = gemm.known_fallback(x, weight)   # eager, a shape the plans already sent to the vendor
        if known is not None:
            note("fallback", known[0], (x.numel() // K, weight.shape[0], K), known[1])
            return torch.nn.functional.linear(x, weight, bias)
    y = _gemm(x.reshape(-1, K), weight).reshape(*x.shape[:-1], weight.shape[0])
    # The bias is added to the bf16 product (one more rounding than a fused addmm; documented).
    return y if bias is None else y + bias
