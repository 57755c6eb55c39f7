"""A table entry remembers the space it was searched in (``space:``, when that is not the family's own, e.g. an opt-in
space that extends it), and every reader of the table checks and builds it under that space: bench --table, export,
sweep and hktune.torch. Before 2026-12-05 an opt-in winner was refused by export ("not valid in this space"), judged
invalid by the sweep and served as the vendor by hktune.torch (config_not_in_space). Run for real on the host family."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from hktune.target import resolve_target, space_file

ROOT = Path(__file__).resolve().parent.parent


def hk(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HKTUNE_CACHE_DIR": str(cwd / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def test_space_ref_names_only_a_space_that_is_not_the_family_s(tmp_path):
    assert resolve_target("host").space_ref is None
    assert resolve_target("host", space_file=ROOT / "configs" / "host.yaml").space_ref is None
    opt = tmp_path / "opt.yaml"
    opt.write_text(f"extends: {ROOT / 'configs' / 'host.yaml'}\nparams: {{BLOCK_M: [256]}}\n")
    assert resolve_target("host", space_file=opt).space_ref == str(opt.resolve())
    assert space_file(None) is None and space_file("bench/x.yaml") == ROOT / "bench" / "x.yaml"
    assert space_file(str(opt)) == opt


def test_an_opt_in_winner_is_served_by_every_reader_of_the_table(tmp_path):
    opt = tmp_path / "opt.yaml"
    # BLOCK_M 256: a value the host kernel takes but the family space does not offer
    opt.write_text(f"extends: {ROOT / 'configs' / 'host.yaml'}\nparams: {{BLOCK_M: [256], BLOCK_N: [16]}}\n")
    r = hk(tmp_path, "search", "--arch", "host", "--m", "256", "--n", "64", "--k", "64", "--trials", "2", "--space",
           str(opt), "--table", "t.yaml", "--quiet")
    assert r.returncode == 0, r.stderr
    entry = yaml.safe_load((tmp_path / "t.yaml").read_text())["entries"][0]
    assert entry["config"]["BLOCK_M"] == 256 and entry["space"] == str(opt.resolve())

    r = hk(tmp_path, "export", "--table", "t.yaml", "--out", "x.h")
    assert r.returncode == 0, r.stderr
    assert "BLOCK_M=256" in (tmp_path / "x.h").read_text()

    r = hk(tmp_path, "bench", "--table", "t.yaml", "--repeats", "5")
    assert r.returncode == 0, r.stderr

    r = hk(tmp_path, "sweep", "--table", "t.yaml", "--repeats", "5", "--tolerance", "0.9")
    # built and timed under its space (pass, or a verdict on the timing: this machine may be loaded), never "invalid"
    assert re.search(r"\[1/1\] host/host/bf16/ABt 256x64x64: (pass|inconclusive|regression|improved)", r.stdout + r.stderr), \
        r.stdout + r.stderr

    # the same entry without its `space:` is a config the family space does not allow: refused as before
    bare = yaml.safe_load((tmp_path / "t.yaml").read_text())
    del bare["entries"][0]["space"]
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(bare, sort_keys=False))
    r = hk(tmp_path, "export", "--table", "bare.yaml", "--out", "y.h")
    assert r.returncode == 2 and "BLOCK_M=256 not in" in r.stderr, r.stderr


def test_hktune_torch_plans_an_opt_in_entry_under_its_own_space(tmp_path, monkeypatch):
    import hktune.torch as ht

    opt = tmp_path / "opt.yaml"
    opt.write_text(f"extends: {ROOT / 'configs' / 'host.yaml'}\nparams: {{BLOCK_M: [256], BLOCK_N: [16]}}\n")
    entry = {"key": {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 256, "n": 64, "k": 64},
             "config": {"BLOCK_M": 256, "BLOCK_N": 16, "BLOCK_K": 64, "MICRO_M": 4, "SCHEDULE": 0},
             "tflops": 0.02, "time_us": 25.0, "spread": 0.01, "vendor": {"name": "torch.matmul", "tflops": 0.01},
             "ratio": 2.0, "ratio_lo": 1.9, "ratio_hi": 2.1, "error": 0.002, "trials": 2, "date": "2026-12-05T00:00:00+00:00",
             "device": {"name": "CPU", "units": 2, "arch": "host"}, "toolchain": {"compiler": "g++"},
             "template_hash": "0" * 16, "space": str(opt)}
    for with_space in (True, False):
        e = dict(entry) if with_space else {k: v for k, v in entry.items() if k != "space"}
        path = tmp_path / f"t{int(with_space)}.yaml"
        path.write_text(yaml.safe_dump({"schema": 1, "entries": [e]}, sort_keys=False))
        ht.use_table(path)
        p = ht.plan_for(256, 64, 64, "host")
        if with_space:
            assert p.kind == "tuned" and p.space.path == opt, p
        else:
            assert p.kind == "fallback" and p.reason == "config_not_in_space" and "BLOCK_M=256" in p.detail, p


def test_bench_times_a_config_of_an_opt_in_space(tmp_path):
    """`hktune bench --config ... --space FILE`: the config is checked against that space (here one that extends the
    host family's and offers BLOCK_M 16 only), refused in one line outside it, and timed for real inside it."""
    opt = tmp_path / "opt.yaml"
    opt.write_text(f"extends: {ROOT / 'configs' / 'host.yaml'}\nparams: {{BLOCK_M: [16]}}\n")
    cfg = "BLOCK_M={},BLOCK_N=32,BLOCK_K=64,MICRO_M=4,SCHEDULE=0"
    shape = ("--m", "64", "--n", "64", "--k", "64")
    r = hk(tmp_path, "bench", "--arch", "host", "--config", cfg.format(32), "--space", str(opt), *shape)
    assert r.returncode == 2 and r.stderr.startswith("hktune: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "BLOCK_M" in r.stderr
    r = hk(tmp_path, "bench", "--arch", "host", "--config", cfg.format(16), "--space", str(opt), *shape, "--repeats", "5",
           "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)[0] if r.stdout.lstrip().startswith("[") else json.loads(r.stdout.splitlines()[0])
    assert rec["ok"] and rec["config"]["BLOCK_M"] == 16 and rec["tflops"] > 0
    (tmp_path / "t.yaml").write_text("schema: 1\nentries: []\n")
    r = hk(tmp_path, "bench", "--table", "t.yaml", "--space", str(opt))
    assert r.returncode == 2 and "--space goes with --config" in r.stderr, r.stderr
