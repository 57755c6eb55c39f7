# One H200 call (~4-6 min): the ThunderKittens fp8_e4m3 template built on the device (nvcc, sm_90a),
# verified (fresh inputs, NaN-poisoned outputs, the dtype's bounds) and timed against
# torch._scaled_mm (cuBLASLt, same per-tensor scales, bf16 out) on the four shapes:
# seeds + the space prior's best 10 configs per shape, sustained launch-free timing (CUDA graphs of
# back-to-back launches over rotating inputs), paired ABBA rounds, ratio with a bootstrap 95% CI.
# The winner is also paired against torch._scaled_mm(use_fast_accum=True) (the accumulation a plain
# wgmma loop has). Output: $OUT/fp8/summary.md and summary.json (per shape: tuned vs vendor TFLOP/s,
# ratio [CI] to both vendor modes, errors of all three against the fp32 product of the dequantised
# inputs, rejected configs and why).
. bench/device/setup.sh
python3 bench/fp8_h200.py --out $OUT/fp8 --candidates 10 --rounds 40 2>&1 | tail -25
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
