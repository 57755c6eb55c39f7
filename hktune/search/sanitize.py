"""The winner under compute-sanitizer (racecheck, synccheck), its verdicts kept with its build.

The check launches the library once at a small shape the config accepts (``small_shape``), its
persistent grid capped at ``GRID_CAP`` blocks (``hktune.run.sanitize_launch``: NaN-poisoned output,
checked afterwards). So the verdict belongs to the library's bytes, the dtype, that shape, the cap,
the tool's version and the launcher, not to the shape being searched: one kernel wins several
shapes, and each check costs tens of seconds of device time (a Python process with torch under the
tool). A verdict is therefore stored beside the build
(``sanitizer.json`` in its cache entry) under a key that hashes all of those, and a later search
of any shape reuses it, saying so ("ok (cached: ...)"). A check that did not finish ("not run"),
or failed without a finding of the tool's, is never stored."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from filelock import FileLock

from hktune import proc

CHECKS = ("racecheck", "synccheck")
TIMEOUT_S = 300
STORE = "sanitizer.json"
# A persistent kernel launches at most this many blocks (clusters) under the tool (HKTUNE_GRID_CAP,
# read by the thunderkittens family's launch): at the small shape each block then runs several tiles,
# so the paths between one tile and the next (a ring's phases, the epilogue buffers a next tile
# rewrites, split-K's order) are checked, and the check takes seconds.
GRID_CAP = 2
LAUNCHER = "hktune.run.sanitize_launch"   # found, not imported: it loads torch, the search process does not


def findings(output: str) -> list[str]:
    """The tool's own report lines (prefixed '=========') that name an error or a hazard."""
    tool = [ln.strip("= ").strip() for ln in output.splitlines() if ln.startswith("=========")]
    return [ln for ln in tool if ("error" in ln.lower() or "hazard" in ln.lower()) and "SUMMARY" not in ln
            and "returned an error" not in ln]


def sanitizer_verdict(returncode: int, output: str, known: Sequence[str] = ()) -> str:
    """'ok', 'ok (known to the family: ...)' or 'exit N: findings'. Findings are the tool's own
    report lines (prefixed '========='); when every finding is one the family declares known, the
    application's failure that follows (the tool stops the kernel) does not count either."""
    if returncode == 0:
        return "ok"
    found = findings(output)
    if found and all(any(k in ln for k in known) for ln in found):
        return "ok (known to the family: " + "; ".join(sorted(set(found)))[:300] + ")"
    lines = found or [ln.strip() for ln in output.splitlines() if ln.strip()]
    return f"exit {returncode}: " + " | ".join(lines[-6:])[:1500]


def small_shape(space: Any, cfg: dict[str, int]) -> tuple[int, int, int] | None:
    """The shape the check runs at: the smallest legal M x N, doubled in both (four times its tiles,
    so that with ``GRID_CAP`` every block walks several), and the deepest of a few legal K (1408 =
    11 k steps of 128 or 22 of 64: a promotion group or a split-K slice left partial)."""
    for s in (256, 512, 1024, 2048):
        for m, n in ((s, s), (2 * s, s), (s, 2 * s)):
            for k in (1408, 1024, 512, 256):
                if not space.shape_violations(cfg, m, n, k):
                    return (2 * m, 2 * n, k) if not space.shape_violations(cfg, 2 * m, 2 * n, k) else (m, n, k)
    return None


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_TOOL_VERSIONS: dict[str, str] = {}


def tool_version(tool: str) -> str:
    """The tool's ``--version`` text (once per process); its path when it will not say."""
    if tool not in _TOOL_VERSIONS:
        try:
            r = proc.run([tool, "--version"], 60)
            _TOOL_VERSIONS[tool] = (r.stdout + r.stderr).strip() or tool
        except (OSError, subprocess.TimeoutExpired):
            _TOOL_VERSIONS[tool] = tool
    return _TOOL_VERSIONS[tool]


def verdict_key(artifact: Path, dtype: str, shape: tuple[int, int, int], check: str, version: str) -> str:
    """What a stored verdict is valid for: the library's bytes, the launcher's source, the tool, the
    dtype, the shape and the check."""
    parts = [_file_hash(artifact), _file_hash(Path(importlib.util.find_spec(LAUNCHER).origin)), version, dtype,
             "x".join(map(str, shape)), check, f"grid_cap={GRID_CAP}"]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class VerdictStore:
    """Verdicts kept beside one build (its cache entry's ``sanitizer.json``), under a file lock."""

    def __init__(self, entry: Path) -> None:
        self.path = Path(entry) / STORE
        self.lock = FileLock(str(self.path) + ".lock")

    def get(self, key: str) -> dict[str, str] | None:
        try:
            return json.loads(self.path.read_text()).get(key)
        except (OSError, ValueError):
            return None

    def put(self, key: str, verdict: str) -> None:
        with self.lock:
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = {}
            data[key] = {"verdict": verdict, "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"}
            tmp = self.path.with_name(f"{STORE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1))
            os.replace(tmp, self.path)


def sanitize(artifact: Path, space: Any, cfg: dict[str, int], dtype: str, known: Sequence[str] = (),
             tool: str | None = None) -> dict[str, str] | None:
    """racecheck and synccheck of one library at ``small_shape``: {check: verdict} (None: no tool on
    this machine). A stored verdict is reused (module docstring); only a clean run or the tool's own
    findings are stored, never a failure without them (the process crashed, the device was busy)."""
    tool = tool or shutil.which("compute-sanitizer")
    if tool is None:
        return None
    shape = small_shape(space, cfg)
    if shape is None:
        return {c: "not run (no small legal shape)" for c in CHECKS}
    version = tool_version(tool)
    store = VerdictStore(Path(artifact).parent)
    out = {}
    for check in CHECKS:
        key = verdict_key(Path(artifact), dtype, shape, check, version)
        kept = store.get(key)
        if kept:
            out[check] = f"{kept['verdict']} (cached: {check} of this build at {'x'.join(map(str, shape))}, {kept['date']})"
            continue
        cmd = [tool, "--tool", check, "--error-exitcode", "9", sys.executable, "-m", LAUNCHER,
               str(artifact), *map(str, shape), dtype]
        try:
            r = proc.run(cmd, TIMEOUT_S, env={**os.environ, "HKTUNE_GRID_CAP": str(GRID_CAP)})
        except subprocess.TimeoutExpired:
            out[check] = f"not run (timed out after {TIMEOUT_S} s)"
            continue
        out[check] = sanitizer_verdict(r.returncode, r.stdout + r.stderr, known)
        if r.returncode == 0 or findings(r.stdout + r.stderr):
            store.put(key, out[check])   # the tool's verdict on these bytes; not a crash or a busy device
    return out
