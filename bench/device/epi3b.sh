# Issues 21 and 22, one call (~3 min): bf16 EPILOGUE 3 (sched_epilogue3.cuh: a tile's epilogue runs after the next tile's
# first k step is issued, the last tile held in bf16 meanwhile).
#  (1) compute-sanitizer on 2 persistent blocks (every epilogue but the last beside a wgmma in flight), each launch's
#      NaN-poisoned output verified: 128x160 5 stages MMA_LAG 1 at 512x400x768 (a partial last tile column), 128x256 and
#      256x128 (MMA_LAG 0) at 512x512x768, 256x128 at K 64 (one k step a tile), 128x128 in a pair along N;
#  (2) bench/independent.py over bench/device/epi3b.yaml (each form at EPILOGUE 2 and 3, A B B A against the vendor).
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/epi3b; mkdir -p $R
t0=$(date +%s)
C="M_BLOCK=2,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=3,SCHED=1,CLUSTER_M=1,ORDER=0,SPLIT_K=1,PROMOTE=0,STREAM_K=0"
SAN="$(san_lines racecheck,synccheck,memcheck b160 $C,N_BLOCK=2,WG_M=64,STAGES=5,SUPER_M=8,CLUSTER_N=1,MMA_LAG=1,N_EXTRA=32 512x400x768)
$(san_lines racecheck,synccheck,memcheck b256 $C,N_BLOCK=4,WG_M=64,STAGES=4,SUPER_M=16,CLUSTER_N=1,MMA_LAG=1,N_EXTRA=0 512x512x768)
$(san_lines racecheck,synccheck,memcheck b2x128 $C,N_BLOCK=2,WG_M=128,STAGES=4,SUPER_M=8,CLUSTER_N=1,MMA_LAG=0,N_EXTRA=0 512x512x768)
$(san_lines racecheck,memcheck b2x128k1 $C,N_BLOCK=2,WG_M=128,STAGES=4,SUPER_M=8,CLUSTER_N=1,MMA_LAG=0,N_EXTRA=0 512x512x64)
$(san_lines racecheck,memcheck bcn2 $C,N_BLOCK=2,WG_M=64,STAGES=4,SUPER_M=8,CLUSTER_N=2,MMA_LAG=1,N_EXTRA=0 512x512x768)"
GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space bench/tk-wide-bf16.yaml
timeout ${IND_TIMEOUT:-150} python3 bench/independent.py --table bench/device/epi3b.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -24
echo "indep: $(( $(date +%s) - t0 ))s"
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
rm -rf $R/build; tar czf $OUT/epi3b.tgz -C $OUT epi3b && rm -rf $R
