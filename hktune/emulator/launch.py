"""The child process that runs one kernel in the emulator: ``python -m hktune.emulator.launch``.

Reads one JSON request on stdin, writes one JSON result as the last line of stdout::

    request: {"code_object": PATH, "kernel": NAME|null, "m": M, "n": N, "k": K,
              "launch": {"grid": [gx,gy,gz], "block": [lx,ly,lz], "lds_bytes": L},
              "emulator_root": DIR, "seed": 0, "emu_arch": "cdna", "dtype": "bf16"}
    result:  {"ok": bool, "error": rel. Frobenius error, "bad_elements": int, "nan_elements": int,
              "seconds": emulation time, "reason": null | why it failed}

A, Bt (bf16, random normal) and C (bf16, poisoned with NaN) are host memory: the emulator's
global memory is the host address space. Another dtype's inputs, extra operands (an fp8 dtype's
per-tensor scales), reference and bounds come from its hktune.dtypes object, as CPU torch tensors
(torch is imported only then). The kernel image is loaded at its virtual addresses
into one host buffer. Only this process imports tinygrad; a too-small LDS or an unsupported
instruction can kill it, which the parent (hktune.emulator.run) reports as a failed result.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from hktune import dtypes
from hktune.build.amd import codeobject
from hktune.emulator import abi, strict

REL_TOL = 1e-2  # relative Frobenius error
ELEM_REL = 2.0 ** -7  # |C - ref| <= ELEM_REL * |ref| + ELEM_ABS * rms(ref)
ELEM_ABS = 0.01


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits (uint16), round to nearest even."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def inputs(m: int, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A [M,K] and Bt [N,K] as bf16 bits, standard normal (never zeros)."""
    rng = np.random.default_rng(seed)
    return to_bf16(rng.standard_normal((m, k), dtype=np.float32)), to_bf16(rng.standard_normal((n, k), dtype=np.float32))


def compare(c_bits: np.ndarray, a_bits: np.ndarray, bt_bits: np.ndarray) -> dict:
    """C against the fp32 reference A @ Bt^T: the pass/fail rule of an emulated run."""
    ref = from_bf16(a_bits).astype(np.float32) @ from_bf16(bt_bits).astype(np.float32).T
    return compare_to(c_bits, ref)


def compare_to(c_bits: np.ndarray, ref: np.ndarray, elem_rel: float = ELEM_REL, elem_abs: float = ELEM_ABS,
               rel_tol: float = REL_TOL) -> dict:
    """bf16 C (bits) against an fp32 reference, by element-wise and Frobenius bounds."""
    c = from_bf16(c_bits)
    nan = int(np.count_nonzero(~np.isfinite(c)))
    diff = np.where(np.isfinite(c), c - ref, np.inf)
    norm = float(np.linalg.norm(ref))
    err = float(np.linalg.norm(np.where(np.isfinite(diff), diff, 0.0)) / norm) if norm else float("inf")
    if nan:
        err = float("inf")
    rms = norm / np.sqrt(ref.size)
    bad = int(np.count_nonzero(~(np.abs(diff) <= elem_rel * np.abs(ref) + elem_abs * rms)))
    ok = err < rel_tol and bad == 0
    reason = None
    if not ok:
        reason = (f"{nan} of {c.size} outputs not written or not finite" if nan else
                  f"{bad} of {c.size} outputs wrong (rel. error {err:.2e})")
    return {"ok": ok, "error": err, "bad_elements": bad, "nan_elements": nan, "reason": reason}


def dtype_inputs(name: str, m: int, n: int, k: int, seed: int) -> tuple:
    """(inputs to keep alive, (A, Bt) addresses, extra operand addresses, C bits -> result) of a
    dtype from hktune.dtypes, made on the CPU with torch (the emulator's memory is host memory)."""
    import torch

    d = dtypes.get(name)
    if d.out_torch_name != "bfloat16":
        raise ValueError(f"the emulator checks bf16 outputs; dtype {name} writes {d.out_torch_name}")
    x = d.random_inputs(m, n, k, "cpu", torch.Generator().manual_seed(seed))
    ref = d.reference(x).numpy()
    judge = lambda c_bits: compare_to(c_bits, ref, d.element_rtol, d.atol_rms, d.frobenius_max)  # noqa: E731
    return x, (x.A.data_ptr(), x.Bt.data_ptr()), tuple(t.data_ptr() for t in x.extra), judge


LD_SCALE_OP = 44  # V_MFMA_LD_SCALE_B32: the first dword of a real VOP3PX2 (scaled f8f6f4 MFMA)
VOP3P_ENCODING = 0x1A7  # bits 31..23 of a VOP3P (CDNA) dword: 0b110100111


def fix_scaled_mfma_decoding() -> None:
    """tinygrad 0.14.0's CDNA decoder (tinygrad.renderer.amd.detect_format) takes any 16 bytes whose
    third dword is a 16x16x128 / 32x32x64 f8f6f4 MFMA for a VOP3PX2 (v_mfma_scale_...: the
    V_MFMA_LD_SCALE_B32 prefix + the MFMA) without checking the prefix, so two back-to-back unscaled
    v_mfma_f32_16x16x128_f8f6f4 (8 bytes each, what HipKittens' fp8 mma_ABt compiles to) decode as one
    scaled MFMA whose scale operands are the second's registers, and the second is skipped; so do
    any 8 bytes before an unscaled one (e.g. `v_lshlrev_b32_e32 v22, 4, v0` = 0x242c0084, whose bits
    22..16 happen to be 44, then `s_waitcnt`: both swallowed, the MFMA run with garbage scales). This
    narrows the match to a real prefix (the first dword a VOP3P, encoding 0x1A7 in bits 31..23, of op
    44); every other word decodes as before. Pinned to tinygrad 0.14.0 (hktune.emulator.locate), whose private helpers it uses."""
    import tinygrad.renderer.amd as amd
    from tinygrad.runtime.autogen.amd.cdna.ins import VOP3PX2

    orig = amd.detect_format
    if getattr(orig, "hktune_fixed", False):
        return

    def detect_format(data: bytes, arch: str = "rdna3"):  # noqa: ANN202
        cls = orig(data, arch)
        first = int.from_bytes(data[:4], "little")
        if cls is VOP3PX2 and (first >> 23 != VOP3P_ENCODING or (first >> 16) & 0x7F != LD_SCALE_OP):
            return next(c for c in amd._load_formats()[arch] if c is not VOP3PX2 and amd._matches(data, c))
        return cls

    detect_format.hktune_fixed = True
    amd.detect_format = detect_format


def _host_buffer(data: bytes) -> tuple[object, int]:
    """A host copy of data that stays alive while the returned object does: (owner, address)."""
    buf = np.zeros(len(data) + 4096, dtype=np.uint8)
    addr = buf.ctypes.data
    start = (-addr) % 4096  # page-aligned like a real loader
    buf[start:start + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return buf, addr + start


def run(req: dict) -> dict:
    m, n, k = int(req["m"]), int(req["n"]), int(req["k"])
    lr = req["launch"]
    launch = abi.Launch(tuple(lr["grid"]), tuple(lr["block"]), int(lr["lds_bytes"]))
    co = codeobject.load(req["code_object"])
    kern = co.kernel(req.get("kernel"))
    img_owner, img = _host_buffer(co.image)
    dtype = req.get("dtype", "bf16")
    if dtype == "bf16":
        a, bt = inputs(m, n, k, int(req.get("seed", 0)))
        ptrs, extra, judge = (a.ctypes.data, bt.ctypes.data), (), lambda c_bits: compare(c_bits, a, bt)
    else:
        x, ptrs, extra, judge = dtype_inputs(dtype, m, n, k, int(req.get("seed", 0)))
    c = np.full((m, n), 0x7FC0, dtype=np.uint16)  # bf16 NaN: an output never written stays NaN
    args = abi.hipkittens_kernargs(kern, *ptrs, c.ctypes.data, m, n, k, launch,
                                   num_xcds=int(req.get("num_xcds", abi.DEFAULT_XCDS)), extra=extra)
    args_owner, args_ptr = _host_buffer(args)
    lds_total = kern.descriptor.group_segment_fixed_size + launch.lds_bytes
    rsrc2 = kern.descriptor.rsrc2_with_lds(lds_total)
    pkt_owner, pkt_ptr = _host_buffer(abi.dispatch_packet(launch, args_ptr, kern.descriptor.private_segment_fixed_size))
    user = abi.user_sgprs(kern, args_ptr, pkt_ptr)

    sys.path.insert(0, req["emulator_root"])
    from test.mockgpu.amd import emu  # noqa: E402 - the pinned tinygrad test files

    strict.install(emu)   # a buffer resource with a stride or swizzle bit set reads nothing
    fix_scaled_mfma_decoding()

    t0 = time.perf_counter()
    emu.run_asm(img + kern.entry_vaddr, kern.code_size or len(co.image), *launch.grid, *launch.block, args_ptr, rsrc2,
                kern.descriptor.private_segment_fixed_size, req.get("emu_arch", "cdna"), user)
    seconds = time.perf_counter() - t0
    del img_owner, args_owner, pkt_owner
    res = judge(c)
    res.update(seconds=seconds, kernel=kern.name, lds_bytes=lds_total, blocks=launch.blocks)
    return res


def main() -> int:
    req = json.loads(sys.stdin.read())
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything the emulator prints must not corrupt the result line
    try:
        res = run(req)
    except Exception as e:  # an emulator error is a failed run, reported as such
        res = {"ok": False, "error": None, "bad_elements": None, "seconds": None,
               "reason": f"emulator error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:400]}
    sys.stdout = real_stdout
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
