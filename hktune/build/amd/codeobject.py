"""An AMDGPU code object (the .hsaco a device-only hip compile produces) as the emulator needs it.

Reads, with no ROCm: the loadable image (PT_LOAD segments at their virtual addresses), the
symbols, each kernel's descriptor (``<kernel>.kd``: LDS / scratch sizes, kernarg size, entry
offset, COMPUTE_PGM_RSRC1/2/3, kernel code properties), the ``.args`` of the msgpack metadata
note, and a hash of the ``.text`` section that identifies a kernel body.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from hktune.build.amd.resources import NT_AMDGPU_METADATA, CodeObjectError, elf_notes

PT_LOAD = 1
SHT_SYMTAB, SHT_DYNSYM = 2, 11
STT_OBJECT, STT_FUNC = 1, 2

# kernel_code_properties bits (AMDHSA kernel descriptor) -> user SGPRs they take, in order
USER_SGPR_BITS = (
    ("private_segment_buffer", 0, 4),
    ("dispatch_ptr", 1, 2),
    ("queue_ptr", 2, 2),
    ("kernarg_segment_ptr", 3, 2),
    ("dispatch_id", 4, 2),
    ("flat_scratch_init", 5, 2),
    ("private_segment_size", 6, 1),
)
RSRC2_USER_SGPR_SHIFT, RSRC2_USER_SGPR_MASK = 1, 0x1F << 1
RSRC2_LDS_SHIFT, RSRC2_LDS_MASK = 15, 0x1FF << 15  # gfx9: granules of 128 dwords (512 bytes)
LDS_GRANULE = 512


@dataclass(frozen=True)
class KernelDescriptor:
    group_segment_fixed_size: int
    private_segment_fixed_size: int
    kernarg_size: int
    entry_offset: int  # kernel_code_entry_byte_offset, relative to the descriptor
    rsrc3: int
    rsrc1: int
    rsrc2: int
    code_properties: int
    kernarg_preload: int

    @classmethod
    def parse(cls, raw: bytes) -> "KernelDescriptor":
        if len(raw) < 64:
            raise CodeObjectError("kernel descriptor shorter than 64 bytes")
        gs, ps, ka = struct.unpack_from("<III", raw, 0)
        entry, = struct.unpack_from("<q", raw, 16)
        r3, r1, r2 = struct.unpack_from("<III", raw, 44)
        props, preload = struct.unpack_from("<HH", raw, 56)
        return cls(gs, ps, ka, entry, r3, r1, r2, props, preload)

    @property
    def user_sgpr_count(self) -> int:
        return (self.rsrc2 & RSRC2_USER_SGPR_MASK) >> RSRC2_USER_SGPR_SHIFT

    def user_sgprs(self) -> list[tuple[str, int]]:
        """[(what, count)] of the enabled user SGPRs in hardware order."""
        return [(name, n) for name, bit, n in USER_SGPR_BITS if self.code_properties >> bit & 1]

    def rsrc2_with_lds(self, lds_bytes: int) -> int:
        """RSRC2 with its LDS-size field set to hold lds_bytes (what the dispatch would allocate)."""
        granules = -(-lds_bytes // LDS_GRANULE)
        if granules > RSRC2_LDS_MASK >> RSRC2_LDS_SHIFT:
            raise ValueError(f"{lds_bytes} bytes of LDS do not fit the RSRC2 LDS_SIZE field")
        return (self.rsrc2 & ~RSRC2_LDS_MASK) | (granules << RSRC2_LDS_SHIFT)


@dataclass
class Kernel:
    name: str
    entry_vaddr: int  # virtual address of the first instruction
    code_size: int
    descriptor: KernelDescriptor
    meta: dict = field(default_factory=dict)  # the metadata note's entry (.args, .kernarg_segment_size ...)

    @property
    def args(self) -> list[dict]:
        return list(self.meta.get(".args") or [])

    @property
    def kernarg_size(self) -> int:
        return int(self.meta.get(".kernarg_segment_size") or self.descriptor.kernarg_size)


@dataclass
class CodeObject:
    image: bytes  # PT_LOAD segments laid out at their virtual addresses (from 0)
    kernels: dict[str, Kernel]
    text_sha256: str  # sha256 of .text
    descriptors_sha256: str = ""  # sha256 of the kernel descriptors (launch resources)

    @property
    def body_hash(self) -> str:
        """Identifies what the emulator runs: the instructions and the kernel descriptors."""
        return hashlib.sha256((self.text_sha256 + self.descriptors_sha256).encode()).hexdigest()

    def kernel(self, name: str | None = None) -> Kernel:
        """The named kernel, else the only one; CodeObjectError otherwise."""
        if name is not None:
            hits = [k for n, k in self.kernels.items() if n == name or name in n]
            if len(hits) != 1:
                raise CodeObjectError(f"kernel {name!r} not found (have: {', '.join(self.kernels) or 'none'})")
            return hits[0]
        if len(self.kernels) != 1:
            raise CodeObjectError(f"expected one kernel in the code object, found {len(self.kernels)}: "
                                  f"{', '.join(self.kernels)}; name one")
        return next(iter(self.kernels.values()))


def _headers(elf: bytes) -> tuple[list[tuple], list[tuple]]:
    if len(elf) < 0x40 or elf[:4] != b"\x7fELF":
        raise CodeObjectError("not an ELF file")
    if elf[4] != 2 or elf[5] != 1:
        raise CodeObjectError("not a 64-bit little-endian ELF")
    phoff, shoff = struct.unpack_from("<QQ", elf, 0x20)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", elf, 0x36)
    phdrs = []
    for i in range(phnum):
        b = phoff + i * phentsize
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz = struct.unpack_from("<IIQQQQQ", elf, b)
        phdrs.append((p_type, p_offset, p_vaddr, p_filesz, p_memsz))
    shdrs = []
    for i in range(shnum):
        b = shoff + i * shentsize
        name, typ, _flags, addr, off, size, link, _info, _align, ent = struct.unpack_from("<IIQQQQIIQQ", elf, b)
        shdrs.append((name, typ, addr, off, size, link, ent))
    names = []
    if shdrs and shstrndx < len(shdrs):
        stroff = shdrs[shstrndx][3]
        for s in shdrs:
            end = elf.index(b"\0", stroff + s[0])
            names.append(elf[stroff + s[0]:end].decode(errors="replace"))
    return phdrs, [(n, *s[1:]) for n, s in zip(names, shdrs)]


def _symbols(elf: bytes, shdrs: list[tuple]) -> dict[str, tuple[int, int, int]]:
    """{name: (type, value, size)} from .symtab (else .dynsym)."""
    for want in (SHT_SYMTAB, SHT_DYNSYM):
        out = {}
        for _n, typ, _addr, off, size, link, ent in shdrs:
            if typ != want or not ent:
                continue
            stroff = shdrs[link][3]
            for p in range(off, off + size, ent):
                st_name, st_info, _other, _shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", elf, p)
                end = elf.index(b"\0", stroff + st_name)
                out[elf[stroff + st_name:end].decode(errors="replace")] = (st_info & 0xF, st_value, st_size)
        if out:
            return out
    return {}


def _metadata(elf: bytes) -> dict[str, dict]:
    import msgpack

    out: dict[str, dict] = {}
    for name, ntype, desc in elf_notes(elf):
        if ntype == NT_AMDGPU_METADATA and name == b"AMDGPU":
            doc = msgpack.unpackb(desc, raw=False, strict_map_key=False)
            for k in doc.get("amdhsa.kernels") or []:
                out[str(k.get(".name"))] = dict(k)
    return out


def load(data: bytes | str | Path) -> CodeObject:
    """Parse a code object (bytes or a path)."""
    elf = Path(data).read_bytes() if isinstance(data, (str, Path)) else bytes(data)
    phdrs, shdrs = _headers(elf)
    machine, = struct.unpack_from("<H", elf, 0x12)
    if machine != 0xE0:
        raise CodeObjectError(f"ELF machine {machine:#x} is not AMDGPU")
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    if not loads:
        raise CodeObjectError("no PT_LOAD segment")
    top = max(v + m for _t, _o, v, _f, m in loads)
    image = bytearray(top + 64)  # room for the decoder's 16-byte look-ahead past the last instruction
    for _t, off, vaddr, filesz, _memsz in loads:
        image[vaddr:vaddr + filesz] = elf[off:off + filesz]
    text = [s for s in shdrs if s[0] == ".text"]
    text_bytes = elf[text[0][3]:text[0][3] + text[0][4]] if text else b""
    syms = _symbols(elf, shdrs)
    meta = _metadata(elf)
    kernels: dict[str, Kernel] = {}
    for name, (typ, value, _size) in syms.items():
        if not name.endswith(".kd"):
            continue
        kname = name[:-3]
        kd = KernelDescriptor.parse(bytes(image[value:value + 64]))
        entry = value + kd.entry_offset
        size = syms.get(kname, (0, 0, 0))[2]
        kernels[kname] = Kernel(kname, entry, size, kd, meta.get(kname, {}))
    if not kernels:
        raise CodeObjectError("no kernel descriptor (*.kd symbol) in the code object")
    kd_hash = hashlib.sha256()
    for kname in sorted(kernels):
        d = kernels[kname].descriptor
        kd_hash.update(repr((kname, d.group_segment_fixed_size, d.private_segment_fixed_size, d.kernarg_size,
                             d.rsrc1, d.rsrc2, d.rsrc3, d.code_properties, d.kernarg_preload)).encode())
    return CodeObject(bytes(image), kernels, hashlib.sha256(text_bytes).hexdigest(), kd_hash.hexdigest())


def body_hash(data: bytes | str | Path) -> str:
    """Configs with the same value run the same instructions with the same launch resources."""
    return load(data).body_hash
