# The session's last H200 call (~3.5 min): (1) fp8 with PROMOTE (bench/fp8_h200.py, candidates split
# between PROMOTE 0 and 1: does PROMOTE=1 pass the element bound at 8192^3 and K=14336, and at what
# speed against torch._scaled_mm); (2) a bf16 search
# at 16384x8192x1024 over the family space: many SCHED 1 libraries in one worker, the case the
# GNU-unique statics broke (launch error 1) before sched.cuh's internal linkage; (3) the product's fp8
# search on the two goal shapes. Each step under a timeout.
. bench/device/setup.sh
SHAPES=4096x4096x4096,8192x8192x8192,4096x14336x4096,4096x4096x14336
R=$OUT/last; mkdir -p $R
timeout 100 python3 bench/fp8_h200.py --out $R/fp8indep --shapes $SHAPES --candidates 6 --rounds 16 2>&1 | tail -9
timeout 40 python3 bench/tune.py --family thunderkittens --shapes 16384x8192x1024 --out $R/bf16 --trials 8 --timeout 8 \
  --tournament-rounds 4 --no-sanitize 2>&1 | grep -E 'failures|evaluated|verified|failed|^\| 16384'
timeout 60 python3 bench/tune.py --family thunderkittens --dtype fp8_e4m3 --shapes 8192x8192x8192,4096x14336x4096 --out $R/fp8search --trials 8 \
  --timeout 8 --tournament-rounds 4 --no-sanitize 2>&1 | tail -5
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
tar czf $OUT/last.tgz -C $OUT last && rm -rf $R
