"""hktune.torch: tuned GEMMs as a PyTorch drop-in (docs/torch.md).

    import hktune.torch as ht
    y = ht.linear(x, W, b)          # x @ W.T + b
    C = ht.matmul(A, B)             # A @ B
    names = ht.patch(model)         # every nn.Linear -> ht.Linear
    print(ht.stats())               # {"tuned": .., "padded": .., "fallback": .., "reasons": {..}}

    fp8 = ht.Fp8Linear.from_linear(lin)     # fp8_e4m3 weight + per-tensor scales, bf16 out
    C = ht.scaled_gemm_abt(A8, Bt8, scale_a, scale_b)   # the fp8 op itself

Each GEMM looks up the results tables for the tensor's arch ('host' on the CPU, sm_XY on CUDA,
gfxNNN on ROCm) and its dtype (bf16, or fp8_e4m3 for the scaled op), and runs the tuned kernel, a
zero-padded one, or the vendor call (torch.matmul; torch._scaled_mm with the same scales for fp8),
counted and logged at DEBUG on the 'hktune.torch' logger. Registered as
``torch.ops.hktune.gemm_abt`` and ``torch.ops.hktune.scaled_gemm_abt``.
"""
from __future__ import annotations

from hktune.torch.stats import reset_stats, stats
from hktune.torch.tables import reload, table_paths, use_table
from hktune.torch.plan import Plan, configure, plan_for, settings
from hktune.torch.ops import gemm_abt, scaled_gemm_abt
from hktune.torch.fp8 import Fp8Linear, quantize, scaled_linear
from hktune.torch.functional import linear, matmul
from hktune.torch.modules import Linear, patch
from hktune.torch.capture import ShapeCapture, capture_shapes
from hktune.torch.device import arch_of
from hktune.torch import functional, gemm


def clear_caches() -> None:
    """Drop the cached transposed / padded weights (needed only after changing a tensor in a way
    that bypasses its version counter, e.g. through ``.data`` or a NumPy view)."""
    functional._transposed.clear()
    gemm._padded_bt.clear()

__all__ = [
    "Fp8Linear", "Linear", "Plan", "ShapeCapture", "arch_of", "capture_shapes", "clear_caches", "configure", "gemm_abt",
    "linear", "matmul", "patch", "plan_for", "quantize", "reload", "reset_stats", "scaled_gemm_abt", "scaled_linear",
    "settings", "stats", "table_paths", "use_table",
]
