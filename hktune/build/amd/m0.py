"""Static M0 check of compiled AMDGPU (gfx9) assembly: every direct-to-LDS load must see the M0
its source set with inline asm, not one the compiler wrote.

A ``buffer_load_* ... lds`` (or ``global_load_lds_*``) writes LDS at M0 + the lane's offset.
HipKittens' ``G::load`` sets M0 with ``asm volatile("s_mov_b32 m0, %0")`` and then calls the
``raw.buffer.load.lds`` intrinsic with an LDS pointer of 0 - the LDS null pointer, -1 on AMDGPU -
which clang materialises as its own ``s_mov_b32 m0, -1``. When the scheduler places that write
AFTER the inline asm, the load writes LDS at M0 = 0x3FFFF: past the allocation (on a GPU the tile
does not land where it is read; in the ISA emulator, a crash). The vmcnt check cannot see this.

The rule: an M0 write between ``;;#ASMSTART`` and ``;;#ASMEND`` is the source's ("asm"); any
other instruction that writes M0 is the compiler's. Reaching definitions of M0 are propagated
over the kernel's control-flow graph (every path, loops to a fixed point). An LDS load is flagged
when any definition reaching it is the compiler's, or when no M0 write reaches it on some path
(M0 is undefined at kernel entry). A call (``s_swappc`` / ``s_setpc``) clobbers M0 as the
compiler's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hktune.build.amd.asm import Instr, split_operands, blocks, kernels, parse, semantics

ENTRY = 0  # pseudo line of "M0 as the kernel starts" (undefined)

# instructions whose first operand is a source, not a destination
_NO_DEF = ("s_cmp", "s_bitcmp", "s_cbranch", "s_branch", "s_setreg", "s_sendmsg", "s_waitcnt", "s_nop",
           "s_barrier", "s_sleep", "s_setprio", "s_trap", "s_endpgm", "s_dcache", "s_icache", "s_ttrace")


@dataclass(frozen=True)
class Def:
    line: int      # 1-based line of the M0 write (ENTRY for "none yet")
    asm: bool      # written inside ;;#ASMSTART / ;;#ASMEND
    text: str      # the instruction


@dataclass(frozen=True)
class Finding:
    line: int      # the LDS load
    load: str
    defs: tuple[Def, ...]  # the non-asm definitions reaching it

    @property
    def message(self) -> str:
        d = self.defs[0]
        src = "no M0 write on some path from the kernel entry" if d.line == ENTRY else \
            f"`{d.text}` at line {d.line}"
        return f"line {self.line}: `{self.load}` after {src}"


def asm_lines(text: str) -> set[int]:
    """1-based line numbers inside inline-asm regions (between ;;#ASMSTART and ;;#ASMEND)."""
    out, inside = set(), False
    for i, ln in enumerate(text.splitlines(), 1):
        s = ln.strip()
        if s.startswith(";;#ASMSTART"):
            inside = True
        elif s.startswith(";;#ASMEND"):
            inside = False
        elif inside:
            out.add(i)
    return out


def writes_m0(ins: Instr) -> bool:
    if not ins.op or ins.op.startswith(_NO_DEF):
        return False
    if not ins.op.startswith(("s_", "v_readfirstlane", "v_readlane")):
        return False
    ops = split_operands(ins.args)
    return bool(ops) and ops[0].strip().lower() == "m0"


def is_call(ins: Instr) -> bool:
    return ins.op.startswith(("s_swappc", "s_setpc", "s_call"))


def is_lds_load(ins: Instr) -> bool:
    return bool(ins.op) and semantics(ins).vm == "load_lds"


def _text(ins: Instr) -> str:
    return f"{ins.op} {ins.args}".strip()


def check(text: str, kernel: str | None = None) -> list[Finding]:
    """The LDS loads of one kernel (the first, or `kernel`) whose M0 is not the inline asm's."""
    instrs, labels = parse(text, kernel)
    if not any(is_lds_load(i) for i in instrs):
        return []
    inside = asm_lines(text)
    bl = blocks(instrs, labels)
    preds: list[list[int]] = [[] for _ in bl]
    for b, blk in enumerate(bl):
        for s in blk.succs:
            preds[s].append(b)

    def transfer(b: int, state: frozenset[Def], findings: dict[int, Finding] | None) -> frozenset[Def]:
        cur = state
        for ins in instrs[bl[b].start:bl[b].end]:
            if not ins.op:
                continue
            if is_lds_load(ins) and findings is not None:
                bad = tuple(sorted((d for d in cur if not d.asm), key=lambda d: d.line))
                if bad:
                    findings[ins.line] = Finding(ins.line, _text(ins), bad)
            if writes_m0(ins):
                cur = frozenset({Def(ins.line, ins.line in inside, _text(ins))})
            elif is_call(ins):
                cur = frozenset({Def(ins.line, False, _text(ins))})
        return cur

    entry_state = frozenset({Def(ENTRY, False, "")})
    ins_of: list[frozenset[Def]] = [frozenset() for _ in bl]
    outs: list[frozenset[Def] | None] = [None for _ in bl]
    if bl:
        ins_of[0] = entry_state
    work = list(range(len(bl)))
    while work:
        b = work.pop(0)
        state = ins_of[b] | frozenset().union(*(outs[p] or frozenset() for p in preds[b]))
        if b == 0:
            state |= entry_state
        ins_of[b] = state
        new = transfer(b, state, None)
        if new != outs[b]:
            outs[b] = new
            work.extend(s for s in bl[b].succs if s not in work)
    findings: dict[int, Finding] = {}
    for b in range(len(bl)):
        transfer(b, ins_of[b], findings)
    return [findings[k] for k in sorted(findings)]


def check_all(text: str) -> list[Finding]:
    """Every kernel of an assembly text."""
    names = kernels(text) or [None]
    out: list[Finding] = []
    for name in names:
        out.extend(check(text, name))
    return out


def check_file(path: str | Path) -> list[Finding]:
    return check_all(Path(path).read_text(errors="replace"))


def build_check(asm: Path) -> str:
    """The build's M0 check (hktune.build.checks): 'ok' or why the config is rejected."""
    bad = check_file(asm)
    if not bad:
        return "ok"
    return f"{len(bad)} LDS load(s) use an M0 the compiler wrote ({bad[0].message})"


__all__ = ["Def", "Finding", "asm_lines", "build_check", "check", "check_all", "check_file", "writes_m0"]
