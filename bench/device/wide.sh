# Issue 21: the bf16 wide tiles (bench/tk-wide-bf16.yaml: N_EXTRA 16 / 32 at bf16, 256x160, 128x160, 256x144; ThunderKittens'
# wgmma n144 / n160, Bt in 48- / 80-row TMA boxes, C in 64x48 / 64x80 boxes or 64x16 beside a 4-stage 256x160 ring, a
# partial last tile column). 4096x14336x4096 cuts into 13.6 rounds of 132 128x256 tiles, the last 58% full; 256x160 makes
# 10.9 rounds. One call:
#  (1) compute-sanitizer racecheck, synccheck and memcheck of each form at 512x400x768 (a partial last tile column) on 2
#      persistent blocks (GRID_CAP), so every block runs several tiles; every launch verifies its NaN-poisoned output;
#  (2) bench/independent.py (its own nvcc build, NaN-filled outputs checked against an fp32 reference, CUDA-graph replays
#      >= 30 ms per arm, A B B A against torch.mm) of bench/device/wide-bf16.yaml at 4096x14336x4096 and 8192^3.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/wide; mkdir -p $R
t0=$(date +%s)
W="M_BLOCK=2,N_BLOCK=2,SUPER_M=8,PERSISTENT=1,PRODUCER_REGS=40,CONSUMER_REGS=232,EPILOGUE=2,SCHED=1,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,MMA_LAG=1,SPLIT_K=1,PROMOTE=0,STREAM_K=0"
SAN="$(san_lines racecheck,synccheck,memcheck w256x160s3 $W,WG_M=128,STAGES=3,N_EXTRA=32 512x400x768)
$(san_lines racecheck,synccheck,memcheck w256x160s4 $W,WG_M=128,STAGES=4,N_EXTRA=32 512x400x768)
$(san_lines racecheck,synccheck,memcheck w128x160s5 $W,WG_M=64,STAGES=5,N_EXTRA=32 512x400x768)
$(san_lines racecheck,synccheck,memcheck w256x144s4 $W,WG_M=128,STAGES=4,N_EXTRA=16 512x400x768)"
[ -n "$SKIP_SAN" ] || GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space bench/tk-wide-bf16.yaml
# a build folder of its own: the harness reuses any library whose hktune_config() matches, built from older code or not
timeout ${IND_TIMEOUT:-240} python3 bench/independent.py --table bench/device/wide-bf16.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -14
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
rm -rf $R/build; tar czf $OUT/wide.tgz -C $OUT wide && rm -rf $R
