"""fp8_e4m3 with per-tensor scales: quantise, the scaled linear, and ``Fp8Linear``.

The format is hktune's ``fp8_e4m3`` dtype (hktune.dtypes): A [M,K] and Bt [N,K] in OCP e4m3fn,
one float32 scale per tensor, fp32 accumulation, bf16 C = scale_a * scale_b * (A @ Bt^T). A tensor
is quantised the way the dtype's inputs are: scale = amax / 448 (e4m3fn's largest finite value),
x8 = e4m3(x / scale). Every GEMM goes through ``torch.ops.hktune.scaled_gemm_abt``: the tuned fp8
kernel where a verified fp8_e4m3 entry is significantly faster than torch._scaled_mm, else
torch._scaled_mm with the same scales (counted in hktune.torch.stats with the reason).
Inference only (no autograd through the fp8 GEMM).
"""
from __future__ import annotations

import torch
from torch import nn

from hktune.torch import gemm, ops
from hktune.torch.functional import BIAS_DETAIL, bias_to_vendor
from hktune.torch.gemm import FP8
from hktune.torch.stats import note

_MIN_SCALE = 1e-12  # an all-zero tensor quantises to zeros, not NaN


def quantize(x: torch.Tensor, scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x8, scale)``: x in float8_e4m3fn with its per-tensor float32 scale (0-dim), so that
    x ~= x8.float() * scale. Without ``scale`` it is amax / 448; with one (a calibrated static
    scale), values beyond +-448 * scale saturate."""
    x32 = x.detach().float()
    if scale is None:
        scale = (x32.abs().amax() / FP8.fmax).clamp(min=_MIN_SCALE)
    scale = scale.detach().to(device=x.device, dtype=torch.float32).reshape(())
    x8 = (x32 / scale).clamp(-FP8.fmax, FP8.fmax).to(FP8.in_torch)
    return x8, scale


def scaled_linear(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None = None,
                  input_scale: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` with an fp8 weight: x [..., K] (any float dtype; quantised per call with
    ``input_scale``, else its own amax) times weight [N, K] (float8_e4m3fn, scale ``weight_scale``),
    bf16 out, plus ``bias``. Leading dims of x are flattened into M, as nn.Linear does."""
    if x.dtype == FP8.in_torch:
        if input_scale is None:
            raise ValueError("scaled_linear: an fp8 x needs its input_scale")
        x8, sx = x, input_scale.reshape(()).float()
    else:
        x8, sx = quantize(x, input_scale)
    K = x.shape[-1]
    a8, sw = x8.reshape(-1, K), weight_scale.reshape(())
    if bias_to_vendor(x, bias):   # torch._scaled_mm adds it in its epilogue (functional.bias_to_vendor)
        if not torch.compiler.is_compiling():
            note("fallback", "bias", (a8.shape[0], weight.shape[0], K), BIAS_DETAIL)
        y = torch._scaled_mm(a8, weight.t(), scale_a=sx, scale_b=sw, bias=bias.to(FP8.out_torch), out_dtype=FP8.out_torch)
        return y.reshape(*x.shape[:-1], weight.shape[0])
    y = (torch.ops.hktune.scaled_gemm_abt(a8, weight, sx, sw) if ops.through_op(a8, weight)
         else gemm.scaled_gemm_abt(a8, weight, sx, sw))
    y = y.reshape(*x.shape[:-1], weight.shape[0])
    return y if bias is None else y + bias.to(y.dtype)


class Fp8Linear(nn.Module):
    """A linear layer with an fp8_e4m3 weight and per-tensor scales, bf16 out.

    Buffers: ``weight`` [out, in] float8_e4m3fn, ``weight_scale`` (float32, 0-dim) and, when
    calibrated, ``input_scale`` (else the input is scaled by its own amax on every call); ``bias``
    a parameter or None. Make one from a trained layer with :meth:`from_linear`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: torch.device | str | None = None,
                 input_scale: float | None = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, device=device, dtype=FP8.in_torch))
        self.register_buffer("weight_scale", torch.ones((), device=device, dtype=torch.float32))
        scale = None if input_scale is None else torch.tensor(float(input_scale), device=device, dtype=torch.float32)
        self.register_buffer("input_scale", scale)
        self.bias = nn.Parameter(torch.zeros(out_features, device=device, dtype=FP8.out_torch)) if bias else None

    @classmethod
    def from_linear(cls, lin: nn.Linear, input_scale: float | None = None) -> "Fp8Linear":
        """``lin``'s weight quantised (scale = amax / 448) and its bias as bf16; ``input_scale``:
        a calibrated static scale for the input (default: dynamic, per call)."""
        w = lin.weight.detach()
        new = cls(lin.in_features, lin.out_features, bias=lin.bias is not None, device=w.device, input_scale=input_scale)
        w8, sw = quantize(w)
        new.weight.copy_(w8)
        new.weight_scale.copy_(sw)
        if lin.bias is not None:
            with torch.no_grad():
                new.bias.copy_(lin.bias.detach())
        new.train(lin.training)
        return new

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return scaled_linear(input, self.weight, self.weight_scale, self.bias, self.input_scale)

    def extra_repr(self) -> str:
        scale = "dynamic" if self.input_scale is None else f"{float(self.input_scale):.4g}"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype=fp8_e4m3, input_scale={scale}")
