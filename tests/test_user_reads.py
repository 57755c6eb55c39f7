"""What a user reads is true (issue 24), case by case: one best everywhere (a planted study read
through every surface), a report that shows a planted study's known values, measurement warnings
on the terminal and in --json, an interrupted search that writes no entry and shows its trials as
interrupted, shapes files held to one contract, unreachable storage refused fast, missing trees
that say where to get one, and a quick start that leaves `git status` clean."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from click.testing import CliRunner
from optuna.distributions import CategoricalDistribution

from hktune.commands import main
from tests.test_cli_contract import FakeWorker, files, one_error

ROOT = Path(__file__).resolve().parent.parent
STUDY = "host-host-bf16-64x64x64"
KNOBS = ("BLOCK_M", "BLOCK_N", "BLOCK_K", "MICRO_M", "SCHEDULE")
# Three verified trials (their values are paired ratios) and the decided winner's figures. The
# vendor ran at 0.1 TFLOP/s, so dividing a ratio by it (the old report's bug) would print 12.0x.
TRIALS = [((32, 32, 64, 4, 0), 0.50), ((64, 32, 64, 2, 0), 1.25), ((32, 64, 64, 1, 1), 0.90)]
WIN = {"config": dict(zip(KNOBS, TRIALS[1][0])), "ratio": 1.2, "ratio_lo": 1.15, "ratio_hi": 1.26, "tflops": 0.12,
       "vendor_tflops": 0.1}


def run(*args: str, **kw):  # noqa: ANN003, ANN201
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)


@pytest.fixture
def planted(cwd) -> tuple[Path, Path]:
    """A study with known trials and winner, and the table entry the search would have written."""
    from hktune.search.storage import open_storage

    results = cwd / "results"
    results.mkdir()
    journal = results / "studies.journal"
    st = optuna.create_study(study_name=STUDY, storage=open_storage(str(journal)), direction="maximize")
    dists = {k: CategoricalDistribution(sorted({c[i] for c, _ in TRIALS})) for i, k in enumerate(KNOBS)}
    for cfg, value in TRIALS:
        config = dict(zip(KNOBS, cfg))
        st.add_trial(optuna.trial.create_trial(params=config, distributions=dists, value=value, user_attrs={
            "config": config, "ratio": value, "ratio_lo": value * 0.9, "ratio_hi": value * 1.1, "vendor_tflops": 0.1}))
    st.set_user_attr("best", {**WIN, "tie": False, "rounds": 6, "run": "planted"})
    entry = {"key": {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 64, "n": 64, "k": 64},
             "config": WIN["config"], "tflops": 0.12, "time_us": 4.37, "spread": 0.05,
             "vendor": {"name": "torch.matmul", "tflops": 0.1, "time_us": 5.24}, "ratio": 1.2, "error": 0.0017,
             "trials": 3, "date": "2026-12-04T00:00:00+00:00", "device": {"name": "CPU", "units": 2, "arch": "host"},
             "toolchain": {"compiler": "g++", "torch": "2.13.0+cpu", "backend": "cpu"}, "template_hash": "0" * 16,
             "ratio_lo": 1.15, "ratio_hi": 1.26, "precision": 0.04, "run": "planted"}
    table = results / "host.yaml"
    table.write_text(yaml.safe_dump({"schema": 1, "entries": [entry]}, sort_keys=False))
    return table, journal


# -- one best, one ratio, on every surface ------------------------------------------------------------
def test_one_study_reads_the_same_best_and_ratio_everywhere(planted, monkeypatch):
    from hktune.run.targets import host

    table, journal = planted
    (e,) = json.loads(run("show", "--table", str(table), "--json").stdout)
    assert e["ratio"] == 1.2 and e["config"] == WIN["config"]
    shown = run("show", "--table", str(table)).stdout
    assert "1.2 " in shown and "1.15-1.26" in shown and "ratio to vendor (paired)" in shown
    (s,) = json.loads(run("show", "--studies", "--storage", str(journal), "--json").stdout)
    assert (s["best_ratio"], s["best_ratio_lo"], s["best_ratio_hi"], s["best"]) == (1.2, 1.15, 1.26, "winner")
    r = run("export", "--table", str(table), "--out", "x.h")
    assert r.exit_code == 0 and "1.2x torch.matmul (paired, 95% CI 1.15-1.26)" in Path("x.h").read_text()
    # The search of a finished study prints its recorded entry (no worker is started for it).
    monkeypatch.setattr(host, "workers", lambda *a, **k: [FakeWorker()])
    r = run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--trials", "3", "--table", str(table))
    assert r.exit_code == 0, r.stderr
    assert "recorded best                      1.2x vendor (paired, 95% CI 1.15-1.26)" in r.stdout
    r = run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--trials", "3", "--table", str(table), "--json")
    (rec,) = json.loads(r.stdout)
    assert (rec["best"]["ratio"], rec["best"]["ratio_lo"], rec["best"]["ratio_hi"]) == (1.2, 1.15, 1.26)
    # hktune.torch reads the same entry: significantly faster (CI above 1), so it is used.
    import hktune.torch as ht

    ht.use_table(table)
    try:
        ht.configure(faster_only=True)
        p = ht.plan_for(64, 64, 64, "host")
        assert p.kind == "tuned" and p.entry.ratio == 1.2
    finally:
        ht.use_table(None)


def test_report_of_a_planted_study_shows_its_known_values(planted):
    pytest.importorskip("matplotlib")
    from hktune.commands.report_plots import YLABEL

    _, journal = planted
    r = run("report", STUDY, "--storage", str(journal), "--out", "rep")
    assert r.exit_code == 0, r.stderr
    md = Path("rep/report.md").read_text()
    assert "**Winner**: 1.2x the vendor BLAS (paired, 95% CI 1.15-1.26); 0.12 TFLOP/s (vendor 0.1 TFLOP/s)" in md
    assert "`BLOCK_M=64 BLOCK_N=32 BLOCK_K=64 MICRO_M=2 SCHEDULE=0`" in md
    assert "3 configs evaluated: 3 verified." in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| 1 |") or ln.startswith("| 2 |") or ln.startswith("| 3 |")]
    assert [ln.split(" | ")[1] for ln in rows] == ["1.25", "0.9", "0.5"]   # the trials' own paired ratios
    # Never a ratio divided by the vendor's TFLOP/s (12.5x, 9x, 5x): every "Nx" is one of the planted ratios.
    assert {float(x) for x in re.findall(r"(\d+(?:\.\d+)?)x ", md)} <= {1.2, 1.25, 0.9, 0.5}, md
    for png in ("history.png", "knobs.png"):
        assert Path("rep", png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "paired" in YLABEL and "vendor time / kernel time" in YLABEL


# -- warnings with the result ----------------------------------------------------------------------------
@pytest.fixture
def fake_best(monkeypatch):  # noqa: ANN201
    """Search.run returns a summary whose best carries the measurement's warnings."""
    from hktune.run.targets import host
    from hktune.search.driver import Search

    monkeypatch.setattr(host, "workers", lambda *a, **k: [FakeWorker()])

    def fake_run(self, progress):  # noqa: ANN001, ANN202
        self.summary.evaluated = self.summary.succeeded = 1
        self.summary.best = {"config": dict(zip(KNOBS, TRIALS[0][0])), "tflops": 0.03, "median_us": 17.5, "spread": 0.5,
                             "error": 1.7e-3, "vendor_tflops": 0.1, "ratio": 0.319, "ratio_lo": 0.28, "ratio_hi": 0.36,
                             "warnings": ["host load 4.81 > 2 cores: launches may be late",
                                          "precision 12.75% did not reach 0.50% (time cap)"]}
        return self.summary

    monkeypatch.setattr(Search, "run", fake_run)


def test_measurement_warnings_are_printed_and_an_untrustworthy_result_is_labelled(cwd, fake_best):
    args = ["search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--table", "t/t.yaml", "--trials", "1"]
    r = run(*args)
    assert r.exit_code == 0, r.stderr
    assert "warning: host load 4.81 > 2 cores: launches may be late" in r.stdout
    assert "warning: precision 12.75% did not reach 0.50% (time cap)" in r.stdout
    assert "unreliable: host load 4.81 > 2 cores" in r.stdout and "95% CI +-12.5%" in r.stdout
    (rec,) = json.loads(run(*args, "--json").stdout)
    assert rec["best"]["warnings"][0].startswith("host load 4.81") and rec["best"]["unreliable"]
    assert rec["best"]["ratio"] == 0.319


# -- an interrupted search ----------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_writes_no_table_entry_and_shows_interrupted_trials(tmp_path):
    table = tmp_path / "results" / "host.yaml"
    journal = tmp_path / "results" / "studies.journal"
    # Ctrl-C as at a terminal: SIGINT handled by Python's default handler. pytest run as a background job of a
    # non-interactive shell (`... &`) inherits SIGINT ignored, and a process started with SIGINT ignored keeps ignoring
    # it (POSIX; Python then installs no KeyboardInterrupt handler): the search ran to its end, exit 0 (2026-12-06)
    start = ("import signal, runpy, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "sys.argv[0] = 'hktune'; runpy.run_module('hktune', run_name='__main__')")
    # a search of minutes (384 trials of ~0.6 s), so it cannot end before the interrupt
    p = subprocess.Popen([sys.executable, "-c", start, "search", "--m", "256", "--n", "256", "--k", "256", "--arch",
                          "host", "--trials", "384", "--table", str(table), "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _interrupt_and_check(p, table, journal)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)   # no search left running after a failure
            p.wait()


def _interrupt_and_check(p: subprocess.Popen, table: Path, journal: Path) -> None:
    def complete() -> int:
        from hktune.search.storage import open_storage

        try:
            st = optuna.load_study(study_name="host-host-bf16-256x256x256", storage=open_storage(str(journal)))
        except (KeyError, FileNotFoundError, ValueError):
            return 0
        return sum(t.state.name == "COMPLETE" for t in st.get_trials(deepcopy=False))

    deadline = time.time() + 300
    while (not journal.exists() or complete() < 2) and time.time() < deadline and p.poll() is None:
        time.sleep(0.3)
    assert p.poll() is None, "the search ended before the interrupt: it must run longer for this test"
    os.killpg(p.pid, signal.SIGINT)   # Ctrl-C on a terminal reaches the whole process group
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert "trials saved; the same command resumes" in err
    assert not table.exists() or not yaml.safe_load(table.read_text()).get("entries")  # no winner, no entry
    rows = json.loads(run("show", "--studies", "--storage", str(journal), "--study", "host-host-bf16-256x256x256",
                          "--json").stdout)
    assert {r["state"] for r in rows} <= {"complete", "fail", "interrupted", "running"}, rows
    assert all(r["state"] != "pruned" for r in rows)
    (s,) = json.loads(run("show", "--studies", "--storage", str(journal), "--json").stdout)
    assert s["best"] == "best trial (no winner decided)" and s["pruned"] == 0


# -- shapes files: one contract for YAML and CSV ------------------------------------------------------
@pytest.mark.parametrize("name, body", [
    ("s.yaml", "shapes:\n- {m: 64, n: 12.5, k: 64}\n"),
    ("s.yaml", "shapes:\n- {m: 512, n: 512.9, k: 512}\n"),
    ("s.yaml", "shapes:\n- [64, 64.0, 64]\n"),
    ("s.yaml", "shapes:\n- {m: 64, n: true, k: 64}\n"),
    ("s.csv", "m,n,k\n64,12.5,64\n"),
    ("s.csv", "m,n,k\n512,512.9,512\n"),
])
def test_shapes_files_take_integers_only_exit_2_before_any_work(cwd, name, body):
    (cwd / name).write_text(body)
    one_error(run("search", "--shapes", name, "--arch", "host", "--table", "t/t.yaml"), 2, "must be integers")
    assert files(cwd) == {name}


# -- storage ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, needle", [
    ("sqlite:///nonexistent_dir/x.db", "the folder of nonexistent_dir/x.db does not exist"),
    ("foo://bar", "no database driver for 'foo'"),
    ("postgresql://127.0.0.1:1/db", "cannot reach 127.0.0.1:1"),
])
def test_unreachable_storage_is_refused_in_under_2_s(cwd, url, needle):
    t0 = time.perf_counter()
    one_error(run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--storage", url,
                  "--table", "t/t.yaml"), 2, needle)
    assert time.perf_counter() - t0 < 2.0
    assert files(cwd) == set()
    one_error(run("show", "--studies", "--storage", url), 2, needle)


# -- missing trees say where to get one ----------------------------------------------------------------
@pytest.mark.parametrize("args", [["compile", "--arch", "gfx950", "--all"],
                                  ["search", "--arch", "gfx950", "--m", "256", "--n", "256", "--k", "256"]])
def test_a_missing_hipkittens_checkout_says_where_to_get_one(cwd, monkeypatch, args):
    monkeypatch.delenv("HIPKITTENS_ROOT", raising=False)
    line = one_error(run(*args), 2, "needs a HipKittens checkout (branch main for gfx950)",
                     "git clone -b main https://github.com/HazyResearch/HipKittens", "--hk-root DIR")
    assert "`hktune compile`" in line and "`hktune search --arch host` needs neither" in line
    assert files(cwd) == set()


def test_a_missing_thunderkittens_checkout_says_where_to_get_one(cwd, monkeypatch):
    from hktune.family.trees import TreeError
    from hktune.family.trees.thunderkittens import TREE

    monkeypatch.delenv("THUNDERKITTENS_ROOT", raising=False)
    with pytest.raises(TreeError, match="git clone https://github.com/HazyResearch/ThunderKittens"):
        TREE.resolve("sm_90", None, None, "thunderkittens")


# -- the quick start leaves the clone clean ---------------------------------------------------------------
def test_quick_start_outputs_are_ignored_by_git():
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True).returncode:
        pytest.skip("not a git checkout")
    paths = ["results/host.yaml", "results/studies.journal", "results/reports/x/report.md", "results/hktune_configs.h",
             "hktune_configs.h"]
    r = subprocess.run(["git", "-C", str(ROOT), "check-ignore", *paths], capture_output=True, text=True)
    assert r.stdout.split() == paths
    assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "results/README.md"]).returncode == 1
    readme = (ROOT / "README.md").read_text()
    assert "hktune export --table results/host.yaml --out results/hktune_configs.h" in readme
