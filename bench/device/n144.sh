# Issue 22: the fp8 128x144 and 256x144 tiles (N_EXTRA 16: wgmma n144, 48-row Bt boxes, a partial last tile column; C in 64x48 TMA
# boxes with EPILOGUE 2; a cluster pair along M sharing Bt, as cuBLASLt's 1x2) and 128x160 (N_EXTRA 32: TK's n160, 80-row Bt
# boxes, 64x80 C boxes; 4096x14336x4096 cuts into 22 rounds of 132 tiles at 99% where 128x144 takes 25 at 97%). One call:
#  (1) compute-sanitizer racecheck, synccheck and memcheck of 128x144 with 6 stages (C in 64x16 TMA boxes; MMA_LAG 1 and 0,
#      PROMOTE 4) and of 128x160 (5 and 6 stages, a pair along M at MMA_LAG 2, EPILOGUE 0) at 512x400x768 (a partial last tile column) on 2 persistent clusters, so every block runs several tiles;
#      every launch verifies its NaN-poisoned output by the fp8 bounds. The runs of 2026-12-05 17:46-18:27
#      (bench/results/h100-2026-12-05c) sanitized 128x144 MMA_LAG 0, 1 (PROMOTE 4, 1), 2 in a pair, and 256x144;
#  (2) bench/independent.py (its own nvcc build, NaN-filled outputs checked against an fp32 reference of the
#      dequantized inputs, CUDA-graph replays >= 30 ms per arm, A B B A against torch._scaled_mm) of
#      bench/device/n144.yaml at 8192^3 and 4096x14336x4096 (SKIP_SAN=1 when every form in it was sanitized before;
#      SKIP_IND=1: the sanitizers only). The last two sanitizer lines: memcheck of the fp8 family space's 128x160 form
#      (4 stages) and of the H200 8192^3 winner (128x144, 5 stages, PROMOTE 2; 2026-12-06), racecheck/synccheck-clean already.
. bench/device/setup.sh
. bench/device/sanitize.sh
R=$OUT/n144; mkdir -p $R
t0=$(date +%s)
N="M_BLOCK=2,N_BLOCK=2,STAGES=6,SUPER_M=8,PERSISTENT=1,EPILOGUE=2,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,SPLIT_K=1,PROMOTE=4,STREAM_K=0,N_EXTRA=16"
N5="M_BLOCK=2,N_BLOCK=2,STAGES=5,SUPER_M=4,PERSISTENT=1,EPILOGUE=2,SCHED=1,WG_M=64,CLUSTER_M=1,CLUSTER_N=1,ORDER=0,SPLIT_K=1,PROMOTE=2,STREAM_K=0,N_EXTRA=16"
B160="M_BLOCK=2,N_BLOCK=2,SUPER_M=8,PERSISTENT=1,SCHED=1,WG_M=64,CLUSTER_N=1,ORDER=0,SPLIT_K=1,STREAM_K=0,N_EXTRA=32,PRODUCER_REGS=40,CONSUMER_REGS=232"
SAN="$(san_lines racecheck,synccheck,memcheck n144s6lag1 $N,PRODUCER_REGS=24,CONSUMER_REGS=240,MMA_LAG=1 512x400x768)
$(san_lines racecheck,synccheck,memcheck n144s6lag0 $N,PRODUCER_REGS=40,CONSUMER_REGS=232,MMA_LAG=0 512x400x768)
$(san_lines racecheck,synccheck,memcheck n160s5 $B160,STAGES=5,EPILOGUE=2,CLUSTER_M=1,MMA_LAG=0,PROMOTE=4 512x400x768)
$(san_lines racecheck,synccheck,memcheck n160s6 $B160,STAGES=6,EPILOGUE=2,CLUSTER_M=1,MMA_LAG=0,PROMOTE=4 512x400x768)
$(san_lines racecheck,synccheck n160pair $B160,STAGES=5,EPILOGUE=2,CLUSTER_M=2,MMA_LAG=2,PROMOTE=2 512x400x768)
$(san_lines racecheck,memcheck n160e0 $B160,STAGES=5,EPILOGUE=0,CLUSTER_M=1,MMA_LAG=0,PROMOTE=1 512x400x768)
$(san_lines memcheck n160s4 ${B160/SUPER_M=8/SUPER_M=4},STAGES=4,EPILOGUE=2,CLUSTER_M=1,MMA_LAG=0,PROMOTE=4 512x400x768)
$(san_lines memcheck n144s5p2 $N5,PRODUCER_REGS=24,CONSUMER_REGS=240,MMA_LAG=1 512x400x768)"
[ -n "$SKIP_SAN" ] || GRID_CAP=2 SAN_TIMEOUT=150 san_phase --space bench/tk-n144-fp8.yaml --dtype fp8_e4m3
# a build folder of its own: the harness reuses any library whose hktune_config() matches, built from older code or not
[ -n "$SKIP_IND" ] || timeout ${IND_TIMEOUT:-240} python3 bench/independent.py --table bench/device/n144.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -14
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
echo "total: $(( $(date +%s) - t0 ))s"
rm -rf $R/build; tar czf $OUT/n144.tgz -C $OUT n144 && rm -rf $R
