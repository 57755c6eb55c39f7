"""Run k.hsaco (bench/emulator_probe/build.sh) in the ISA emulator: one wave, random e4m3 inputs;
prints the VGPR-accumulator and AGPR-accumulator results (bench/results/fp8-gfx950-emulate-2026-12-04/
unified.md)."""
import os, struct, sys

import numpy as np
sys.path.insert(0, os.environ["HKTUNE_EMULATOR_DIR"])  # the pinned tinygrad test files
from hktune.build.amd import codeobject
from hktune.emulator import abi, launch as L, run as R
os.environ.update(R.child_env())
co = codeobject.load("k.hsaco"); kern = co.kernel(None)
img_owner, img = L._host_buffer(co.image)
rng = np.random.default_rng(0)
# fp8 e4m3 bytes of small values: random exponent field 5..8, random mantissa, random sign
def fp8(n): 
    e = rng.integers(5, 9, n); m = rng.integers(0, 8, n); s = rng.integers(0, 2, n)
    return ((s << 7) | (e << 3) | m).astype(np.uint8)
a = fp8(64*32); b = fp8(64*32)
out = np.full(512, np.nan, dtype=np.float32)
launch = abi.Launch((1,1,1), (64,1,1), 0)
args = abi.kernargs(kern, [struct.pack("<Q", out.ctypes.data), struct.pack("<Q", a.ctypes.data), struct.pack("<Q", b.ctypes.data)], launch)
ao, ap = L._host_buffer(args)
po, pp = L._host_buffer(abi.dispatch_packet(launch, ap, kern.descriptor.private_segment_fixed_size))
user = abi.user_sgprs(kern, ap, pp)
from test.mockgpu.amd import emu
L.strict.install(emu); L.fix_scaled_mfma_decoding()
rsrc2 = kern.descriptor.rsrc2_with_lds(kern.descriptor.group_segment_fixed_size)
emu.run_asm(img + kern.entry_vaddr, kern.code_size or len(co.image), 1,1,1, 64,1,1, ap, rsrc2, kern.descriptor.private_segment_fixed_size, "cdna", user)
v, g = out[:256], out[256:]
print("vgpr acc sample", v[:8]); print("agpr acc sample", g[:8]); print("equal:", np.array_equal(v, g), "max diff", np.nanmax(np.abs(v-g)))
