"""`hktune report` on a real (tiny) host study: plots and a Markdown summary."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")


def hk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True, timeout=600, env=dict(os.environ))


@pytest.mark.slow
def test_report_writes_plots_and_summary(tmp_path: Path):
    table = tmp_path / "r" / "host.yaml"
    r = hk("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "128", "--trials", "6", "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "rep"
    r = hk("report", "host-host-bf16-64x64x128", "--storage", str(table.parent / "studies.journal"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    md = (out / "report.md").read_text()
    assert "**Winner**" in md and "x the vendor BLAS" in md and md.count("| ") > 6
    for png in ("history.png", "knobs.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = hk("report", "no-such-study", "--storage", str(table.parent / "studies.journal"))
    assert r.returncode != 0 and "no study 'no-such-study'" in r.stderr
