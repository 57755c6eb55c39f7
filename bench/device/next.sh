# The next H200 call after 2026-12-05's second session (one call, ~7 min; PLAN.md):
#  (1) compute-sanitizer on the fp8 search's winner (sched.cuh SCHED 1, PROMOTE 4, MMA_LAG 0, 128x128,
#      5 stages, ORDER 1, EPILOGUE 2: 0.92x/0.94x _scaled_mm, never sanitized: the search ran
#      --no-sanitize) and on PROMOTE 4 with MMA_LAG 1 (its racecheck hit the 100 s limit at
#      2048x4096x1408): racecheck + synccheck + memcheck at 512x512x1408 on 2 blocks (GRID_CAP: 8 tiles
#      each; 11 k steps: two groups of 4, then a partial group of 3); output verified by the fp8 bounds;
#  (2) bench/independent.py on the merged bf16 table (bench/results/h200-2026-12-05b/tk-sm_90-bf16.yaml)
#      at the product's regime (--replay-ms 30: each replay >= 30 ms, as hktune.run.sustained) and at
#      32 launches per replay (the regime the 2026-12-05 re-measures used; longer replays at 8192^3:
#      the power cap moves the ratio with replay length, bench/results/measure-h200-2026-12-04);
#      then TK's default <2,4,8> at the same shapes at 30 ms (the tuner's gain, independently);
#      and bench/independent.py on the fp8 search's table of 2026-12-05 (its own e4m3 inputs and scales,
#      torch._scaled_mm with the same scales, 30 ms replays): the fp8 figures' second method;
#  (3) bench/check_model.py, the Llama MLP block with that table: hktune.torch's never-slower rule
#      now ignores a nearest entry (untimed_shape) and check-model reports a paired ratio with its CI.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/next; mkdir -p $R
T=bench/results/h200-2026-12-05b/tk-sm_90-bf16.yaml
# the fp8 sanitizer list of fp8-overlap.sh (bench/device/fp8_san.sh), with the 2026-12-05 winner ('win') and
# PROMOTE 4 MMA_LAG 1 ('k1lagp4'): run here so that fp8-overlap.sh can follow with SAN_DONE=1
. bench/device/fp8_san.sh
SAN=$FP8_SAN
t0=$(date +%s)
# FP8=0: the bf16 steps only; IND32=1: the table at 32-launch replays too (as on 2026-12-05)
[ "${FP8:-1}" = 1 ] && GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space bench/tk-sched-fp8.yaml --dtype fp8_e4m3
python3 bench/tk_default_table.py $T $R/tk-default.yaml
timeout 130 python3 bench/independent.py --table $T --tk-root .tk --out $R/indep30 --replay-ms 30 --jobs 16 2>&1 | tail -8
# the same with the device never idle between rounds (--gapless): does the idle gap move the ratio?
[ "${GAPLESS:-1}" = 1 ] && timeout 100 python3 bench/independent.py --table $T --tk-root .tk --out $R/indep30g --replay-ms 30 --gapless --jobs 16 --reuse /tmp/hktune-independent 2>&1 | tail -8
[ "${IND32:-0}" = 1 ] && timeout 100 python3 bench/independent.py --table $T --tk-root .tk --out $R/indep32 --launches 32 --jobs 16 --reuse /tmp/hktune-independent 2>&1 | tail -8
timeout 100 python3 bench/independent.py --table $R/tk-default.yaml --tk-root .tk --out $R/default30 --replay-ms 30 --jobs 16 2>&1 | tail -8
# the fp8 search's two entries of 2026-12-05 (0.918x / 0.943x _scaled_mm), never re-measured by a second method
[ "${FP8:-1}" = 1 ] && timeout 80 python3 bench/independent.py --table bench/results/h200-2026-12-05b/fp8/fp8overlap/search/sm_90.yaml \
  --tk-root .tk --out $R/indep-fp8 --replay-ms 30 --jobs 16 2>&1 | tail -4
echo "indep: $(( $(date +%s) - t0 ))s"
timeout 80 python3 bench/check_model.py --out $R/model --table $T --iters 12 2>&1 | grep -E "speed ratio|forward|verdict|fallback|tuned"
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
tar czf $OUT/next.tgz -C $OUT next && rm -rf $R
