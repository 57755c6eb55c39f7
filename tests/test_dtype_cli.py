"""The command line keyed by dtype (issue 22), run for real in a subprocess: an unknown dtype is one
line ``hktune: error: ...``, exit 2, and nothing written, on every command that takes --dtype; a
known dtype no family serves there is the same; ``bench --dtype`` takes the dtype through the Target
to the worker (the fp8_e4m3 inputs, scales and torch._scaled_mm), from --config or a table's keys;
``show`` lists each dtype's entry of one shape on its own row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ROOT / "tests" / "families"


def hk(cwd: Path, *args: str, timeout: float = 300, plugins: bool = True) -> subprocess.CompletedProcess:
    """``python -m hktune ARGS`` in ``cwd``; ``plugins``: the test families (fp8host) on the family path."""
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(cwd / "cache"), "PYTHONPATH": str(ROOT),
           "HKTUNE_FAMILY_PATH": str(FAMILIES) if plugins else ""}
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def one_line(r: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr, r.stdout)
    assert r.stdout == "" and r.stderr.count("\n") == 1 and r.stderr.startswith("hktune: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def entry(family: str, dtype: str, config: dict) -> dict:
    return {"key": {"family": family, "arch": "host", "dtype": dtype, "layout": "ABt", "m": 32, "n": 32, "k": 64},
            "config": config, "tflops": 0.02, "time_us": 25.0, "spread": 0.04,
            "vendor": {"name": "torch._scaled_mm" if dtype == "fp8_e4m3" else "torch.matmul", "tflops": 0.01},
            "ratio": 2.0, "ratio_lo": 1.5, "ratio_hi": 2.5, "error": 0.0017, "trials": 4,
            "date": "2026-12-04T00:00:00+00:00", "device": {"name": "CPU", "units": 2, "arch": "host"},
            "toolchain": {"compiler": "g++"}, "template_hash": "0" * 16}


HOST = entry("host", "bf16", {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 64, "MICRO_M": 4, "SCHEDULE": 0})


def write_table(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump({"schema": 1, "entries": list(entries)}, sort_keys=False))
    return path


@pytest.mark.parametrize("cmd", [
    ["search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t/host.yaml"],
    ["bench", "--arch", "host", "--config", "BLOCK_M=32", "--m", "64", "--n", "64", "--k", "64"],
    ["compile", "--arch", "host", "--all"],
    ["verify", "--arch", "gfx950", "--seeds"],
    ["export", "--table", "host.yaml", "--out", "out/h.h"],
])
@pytest.mark.parametrize("dtype", ["fp16", "FP8"])
def test_an_unknown_dtype_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, cmd: list[str], dtype: str):
    write_table(tmp_path / "host.yaml", HOST)
    (tmp_path / "out").mkdir()
    before = sorted(tmp_path.rglob("*"))
    one_line(hk(tmp_path, *cmd, "--dtype", dtype), 2, f"'{dtype}'", "--dtype")
    assert sorted(tmp_path.rglob("*")) == before      # no table, header, cache or storage


@pytest.mark.parametrize("cmd, needle", [
    (["search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t/host.yaml"],
     "no family serves dtype fp8_e4m3 on host"),
    (["search", "--arch", "host", "--family", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t/host.yaml"],
     "family host does not serve dtype fp8_e4m3"),
    (["bench", "--arch", "host", "--config", "BLOCK_M=32", "--m", "64", "--n", "64", "--k", "64"],
     "no family serves dtype fp8_e4m3 on host"),
    (["compile", "--arch", "gfx942", "--all"], "no family serves dtype fp8_e4m3 on gfx942"),
    (["bench", "--table", "host.yaml"], "no entries of dtype fp8_e4m3 in host.yaml"),
    (["export", "--table", "host.yaml", "--out", "out/h.h"], "nothing to export: no entries of dtype fp8_e4m3"),
])
def test_a_dtype_not_served_there_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, cmd: list[str], needle: str):
    write_table(tmp_path / "host.yaml", HOST)
    (tmp_path / "out").mkdir()
    before = sorted(tmp_path.rglob("*"))
    # without the test families: no fp8_e4m3 kernel serves the host (tests/families/fp8host would)
    one_line(hk(tmp_path, *cmd, "--dtype", "fp8_e4m3", plugins=False), 2, needle)
    assert sorted(tmp_path.rglob("*")) == before


def test_bench_times_fp8_entries_against_scaled_mm_and_catches_a_dropped_scale(tmp_path: Path):
    """bench --table --dtype fp8_e4m3: the bf16 entry is left out; each fp8 entry is built and
    verified with the dtype's scaled inputs (the planted DROP_SCALE=1 kernel fails: exit 1) and timed
    against torch._scaled_mm."""
    write_table(tmp_path / "host.yaml", HOST, entry("fp8host", "fp8_e4m3", {"BLOCK_M": 16, "DROP_SCALE": 0}),
                entry("fp8host", "fp8_e4m3", {"BLOCK_M": 32, "DROP_SCALE": 1}))
    r = hk(tmp_path, "bench", "--table", "host.yaml", "--dtype", "fp8_e4m3", "--repeats", "3", "--json")
    assert r.returncode == 1, r.stderr[-2000:]
    good, dropped = json.loads(r.stdout)
    assert (good["family"], good["dtype"], good["vendor"]) == ("fp8host", "fp8_e4m3", "torch._scaled_mm")
    assert good["ok"] and 5e-4 < good["error"] < 4e-3 and good["vendor_tflops"] > 0, good
    assert not dropped["ok"] and "wrong result" in dropped["reason"], dropped


def test_show_lists_each_dtype_of_a_shape_on_its_own_row(tmp_path: Path):
    write_table(tmp_path / "host.yaml", HOST, entry("fp8host", "fp8_e4m3", {"BLOCK_M": 16, "DROP_SCALE": 0}))
    r = hk(tmp_path, "show", "--table", "host.yaml", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted((e["key"]["family"], e["key"]["dtype"]) for e in json.loads(r.stdout)) == [
        ("fp8host", "fp8_e4m3"), ("host", "bf16")]
    text = hk(tmp_path, "show", "--table", "host.yaml").stdout
    assert "dtype" in text.splitlines()[0] and any("fp8_e4m3" in ln and "fp8host" in ln for ln in text.splitlines())
