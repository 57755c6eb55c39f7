"""Shape files, `hktune shapes`, and a multi-shape search warm-started from its neighbours."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hktune.space.shapes import ShapesError, load_shapes


def hk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_yaml_csv_and_merging(tmp_path: Path):
    y = tmp_path / "s.yaml"
    y.write_text("shapes:\n- {m: 64, n: 128, k: 256, count: 2, source: up}\n- [64, 128, 256]\n- [32, 32, 32]\n")
    shapes = load_shapes(y)
    assert [s.mnk for s in shapes] == [(64, 128, 256), (32, 32, 32)] and shapes[0].count == 3
    c = tmp_path / "s.csv"
    c.write_text("m,n,k,count\n64,128,256,1\n")
    assert load_shapes(c)[0].mnk == (64, 128, 256)


@pytest.mark.parametrize("body, message", [
    ("shapes: [[1, 2]]", "expected"),
    ("shapes: [{m: 1, n: 2}]", "missing 'k'"),
    ("shapes: [[0, 2, 3]]", "positive"),
    ("shapes: [[a, 2, 3]]", "integers"),
    ("shapes: [", "not valid YAML"),
    ("shapes: []", "no shapes"),
])
def test_bad_shape_files(tmp_path: Path, body: str, message: str):
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(ShapesError, match=message):
        load_shapes(p)


def test_shapes_command_writes_model_gemms(tmp_path: Path):
    out = tmp_path / "m.yaml"
    r = hk("shapes", "--tokens", "4096", "--tokens", "8", "--linear", "4096:14336:2:mlp.gate_up", "--linear", "14336:4096", "--out", str(out))
    assert r.returncode == 0, r.stderr
    got = {(s.m, s.n, s.k): s.count for s in load_shapes(out)}
    assert got == {(4096, 14336, 4096): 2, (4096, 4096, 14336): 1, (8, 14336, 4096): 2, (8, 4096, 14336): 1}


@pytest.mark.slow
def test_search_over_shapes_warm_starts_later_shapes(tmp_path: Path):
    shapes = tmp_path / "s.yaml"
    shapes.write_text("shapes:\n- [64, 64, 128]\n- [64, 128, 128]\n- [100, 64, 64]\n")
    table = tmp_path / "r" / "host.yaml"
    r = hk("search", "--shapes", str(shapes), "--arch", "host", "--trials", "4", "--table", str(table), "--quiet")
    assert r.returncode == 1, r.stderr  # the third shape has no legal config: said, the others tuned
    assert "skipped 1 that no config can serve: 100x64x64" in r.stderr.splitlines()[-1]  # the one error line
    entries = yaml.safe_load(table.read_text())["entries"]
    assert {(e["key"]["m"], e["key"]["n"], e["key"]["k"]) for e in entries} == {(64, 64, 128), (64, 128, 128)}
    warm = [int(line.split()[-1]) for line in r.stdout.splitlines() if line.startswith("warm-started")]
    assert warm[0] == 0 and warm[1] >= 1
