# fp8_e4m3 with overlapped promotion in the schedule kernel (kernels/thunderkittens/sched.cuh,
# PROMOTE=n at SCHED 1: the wgmmas of n k steps into a fresh partial, added into the fp32 accumulator
# once per group; with MMA_LAG=1 two partials alternate per group, so the add of group g-1 runs under
# group g's first step). Opt-in
# space bench/tk-sched-fp8.yaml. Not yet run (written 2026-12-05 with no device lent; every config
# below compiles without spills and without ptxas C7514, tests/test_fp8_promote.py). One call, <= 6 minutes:
#  (1) compute-sanitizer, all at once: racecheck + synccheck on the cooperative promoted kernel with
#      two partials (K 896 = 7 k steps: one chunk of 4 + a tail of 3), racecheck on it in a cluster
#      along N, racecheck + synccheck + memcheck on the one-partial form (MMA_LAG 0) in a cluster
#      along M with the split-K fixup (slices of 5 k steps); every launch also verifies its
#      NaN-poisoned output against the fp8 dtype's bounds (hktune.run.sanitize_launch ... fp8_e4m3);
#      racecheck + synccheck on the two-partial form promoted every 4 k steps at K 1408 (11 k steps:
#      one chunk of 8 = two groups, a tail of 3 = a partial group added by the drain) and racecheck
#      on gemm.cu (SCHED 0) promoted every 2 k steps at K 1408 (the last, one-step group in finish());
#      racecheck + synccheck on the 256x128 promoted kernel (WG_M 128, the halves in turn) and on the
#      chained groups (MMA_LAG 2: a group's k steps back to back, one wait per group, at 128x128 every
#      4 and 256x128 every 2 k steps), K 1408 leaving a partial last group;
#  (2) the product: `hktune search --dtype fp8_e4m3 --space bench/tk-sched-fp8.yaml` on the two goal
#      shapes (only PROMOTE >= 1 is legal there from K 4096 on), gemm.cu's PROMOTE=1 (0.69-0.72x
#      torch._scaled_mm on 2026-12-05) timed beside it as the baseline.
# Look for: 0 hazards / 0 errors and rc=0 everywhere, then whether the search picks SCHED 1 with
# MMA_LAG 1 and its ratio to torch._scaled_mm (goal >= 1.00x) against the baseline's.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/fp8overlap; mkdir -p $R
. bench/device/fp8_san.sh   # cfg, FP8_SAN
SAN=$FP8_SAN
BASELINE=$(cfg 2 2 4 1 0 64 1 1 0 0 1 232 1)
t0=$(date +%s)
# diagnosis at K 2048 (where PROMOTE 0 is accurate): gemm.cu's 128x128 tile at PROMOTE 0, 1, 2, 4 and its
# 128x256 tile unpromoted - what the tile costs against what the promotion costs (built while the sanitizers run)
DCFG="$(cfg 2 2 4 1 0 64 1 1 0 0 1 232 0) $(cfg 2 2 4 1 0 64 1 1 0 0 1 232 1) $(cfg 2 2 4 1 0 64 1 1 0 0 1 232 2) $(cfg 2 2 4 1 0 64 1 1 0 0 1 232 4) $(cfg 2 4 4 1 0 64 1 1 0 0 1 232 0)"
[ "${DIAG:-0}" = 1 ] || DCFG=""   # measured on 2026-12-05 (bench/results/h200-2026-12-05b); DIAG=1 to repeat
for c in $DCFG; do timeout 100 python3 -m hktune compile --arch sm_90 --family thunderkittens --tk-root .tk --dtype fp8_e4m3 --config $c > /dev/null 2>&1 & done
# racecheck of a promoted kernel at K 1408 outran 100 s on 2026-12-05 (2048x4096, 132 blocks): small shapes, 2 blocks
# SAN_DONE=1: the sanitizers ran in an earlier call of the same session (next.sh runs the same list)
[ "${SAN_DONE:-0}" = 1 ] || GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space bench/tk-sched-fp8.yaml --dtype fp8_e4m3
for c in $DCFG; do
  timeout 45 python3 -m hktune bench --arch sm_90 --family thunderkittens --tk-root .tk --dtype fp8_e4m3 --config $c \
    --m 8192 --n 8192 --k 2048 --json > $R/diag-$(echo $c | grep -o 'N_BLOCK=[0-9]').$(echo $c | grep -o 'PROMOTE=[0-9]').json 2>> $R/diag.err
done
[ -n "$DCFG" ] && python3 - $R <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("diag-*.json")):
    try:
        r = json.loads(f.read_text() or "[]")[0]
        print(f.stem, "tflops", round(r.get("tflops") or 0, 1), "ratio", r.get("ratio"), r.get("ratio_lo"), r.get("ratio_hi"), "error", r.get("error"), r.get("reason") or "")
    except Exception as e:
        print(f.stem, "no result:", e)
PY
echo "diag: $(( $(date +%s) - t0 ))s"
# the product's own sanitizer on each shape's winner (small shape, 2 blocks: seconds; its verdicts are kept
# with the build, so a winner of both shapes is checked once): a clean winner may move into the fp8 space
timeout 260 python3 bench/tune.py --family thunderkittens --dtype fp8_e4m3 --space bench/tk-sched-fp8.yaml --out $R/search \
  --shapes 8192x8192x8192,4096x14336x4096 --trials 10 --timeout 15 --tournament-rounds 4 \
  --baseline $BASELINE 2>&1 | tail -14
echo "search: $(( $(date +%s) - t0 ))s"
# the second method: bench/independent.py (own build, own e4m3 inputs and scales, torch._scaled_mm, 30 ms replays)
timeout 90 python3 bench/independent.py --table $R/search/sm_90.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 2>&1 | tail -4
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
echo "total $(( $(date +%s) - t0 ))s"
tar czf $OUT/fp8overlap.tgz -C $OUT fp8overlap && rm -rf $OUT/fp8overlap
