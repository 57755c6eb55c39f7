# Issue 21, the tuned table (one H200 call, ~9 minutes; run after hopper.sh and splitk.sh have
# screened the schedule knobs, and after the values they proved have moved into the family's space,
# configs/thunderkittens-sm_90.yaml: sweep and export refuse stored configs that space does not
# allow, and hktune.torch (the MLP check below) builds them under its rules (PLAN.md). SPACE overrides the space
# searched (e.g. bench/tk-sched.yaml for a screening search whose table nothing else will read).
#  1. bench/tune.py: `hktune search` per shape of the issue's seven (sustained method, fresh
#     re-measure of the finalists, the sanitizer on the winner), with TK's default <2,4,8> timed
#     beside each by `hktune bench` (the baseline), into $OUT/final/tk/sm_90.yaml + summary.md;
#  2. bench/check_model.py: the Llama-3-8B MLP block (T=4096, H=4096, I=14336) through hktune.torch
#     with that table vs torch (the never-slower plan: a GEMM goes to the tuned kernel only when its
#     stored paired ratio is significantly above 1).
# Then hopper_indep.sh re-measures the table independently (bench/independent.py).
. bench/device/setup.sh
SPACE=${SPACE:-configs/thunderkittens-sm_90.yaml}
R=$OUT/final; mkdir -p $R
TK_DEFAULT=$(python3 bench/tk_default_table.py --config)
SHAPES=2048x2048x2048,4096x4096x4096,8192x8192x8192,4096x14336x4096,4096x4096x14336,16384x8192x1024,1024x8192x8192
timeout 420 python3 bench/tune.py --family thunderkittens --space $SPACE --shapes $SHAPES --out $R/tk --trials 24 \
  --timeout 20 --tournament-rounds 8 --baseline $TK_DEFAULT 2>&1 | tail -14
timeout 100 python3 bench/check_model.py --out $R/model --table $R/tk/sm_90.yaml 2>&1 | grep -E "speed ratio|forward|verdict|fallback|tuned"
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader
tar czf $OUT/final.tgz -C $OUT final && rm -rf $R
