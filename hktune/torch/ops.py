"""``torch.ops.hktune.gemm_abt(A, Bt) -> C`` and ``torch.ops.hktune.scaled_gemm_abt(A, Bt,
scale_a, scale_b) -> C``: the tuned GEMMs as torch custom ops.

As a custom op each is one opaque node to torch.compile (its fake says C is a fresh [M,N]
tensor -- of A's dtype for gemm_abt, bf16 for the scaled op -- so fullgraph=True compiles without
a graph break; the eager implementation runs at call time and makes the tuned/padded/fallback
choice there). Autograd of gemm_abt (C = A Bt^T): dA = dC @ Bt and dBt = dC^T @ A, both through
torch.matmul. The scaled op (fp8_e4m3 in, bf16 out) is forward only, as torch._scaled_mm is.
"""
from __future__ import annotations

import torch

from hktune.torch import gemm


def through_op(*tensors: torch.Tensor) -> bool:
    """Whether a call must go through the custom op: under torch.compile (it traces the op), with
    autograd recording (a tensor needs its gradient), or under a TorchFunctionMode (capture_shapes
    sees the op). Otherwise eager code calls the implementation directly: the dispatcher's custom-op
    wrapping costs ~50 us of host time per call (2026-12-05, the 2-core CI machine: F.linear 17 us,
    hktune's linear through the op 67 us, directly 34 us), which a forward waiting on its first
    launch pays in full."""
    return bool(torch.compiler.is_compiling() or torch._C._len_torch_function_stack()
                or (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)))


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


@torch.library.custom_op("hktune::scaled_gemm_abt", mutates_args=())
def scaled_gemm_abt(A: torch.Tensor, Bt: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> torch.Tensor:
    """C [M,N] bf16 = scale_a * scale_b * (A [M,K] @ Bt [N,K]^T) for float8_e4m3fn A and Bt and one
    float32 scale each (the tuned fp8_e4m3 kernel, or torch._scaled_mm with the same scales)."""
    return gemm.scaled_gemm_abt(A, Bt, scale_a, scale_b)


@scaled_gemm_abt.register_fake
def _(A: torch.Tensor, Bt: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> torch.Tensor:
    op = "hktune::scaled_gemm_abt"
    torch._check(A.dim() == 2 and Bt.dim() == 2, lambda: f"{op}: A and Bt must be 2-D")
    torch._check(A.shape[1] == Bt.shape[1], lambda: f"{op}: K of A ({A.shape[1]}) != K of Bt ({Bt.shape[1]})")
    torch._check(A.dtype == gemm.FP8.in_torch and Bt.dtype == gemm.FP8.in_torch,
                 lambda: f"{op}: A and Bt must be {gemm.FP8.in_torch}, got {A.dtype}/{Bt.dtype}")
    torch._check(scale_a.numel() == 1 and scale_b.numel() == 1, lambda: f"{op}: one scale per tensor")
    return A.new_empty((A.shape[0], Bt.shape[0]), dtype=gemm.FP8.out_torch)
