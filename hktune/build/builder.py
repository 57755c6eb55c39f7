"""Build: compile one config into a library, through a content-addressed cache.

The key hashes everything that decides the compiled bytes: the family's sources, the flags,
the defines, the compiler's version and the include trees (e.g. a HipKittens commit). Failed
compiles are cached too, so a known-bad config is never compiled twice. A file lock per key
lets several processes (or GPUs' workers) share one cache without compiling a key twice.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from filelock import FileLock

from hktune import proc
from hktune.build.checks import run_checks, version as checks_version
from hktune.build.identity import code_identity
from hktune.build.compilers import CompileJob, Compiler, get_compiler
from hktune.space.space import Config, Space
from hktune.target import Target


def cache_dir() -> Path:
    env = os.environ.get("HKTUNE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hktune" / "build"


def tree_identity(path: Path) -> str:
    """Identify an include tree: its git commit when it is a checkout, else a hash of its files."""
    try:
        top = proc.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], 10)
        # Only the tree's own checkout names it (not a repository that merely contains a copy, nor
        # one that ignores it: an ignored copy's edits never show in that repository's commit).
        own = top.returncode == 0 and Path(top.stdout.strip()).resolve() in (path.resolve(), path.resolve().parent)
        if own and proc.run(["git", "-C", str(path), "check-ignore", "-q", str(path.resolve())], 10).returncode == 0:
            own = False
        out = proc.run(["git", "-C", str(path), "rev-parse", "HEAD"], 10)
        if own and out.returncode == 0 and out.stdout.strip():
            dirty = proc.run(["git", "-C", str(path), "status", "--porcelain"], 30).stdout
            return out.stdout.strip() + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode())
            h.update(p.read_bytes())
    return "files:" + h.hexdigest()[:16]


@dataclass
class BuildOutcome:
    """What building one config gave; ``reason`` says why it cannot be run."""

    config: Config
    key: str
    ok: bool
    seconds: float
    cached: bool
    artifact: Path | None
    log_path: Path | None
    runnable: bool = True
    resources: dict = field(default_factory=dict)
    asm: Path | None = None
    reason: str | None = None  # compile failure or resource prune
    code_hash: str | None = None  # the device code's identity (prune: identical_code), see build/identity.py

    @property
    def usable(self) -> bool:
        return self.ok and self.reason is None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path and self.log_path.exists():
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def prune_reason(space: Space, config: Mapping[str, int], resources: Mapping) -> str | None:
    """Why a compiled config is not worth GPU time, from the space's ``prune`` rules."""
    rules = space.prune
    if "max_spills" in rules:
        spills = sum(int(resources.get(k) or 0) for k in ("spills", "vgpr_spills", "sgpr_spills"))
        if spills > int(rules["max_spills"]):
            return f"spills ({spills}) exceed max_spills {rules['max_spills']}"
    if rules.get("min_occupancy_met") and "OCCUPANCY" in config and resources.get("occupancy") is not None:
        if int(resources["occupancy"]) < int(config["OCCUPANCY"]):
            return f"occupancy {resources['occupancy']} misses the OCCUPANCY={config['OCCUPANCY']} target"
    if rules.get("wgmma_serialized") is False and int(resources.get("wgmma_serialized") or 0) > 0:
        return "ptxas serialized its wgmmas (every one waited for: C7510-C7515)"
    if "max_registers" in rules:
        regs = resources.get("registers") or resources.get("vgprs")
        if regs is not None and int(regs) > int(rules["max_registers"]):
            return f"registers ({regs}) exceed max_registers {rules['max_registers']}"
    return None


class Builder:
    """Compiles configs of one target (family, arch, space, trees) through the cache, in parallel."""

    def __init__(self, target: Target, jobs: int | None = None, cache: Path | None = None,
                 compiler: Compiler | None = None) -> None:
        self.target = target
        self.family = target.family
        self.arch = target.arch
        self.space = target.space
        self.spec = target.spec
        self.compiler = compiler or get_compiler(target.compiler)
        self.cache = Path(cache or cache_dir())
        self.include_dirs = target.include_dirs
        self.jobs = jobs or os.cpu_count() or 1
        self.flags = target.flags
        self.compiler_version = self.compiler.version()
        self._base = self._base_hash()
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="hktune-build")

    def _base_hash(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.family.name, self.arch, self.compiler.name, self.compiler_version, list(self.flags)]).encode())
        h.update(self.target.template_hash.encode())
        for d in self.include_dirs:
            h.update(tree_identity(d).encode())
        return h.hexdigest()

    def key(self, config: Mapping[str, int]) -> str:
        defines = self.space.defines(config)
        return hashlib.sha256((self._base + json.dumps(sorted(defines.items()))).encode()).hexdigest()[:32]

    def _entry(self, key: str) -> Path:
        return self.cache / key[:2] / key

    def _load(self, config: Config, key: str, entry: Path, cached: bool) -> BuildOutcome:
        meta = json.loads((entry / "meta.json").read_text())
        artifact = entry / meta["artifact"] if meta.get("artifact") else None
        asm = entry / meta["asm"] if meta.get("asm") else None
        out = BuildOutcome(
            config=dict(config), key=key, ok=meta["ok"], seconds=meta["seconds"], cached=cached,
            artifact=artifact, log_path=entry / "build.log", runnable=meta.get("runnable", True),
            resources=meta.get("resources", {}), asm=asm,
        )
        if not out.ok:
            out.reason = "compile failed: " + (out.log_tail(3).replace("\n", " | ") or "see log")
        else:
            names = tuple(self.target.checks)
            missing = [n for n in names if n not in (meta.get("checks") or {})]
            if names and meta.get("checks_version") != checks_version(names):
                missing = list(names)   # verdicts of other checkers' code: judge the assembly again
            if missing and asm is not None and asm.exists():
                # an entry built before the family asked for a check, or judged by another version
                # of the checkers (the key hashes neither): run them and remember the verdicts
                meta["checks"] = {**(meta.get("checks") or {}), **run_checks(missing, asm)}
                meta["checks_version"] = checks_version(names)
                tmp = entry / f"meta.json.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(meta, indent=1))
                os.replace(tmp, entry / "meta.json")
            if self.space.prune.get("identical_code"):
                if "code_hash" not in meta:   # computed once per build, kept with the entry
                    meta["code_hash"] = code_identity(artifact)
                    tmp = entry / f"meta.json.{os.getpid()}.tmp"
                    tmp.write_text(json.dumps(meta, indent=1))
                    os.replace(tmp, entry / "meta.json")
                out.code_hash = meta["code_hash"]
            failed = [f"{name}: {why}" for name, why in (meta.get("checks") or {}).items() if why != "ok"]
            out.reason = ("rejected by " + "; ".join(failed)) if failed else prune_reason(self.space, config, out.resources)
        return out

    def build(self, config: Mapping[str, int]) -> BuildOutcome:
        """Compile one config (or take it from the cache). Never raises for a compile error."""
        config = {k: int(config[k]) for k in self.space.names}
        key = self.key(config)
        entry = self._entry(key)
        if (entry / "meta.json").exists():
            return self._load(config, key, entry, cached=True)
        entry.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(entry) + ".lock"):
            if (entry / "meta.json").exists():  # another process built it while we waited
                return self._load(config, key, entry, cached=True)
            tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=entry.parent))
            try:
                suffix = Path(self.spec.source).suffix
                job = CompileJob(
                    source=self.spec.source, out=tmp / "libhktune.so", arch=self.arch,
                    defines=self.space.defines(config), flags=self.flags, include_dirs=self.include_dirs,
                )
                start = time.perf_counter()
                res = self.compiler.compile(job)
                (tmp / "build.log").write_text(res.log)
                meta = {
                    "ok": res.ok, "seconds": res.seconds or (time.perf_counter() - start),
                    "artifact": res.artifact.name if res.artifact else None,
                    "asm": res.asm.name if res.asm else None, "runnable": res.runnable,
                    "resources": res.resources, "config": config, "source": str(self.spec.source),
                    "source_suffix": suffix, "compiler": self.compiler_version,
                }
                if res.ok and res.asm is not None:
                    meta["checks"] = run_checks(self.target.checks, res.asm)
                    meta["checks_version"] = checks_version(tuple(self.target.checks))
                (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
                if entry.exists():
                    shutil.rmtree(entry)
                os.replace(tmp, entry)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return self._load(config, key, entry, cached=False)

    def submit(self, config: Mapping[str, int]) -> Future[BuildOutcome]:
        return self._pool.submit(self.build, config)

    def build_many(self, configs: Iterable[Mapping[str, int]]) -> Iterator[BuildOutcome]:
        """Yield outcomes as compiles finish (in completion order)."""
        futures = [self.submit(c) for c in configs]
        for f in as_completed(futures):
            yield f.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "Builder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def outcome_dict(o: BuildOutcome) -> dict:
    d = asdict(o)
    for k in ("artifact", "log_path", "asm"):
        d[k] = str(d[k]) if d[k] else None
    return d
