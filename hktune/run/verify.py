"""Checking one GEMM's output: the library loaded with ctypes, random inputs, the fp32 reference
and the element-wise and Frobenius bounds (from hktune.dtypes, the one verification policy)."""
from __future__ import annotations

import ctypes
import math
from pathlib import Path
from typing import Callable

import torch

from hktune.dtypes import DTYPES, DType, Inputs

BF16 = DTYPES["bf16"]
# Bounds for bf16 outputs with fp32 accumulation (hktune.dtypes says why these values).
ELEMENT_RTOL = BF16.element_rtol
ELEMENT_ATOL_RMS = BF16.atol_rms
FROBENIUS_MAX = BF16.frobenius_max


class MeasureError(RuntimeError):
    """A launch failed, a result was wrong, or the library is not what was asked for."""


class Library:
    """A compiled GEMM loaded with ctypes; every launch's return code is checked."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lib = ctypes.CDLL(self.path, mode=ctypes.RTLD_LOCAL)
        self._gemm = self._lib.hktune_gemm
        self._extra = -1  # extra device operands after C (the dtype's kernel_args); argtypes follow
        self._arity(0)
        self._gemm.restype = ctypes.c_int
        self._lib.hktune_config.restype = ctypes.c_char_p

    def _arity(self, extra: int) -> None:
        """hktune_gemm(A, Bt, C, *extra, M, N, K, stream): pointers, then the sizes and the stream."""
        if extra != self._extra:
            self._gemm.argtypes = [ctypes.c_void_p] * (3 + extra) + [ctypes.c_int] * 3 + [ctypes.c_void_p]
            self._extra = extra

    def config(self) -> str:
        return self._lib.hktune_config().decode()

    def __call__(self, A: torch.Tensor, Bt: torch.Tensor, C: torch.Tensor, stream: int, extra: tuple = ()) -> None:
        M, K = A.shape
        N = Bt.shape[0]
        self._arity(len(extra))
        rc = self._gemm(A.data_ptr(), Bt.data_ptr(), C.data_ptr(), *(x.data_ptr() for x in extra), M, N, K, stream)
        if rc != 0:
            raise MeasureError(f"launch returned error {rc}")

    def bind(self, A: torch.Tensor, Bt: torch.Tensor, C: torch.Tensor, stream: int, extra: tuple = ()) -> Callable[[], None]:
        """A zero-argument launch with its arguments packed now, so a timed loop does no host work
        beyond the call itself."""
        self._arity(len(extra))
        gemm, args = self._gemm, (A.data_ptr(), Bt.data_ptr(), C.data_ptr(), *(x.data_ptr() for x in extra),
                                  A.shape[0], Bt.shape[0], A.shape[1], stream)

        def launch() -> None:
            rc = gemm(*args)
            if rc != 0:
                raise MeasureError(f"launch returned error {rc}")
        return launch

    def close(self) -> None:
        # Unload so that hundreds of trials do not pile up modules in one worker.
        handle = self._lib._handle
        del self._gemm, self._lib
        try:
            import _ctypes

            _ctypes.dlclose(handle)
        except (ImportError, OSError):
            pass


def parse_config_string(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        if part:
            k, _, v = part.partition("=")
            out[k.strip()] = int(v)
    return out


# -- inputs, reference, checking ------------------------------------------------------------------
def random_pair(m: int, n: int, k: int, device: torch.device, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random bf16 inputs: normal values, never zeros (zeros hide unwritten outputs and run faster)."""
    x = BF16.random_inputs(m, n, k, device, gen)
    return x.A, x.Bt


def reference(A: torch.Tensor, Bt: torch.Tensor) -> torch.Tensor:
    """fp32 product of the bf16 inputs (upcast exactly); TF32 is off so fp32 means fp32."""
    return BF16.reference(Inputs(A, Bt))


def check(C: torch.Tensor, ref: torch.Tensor, dtype: DType = BF16) -> tuple[float, str | None]:
    """(relative Frobenius error, reason it fails or None), by the dtype's bounds."""
    Cf = C.float()
    finite = torch.isfinite(Cf)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        return math.inf, f"{bad} of {C.numel()} outputs are NaN/Inf (unwritten or overflowed)"
    diff = Cf - ref
    ref_norm = float(torch.linalg.vector_norm(ref))
    rel = float(torch.linalg.vector_norm(diff)) / max(ref_norm, 1e-30)
    rms = ref_norm / math.sqrt(ref.numel())
    bad = diff.abs() > dtype.element_rtol * ref.abs() + dtype.atol_rms * rms
    nbad = int(bad.sum())
    if nbad:
        idx = int(bad.flatten().nonzero()[0])
        r, c = divmod(idx, ref.shape[1])
        return rel, (f"{nbad} of {C.numel()} outputs wrong (first at [{r},{c}]: got {float(Cf[r, c]):.4g}, "
                     f"want {float(ref[r, c]):.4g}); rel. error {rel:.3g}")
    if rel > dtype.frobenius_max:
        return rel, f"relative error {rel:.3g} > {dtype.frobenius_max}"
    return rel, None
