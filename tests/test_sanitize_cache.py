"""The winner's compute-sanitizer verdicts are kept with its build and reused for any shape's search;
a different library, dtype or tool runs the check again; an unfinished check is never kept.
compute-sanitizer is faked by a script that logs its calls (no GPU here)."""
from __future__ import annotations

import stat
from pathlib import Path

from hktune.search import sanitize as san


class _AnyShape:
    def shape_violations(self, cfg, m, n, k):  # noqa: ANN001, ANN201
        return [] if m >= 512 else ["too small"]


def _tool(tmp: Path, version: str = "1.0", exit_code: int = 0, sleep: float = 0.0, report: str = "") -> tuple[Path, Path]:
    log = tmp / "calls.log"
    script = tmp / f"compute-sanitizer-{version}"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo "fake sanitizer {version}"; exit 0; fi
echo "cap=$HKTUNE_GRID_CAP $@" >> {log}
sleep {sleep}
{f'echo "========= {report}"' if report else ""}
echo "========= ERROR SUMMARY: 0 errors"
exit {exit_code}
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_verdict_is_kept_with_the_build_and_reused(tmp_path):
    entry = tmp_path / "entry"
    entry.mkdir()
    lib = entry / "libhktune.so"
    lib.write_bytes(b"kernel v1")
    tool, log = _tool(tmp_path)
    first = san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool))
    assert first == {"racecheck": "ok", "synccheck": "ok"}
    assert len(_calls(log)) == 2 and all("1024 512 1408 bf16" in c for c in _calls(log))
    assert all(c.startswith(f"cap={san.GRID_CAP} ") for c in _calls(log)), "the grid cap reaches the tool's process"
    assert (entry / san.STORE).is_file()

    again = san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool))
    assert len(_calls(log)) == 2, "a kept verdict must not run the tool again"
    assert all(v.startswith("ok (cached: ") and "1024x512x1408" in v for v in again.values()), again

    san.sanitize(lib, _AnyShape(), {}, "fp8_e4m3", tool=str(tool))   # another dtype: checked again
    assert len(_calls(log)) == 4
    lib.write_bytes(b"kernel v2")                                     # rebuilt bytes: checked again
    san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool))
    assert len(_calls(log)) == 6
    tool2, log2 = _tool(tmp_path, version="2.0")                      # another tool version: again
    san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool2))
    assert log2 == log and len(_calls(log)) == 8


def test_findings_are_kept_a_crash_and_a_timeout_are_not(tmp_path, monkeypatch):
    entry = tmp_path / "e"
    entry.mkdir()
    lib = entry / "lib.so"
    lib.write_bytes(b"racy")
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    crash, crash_log = _tool(crash_dir, version="0.9", exit_code=1)          # fails with no finding
    assert all(v.startswith("exit 1") for v in san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(crash)).values())
    san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(crash))
    assert len(_calls(crash_log)) == 4, "a failure without the tool's finding is checked again"
    tool, log = _tool(tmp_path, exit_code=9, report="Error: Race reported between Write access at 0x1 and Read access")
    bad = san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool))
    assert all(v.startswith("exit 9") and "Race reported" in v for v in bad.values())
    again = san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(tool))
    assert all(v.startswith("exit 9") and "cached" in v for v in again.values()), "a kept finding stays a finding"
    assert len(_calls(log)) == 2

    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    slow, slow_log = _tool(slow_dir, version="3.0", sleep=5)
    monkeypatch.setattr(san, "TIMEOUT_S", 1)
    out = san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(slow))
    assert all(v.startswith("not run (timed out") for v in out.values())
    monkeypatch.setattr(san, "TIMEOUT_S", 60)
    fast = _tool(slow_dir, version="3.0")[0]   # the same tool version, now answering
    assert san.sanitize(lib, _AnyShape(), {}, "bf16", tool=str(fast)) == {"racecheck": "ok", "synccheck": "ok"}
    assert len(_calls(slow_log)) == 4, "a check that timed out was not kept: it runs again"


def test_no_tool_and_no_small_shape(tmp_path):
    lib = tmp_path / "lib.so"
    lib.write_bytes(b"x")
    tool, log = _tool(tmp_path)

    class Never:
        def shape_violations(self, *a):  # noqa: ANN002, ANN201
            return ["never"]
    assert san.sanitize(lib, Never(), {}, "bf16", tool=str(tool)) == {c: "not run (no small legal shape)" for c in san.CHECKS}
    assert not _calls(log)


def test_the_shape_doubles_the_smallest_legal_tiles_and_takes_a_deep_k():
    """Four times the smallest legal shape's tiles (each capped block walks several) and K = 1408
    where legal (a partial promotion group or split-K slice); a shape rule that the doubling
    breaks keeps the smallest."""
    from hktune.space.space import load_space
    space = load_space(Path(__file__).resolve().parent.parent / "configs" / "thunderkittens-sm_90.yaml", "sm_90")
    cfg = {**{p.name: p.values[0] for p in space.params},
           "M_BLOCK": 2, "N_BLOCK": 2, "WG_M": 128, "SCHED": 1, "EPILOGUE": 2, "STAGES": 4, "SUPER_M": 8,
           "PERSISTENT": 1, "PRODUCER_REGS": 40, "CONSUMER_REGS": 232}
    assert san.small_shape(space, cfg) == (512, 512, 1408)      # 256x128 tiles: 2 x 4 of them

    class OnlyOne:
        def shape_violations(self, cfg, m, n, k):  # noqa: ANN001, ANN201
            return [] if (m, n, k) == (256, 256, 512) else ["no"]
    assert san.small_shape(OnlyOne(), {}) == (256, 256, 512)
