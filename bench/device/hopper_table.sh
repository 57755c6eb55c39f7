# Issue 21 in one H200 call (<= 10 min): hopper_final.sh and hopper_indep.sh's tuned half together,
# for a session whose device time holds only one more call after hopper.sh (run after the values
# hopper.sh proved have moved into configs/thunderkittens-sm_90.yaml; PLAN.md):
#  1. bench/tune.py: `hktune search` on the issue's seven shapes (sustained method, fresh re-measure
#     of the finalists, the sanitizer on the winner), TK's default <2,4,8> timed beside each by
#     `hktune bench` -> $OUT/table/tk/sm_90.yaml + summary.md (gain column);
#  2. bench/independent.py (no hktune import: own build, inputs, graphs of back-to-back launches,
#     A B B A against torch.mm) re-measures every entry of that table -> $OUT/table/indep;
#  3. bench/check_model.py: the Llama-3-8B MLP block through hktune.torch with that table vs torch.
# Every step under a timeout, so the archive is always made.
. bench/device/setup.sh
SPACE=${SPACE:-configs/thunderkittens-sm_90.yaml}
R=$OUT/table; mkdir -p $R
TK_DEFAULT=$(python3 bench/tk_default_table.py --config)
# a search takes 60-90 s per shape on the H200 (compile, 24 trials, tournament, re-measure): the seven
# shapes need two calls, e.g. SHAPES=8192x8192x8192,4096x14336x4096,16384x8192x1024,1024x8192x8192 then the rest
SHAPES=${SHAPES:-2048x2048x2048,4096x4096x4096,8192x8192x8192,4096x14336x4096,4096x4096x14336,16384x8192x1024,1024x8192x8192}
t0=$(date +%s)
timeout ${TUNE_TIMEOUT:-330} python3 bench/tune.py --family thunderkittens --space $SPACE --shapes $SHAPES --out $R/tk --trials ${TRIALS:-24} \
  --timeout ${SEARCH_S:-12} --tournament-rounds 6 --baseline $TK_DEFAULT 2>&1 | tail -12
echo "tune: $(( $(date +%s) - t0 ))s"
# at the product's regime (each replay >= 30 ms, hktune.run.sustained): 32 launches per replay is a longer
# replay at large shapes, and the power cap moves the ratio with replay length (2026-12-05: 0.3-1.5% lower)
timeout 120 python3 bench/independent.py --table $R/tk/sm_90.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 2>&1 | tail -10
echo "indep: $(( $(date +%s) - t0 ))s"
# PRIOR: other calls' tables (e.g. the first half of the shapes; a glob), so the MLP block sees all its GEMMs;
# SKIP_MODEL=1 leaves the MLP block out (a call whose tables hold none of its shapes)
[ -n "$SKIP_MODEL" ] || timeout 70 python3 bench/check_model.py --out $R/model --table $R/tk/sm_90.yaml $(for p in $PRIOR; do [ -f $p ] && echo --table $p; done) --iters 12 2>&1 | grep -E "speed ratio|forward|verdict|fallback|tuned"
# kept for the next call's model check on the same warm machine: PRIOR='/tmp/hopper-table-*.yaml'
[ -f $R/tk/sm_90.yaml ] && cp $R/tk/sm_90.yaml /tmp/hopper-table-$(date +%s).yaml
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
tar czf $OUT/table.tgz -C $OUT table && rm -rf $R
