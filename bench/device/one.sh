# The one call a short session can afford (PLAN.md; <= 9.5 min): the steps of next.sh, fp8-table.sh
# and hopper_table.sh that no earlier call settled, each under its own timeout, one archive.
#  (1) check-model on the Llama MLP block with check-model's rounds queued back to back (fixed
#      2026-12-05, never run on a GPU): with the H200 table on another card every GEMM goes to the
#      vendor, an A/A test that must read 1.00x (CI holding 1);
#  (2) the fp8 table from the family space on issue 22's four shapes (fp8-table.sh's search, shorter);
#  (3) bench/independent.py on that table (the second method).
. bench/device/setup.sh
R=$OUT/one; mkdir -p $R
T=bench/results/h200-2026-12-05b/tk-sm_90-bf16.yaml
t0=$(date +%s)
timeout 80 python3 bench/check_model.py --out $R/model --table $T --iters 12 2>&1 | grep -E "speed ratio|forward|verdict|fallback|tuned"
echo "model: $(( $(date +%s) - t0 ))s"
timeout ${TUNE_TIMEOUT:-330} python3 bench/tune.py --family thunderkittens --dtype fp8_e4m3 --out $R/fp8 \
  --shapes ${SHAPES:-8192x8192x8192,4096x14336x4096,4096x4096x4096,4096x4096x14336} \
  --trials ${TRIALS:-8} --timeout ${SEARCH_S:-12} --tournament-rounds ${ROUNDS:-2} 2>&1 | tail -10
echo "fp8 search: $(( $(date +%s) - t0 ))s"
timeout 80 python3 bench/independent.py --table $R/fp8/sm_90.yaml --tk-root .tk --out $R/fp8indep --replay-ms 30 --jobs 16 2>&1 | tail -6
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
tar czf $OUT/one.tgz -C $OUT one && rm -rf $R
