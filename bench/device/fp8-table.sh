# Issue 22's table from the fp8 family space (configs/thunderkittens-sm_90-fp8_e4m3.yaml, with the
# schedule knobs sanitized on 2026-12-05): `hktune search --dtype fp8_e4m3` with no --space on the
# issue's four shapes (the product's sustained method, the tournament and fresh re-measure of the
# finalists, compute-sanitizer on each winner at a small shape on 2 blocks), then the second method:
# bench/independent.py (own build, own e4m3 inputs and scales, torch._scaled_mm, 30 ms replays).
# One call, <= 9 min at the defaults (one search ~80-90 s per shape on the H100 of 2026-12-05).
# SHAPES, TRIALS, SEARCH_S (seconds of trials per shape), ROUNDS (tournament), TUNE_TIMEOUT and IND_TIMEOUT
# (the two steps' limits, s) override; SPACE: an opt-in space instead of the family's (e.g. bench/tk-n144-fp8.yaml).
. bench/device/setup.sh
R=$OUT/fp8table; mkdir -p $R
SHAPES=${SHAPES:-8192x8192x8192,4096x14336x4096,4096x4096x4096,4096x4096x14336}
t0=$(date +%s)
timeout ${TUNE_TIMEOUT:-420} python3 bench/tune.py --family thunderkittens --dtype fp8_e4m3 ${SPACE:+--space $SPACE} --out $R/search \
  --shapes $SHAPES --trials ${TRIALS:-10} --timeout ${SEARCH_S:-15} --tournament-rounds ${ROUNDS:-3} 2>&1 | tail -14
echo "search: $(( $(date +%s) - t0 ))s"
timeout ${IND_TIMEOUT:-100} python3 bench/independent.py --table $R/search/sm_90.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 2>&1 | tail -6
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total $(( $(date +%s) - t0 ))s"
tar czf $OUT/fp8table.tgz -C $OUT fp8table && rm -rf $R
