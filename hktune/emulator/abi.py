"""Kernel arguments and launch geometry of the hipkittens family, as its host code would set them.

The host side of kernels/hipkittens/gemm_cdna{3,4}.cpp (``hktune_gemm``) does::

    hkt::globals g{GL(A, 1, 1, M, K), GL(Bt, 1, 1, N, K), GL(C, 1, 1, M, N), xcds};   // GL = gl<bf16,-1,-1,-1,-1>
    dim3 grid((M / BLOCK_M) * (N / BLOCK_N));
    hipLaunchKernelGGL(hktune_hk_gemm, grid, dim3(NUM_THREADS), LDS_ALLOC, stream, g);

HipKittens' ``gl<T,-1,-1,-1,-1>`` (include/types/global/gl.cuh, both branches) is
``{T* raw_ptr; size_t batch, depth, rows, cols; descriptor_dict tma_descs;}``: the four runtime
dims are ``runtime_dim{size_t}``, the empty ``descriptor_dict`` takes one byte, so 48 bytes with
8-byte alignment; ``globals`` is three of them and the device's XCD count (an int the host reads
once per device), the metadata note's by_value argument of 152 bytes. Hidden arguments (``hidden_block_count_x`` ...) are filled from the metadata ``.args``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Mapping, Sequence

from hktune.build.amd.codeobject import Kernel

HK_GL_SIZE = 48  # sizeof(gl<bf16,-1,-1,-1,-1>)


class AbiError(ValueError):
    """The kernel's arguments are not what the family's host code passes."""


@dataclass(frozen=True)
class Launch:
    grid: tuple[int, int, int]  # in workgroups (HIP's gridDim)
    block: tuple[int, int, int]  # threads per workgroup
    lds_bytes: int  # dynamic LDS the launch asks for

    @property
    def blocks(self) -> int:
        return self.grid[0] * self.grid[1] * self.grid[2]


def hk_gl(ptr: int, batch: int, depth: int, rows: int, cols: int) -> bytes:
    """One HipKittens gl<bf16,-1,-1,-1,-1> as the device sees it."""
    return struct.pack("<QQQQQ", ptr, batch, depth, rows, cols).ljust(HK_GL_SIZE, b"\0")


DEFAULT_XCDS = 8  # MI300X / MI325X / MI355X


def hk_globals(a: int, b: int, c: int, m: int, n: int, k: int, num_xcds: int = DEFAULT_XCDS,
               extra: Sequence[int] = ()) -> bytes:
    """hkt::globals{GL(A,1,1,M,K), GL(Bt,1,1,N,K), GL(C,1,1,M,N), [extra pointers,] num_xcds}: 3 x 48
    bytes, one 8-byte pointer per extra operand of the dtype (the fp8 template's scale_a, scale_b),
    the int, padded to the struct's 8-byte alignment (152 bytes for bf16, 168 with two scales)."""
    blob = hk_gl(a, 1, 1, m, k) + hk_gl(b, 1, 1, n, k) + hk_gl(c, 1, 1, m, n)
    blob += b"".join(struct.pack("<Q", p) for p in extra) + struct.pack("<i", num_xcds)
    return blob.ljust((len(blob) + 7) // 8 * 8, b"\0")


def hipkittens_launch(defines: Mapping[str, int], m: int, n: int) -> Launch:
    """grid, block and dynamic LDS of ``hktune_gemm`` for one config (defines: params + derived)."""
    bm, bn = int(defines["BLOCK_M"]), int(defines["BLOCK_N"])
    if m % bm or n % bn:
        raise AbiError(f"{m}x{n} is not a multiple of the {bm}x{bn} block")
    threads = int(defines.get("THREADS") or defines["WARPS_M"] * defines["WARPS_N"] * 64)
    if "LDS_BYTES" not in defines:
        raise AbiError("the config's LDS_BYTES (a derived value of the space) is needed for the launch")
    return Launch(((m // bm) * (n // bn), 1, 1), (threads, 1, 1), int(defines["LDS_BYTES"]))


def kernargs(kernel: Kernel, explicit: Sequence[bytes], launch: Launch) -> bytes:
    """The kernarg segment: explicit arguments (bytes, in .args order) and the hidden ones.

    Every hidden argument hktune does not model stays zero (global offsets, queue, heap ...).
    """
    args = kernel.args
    if not args:
        raise AbiError(f"{kernel.name}: the code object has no .args metadata")
    buf = bytearray(max(kernel.kernarg_size, max(int(a[".offset"]) + int(a[".size"]) for a in args)))
    todo = list(explicit)
    gx, gy, gz = launch.grid
    lx, ly, lz = launch.block
    hidden = {
        "hidden_block_count_x": gx, "hidden_block_count_y": gy, "hidden_block_count_z": gz,
        "hidden_group_size_x": lx, "hidden_group_size_y": ly, "hidden_group_size_z": lz,
        "hidden_remainder_x": 0, "hidden_remainder_y": 0, "hidden_remainder_z": 0,
        "hidden_grid_dims": 1 + (gy > 1 or gz > 1) + (gz > 1),
        "hidden_dynamic_lds_size": launch.lds_bytes,
    }
    for a in args:
        off, size, kind = int(a[".offset"]), int(a[".size"]), str(a[".value_kind"])
        if not kind.startswith("hidden_"):
            if not todo:
                raise AbiError(f"{kernel.name}: more explicit arguments in .args than given ({len(explicit)})")
            blob = todo.pop(0)
            if len(blob) != size:
                raise AbiError(f"{kernel.name}: argument at offset {off} ({kind}) is {size} bytes, got {len(blob)}")
            buf[off:off + size] = blob
        elif kind in hidden:
            buf[off:off + size] = int(hidden[kind]).to_bytes(size, "little")
    if todo:
        raise AbiError(f"{kernel.name}: {len(todo)} explicit argument(s) left over; .args has fewer")
    return bytes(buf)


def hipkittens_kernargs(kernel: Kernel, a: int, b: int, c: int, m: int, n: int, k: int, launch: Launch,
                        num_xcds: int = DEFAULT_XCDS, extra: Sequence[int] = ()) -> bytes:
    return kernargs(kernel, [hk_globals(a, b, c, m, n, k, num_xcds, extra)], launch)


def dispatch_packet(launch: Launch, kernarg_ptr: int, scratch: int) -> bytes:
    """A 64-byte hsa_kernel_dispatch_packet (for kernels that enable the dispatch pointer)."""
    gx, gy, gz = launch.grid
    lx, ly, lz = launch.block
    dims = 1 + (gy > 1 or gz > 1) + (gz > 1)
    return struct.pack("<HHHHHHIIIIIQQQQ", 2, dims, lx, ly, lz, 0, gx * lx, gy * ly, gz * lz, scratch,
                       launch.lds_bytes, 0, kernarg_ptr, 0, 0)


def user_sgprs(kernel: Kernel, kernarg_ptr: int, dispatch_ptr: int) -> list[int]:
    """The initial user SGPR values the kernel descriptor asks for (hardware order)."""
    out: list[int] = []
    for what, count in kernel.descriptor.user_sgprs():
        val = {"kernarg_segment_ptr": kernarg_ptr, "dispatch_ptr": dispatch_ptr}.get(what, 0)
        out += [val & 0xFFFFFFFF, val >> 32][:count] + [0] * max(0, count - 2)
    if len(out) != kernel.descriptor.user_sgpr_count:
        raise AbiError(f"{kernel.name}: RSRC2 says {kernel.descriptor.user_sgpr_count} user SGPRs, the code "
                       f"properties enable {len(out)} (kernarg preload is not supported)")
    return out
