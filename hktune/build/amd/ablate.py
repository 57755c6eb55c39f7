"""Barrier / wait ablation of compiled AMDGPU assembly: remove one ``s_barrier``, or drop one
counter (``vmcnt`` or ``lgkmcnt``) from one ``s_waitcnt``, and judge the result with the static
checks a build runs (bench/barrier_ablation.py adds the emulator).

A site is one instruction of the kernel's pipeline - from the template's ``;hkt.barrier_lag``
marker (just before the prologue's first load) to the end of the kernel: prologue, main loop,
remainder, drain and epilogue. The kernel-argument loads before it are not sites.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import os

from hktune import proc, toolchain
from hktune.build.amd import lds, m0, vmcnt
from hktune.build.compilers.base import CompileJob
from hktune.build.compilers.hip import plan
from hktune.build.amd.asm import WAIT_FIELD, loop_lines, parse

STATIC_CHECKS = {"vmcnt": vmcnt.build_check, "m0": m0.build_check, "lds": lds.build_check}


@dataclass(frozen=True)
class Site:
    line: int        # 1-based line of the instruction in the .s
    what: str        # 'barrier' | 'vmcnt' | 'lgkmcnt'
    region: str      # 'prologue' | 'loop' | 'after-loop'
    text: str        # the instruction as compiled

    @property
    def id(self) -> str:
        return f"{self.what}@{self.line}"

    @property
    def removal(self) -> str:
        return "remove s_barrier" if self.what == "barrier" else f"drop {self.what} from `{self.text}`"


def sites(text: str, kernel: str | None = None) -> list[Site]:
    """Every s_barrier and every vmcnt / lgkmcnt field of an s_waitcnt in the kernel's pipeline."""
    instrs, labels = parse(text, kernel)
    start = next((i for i, ins in enumerate(instrs) if ins.marker and ins.marker[0] == "barrier_lag"), None)
    if start is None:
        raise ValueError("no ;hkt.barrier_lag marker: not a hktune template build (or built with HKT_NO_MARKERS)")
    loops = loop_lines(instrs, labels)
    first_loop = min(loops) if loops else None
    out = []
    for ins in instrs[start:]:
        region = "loop" if ins.line in loops else ("prologue" if first_loop is None or ins.line < first_loop
                                                   else "after-loop")
        txt = f"{ins.op} {ins.args}".strip()
        if ins.op == "s_barrier":
            out.append(Site(ins.line, "barrier", region, txt))
        elif ins.op == "s_waitcnt":
            for name, _ in WAIT_FIELD.findall(ins.args):
                if name in ("vmcnt", "lgkmcnt"):
                    out.append(Site(ins.line, name, region, txt))
    return out


def ablate(text: str, site: Site) -> str:
    """The assembly with one site removed (an s_waitcnt with no field left is removed)."""
    lines = text.splitlines(keepends=True)
    cur = lines[site.line - 1]
    if site.what == "barrier":
        assert cur.strip().startswith("s_barrier"), cur
        lines[site.line - 1] = ""
    else:
        indent = cur[: len(cur) - len(cur.lstrip())]
        fields = [m.group(0) for m in WAIT_FIELD.finditer(cur) if m.group(1) != site.what]
        assert len(fields) < len(WAIT_FIELD.findall(cur)), cur
        lines[site.line - 1] = f"{indent}s_waitcnt {' '.join(fields)}\n" if fields else ""
    return "".join(lines)


def static_verdicts(asm: Path) -> dict[str, str]:
    return {name: fn(asm) for name, fn in STATIC_CHECKS.items()}


def argument(asm: Path) -> str:
    """Why the static checks accept a build: the orderings they proved, in one line."""
    text = asm.read_text(errors="replace")
    model, fs, _ = lds.check(text)
    ok = [f for f in fs if f.status == "ok"]
    vm = [f for f in vmcnt.check(text, barrier_lag=model.lag) if f.status == "ok"]
    tiles = [f for f in vm if f.kind == "tile" and f.slack is not None]
    regs = [f for f in vm if f.kind == "vgpr"]
    parts = [f"barrier lag {model.lag}: {len(ok)} cross-wave LDS accesses each >= lag+1 barriers from the "
             f"conflicting access's retire ({sum(f.kind == 'war' for f in ok)} WAR, {sum(f.kind == 'raw' for f in ok)} RAW)"]
    if tiles:
        parts.append(f"{len(tiles)} tile reads whose loads are retired (min slack {min(f.slack for f in tiles)})")
    if regs:
        parts.append(f"{len(regs)} register uses of loads retired")
    return "; ".join(parts)


def region_counts(ss: list[Site]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in ss:
        out[f"{s.what}/{s.region}"] = out.get(f"{s.what}/{s.region}", 0) + 1
    return out



def assemble(arch: str, asm_text: str, work: Path) -> Path:
    """Assemble + link an (ablated) .s into a code object with the portable build's own steps."""
    tc = toolchain.best()
    p = plan(tc, CompileJob(source=Path("ablated.cpp"), out=work / "libhktune.so", arch=arch, defines={}, flags=(),
                            include_dirs=()))
    work.mkdir(parents=True, exist_ok=True)
    p.asm.write_text(asm_text)
    for step in p.steps:
        if step.what in ("assemble", "link"):
            r = proc.run(list(step.argv), 300, stderr=proc.STDOUT, errors="replace", env={**os.environ, **tc.env})
            if r.returncode != 0:
                raise RuntimeError(f"{step.what} failed: {r.stdout[-500:]}")
    return p.artifact
