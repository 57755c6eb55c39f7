"""Static MFMA counts of AMDGPU assembly: in all, per basic block, inside loop bodies."""
from __future__ import annotations

import re
from pathlib import Path

_MFMA = re.compile(r"^\s*v_(?:mfma|smfmac)_\w+", re.M)


def _asm_text(asm: str | Path) -> str:
    if isinstance(asm, Path):
        return asm.read_text(errors="replace")
    if "\n" not in asm and len(asm) < 4096 and Path(asm).exists():
        return Path(asm).read_text(errors="replace")
    return asm


def count_mfma(asm: str | Path) -> int:
    """Static number of MFMA instructions (v_mfma_* / v_smfmac_*) in an assembly file or text."""
    return len(_MFMA.findall(_asm_text(asm)))


def count_mfma_by_block(asm: str | Path) -> dict[str, int]:
    """MFMA instructions per basic block label (``.LBB0_5`` ...; '' for the entry block)."""
    out: dict[str, int] = {}
    label = ""
    for line in _asm_text(asm).splitlines():
        m = re.match(r"^(\.?[A-Za-z_$][\w.$]*):", line)
        if m:
            label = m.group(1)
            continue
        if _MFMA.match(line):
            out[label] = out.get(label, 0) + 1
    return out


def mfma_in_loops(asm: str | Path) -> int:
    """MFMA instructions inside loop bodies (between a label and a backward branch to it)."""
    lines = _asm_text(asm).splitlines()
    where = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.LBB[\w.]+):", line)
        if m:
            where[m.group(1)] = i
    inside = [False] * len(lines)
    for i, line in enumerate(lines):
        m = re.match(r"^\s*s_(?:cbranch_\w+|branch)\s+(\.LBB[\w.]+)", line)
        if m and m.group(1) in where and where[m.group(1)] < i:
            for j in range(where[m.group(1)], i + 1):
                inside[j] = True
    return sum(1 for i, line in enumerate(lines) if inside[i] and _MFMA.match(line))
