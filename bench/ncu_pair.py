"""One launch each of an hktune library and of the vendor call it is measured against, at one shape, for a
profiler to compare (run under `ncu --nvtx --nvtx-include "pair/"`): which kernel the vendor picks (its name
says its tile, cluster and schedule) and where each one's time goes. Random inputs (never zeros); the
kernel's output is checked against the vendor's before the profiled launches.

usage: python3 bench/ncu_pair.py LIB M N K [--dtype bf16|fp8_e4m3]
"""
from __future__ import annotations

import argparse
import ctypes

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("m", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("k", type=int)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp8_e4m3"])
    a = ap.parse_args()
    fp8 = a.dtype == "fp8_e4m3"
    g = torch.Generator(device="cuda").manual_seed(7)
    A = torch.randn(a.m, a.k, device="cuda", generator=g)
    Bt = torch.randn(a.n, a.k, device="cuda", generator=g)
    scales: list[torch.Tensor] = []
    if fp8:
        sa, sb = A.abs().max() / 448, Bt.abs().max() / 448
        A, Bt = (A / sa).to(torch.float8_e4m3fn), (Bt / sb).to(torch.float8_e4m3fn)
        scales = [sa.float().reshape(()), sb.float().reshape(())]
    else:
        A, Bt = A.to(torch.bfloat16), Bt.to(torch.bfloat16)
    C = torch.empty(a.m, a.n, device="cuda", dtype=torch.bfloat16)
    lib = ctypes.CDLL(a.lib)
    fn = lib.hktune_gemm
    fn.argtypes = [ctypes.c_void_p] * (5 if fp8 else 3) + [ctypes.c_int] * 3 + [ctypes.c_void_p]
    fn.restype = ctypes.c_int
    stream = torch.cuda.current_stream().cuda_stream
    ptrs = [A.data_ptr(), Bt.data_ptr(), C.data_ptr()] + [s.data_ptr() for s in scales]

    def ours() -> None:
        rc = fn(*ptrs, a.m, a.n, a.k, stream)
        if rc != 0:
            raise SystemExit(f"hktune_gemm returned {rc}")

    def vendor() -> torch.Tensor:
        if fp8:
            return torch._scaled_mm(A, Bt.t(), scale_a=scales[0], scale_b=scales[1], out_dtype=torch.bfloat16)
        return torch.mm(A, Bt.t())

    for _ in range(3):             # warm: workspaces, module loads, clocks
        ours()
        ref = vendor()
    torch.cuda.synchronize()
    err = ((C.float() - ref.float()).norm() / ref.float().norm()).item()
    print(f"relative difference to the vendor: {err:.2e}")
    if not err < 2e-2:
        raise SystemExit("the kernel disagrees with the vendor")
    torch.cuda.nvtx.range_push("pair")
    ours()
    vendor()
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
