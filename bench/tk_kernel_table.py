"""The compact table bench/tk_kernel_check.py prints last: per config and shape, TFLOP/s, its
p10-p90 range, cuBLAS's, the ratio and the error; why a config failed."""
from __future__ import annotations


def print_table(results, meta, total_s):
    # ---- compact table (last)
    print(f"\n{meta.get('gpu')}  {meta['date']}  torch {meta.get('torch')}  {meta.get('nvcc')}  "
          f"total {total_s:.0f}s")
    print("TF = median of per-launch CUDA-event times (ABBA rounds vs torch.matmul, inputs rotated "
          "over >2x L2); xcublas = torch median / ours median; err = rel. Frobenius vs fp32")
    print(f"{'config':12s} {'regs':>4s} {'spl':>3s} {'cmp_s':>5s} {'ok':>2s} {'shape':>17s} "
          f"{'TF':>6s} {'p10-p90 TF':>11s} {'cublasTF':>8s} {'xcublas':>7s} {'err':>8s}")
    for r in results["configs"]:
        head = (f"{r['name']:12s} {r.get('regs') or 0:4d} {r.get('spills') or 0:3d} "
                f"{r.get('compile_s') or 0:5.0f} {'y' if r.get('ok') else 'N':>2s}")
        if not r.get("compiled", False) or "skipped" in r and "perf" not in r:
            print(f"{head} {r.get('skipped', 'COMPILE FAILED')}")
            continue
        if not r.get("perf"):
            print(f"{head} no timings ({r.get('worker_rc')})")
            continue
        for k, v in r["perf"].items():
            if "ours" not in v:
                print(f"{head} {k:>17s} {v.get('skipped') or v.get('error')}")
                continue
            o, t = v["ours"], v["torch"]
            lo, hi = 2e-9 * _flop(k) / o["p90_ms"], 2e-9 * _flop(k) / o["p10_ms"]
            err = f"{v['err']:.1e}" if v.get("err") is not None else "-"
            print(f"{head} {k:>17s} {o['tflops']:6.0f} {lo:5.0f}-{hi:<5.0f} {t['tflops']:8.0f} "
                  f"{v['ratio']:7.3f} {err:>8s}")
            head = " " * len(head)
        if not r.get("ok"):
            why = [f"config string {r.get('config_string')!r}"] if r.get("config_ok") is False else []
            why += ["illegal shape not refused"] if r.get("illegal_refused") is False else []
            why += [f"{c['tag']} {c['M']}x{c['N']}x{c['K']}: rc={c['rc']} err={c.get('err')} bad={c.get('bad')}"
                    for c in r.get("checks", []) if not c.get("ok")]
            why += [f"{k}: rc/err {v.get('rc')}/{v.get('err')} bad={v.get('bad')}"
                    for k, v in r.get("perf", {}).items() if v.get("ok") is False]
            if not r.get("done"):
                why.append(f"worker did not finish (rc {r.get('worker_rc')})")
            print(f"{'':12s}   FAILED: " + "; ".join(why))


def _flop(key):
    M, N, K = (int(x) for x in key.split("x"))
    return M * N * K  # x2 applied by the caller (2e-9 * flop / ms = TFLOP/s)
