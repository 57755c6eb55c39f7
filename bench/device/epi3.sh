# Issue 22, one call (<= 9 min): EPILOGUE 3 (sched_epilogue3.cuh: a tile's epilogue runs after the next tile's first k
# step is issued, so the tensor cores work through it; Nsight Compute on an H100, 2026-12-06: our 128x144 kernel keeps the
# tensor pipe 89.8% busy at 8192^3, cuBLASLt's 92.2%).
#  (1) compute-sanitizer racecheck, synccheck and memcheck of EPILOGUE 3 at small shapes on 2 persistent blocks (every
#      block runs several tiles, so every epilogue but the last runs beside a wgmma in flight): 128x144 PROMOTE 2 and 4
#      (512x400x768: a partial last tile column), the same at K 384 (3 k steps: shorter than a promotion chunk, the
#      epilogue runs first), 128x128 PROMOTE 4 in a pair along N (512x512x768); each launch's NaN-poisoned output verified;
#  (2) bench/independent.py over bench/device/epi3.yaml (each form at EPILOGUE 2 and 3, its own build, A B B A against
#      torch._scaled_mm);
#  (3) the product's search from the fp8 family space (EPILOGUE 3 seeded first) at the goal shapes, then bench/independent.py
#      on its table (bench/device/fp8-table.sh). SKIP_SEARCH=1: (1) and (2) only.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/epi3; mkdir -p $R
t0=$(date +%s)
N="M_BLOCK=2,N_BLOCK=2,STAGES=5,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=24,CONSUMER_REGS=240,EPILOGUE=3,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,MMA_LAG=1,SPLIT_K=1,STREAM_K=0,N_EXTRA=16"
Q="M_BLOCK=2,N_BLOCK=2,STAGES=4,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=3,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=2,ORDER=0,MMA_LAG=1,SPLIT_K=1,PROMOTE=4,STREAM_K=0,N_EXTRA=0"
SAN="$(san_lines racecheck,synccheck,memcheck e3p2 $N,PROMOTE=2 512x400x768)
$(san_lines racecheck,synccheck,memcheck e3p4 $N,PROMOTE=4 512x400x768)
$(san_lines racecheck,memcheck e3p2k3 ${N/SUPER_M=8/SUPER_M=4},PROMOTE=2 512x400x384)
$(san_lines racecheck,synccheck,memcheck e3cn2 $Q 512x512x768)"
GRID_CAP=2 SAN_TIMEOUT=150 san_phase --dtype fp8_e4m3
timeout ${IND_TIMEOUT:-150} python3 bench/independent.py --table bench/device/epi3.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -18
echo "indep: $(( $(date +%s) - t0 ))s"
rm -rf $R/build; tar czf $OUT/epi3.tgz -C $OUT epi3 && rm -rf $R
[ -n "$SKIP_SEARCH" ] || SHAPES=${SHAPES:-8192x8192x8192,4096x14336x4096} bash bench/device/fp8-table.sh
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
