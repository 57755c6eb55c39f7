"""One config's checks and timings for bench/tk_kernel_check.py, run in its own subprocess
(``tk_kernel_check.py --worker``): the config string, illegal shapes refused, correctness on
three shapes and every timed one, then ABBA rounds against torch.matmul."""
from __future__ import annotations

import ctypes
import json
import math
from pathlib import Path

from tk_kernel_configs import PARAMS, tile
from tk_kernel_space import _ceil_div, load_yaml, shape_ok


def worker(a):
    import torch
    params = json.loads(a.params)
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    _, space = load_yaml()
    res = dict(checks=[], perf={}, notes=[])

    def dump():
        Path(a.result).write_text(json.dumps(res, indent=1, default=str))

    lib = ctypes.CDLL(a.so)
    lib.hktune_gemm.restype = ctypes.c_int
    lib.hktune_gemm.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 3 + [ctypes.c_void_p]
    lib.hktune_config.restype = ctypes.c_char_p
    stream = torch.cuda.current_stream().cuda_stream

    def gemm(A, Bt, C, M=None, N=None, K=None):
        M = A.shape[0] if M is None else M
        K = A.shape[1] if K is None else K
        N = Bt.shape[0] if N is None else N
        return lib.hktune_gemm(A.data_ptr(), Bt.data_ptr(), C.data_ptr(), M, N, K, stream)

    want = ",".join(f"{k}={params[k]}" for k in PARAMS)
    got = lib.hktune_config().decode()
    res["config_string"] = got
    res["config_ok"] = got == want
    dump()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.manual_seed(0)
    dev = torch.device("cuda")
    BM, BN = tile(params)

    def rand(*shape):
        return torch.randn(*shape, device=dev, dtype=torch.float32).to(torch.bfloat16)

    # ---- illegal shapes: refused, C untouched (big enough buffers so a launch would write)
    A = rand(2 * BM + 64, 192)
    Bt = rand(2 * BN + 64, 192)
    C = torch.full((2 * BM + 64, 2 * BN + 64), 7.0, device=dev, dtype=torch.bfloat16)
    rcs = [gemm(A, Bt, C, BM + 32, BN, 64), gemm(A, Bt, C, BM, BN + 32, 64),
           gemm(A, Bt, C, BM, BN, 96), gemm(A, Bt, C, BM, BN, 0), gemm(A, Bt, C, 0, BN, 64)]
    if params["CLUSTER_M"] > 1:     # half a cluster pair of tile rows / columns
        rcs.append(gemm(A, Bt, C, BM // 2, BN, 64))
    if params["CLUSTER_N"] > 1:
        rcs.append(gemm(A, Bt, C, BM, BN // 2, 64))
    if params["SPLIT_K"] > 1:       # K not a whole number of k steps per slice
        rcs.append(gemm(A, Bt, C, BM, BN, 64 * (params["SPLIT_K"] - 1)))
    torch.cuda.synchronize()
    res["illegal_rcs"] = rcs
    res["illegal_refused"] = bool(all(rc != 0 for rc in rcs) and (C == 7).all().item())
    dump()

    def verify(A, Bt, C, ref=None):
        if ref is None:
            ref = torch.matmul(A.float(), Bt.float().t())
        Cf = C.float()
        rel = (torch.linalg.norm(Cf - ref) / torch.linalg.norm(ref)).item()
        rms = (torch.linalg.norm(ref) / math.sqrt(ref.numel())).item()
        # bf16 output rounding is <= 2^-9 relative; allow 4x that plus 1% of the RMS value
        bound = ref.abs() * (1 / 128) + 1e-2 * rms
        bad = int(((Cf - ref).abs() > bound).sum().item()) + int(torch.isnan(Cf).sum().item())
        return rel, bad

    def check(M, N, K, tag):
        A, Bt = rand(M, K), rand(N, K)
        C = torch.full((M, N), float("nan"), device=dev, dtype=torch.bfloat16)
        rc = gemm(A, Bt, C)
        torch.cuda.synchronize()
        r = dict(tag=tag, M=M, N=N, K=K, rc=rc)
        if rc != 0:
            r.update(err=None, bad=None, ok=False)
        else:
            rel, bad = verify(A, Bt, C)
            # deterministic: a second launch on the same inputs gives the same bits (split-K sums
            # its slices in one fixed order)
            C2 = torch.full_like(C, float("nan"))
            rc2 = gemm(A, Bt, C2)
            torch.cuda.synchronize()
            same = bool(rc2 == 0 and torch.equal(C.view(torch.int16), C2.view(torch.int16)))
            r.update(err=rel, bad=bad, deterministic=same, ok=bool(rel < 1e-2 and bad == 0 and same))
        res["checks"].append(r)
        dump()
        return r

    sms = torch.cuda.get_device_properties(0).multi_processor_count
    S, st, sk = params["SUPER_M"], params["STAGES"], params["SPLIT_K"]
    check(BM, BN, 64 * sk, "one tile, one k step" + (" per K slice" if sk > 1 else ""))
    # 2 full SUPER_M groups + a ragged group of 3 block-rows; enough block-columns that
    # tiles > SMs (persistent blocks take several tiles); K wraps the ring several times
    # (split-K: within every slice)
    rows = 2 * S + 3
    cols = max(5, _ceil_div(sms + 13, rows))
    check(rows * BM, cols * BN, (2 * st + 3) * 64 * sk, "multi-block, ragged SUPER_M, tiles > SMs")
    # several tiles per block (ping-pong alternation, the ring's phase carried across tiles)
    check(16 * BM, _ceil_div(4 * sms, 16) * BN, (st + 1) * 64 * sk, "tiles > 4x SMs, ring wraps across tiles")

    # ---- timing: ABBA rounds against torch.matmul, inputs rotated over > 2x L2
    l2 = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 50 << 20)
    for (M, N, K) in shapes:
        key = f"{M}x{N}x{K}"
        if not shape_ok(params, space, M, N, K):
            res["perf"][key] = dict(skipped="shape not legal for this config")
            dump()
            continue
        per = (M * K + N * K + M * N) * 2
        nsets = max(2, min(32, math.ceil(2.5 * l2 / per)))
        sets = [(rand(M, K), rand(N, K), torch.empty(M, N, device=dev, dtype=torch.bfloat16))
                for _ in range(nsets)]
        flop = 2.0 * M * N * K
        rc = gemm(*sets[0])
        torch.cuda.synchronize()
        if rc != 0:
            res["perf"][key] = dict(rc=rc, error="launch refused/failed", ok=False)
            dump()
            continue

        def ours(A, Bt, C):
            gemm(A, Bt, C)

        def theirs(A, Bt, C):
            torch.matmul(A, Bt.t(), out=C)

        est_ms = flop / 500e12 * 1e3  # ~500 TFLOP/s guess -> launches per segment
        per_seg = int(min(40, max(5, 15.0 / max(est_ms, 1e-3))))
        rounds = a.rounds
        for _ in range(3):  # warm-up both
            for i in range(nsets):
                ours(*sets[i]); theirs(*sets[i])
        torch.cuda.synchronize()
        times = {"ours": [], "torch": []}
        idx = 0
        for r in range(rounds):
            order = ["ours", "torch", "torch", "ours"] if r % 2 == 0 else ["torch", "ours", "ours", "torch"]
            for who in order:
                fn = ours if who == "ours" else theirs
                ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(per_seg)]
                for e0, e1 in ev:
                    s = sets[idx % nsets]
                    idx += 1
                    e0.record(); fn(*s); e1.record()
                torch.cuda.synchronize()
                times[who] += [e0.elapsed_time(e1) for e0, e1 in ev]

        def stats(xs):
            xs = sorted(xs)
            q = lambda p: xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]
            return dict(n=len(xs), ms=q(0.5), p10_ms=q(0.1), p90_ms=q(0.9))

        so, st_ = stats(times["ours"]), stats(times["torch"])
        so["tflops"] = flop / so["ms"] / 1e9
        st_["tflops"] = flop / st_["ms"] / 1e9
        # correctness on a timed buffer, after all those launches (NaN-poisoned)
        A, Bt, C = sets[0]
        C.fill_(float("nan"))
        rc2 = gemm(A, Bt, C)
        torch.cuda.synchronize()
        rel, bad = verify(A, Bt, C) if rc2 == 0 else (None, None)
        res["perf"][key] = dict(ours=so, torch=st_, ratio=st_["ms"] / so["ms"], err=rel, bad=bad,
                                ok=bool(rc2 == 0 and rel is not None and rel < 1e-2 and bad == 0),
                                sets=nsets, per_segment=per_seg, rounds=rounds)
        dump()
        del sets
        torch.cuda.empty_cache()
    res["ok"] = bool(res["config_ok"] and res["illegal_refused"]
                     and all(c["ok"] for c in res["checks"])
                     and all(v.get("ok", True) for v in res["perf"].values()))
    res["done"] = True
    dump()
    return 0
