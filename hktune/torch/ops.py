"""``torch.ops.hktune.gemm_abt(A, Bt) -> C``: the tuned GEMM as a torch custom op.

As a custom op it is one opaque node to torch.compile (its fake says C is a fresh [M,N]
tensor of A's dtype, so fullgraph=True compiles without a graph break; the eager
implementation runs at call time and makes the tuned/padded/fallback choice there).
Autograd (C = A Bt^T): dA = dC @ Bt and dBt = dC^T @ A, both through torch.matmul.
"""
from __future__ import annotations

import torch

from hktune.torch import gemm


@torch.library.custom_op("hktune::gemm_abt", mutates_args=())
def gemm_abt(A: torch.Tensor, Bt: torch.Tensor) -> torch.Tensor:
    """C [M,N] = A [M,K] @ Bt [N,K]^T (bf16 through the tuned kernel; other dtypes via torch)."""
    return gemm.gemm_abt(A, Bt)


@gemm_abt.register_fake
def _(A: torch.Tensor, Bt: torch.Tensor) -> torch.Tensor:
    torch._check(A.dim() == 2 and Bt.dim() == 2, lambda: "hktune::gemm_abt: A and Bt must be 2-D")
    torch._check(A.shape[1] == Bt.shape[1], lambda: f"hktune::gemm_abt: K of A ({A.shape[1]}) != K of Bt ({Bt.shape[1]})")
    torch._check(A.dtype == Bt.dtype, lambda: f"hktune::gemm_abt: dtypes differ ({A.dtype}, {Bt.dtype})")
    return A.new_empty((A.shape[0], Bt.shape[0]))


def _setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: torch.Tensor) -> None:
    A, Bt = inputs
    # Save only what the needed gradients read: dA needs Bt, dBt needs A.
    ctx.save_for_backward(Bt if ctx.needs_input_grad[0] else None, A if ctx.needs_input_grad[1] else None)


def _backward(ctx: torch.autograd.function.FunctionCtx, dC: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    Bt, A = ctx.saved_tensors
    dA = torch.matmul(dC, Bt) if ctx.needs_input_grad[0] else None
    dBt = torch.matmul(dC.t(), A) if ctx.needs_input_grad[1] else None
    return dA, dBt


gemm_abt.register_autograd(_backward, setup_context=_setup_context)
