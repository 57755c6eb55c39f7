# Issue 21, split-K for the thunderkittens family (SPLIT_K in kernels/thunderkittens/sched.cuh:
# (tile, K slice) work units, the slices summed in order in an fp32 workspace). One call, <= 4 min:
#  (1) compute-sanitizer on split-K configs, all at once: racecheck (cluster pair, SPLIT_K=4, and
#      ping-pong, SPLIT_K=2), memcheck (the workspace and flag indexing: out-of-bounds global
#      accesses) and synccheck; each launch also verifies its NaN-poisoned output;
#  (2) bench/tk_kernel_check.py: TK's lcf default + SPLIT_K 1/2/4 of the same kernels: illegal
#      shapes refused (K not whole k steps per slice), three NaN-poisoned checks on fresh random
#      inputs vs a float32 reference (each launched twice: the bits must agree - deterministic),
#      then ABBA timing against torch.matmul at 16384x8192x1024, 4096x14336x4096, 4096x4096x4096,
#      and the output re-verified after timing.
# Everything under $OUT/splitk (check JSON + logs, san-*.log); a table last.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/splitk; mkdir -p $R
cfg() {  # M_BLOCK N_BLOCK STAGES EPILOGUE SCHED WG_M CLUSTER_M CLUSTER_N MMA_LAG SPLIT_K
  echo "M_BLOCK=$1,N_BLOCK=$2,STAGES=$3,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=$4,SCHED=$5,WG_M=$6,CLUSTER_M=$7,CLUSTER_N=$8,ORDER=0,MMA_LAG=$9,SPLIT_K=${10}"
}
# tool:name:config:shape (shapes: more units than SMs, every slice >= STAGES k steps)
SAN="racecheck:k1cm2e2sk4:$(cfg 2 4 4 2 1 64 2 1 0 4):1024x2048x1024
racecheck:pp64x256sk2:$(cfg 2 4 4 2 2 64 1 1 0 2):1024x2048x512
memcheck:k1cm2e2sk4:$(cfg 2 4 4 2 1 64 2 1 0 4):1024x2048x1024
synccheck:k1cm2e2sk4:$(cfg 2 4 4 2 1 64 2 1 0 4):1024x2048x1024
memcheck:t256x128sk2:$(cfg 2 2 4 2 1 128 1 1 0 2):1024x2048x512"
t0=$(date +%s)
san_phase --space bench/tk-sched.yaml
# (2) the lcf baseline, then each kernel at SPLIT_K 1, 2, 4
CONFIGS=s2x4g8,k1cm2e2,k1cm2e2sk2,k1cm2e2sk4,pp64x256,pp64x256sk2,pp64x256sk4,t256x128,t256x128sk2,k1e0sk4,k1cn2lagsk2
python3 bench/tk_kernel_check.py --tk-root .tk --out $R --jobs 16 --rounds 4 --config-timeout 40 --budget 130 \
  --configs $CONFIGS --shapes 16384x8192x1024,4096x14336x4096,4096x4096x4096 > $R/check.log 2>&1
echo "check rc=$? total $(( $(date +%s) - t0 ))s"
python3 - $R <<'PY'
import json, sys
R = sys.argv[1]
d = json.load(open(f"{R}/tk_kernel_check.json"))
shapes = ("16384x8192x1024", "4096x14336x4096", "4096x4096x4096")
print(f"\n{d['meta'].get('gpu')} {d['meta']['date']}  (TF: median per-launch, ABBA vs torch.matmul; x = cuBLAS ms / ours ms)")
print(f"{'config':13s} {'SCH WG CM CN E L SK':19s} {'regs':>4s} {'spl':>3s} {'ok':>2s} {'det':>3s} " + " ".join(f"{s:>15s} {'x':>5s}" for s in shapes))
for r in d["configs"]:
    p = r["params"]
    knobs = f"{p['SCHED']:3d} {p['WG_M']:3d} {p['CLUSTER_M']:2d} {p['CLUSTER_N']:2d} {p['EPILOGUE']:1d} {p['MMA_LAG']:1d} {p['SPLIT_K']:2d}"
    det = all(c.get("deterministic", False) for c in r.get("checks", [])) if r.get("checks") else None
    cells = []
    for k in shapes:
        v = r.get("perf", {}).get(k, {})
        cells += [f"{v['ours']['tflops']:.0f}", f"{v['ratio']:.3f}"] if "ours" in v else [v.get("skipped", "-")[:5], "-"]
    why = "" if r.get("ok") else ("  " + str(r.get("skipped") or ("compile failed" if not r.get("compiled") else "FAILED (see check.log)")))
    print(f"{r['name']:13s} {knobs:19s} {r.get('regs') or 0:4d} {r.get('spills') or 0:3d} {'y' if r.get('ok') else 'N':>2s} "
          f"{'-' if det is None else 'y' if det else 'N':>3s} " + " ".join(f"{cells[2 * i]:>15s} {cells[2 * i + 1]:>5s}" for i in range(3)) + why)
PY
