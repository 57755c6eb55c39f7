# Build a probe kernel for gfx950 with the portable toolchain into k.hsaco: bash build.sh agpr_mfma
# (then HKTUNE_EMULATOR_DIR=... python run.py runs it in the emulator: bench/results/fp8-gfx950-emulate-2026-12-04/unified.md)
set -e
${HKTUNE_TOOLCHAIN:-$HOME/.cache/hktune/amd-toolchain}/bin/hip-device-cc --offload-arch=gfx950 -O2 -S -o $1.s $1.hip 2>&1 | grep error || true
Z=${HKTUNE_TOOLCHAIN:-$HOME/.cache/hktune/amd-toolchain}/py/ziglang/zig; $Z clang --target=amdgcn-amd-amdhsa -mcpu=gfx950 -x assembler -c -o $1.o $1.s && $Z ld.lld -shared --no-undefined -o k.hsaco $1.o
