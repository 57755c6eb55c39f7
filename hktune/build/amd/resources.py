"""Resource usage of AMDGPU kernels, read without a GPU.

Three sources, each parsed on its own and merged by :func:`collect`:

(a) clang's ``-Rpass-analysis=kernel-resource-usage`` remarks on stderr (``TotalSGPRs:`` upstream,
    ``SGPRs:`` in hipcc logs, ``VGPRs:``, ``AGPRs:``, ``ScratchSize [bytes/lane]:``,
    ``Occupancy [waves/SIMD]:``, ``SGPRs Spill:``, ``VGPRs Spill:``, ``LDS Size [bytes/block]:``);
(b) the ``.s`` file: the ``; Kernel info:`` comment block (``; NumVgprs:``, ``; Occupancy:`` ...),
    the ``.amdhsa_*`` directives and the textual ``amdhsa.kernels`` metadata;
(c) the code object: the ``NT_AMDGPU_METADATA`` ELF note (msgpack), read by a small ELF reader
    here, plus the kernel symbol's size for ``code_bytes``.

Every parser returns ``{kernel name: {key: int}}`` with the keys of :data:`RESOURCE_KEYS`
(missing keys are absent, never guessed). :func:`count_mfma` (hktune.build.amd.mfma) counts MFMA
instructions in assembly.

HipKittens allocates LDS dynamically (``extern __shared__``), so every source reports 0 LDS for
it; the space file's LDS_BYTES is the real figure.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Iterator, Mapping

from hktune.build.amd.mfma import count_mfma, count_mfma_by_block, mfma_in_loops
from hktune.errors import BadInput

RESOURCE_KEYS = ("vgprs", "agprs", "sgprs", "scratch_bytes", "vgpr_spills", "sgpr_spills", "occupancy",
                 "lds_bytes", "code_bytes")

Resources = dict[str, int]

# ---- (a) remarks ---------------------------------------------------------------------------------

_REMARK_LINE = re.compile(r"remark:\s*(?P<key>[A-Za-z][A-Za-z /\[\]]*?)\s*:\s*(?P<val>\S+)")
_REMARK_KEYS = {
    "TotalSGPRs": "sgprs",
    "SGPRs": "sgprs",
    "VGPRs": "vgprs",
    "AGPRs": "agprs",
    "ScratchSize [bytes/lane]": "scratch_bytes",
    "ScratchSize": "scratch_bytes",
    "Occupancy [waves/SIMD]": "occupancy",
    "Occupancy": "occupancy",
    "SGPRs Spill": "sgpr_spills",
    "VGPRs Spill": "vgpr_spills",
    "LDS Size [bytes/block]": "lds_bytes",
    "LDS Size": "lds_bytes",
}


def _to_int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_remarks(text: str) -> dict[str, Resources]:
    """``-Rpass-analysis=kernel-resource-usage`` output -> {function name: resources}.

    Each ``Function Name:`` line starts a new function; lines before any are filed under ''.
    Unknown remark keys (``Dynamic Stack:`` ...) are ignored.
    """
    out: dict[str, Resources] = {}
    cur: Resources | None = None
    for line in text.splitlines():
        m = _REMARK_LINE.search(line)
        if not m:
            continue
        key, val = m.group("key").strip(), m.group("val")
        if key == "Function Name":
            cur = out.setdefault(val, {})
            continue
        name = _REMARK_KEYS.get(key)
        if name is None:
            continue
        v = _to_int(val)
        if v is None:
            continue
        if cur is None:
            cur = out.setdefault("", {})
        cur[name] = v
    return out


# ---- (b) assembly ----------------------------------------------------------------------------

_ASM_COMMENT_KEYS = {
    "codeLenInByte": "code_bytes",
    "NumVgprs": "vgprs",
    "NumAgprs": "agprs",
    "TotalNumSgprs": "sgprs",
    "NumSgprs": "sgprs",
    "ScratchSize": "scratch_bytes",
    "Occupancy": "occupancy",
    "LDSByteSize": "lds_bytes",
}
_ASM_COMMENT = re.compile(r"^\s*;\s*(?P<key>[A-Za-z]+)\s*[:=]\s*(?P<val>-?\d+)")
_ASM_KERNEL = re.compile(r"^\s*\.amdhsa_kernel\s+(?P<name>\S+)")
_ASM_DIRECTIVE = re.compile(r"^\s*\.amdhsa_(?P<key>group_segment_fixed_size|private_segment_fixed_size)\s+(?P<val>\d+)")
_META_TEXT_KEYS = {".vgpr_count": "vgprs", ".agpr_count": "agprs", ".sgpr_count": "sgprs",
                   ".vgpr_spill_count": "vgpr_spills", ".sgpr_spill_count": "sgpr_spills",
                   ".private_segment_fixed_size": "scratch_bytes", ".group_segment_fixed_size": "lds_bytes"}


def _asm_metadata(text: str) -> dict[str, Resources]:
    """The textual ``amdhsa.kernels`` metadata between .amdgpu_metadata / .end_amdgpu_metadata."""
    m = re.search(r"^\s*\.amdgpu_metadata\s*$(?P<body>.*?)^\s*\.end_amdgpu_metadata", text, re.M | re.S)
    if not m:
        return {}
    try:
        import yaml
    except ImportError:  # pragma: no cover - yaml is a dependency of hktune
        return {}
    try:
        doc = yaml.safe_load(m.group("body"))
    except yaml.YAMLError:
        return {}
    return _kernels_from_metadata(doc)


def parse_asm(text: str) -> dict[str, Resources]:
    """A ``.s`` file -> {kernel name: resources}.

    Reads the ``; Kernel info:`` comment block after each kernel (attributed to the last
    ``.amdhsa_kernel`` or function label seen), the ``.amdhsa_*_segment_fixed_size`` directives
    and, for spill counts, the textual ``amdhsa.kernels`` metadata.
    """
    out: dict[str, Resources] = {}
    label: str | None = None
    block: Resources | None = None
    for line in text.splitlines():
        km = _ASM_KERNEL.match(line)
        if km:
            label = km.group("name")
            continue
        fm = re.match(r"^(?P<name>[A-Za-z_.$][\w.$]*):", line)
        if fm and not fm.group("name").startswith("."):
            label = fm.group("name")
        dm = _ASM_DIRECTIVE.match(line)
        if dm and label is not None:
            key = "lds_bytes" if dm.group("key").startswith("group") else "scratch_bytes"
            out.setdefault(label, {}).setdefault(key, int(dm.group("val")))
            continue
        cm = _ASM_COMMENT.match(line)
        if cm:
            key = _ASM_COMMENT_KEYS.get(cm.group("key"))
            if key is None:
                continue
            if key == "code_bytes" or block is None:  # each kernel-info block starts with codeLenInByte
                block = out.setdefault(label or "", {})
            if key == "sgprs" and cm.group("key") == "NumSgprs" and "sgprs" in block:
                continue  # TotalNumSgprs (with VCC etc.) wins over NumSgprs
            block[key] = int(cm.group("val"))
    for name, meta in _asm_metadata(text).items():
        row = out.setdefault(name, {})
        for key, v in meta.items():
            row.setdefault(key, v)
    return out


# ---- (c) code object ---------------------------------------------------------------------------

EM_AMDGPU = 0xE0
SHT_SYMTAB, SHT_NOTE, SHT_DYNSYM = 2, 7, 11
NT_AMDGPU_METADATA = 32


class CodeObjectError(BadInput):
    """Not a readable 64-bit little-endian AMDGPU ELF."""


def _sections(elf: bytes) -> list[tuple[int, int, int, int, int]]:
    """[(type, offset, size, link, entsize)] of a 64-bit little-endian ELF."""
    if elf[:4] != b"\x7fELF":
        raise CodeObjectError("not an ELF file")
    if elf[4] != 2 or elf[5] != 1:
        raise CodeObjectError("not a 64-bit little-endian ELF")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    if shoff == 0 or shoff + shnum * shentsize > len(elf):
        raise CodeObjectError("ELF section table out of range")
    out = []
    for i in range(shnum):
        base = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", elf, base + 4)
        sh_offset, sh_size = struct.unpack_from("<QQ", elf, base + 0x18)
        sh_link, = struct.unpack_from("<I", elf, base + 0x28)
        sh_entsize, = struct.unpack_from("<Q", elf, base + 0x38)
        out.append((sh_type, sh_offset, sh_size, sh_link, sh_entsize))
    return out


def elf_notes(elf: bytes) -> Iterator[tuple[bytes, int, bytes]]:
    """(name, type, descriptor) of every note in the SHT_NOTE sections (4-byte aligned fields)."""
    for typ, off, size, _link, _ent in _sections(elf):
        if typ != SHT_NOTE:
            continue
        p, end = off, off + size
        while p + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, p)
            p += 12
            name = elf[p:p + namesz].rstrip(b"\0")
            p += (namesz + 3) & ~3
            desc = elf[p:p + descsz]
            p += (descsz + 3) & ~3
            yield name, ntype, desc


def function_sizes(elf: bytes) -> dict[str, int]:
    """{function symbol: st_size} from .symtab (else .dynsym)."""
    secs = _sections(elf)
    for want in (SHT_SYMTAB, SHT_DYNSYM):
        out: dict[str, int] = {}
        for typ, off, size, link, ent in secs:
            if typ != want or not ent:
                continue
            stroff = secs[link][1]
            for p in range(off, off + size, ent):
                st_name, st_info = struct.unpack_from("<IB", elf, p)
                st_size, = struct.unpack_from("<Q", elf, p + 16)
                if st_info & 0xF == 2 and st_size:  # STT_FUNC
                    end = elf.index(b"\0", stroff + st_name)
                    out[elf[stroff + st_name:end].decode(errors="replace")] = st_size
        if out:
            return out
    return {}


def _kernels_from_metadata(doc: object) -> dict[str, Resources]:
    out: dict[str, Resources] = {}
    if not isinstance(doc, Mapping):
        return out
    for k in doc.get("amdhsa.kernels") or []:
        if not isinstance(k, Mapping):
            continue
        name = str(k.get(".name") or k.get(".symbol") or "").removesuffix(".kd")
        row = {key: int(k[m]) for m, key in _META_TEXT_KEYS.items() if isinstance(k.get(m), int)}
        out[name] = row
    return out


def parse_code_object(data: bytes | str | Path) -> dict[str, Resources]:
    """An AMDGPU code object (ELF bytes or a path) -> {kernel name: resources}.

    Reads the msgpack ``NT_AMDGPU_METADATA`` note ('AMDGPU', type 32) and each kernel symbol's
    size (``code_bytes``). Raises :class:`CodeObjectError` for something that is not an AMDGPU ELF.
    """
    import msgpack

    elf = Path(data).read_bytes() if isinstance(data, (str, Path)) else bytes(data)
    if len(elf) < 0x40 or elf[:4] != b"\x7fELF":
        raise CodeObjectError("not an ELF file")
    machine, = struct.unpack_from("<H", elf, 0x12)
    if machine != EM_AMDGPU:
        raise CodeObjectError(f"ELF machine {machine:#x} is not AMDGPU")
    out: dict[str, Resources] = {}
    for name, ntype, desc in elf_notes(elf):
        if ntype == NT_AMDGPU_METADATA and name == b"AMDGPU":
            out.update(_kernels_from_metadata(msgpack.unpackb(desc, raw=False, strict_map_key=False)))
    sizes = function_sizes(elf)
    for kname, row in out.items():
        if kname in sizes:
            row["code_bytes"] = sizes[kname]
    return out


def code_objects(data: bytes) -> Iterator[bytes]:
    """The AMDGPU code objects in `data`: the data itself if it is one, else the amdgcn entries of the
    uncompressed clang offload bundles (``__CLANG_OFFLOAD_BUNDLE__``) in it, e.g. in a host .so.
    Compressed bundles (``CCOB``) are not read."""
    if data[:4] == b"\x7fELF" and len(data) > 0x13 and struct.unpack_from("<H", data, 0x12)[0] == EM_AMDGPU:
        yield data
        return
    magic = b"__CLANG_OFFLOAD_BUNDLE__"
    i = data.find(magic)
    while i >= 0:
        try:
            n, = struct.unpack_from("<Q", data, i + 24)
            p = i + 32
            for _ in range(n):
                off, size, tl = struct.unpack_from("<QQQ", data, p)
                p += 24
                triple = data[p:p + tl].decode(errors="replace")
                p += tl
                if size and "amdgcn" in triple:
                    yield data[i + off:i + off + size]
        except struct.error:
            pass
        i = data.find(magic, i + 1)


# ---- merge ----------------------------------------------------------------------------------


def _pick(table: Mapping[str, Resources], kernel: str | None) -> Resources | None:
    if not table:
        return None
    if kernel is not None:
        for name, row in table.items():
            if name == kernel or kernel in name:
                return row
        return None
    if len(table) == 1:
        return next(iter(table.values()))
    # several functions: the kernels are the ones with LDS / occupancy facts; take the worst
    rows = [r for r in table.values() if "occupancy" in r or "lds_bytes" in r] or list(table.values())
    worst: Resources = {}
    for key in RESOURCE_KEYS:
        vals = [r[key] for r in rows if key in r]
        if vals:
            worst[key] = min(vals) if key == "occupancy" else max(vals)
    return worst


def collect(remarks: str | None = None, asm: str | Path | None = None, code_object: bytes | str | Path | None = None,
            kernel: str | None = None) -> dict[str, int | None]:
    """Merge the sources into one row with every key of :data:`RESOURCE_KEYS` (None = unknown).

    Precedence: remarks, then the code object, then the ``.s`` file; ``code_bytes`` prefers the
    code object's symbol size (exact) over the ``.s`` estimate. `asm` may be text or a path.
    Disagreements between sources are listed under the extra key ``mismatches`` (a string).
    """
    rows: list[tuple[str, Resources]] = []
    if remarks:
        r = _pick(parse_remarks(remarks), kernel)
        if r:
            rows.append(("remarks", r))
    if code_object is not None:
        r = _pick(parse_code_object(code_object), kernel)
        if r:
            rows.append(("code object", r))
    if asm is not None:
        text = Path(asm).read_text(errors="replace") if isinstance(asm, Path) or (
            isinstance(asm, str) and "\n" not in asm and Path(asm).exists()) else str(asm)
        r = _pick(parse_asm(text), kernel)
        if r:
            rows.append(("asm", r))
    out: dict[str, int | None] = {k: None for k in RESOURCE_KEYS}
    mismatches: list[str] = []
    for key in RESOURCE_KEYS:
        seen = [(src, r[key]) for src, r in rows if key in r]
        if not seen:
            continue
        if key == "code_bytes":
            exact = [v for src, v in seen if src == "code object"]
            out[key] = exact[0] if exact else seen[0][1]
            continue
        out[key] = seen[0][1]
        for src, v in seen[1:]:
            if v != seen[0][1]:
                mismatches.append(f"{key}: {seen[0][0]}={seen[0][1]} {src}={v}")
    if mismatches:
        out["mismatches"] = "; ".join(mismatches)  # type: ignore[assignment]
    return out


__all__ = ["RESOURCE_KEYS", "parse_remarks", "parse_asm", "parse_code_object", "code_objects", "collect", "count_mfma",
           "count_mfma_by_block", "mfma_in_loops", "elf_notes", "function_sizes", "CodeObjectError"]
