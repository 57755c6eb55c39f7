"""The real pipeline on the host family, through the command line a user types:
search (compile, verify, time, table) -> resume -> export -> the header compiled and called."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def hk(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_search_resume_export_and_header(results: Path, tmp_path: Path):
    table = results / "host.yaml"
    r = hk("search", "--m", "128", "--n", "128", "--k", "256", "--arch", "host", "--trials", "3", "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "0 trials done before" in r.stderr and "updated" in r.stdout
    doc = yaml.safe_load(table.read_text())
    assert doc["schema"] == 1 and len(doc["entries"]) == 1
    e = doc["entries"][0]
    assert e["key"] == {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 128, "n": 128, "k": 256}
    assert 0 < e["error"] < 1e-2 and e["tflops"] > 0 and e["vendor"]["tflops"] > 0
    assert e["device"]["units"] >= 1 and e["template_hash"] and "g++" in e["toolchain"]["compiler"]

    # Resume: the three finished trials are not run again; two more are.
    r = hk("search", "--m", "128", "--n", "128", "--k", "256", "--arch", "host", "--trials", "5", "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "3 trials done before" in r.stderr
    assert "evaluated                          2" in r.stdout

    out = tmp_path / "hktune_configs.h"
    r = hk("export", "--table", str(table), "--out", str(out))
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(table.read_text())["entries"][0]["config"]
    main = tmp_path / "main.cpp"
    main.write_text(textwrap.dedent(f"""
        #include "hktune_configs.h"
        #include <cstdio>
        int main() {{
          const auto* c = hktune::lookup_host_host(128, 128, 256);
          if (!c) return 1;
          if (c->BLOCK_M != {cfg['BLOCK_M']} || c->BLOCK_N != {cfg['BLOCK_N']} || c->BLOCK_K != {cfg['BLOCK_K']}) return 2;
          if (hktune::lookup_host_host(100, 128, 256) != nullptr) return 3;   // no legal config: vendor BLAS
          std::printf("ok\\n");
          return 0;
        }}
    """))
    exe = tmp_path / "main"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", f"-I{tmp_path}", "-o", str(exe), str(main)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout.strip() == "ok"

    r = hk("show", "--table", str(table), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["key"]["m"] == 128


def test_faulty_family_search_records_only_correct_kernels(results: Path):
    """Exhaustive search over crashing, hanging, wrong and racy kernels: it survives them all and
    only a verified config reaches the table."""
    table = results / "host.yaml"
    # Every fault once: the family's space with one BLOCK (BLOCK=32 repeats each fault, and the
    # hang's 15 s timeout, without proving anything more).
    space = yaml.safe_load((Path(__file__).parent / "families" / "faulty" / "space.yaml").read_text())
    space["params"]["BLOCK"] = [16]
    (results.parent / "faulty-one-block.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    r = hk("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--family", "faulty", "--sampler", "exhaustive",
           "--space", str(results.parent / "faulty-one-block.yaml"),
           "--trials", "100", "--trial-timeout", "15", "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr + r.stdout
    entry = yaml.safe_load(table.read_text())["entries"][0]
    assert entry["config"]["FAULT"] in (0, 8)
    rows = json.loads(hk("show", "--studies", "--storage", str(results / "studies.journal"), "--study",
                         "faulty-host-bf16-64x64x64@faulty-one-block", "--json").stdout)  # a space of its own: its own study
    by_fault: dict[int, set] = {}
    for row in rows:
        fault = int(row["config"]["FAULT"])  # --json: configs are objects
        by_fault.setdefault(fault, set()).add(row["state"])
    assert by_fault[0] == {"complete"} and by_fault[8] == {"complete"}
    for fault in (1, 2, 3, 4, 5, 6, 7):
        assert by_fault[fault] == {"fail"}, (fault, by_fault)


def test_sigkill_then_resume_loses_no_trial(results: Path):
    table = results / "host.yaml"
    args = [sys.executable, "-m", "hktune", "search", "--m", "64", "--n", "64", "--k", "128", "--arch", "host",
            "--sampler", "random", "--trials", "200", "--table", str(table), "--quiet"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = results / "studies.journal"

    def complete(states: tuple[str, ...] = ("COMPLETE",)) -> int:
        if not journal.exists():
            return 0
        import optuna

        from hktune.search.storage import open_storage

        try:
            st = optuna.load_study(study_name="host-host-bf16-64x64x128", storage=open_storage(str(journal)))
        except KeyError:
            return 0
        return sum(1 for t in st.get_trials(deepcopy=False) if t.state.name in states)

    deadline = time.time() + 240
    while complete() < 4 and time.time() < deadline:
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = complete()
    assert before >= 4
    evaluated = complete(("COMPLETE", "FAIL", "PRUNED"))   # --trials counts the study's total, pruned too
    r = hk("search", "--m", "64", "--n", "64", "--k", "128", "--arch", "host", "--sampler", "random",
           "--trials", str(evaluated + 2), "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"{evaluated} trials done before" in r.stderr
    assert complete(("COMPLETE", "FAIL", "PRUNED")) >= evaluated + 2 and complete() >= before
    assert yaml.safe_load(table.read_text())["entries"][0]["error"] < 1e-2


@pytest.mark.parametrize("args, message, code", [
    (["--arch", "gfx1234", "--m", "64", "--n", "64", "--k", "64"], "unknown arch", 2),
    (["--arch", "host", "--m", "0", "--n", "64", "--k", "64"], "--m must be a positive integer", 2),
    (["--arch", "host", "--m", "-5", "--n", "64", "--k", "64"], "--m must be a positive integer", 2),
    (["--arch", "host", "--m", "100", "--n", "64", "--k", "64"], "no config of family host is legal for 100x64x64", 2),
    (["--arch", "sm_90", "--m", "256", "--n", "256", "--k", "256"], "needs an NVIDIA GPU", 3),
])
def test_bad_input_one_line_nonzero_nothing_written(results: Path, args, message, code):
    table = results / "t.yaml"
    r = hk("search", *args, "--trials", "2", "--table", str(table), "--quiet")
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not table.exists()


def test_unwritable_results_dir_and_malformed_table(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = hk("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", str(blocker / "t.yaml"), "--quiet")
    assert r.returncode == 2 and "cannot create results directory" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nentries: [\n")
    r = hk("show", "--table", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert bad.read_text() == "schema: 1\nentries: [\n"
    r = hk("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--trials", "1", "--table", str(bad), "--quiet")
    assert r.returncode == 2 and bad.read_text() == "schema: 1\nentries: [\n"


def test_compile_command_prints_resources(tmp_path: Path):
    r = hk("compile", "--arch", "host", "--all", "--limit", "3", "--json")
    assert r.returncode == 0, r.stderr
    outs = json.loads(r.stdout)
    assert len(outs) == 3 and all(o["ok"] and o["resources"]["code_bytes"] > 0 for o in outs)
    r = hk("compile", "--arch", "host", "--config", "BLOCK_M=16,BLOCK_N=16,BLOCK_K=64,MICRO_M=3,SCHEDULE=0")
    assert r.returncode == 2 and "not in" in r.stderr


def test_doctor_runs():
    r = hk("doctor", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert "g++" in rep["compilers"]["gcc"] and "host" in rep["families"]
