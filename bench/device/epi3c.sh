# Issues 21, 22, one call (~2-4 min): EPILOGUE 3 with the block's first tile peeled (sched_epilogue3.cuh, HKT_E3_PEEL 1;
# run on 2026-12-06 when 1 was the default for fp8 too: bench/results/h100-2026-12-06g; fp8's default is 0 since).
#  (1) compute-sanitizer, each launch's NaN-poisoned output verified: bf16 256x128 (MMA_LAG 0) and 128x256 (MMA_LAG 1) on
#      2 persistent blocks (the peeled first tile, then the loop), 256x128 on as many blocks as tiles (the peeled tile
#      alone: 8 tiles at 512x512x768), 256x128 at K 64 (one k step a tile); fp8 128x144 PROMOTE 2 on 2 blocks;
#  (2) bench/independent.py over bench/device/epi3c.yaml: EPILOGUE 2, EPILOGUE 3 unpeeled (HKT_E3_PEEL 0), peeled.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/epi3c; mkdir -p $R
t0=$(date +%s)
C="M_BLOCK=2,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=3,SCHED=1,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,SPLIT_K=1,PROMOTE=0,STREAM_K=0,N_EXTRA=0"
B2=$C,N_BLOCK=2,WG_M=128,STAGES=4,SUPER_M=8,MMA_LAG=0
B4=$C,N_BLOCK=4,WG_M=64,STAGES=4,SUPER_M=8,MMA_LAG=1
SAN="$(san_lines racecheck,synccheck,memcheck b2x128 $B2 512x512x768)
$(san_lines racecheck,synccheck,memcheck b256 $B4 512x512x768)
$(san_lines racecheck,memcheck b2x128k1 $B2 512x512x64)"
GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space configs/thunderkittens-sm_90.yaml
SAN="$(san_lines racecheck,memcheck one $B2 512x512x768)"
SAN_TIMEOUT=150 san_phase --space configs/thunderkittens-sm_90.yaml
F="M_BLOCK=2,N_BLOCK=2,STAGES=5,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=24,CONSUMER_REGS=240,EPILOGUE=3,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,MMA_LAG=1,SPLIT_K=1,PROMOTE=2,STREAM_K=0,N_EXTRA=16"
SAN="$(san_lines racecheck,synccheck f144 $F 512x576x1024)"
GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space configs/thunderkittens-sm_90-fp8_e4m3.yaml --dtype fp8_e4m3
timeout ${IND_TIMEOUT:-200} python3 bench/independent.py --table bench/device/epi3c.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -16
echo "indep: $(( $(date +%s) - t0 ))s"
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
rm -rf $R/build; tar czf $OUT/epi3c.tgz -C $OUT epi3c && rm -rf $R
