# The one call a short session can afford (PLAN.md; <= 9.5 min):
#  (1) check-model on the Llama MLP block with check-model's rounds queued back to back (fixed
#      2026-12-05 after an A/A run on the H100 read 1.016-1.028x): where the plan rule sends every
#      GEMM to the vendor (no stored ratio significantly above 1), an A/A test that must read 1.00x;
#  (2) fp8-table.sh, shortened to fit: the fp8 table from the family space on issue 22's four shapes,
#      then its independent re-measure (its own archive, fp8table.tgz).
. bench/device/setup.sh
R=$OUT/one; mkdir -p $R
T=bench/results/h200-2026-12-05b/tk-sm_90-bf16.yaml
t0=$(date +%s)
timeout 80 python3 bench/check_model.py --out $R/model --table $T --iters 12 2>&1 | grep -E "speed ratio|forward|verdict|fallback|tuned"
echo "model: $(( $(date +%s) - t0 ))s"
tar czf $OUT/one.tgz -C $OUT one && rm -rf $R
TUNE_TIMEOUT=${TUNE_TIMEOUT:-330} TRIALS=${TRIALS:-8} SEARCH_S=${SEARCH_S:-12} ROUNDS=${ROUNDS:-2} IND_TIMEOUT=80 bash bench/device/fp8-table.sh
echo "total: $(( $(date +%s) - t0 ))s"
