# Issue 22: the fp8 128x144 tile (N_EXTRA 16: wgmma n144, 16-row Bt boxes, a partial last tile column; written
# 2026-12-05, compiled only) against 256x128 MMA_LAG 2 PROMOTE 2, by bench/independent.py (its own nvcc build,
# NaN-filled outputs checked against an fp32 reference of the dequantized inputs, CUDA-graph replays >= 30 ms
# per arm, A B B A against torch._scaled_mm) at 8192^3 and 4096x14336x4096. < 2 min on a warm machine.
. bench/device/setup.sh
R=$OUT/n144; mkdir -p $R
# a build folder of its own: the harness reuses any library whose hktune_config() matches, built from older code or not
timeout ${IND_TIMEOUT:-150} python3 bench/independent.py --table bench/device/n144.yaml --tk-root .tk --out $R/indep --replay-ms 30 --jobs 16 --build-dir $R/build 2>&1 | tail -10
nvidia-smi --query-gpu=name,clocks.sm,power.draw,clocks_throttle_reasons.active --format=csv,noheader
rm -rf $R/build; tar czf $OUT/n144.tgz -C $OUT n144 && rm -rf $R
