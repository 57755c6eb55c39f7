"""Reading compiled AMDGPU (gfx9) assembly: kernels, instructions with hktune marker comments,
register operands, each instruction's semantics (what it reads, writes and waits for) and the
control-flow graph. Shared by the static checks (hktune.build.amd.vmcnt, hktune.build.amd.m0)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from hktune.space.expr import Expr

VMCNT_MAX = 63   # gfx9: 6-bit vmcnt
LGKMCNT_MAX = 15  # gfx9: 4-bit lgkmcnt


# ---- parsing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instr:
    line: int                       # 1-based line in the file
    op: str                         # mnemonic, or '' for a marker
    args: str = ""
    marker: tuple[str, str] | None = None  # (verb, rest) of a ;hkt.<verb> <rest> marker


_LABEL = re.compile(r"^([.\w$]+):")
_MARKER = re.compile(r"^\s*;+\s*hkt\.(\w+)\s*(.*?)\s*$")
_REG = re.compile(r"\b([vas])(?:(\d+)|\[(\d+):(\d+)\])")
REG_BASE = {"v": 0, "a": 1024, "s": 2048}  # register numbers: VGPRs, AGPRs, SGPRs
WAIT_FIELD = re.compile(r"(vmcnt|lgkmcnt|expcnt)\((\d+)\)")


def _strip(line: str) -> str:
    i = line.find(";")
    return line if i < 0 else line[:i]


def kernels(text: str) -> list[str]:
    """Kernel (function) names in an assembly file, in order."""
    names = re.findall(r"^\s*\.amdhsa_kernel\s+(\S+)", text, re.M)
    if not names:
        names = re.findall(r"^\s*\.type\s+([\w.$]+)\s*,\s*@function", text, re.M)
    return names


def parse(text: str, kernel: str | None = None) -> tuple[list[Instr], dict[str, int]]:
    """The instructions of one kernel (the first, or `kernel`) and {label: index}."""
    lines = text.splitlines()
    names = kernels(text)
    name = kernel if kernel is not None else (names[0] if names else None)
    start, end = 0, len(lines)
    if name is not None:
        for i, ln in enumerate(lines):
            if ln.startswith(name + ":"):
                start = i + 1
                break
        else:
            if kernel is not None:
                raise ValueError(f"kernel {kernel!r} not found in the assembly")
        for i in range(start, len(lines)):
            if re.match(r"^\.Lfunc_end\d*:", lines[i]) or re.match(r"^\s*\.end_amdhsa_kernel", lines[i]) \
                    or re.match(r"^\s*\.size\s+" + re.escape(name) + r"\b", lines[i]):
                end = i
                break
    instrs: list[Instr] = []
    labels: dict[str, int] = {}
    for i in range(start, end):
        raw = lines[i]
        mk = _MARKER.match(raw)
        if mk:
            instrs.append(Instr(i + 1, "", "", (mk.group(1), mk.group(2))))
            continue
        body = _strip(raw).strip()
        if not body:
            continue
        lm = _LABEL.match(body)
        if lm:
            labels[lm.group(1)] = len(instrs)
            body = body[lm.end():].strip()
            if not body:
                continue
        if body.startswith("."):  # directive
            continue
        parts = body.split(None, 1)
        instrs.append(Instr(i + 1, parts[0].lower(), parts[1] if len(parts) > 1 else ""))
    return instrs, labels


def _regs(text: str) -> frozenset[int]:
    out: set[int] = set()
    for kind, one, lo, hi in _REG.findall(text):
        base = REG_BASE[kind]
        if one:
            out.add(base + int(one))
        else:
            out.update(range(base + int(lo), base + int(hi) + 1))
    return frozenset(out)


def split_operands(args: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in args:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


@dataclass(frozen=True)
class Sem:
    vm: str | None = None       # 'load_lds' | 'load' | 'store'
    lgkm: str | None = None     # 'lds' (in order) | 'smem' (out of order)
    defs: frozenset[int] = frozenset()
    uses: frozenset[int] = frozenset()
    lds_read: bool = False


_VM_LOAD = ("buffer_load", "global_load", "flat_load", "scratch_load", "image_load", "image_sample", "tbuffer_load")
_VM_STORE = ("buffer_store", "global_store", "flat_store", "scratch_store", "image_store", "tbuffer_store",
             "buffer_atomic", "global_atomic", "flat_atomic", "image_atomic")


def semantics(ins: Instr) -> Sem:
    op, args = ins.op, ins.args
    ops = split_operands(args)
    first = _regs(ops[0]) if ops else frozenset()
    rest = _regs(",".join(ops[1:])) if len(ops) > 1 else frozenset()
    flat = op.startswith("flat_")
    if op.startswith(_VM_LOAD) or op.startswith("global_load_lds") or op.startswith("buffer_load_lds"):
        if re.search(r"(^|\s)lds(\s|$)", args) or "_lds_" in op or op.endswith("_lds"):
            return Sem(vm="load_lds", uses=_regs(args))
        return Sem(vm="load", lgkm="lds" if flat else None, defs=first, uses=rest)
    if op.startswith(_VM_STORE):
        returns = "_rtn" in op or " glc" in f" {args}" and "atomic" in op
        if returns:
            return Sem(vm="load", lgkm="lds" if flat else None, defs=first, uses=rest)
        return Sem(vm="store", lgkm="lds" if flat else None, uses=_regs(args))
    if op.startswith("ds_"):
        if any(k in op for k in ("read", "load", "permute", "swizzle", "_rtn", "consume", "append", "addtid")) \
                and not op.startswith(("ds_write", "ds_store")):
            return Sem(lgkm="lds", defs=first, uses=rest, lds_read=op.startswith(("ds_read", "ds_load")))
        return Sem(lgkm="lds", uses=_regs(args))
    if op.startswith(("s_load", "s_buffer_load", "s_scratch_load", "s_memtime", "s_memrealtime", "s_sendmsg_rtn")):
        return Sem(lgkm="smem", defs=first, uses=rest)
    if op.startswith(("s_dcache", "s_atomic", "s_buffer_atomic")):
        return Sem(lgkm="smem")
    if op.startswith("s_"):
        return Sem(uses=_regs(args))
    if op.startswith(("v_readfirstlane", "v_readlane", "v_cmp")):
        return Sem(uses=_regs(args))
    if op.startswith("v_"):
        return Sem(defs=first, uses=rest)
    return Sem(uses=_regs(args))


def wait_counts(ins: Instr) -> tuple[int | None, int | None]:
    """(vmcnt, lgkmcnt) of an s_waitcnt (None where the field is not waited on)."""
    if ins.op != "s_waitcnt":
        return None, None
    args = ins.args.strip()
    fields = dict((k, int(v)) for k, v in WAIT_FIELD.findall(args))
    if fields:
        return fields.get("vmcnt"), fields.get("lgkmcnt")
    try:  # raw gfx9 encoding: vmcnt [3:0] + [15:14], expcnt [6:4], lgkmcnt [11:8]
        imm = int(args.split()[0], 0)
    except (ValueError, IndexError):
        return None, None
    vm = (imm & 0xF) | ((imm >> 14) & 0x3) << 4
    lg = (imm >> 8) & 0xF
    return (vm if vm < VMCNT_MAX else None), (lg if lg < LGKMCNT_MAX else None)


# ---- control flow ----------------------------------------------------------------------------

@dataclass
class Block:
    start: int
    end: int  # exclusive
    succs: list[int] = field(default_factory=list)


def blocks(instrs: list[Instr], labels: Mapping[str, int]) -> list[Block]:
    leaders = {0} | set(labels.values())
    for i, ins in enumerate(instrs):
        if ins.op.startswith(("s_branch", "s_cbranch", "s_endpgm", "s_setpc", "s_trap")):
            leaders.add(i + 1)
    leaders = sorted(x for x in leaders if x < len(instrs))
    out: list[Block] = []
    index = {}
    for k, s in enumerate(leaders):
        e = leaders[k + 1] if k + 1 < len(leaders) else len(instrs)
        index[s] = len(out)
        out.append(Block(s, e))
    for b in out:
        last = instrs[b.end - 1] if b.end > b.start else None
        fall = index.get(b.end)
        if last is None:
            if fall is not None:
                b.succs.append(fall)
            continue
        if last.op.startswith(("s_endpgm", "s_setpc", "s_trap")):
            continue
        if last.op.startswith(("s_branch", "s_cbranch")):
            target = last.args.split(",")[0].strip()
            if target in labels and labels[target] in index:
                b.succs.append(index[labels[target]])
            if last.op.startswith("s_cbranch") and fall is not None:
                b.succs.append(fall)
            continue
        if fall is not None:
            b.succs.append(fall)
    return out


def explore(bl: list[Block], instrs: list[Instr], step: Callable[[object, Instr], object | None], start: object,
            max_states: int) -> bool:
    """Run an abstract state through the control-flow graph to a fixed point: ``step(state, instr)``
    gives the next state, or None to stop that path; each block keeps the distinct states that reached
    it (at most ``max_states``). Returns True when that cap cut the exploration short. The vmcnt and
    LDS-ordering checks share it."""
    truncated = False
    seen: list[set[object]] = [set() for _ in bl]
    work: list[tuple[int, object]] = [(0, start)] if bl else []
    while work:
        b, st = work.pop()
        if st in seen[b]:
            continue
        if len(seen[b]) >= max_states:
            truncated = True
            continue
        seen[b].add(st)
        cur: object | None = st
        for ins in instrs[bl[b].start:bl[b].end]:
            cur = step(cur, ins)
            if cur is None:
                break
        if cur is not None:
            work.extend((s, cur) for s in bl[b].succs if cur not in seen[s])
    return truncated


def loop_lines(instrs: list[Instr], labels: Mapping[str, int]) -> set[int]:
    """Line numbers inside a loop body (between a label and a backward branch to it)."""
    out: set[int] = set()
    for i, ins in enumerate(instrs):
        if ins.op.startswith(("s_branch", "s_cbranch")):
            tgt = ins.args.split(",")[0].strip()
            if tgt in labels and labels[tgt] <= i:
                out.update(x.line for x in instrs[labels[tgt]:i + 1])
    return out


# ---- wave roles (producer/consumer kernels) -----------------------------------------------------

@dataclass(frozen=True)
class RoleState:
    """The abstract state of a path through a kernel whose waves have roles: one sub-state (one
    wave's counters and tags) per role, ``active`` the role whose branch the path is in (None:
    code every wave runs), ``seen`` the roles whose branch ran since the last ``;hkt.role all``.
    A kernel with no ``;hkt.roles`` declaration has one role, ``""``."""
    subs: tuple = (("", None),)
    active: str | None = None
    seen: frozenset = frozenset()


class RoleStep:
    """Runs a one-wave ``step(sub_state, instr)`` over a :class:`RoleState`: the template declares
    the roles (``;hkt.roles producer consumer``), opens each role's branch with ``;hkt.role
    <name>`` and closes the branches with ``;hkt.role all``. Instructions in a role's branch
    step that role's sub-state only; the others (code every wave runs: barriers, common waits)
    step every role's. A path must run every role's branch before ``;hkt.role all`` (the checks
    follow the path that runs them all, one after another; a path that skips one is cut), so
    between two barriers it holds every role's accesses, each with its own wave's counters - a
    producer's load and a consumer's read of one tile meet on it. While ``step`` runs,
    ``others`` holds the other roles' sub-states (what the cross-wave checks look at);
    ``joined`` counts the role joins a path reached (0 with roles declared: nothing was checked)."""

    def __init__(self, step: Callable[[object, Instr], object | None]):
        self.step = step
        self.others: tuple = ()
        self.joined = 0
        self.declared = False

    def start(self, sub: object) -> RoleState:
        return RoleState((("", sub),))

    def __call__(self, st: RoleState, ins: Instr) -> RoleState | None:
        if ins.marker is not None and ins.marker[0] in ("roles", "role"):
            verb, rest = ins.marker[0], ins.marker[1].strip()
            if verb == "roles":
                self.declared = True
                sub = st.subs[0][1]
                return RoleState(tuple((name, sub) for name in rest.split()))
            if rest == "all":
                if st.seen != {name for name, _ in st.subs}:
                    return None
                self.joined += 1
                return RoleState(st.subs)
            return RoleState(st.subs, rest, st.seen | {rest})
        subs = list(st.subs)
        for i, (name, sub) in enumerate(subs):
            if st.active is None or name == st.active:
                self.others = tuple(s for j, (_, s) in enumerate(subs) if j != i)
                sub = self.step(sub, ins)
                if sub is None:
                    return None
                subs[i] = (name, sub)
        self.others = ()
        return RoleState(tuple(subs), st.active, st.seen)


# ---- hktune marker comments ------------------------------------------------------------------

def eval_expr(expr: str, env: Mapping[str, int]) -> int:
    return int(Expr(expr)(dict(env)))


def default_tag(rest: str, env: Mapping[str, int]) -> object:
    """';hkt.load A1 s=<expr>' -> ('A1', stage); without s=, the name alone."""
    parts = rest.split()
    if not parts:
        return None
    name = parts[0]
    for p in parts[1:]:
        if p.startswith("s="):
            return (name, eval_expr(p[2:], env))
    return name


def param_ranges(instrs: list[Instr]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for ins in instrs:
        if ins.marker and ins.marker[0] == "param":
            for m in re.finditer(r"(\w+)=(-?\d+)\.\.(-?\d+)", ins.marker[1]):
                out[m.group(1)] = list(range(int(m.group(2)), int(m.group(3)) + 1))
    return out
