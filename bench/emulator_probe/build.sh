set -e
/root/.cache/hktune/amd-toolchain/bin/hip-device-cc --offload-arch=gfx950 -O2 -S -o $1.s $1.hip 2>&1 | grep error || true
Z=/root/.cache/hktune/amd-toolchain/py/ziglang/zig; $Z clang --target=amdgcn-amd-amdhsa -mcpu=gfx950 -x assembler -c -o $1.o $1.s && $Z ld.lld -shared --no-undefined -o k.hsaco $1.o
