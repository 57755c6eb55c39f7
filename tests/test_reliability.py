"""Fault injection through the command line a user types: each planted fault, a SIGKILL and a
resume, two searches writing one table, and every kind of bad input. For each scenario:

* the search survives (finishes, exit 0, a good trial runs after the fault), or it stops with
  one clear line on stderr and the documented exit code;
* no finished trial is lost: every COMPLETE trial in the study before is COMPLETE after, with
  the same value;
* nothing wrong or unverified reaches a table: every entry has FAULT in (0, 8) (the correct
  kernels) and a small error, and an entry is only ever replaced by a faster one.

HKTUNE_RELIABILITY_RUNS=N repeats every scenario N times; HKTUNE_RELIABILITY_LOG=PATH appends
one JSON line per scenario run, which tests/reliability_report.py turns into docs/reliability.md.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from reliability_harness import (FAULTY, HANG_TIMEOUT, RACY, SHAPE, TRIAL_TIMEOUT, Outcome,  # noqa: E402
                                 Snapshot, audit, complete, entries, fresh, hk, search, snapshot, trials, variant)

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("HKTUNE_RELIABILITY_RUNS", "1"))
LOG = os.environ.get("HKTUNE_RELIABILITY_LOG")


# -- a scenario's verdict, and the state the scenarios start from ------------------------------------------
def report(out: Outcome, t0: float) -> None:
    out.seconds = round(time.perf_counter() - t0, 1)
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(asdict(out)) + "\n")
    assert not out.problems and out.survived, (out.problems, out.detail)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A results folder holding one finished trial (FAULT=0, BLOCK=16) and its table entry: the
    'before' that each scenario starts from, on a copy."""
    root = tmp_path_factory.mktemp("reliability-base")
    variant(root, [0])
    r = search(root, root / "results", trials_=1)
    assert r.returncode == 0, r.stderr
    assert len(complete(trials(root / "results"))) == 1 and len(entries(root / "results" / "host.yaml")) == 1
    return root / "results"


# -- faults during a search ----------------------------------------------------------------------------
FAULTS = [
    # (scenario, source, FAULT, words the failed trial's reason must contain)
    ("crash: segfault", FAULTY, 1, "SIGSEGV"),
    ("crash: abort", FAULTY, 7, "SIGABRT"),
    ("hang", FAULTY, 2, "timed out"),
    ("trial timeout (slow but right)", RACY, 11, "timed out"),
    ("wrong result", FAULTY, 3, "wrong result"),
    ("intermittently wrong (every 3rd launch)", FAULTY, 5, "wrong result"),
    ("race: tile written after return", RACY, 9, "NaN"),
    ("unwritten output", FAULTY, 4, "NaN"),
    ("compile error", FAULTY, 6, "planted compile error"),
]


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("scenario, source, fault, reason", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_during_search(base, tmp_path, scenario, source, fault, reason, run):
    """Resume the base study over (16, FAULT) then (16, 8): the fault fails its trial with its
    reason, the correct config after it still runs, nothing finished is lost, nothing bad is stored."""
    t0 = time.perf_counter()
    out = Outcome(scenario, "fault", run, f"exit 0; trial FAIL with '{reason}'; search goes on")
    results = fresh(base, tmp_path)
    variant(tmp_path, [0, fault, 8], source)
    before = snapshot(results, results / "host.yaml")
    r = search(tmp_path, results, trials_=3, timeout=HANG_TIMEOUT if reason == "timed out" else TRIAL_TIMEOUT)
    after = snapshot(results, results / "host.yaml")
    out.exit_code = r.returncode
    ts = [t for t in trials(results) if not t["duplicate"]]
    faulty = [t for t in ts if t["config"] == {"BLOCK": 16, "FAULT": fault}]
    later = [t for t in ts if t["config"] == {"BLOCK": 16, "FAULT": 8}]
    out.detail = faulty[0]["reason"][:200] if faulty and faulty[0]["reason"] else r.stderr.strip()[-300:]
    out.survived = (r.returncode == 0 and len(faulty) == 1 and faulty[0]["state"] == "FAIL"
                    and reason in (faulty[0]["reason"] or "") and [t["state"] for t in later] == ["COMPLETE"])
    if not out.survived:
        out.detail += f" | exit {r.returncode}; trials {[(t['config'], t['state'], t['reason']) for t in ts]}; {r.stderr.strip()[-400:]}"
    audit(out, before, after)
    report(out, t0)


@pytest.mark.parametrize("run", range(RUNS))
def test_every_config_failing_exits_1_and_writes_no_table(tmp_path, run):
    t0 = time.perf_counter()
    out = Outcome("every config fails (fresh study)", "fault", run, "exit 1, one line, no table")
    variant(tmp_path, [3, 4], blocks=(16,), space_text=yaml.safe_dump({
        "family": "rel", "params": {"BLOCK": [16], "FAULT": [3, 4]}, "shape_constraints": ["M % BLOCK == 0"],
        "limits": {"host": {}}}))
    results = tmp_path / "results"
    r = search(tmp_path, results, trials_=5)
    out.exit_code = r.returncode
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("hktune: error:")]
    out.detail = lines[0] if lines else r.stderr.strip()[-300:]
    ts = trials(results)
    out.survived = (r.returncode == 1 and len(lines) == 1 and "no config passed verification" in lines[0]
                    and not (results / "host.yaml").exists() and sorted(t["state"] for t in ts) == ["FAIL", "FAIL"])
    audit(out, Snapshot({}, [], None), snapshot(results, results / "host.yaml"))
    report(out, t0)


# -- SIGKILL and resume -----------------------------------------------------------------------------------
def _workers_with(mark: str) -> list[int]:
    """Run workers started with our marker in their environment (orphans included)."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if b"hktune.run.worker" in (p / "cmdline").read_bytes() and f"HKTUNE_TEST_MARK={mark}".encode() in (p / "environ").read_bytes():
                pids.append(int(p.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_mid_search_then_resume(tmp_path, run):
    """SIGKILL a running search (and its process group) mid-trial: its worker goes away, the
    resume says how many trials were done, runs only new ones, and loses none."""
    t0 = time.perf_counter()
    out = Outcome("SIGKILL mid-search, then resume", "kill", run, "resume keeps every finished trial; no orphan worker")
    results, study = tmp_path / "results", "host-host-bf16-64x64x128"
    mark = uuid.uuid4().hex
    args = [sys.executable, "-m", "hktune", "search", "--m", "64", "--n", "64", "--k", "128", "--arch", "host",
            "--sampler", "random", "--trials", "200", "--table", str(results / "host.yaml"), "--quiet"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         env={**os.environ, "HKTUNE_TEST_MARK": mark})
    deadline = time.time() + 120
    try:
        while len(complete(trials(results, study))) < 3 and time.time() < deadline and p.poll() is None:
            time.sleep(0.3)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    killed_at = snapshot(results, results / "host.yaml", study)
    # The worker runs in its own session (so a hung kernel can be killed as a group); with its
    # parent gone, its stdin closes and it must exit on its own.
    deadline = time.time() + 20
    while _workers_with(mark) and time.time() < deadline:
        time.sleep(0.3)
    orphans = _workers_with(mark)
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    done = len(killed_at.complete)
    # the study's total counts every evaluated config: completed, failed and pruned after compiling
    evaluated = sum(1 for t in trials(results, study) if t["state"] in ("COMPLETE", "FAIL", "PRUNED"))
    r = hk("search", "--m", "64", "--n", "64", "--k", "128", "--arch", "host", "--sampler", "random",
           "--trials", str(evaluated + 2), "--table", str(results / "host.yaml"), "--quiet")
    after = snapshot(results, results / "host.yaml", study)
    out.exit_code = r.returncode
    left_running = [t for t in trials(results, study) if t["state"] == "RUNNING"]
    out.detail = (f"{done} COMPLETE when killed; {len(after.complete)} after the resume; orphan workers: {len(orphans)}; "
                  f"trials left RUNNING by the killed search: {len(left_running)}")
    # Trials the killed search had asked (compile-ahead) stay RUNNING until they are older than
    # search.STALE_AFTER_S (a live search may share the study); their configs stay candidates.
    out.survived = (done >= 3 and r.returncode == 0 and f"{evaluated} trials done before" in r.stderr
                    and len(after.complete) >= done + 1 and not orphans)
    if not out.survived:
        out.detail += f" | exit {r.returncode}; running {len(left_running)}; {r.stderr.strip()[-400:]}"
    audit(out, killed_at, after)
    report(out, t0)


def test_sigkill_during_a_hang_leaves_no_orphan_worker(tmp_path):
    """SIGKILL a search while its worker is stuck in a hanging kernel: the worker must not
    outlive it (on a GPU it would hold the device); its parent watch makes it exit."""
    t0 = time.perf_counter()
    out = Outcome("SIGKILL during a hang: no orphan worker", "kill", 0, "the hung worker exits with its search")
    variant(tmp_path, [2, 0], blocks=(16,))
    results, mark = tmp_path / "results", uuid.uuid4().hex
    p = subprocess.Popen([sys.executable, "-m", "hktune", "search", *SHAPE, "--arch", "host", "--family", "rel",
                          "--sampler", "exhaustive", "--trials", "2", "--trial-timeout", "120",
                          "--table", str(results / "host.yaml"), "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         env={**os.environ, "HKTUNE_TEST_MARK": mark, "HKTUNE_FAMILY_PATH": str(tmp_path / "families")})
    deadline = time.time() + 90
    try:
        while time.time() < deadline and p.poll() is None and not any(
                t["state"] == "RUNNING" and t["config"] == {"BLOCK": 16, "FAULT": 2} for t in trials(results)):
            time.sleep(0.3)
        time.sleep(4)  # compiled and launched: the worker is now inside the endless kernel
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    time.sleep(5)
    orphans = _workers_with(mark)
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    out.survived = not orphans
    out.detail = f"orphan workers 5 s after the SIGKILL: {len(orphans)}"
    report(out, t0)


# -- two writers, one table -------------------------------------------------------------------------------
@pytest.mark.parametrize("run", range(RUNS))
def test_two_searches_write_one_table_at_once(tmp_path, run):
    t0 = time.perf_counter()
    out = Outcome("two searches, one table, at once", "concurrency", run, "both exit 0; both entries and studies present")
    results = tmp_path / "results"
    table = results / "host.yaml"
    procs = [subprocess.Popen([sys.executable, "-m", "hktune", "search", "--m", "64", "--n", "64", "--k", str(k),
                               "--arch", "host", "--sampler", "random", "--trials", "3", "--table", str(table), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in (64, 128)]
    codes = [p.wait(timeout=300) for p in procs]
    errs = [p.stderr.read() for p in procs]
    out.exit_code = max(codes)
    keys = sorted(e["key"]["k"] for e in entries(table))
    studies = [len(complete(trials(results, f"host-host-bf16-64x64x{k}"))) for k in (64, 128)]
    out.detail = f"exit codes {codes}; table keys k={keys}; COMPLETE trials per study {studies}"
    out.survived = codes == [0, 0] and keys == [64, 128] and min(studies) >= 1
    if not out.survived:
        out.detail += " | " + " | ".join(e.strip()[-200:] for e in errs)
    audit(out, Snapshot({}, [], None), snapshot(results, table))
    report(out, t0)


# -- bad input: one clear line, the documented code, nothing saved is changed --------------------------------
def _broken_space(kind: str) -> str:
    return {
        "not YAML": "family: rel\nparams: {BLOCK: [16, 32\n",
        "unsafe expression": ("family: rel\nparams: {BLOCK: [16], FAULT: [0]}\n"
                              "constraints: ['__import__(\"os\").system(\"touch /tmp/pwned\") == 0']\nlimits: {host: {}}\n"),
        "unknown name": "family: rel\nparams: {BLOCK: [16], FAULT: [0]}\nconstraints: ['BLOKC > 0']\nlimits: {host: {}}\n",
    }[kind]


BAD = [
    # (scenario, how to set it up, extra search args, exit code, words of the one line)
    ("malformed space: not YAML", "space:not YAML", [], 2, "not valid YAML"),
    ("malformed space: unsafe expression", "space:unsafe expression", [], 2, "space.yaml"),
    ("malformed space: unknown name", "space:unknown name", [], 2, "unknown name(s) BLOKC"),
    ("malformed table YAML", "table:schema: 1\nentries: [\n", [], 2, "not valid YAML"),
    ("malformed table: entry lacks fields", "table:schema: 1\nentries:\n- {key: {family: rel}}\n", [], 2, "missing field"),
    ("unknown arch", "", ["--arch", "gfx1234"], 2, "unknown arch"),
    ("missing compiler", "env:HKTUNE_CXX=/nonexistent/g++", [], 3, "no C++ compiler: /nonexistent/g++ not found"),
    ("shape not divisible by any block", "", ["--m", "100"], 2, "no config of family rel is legal for 100x64x64"),
    ("non-positive size: zero", "", ["--k", "0"], 2, "--k must be a positive integer"),
    ("non-positive size: negative", "", ["--m", "-64"], 2, "--m must be a positive integer"),
    ("unwritable results directory: a file in the way", "blocked", [], 2, "cannot create results directory"),
    ("unwritable results directory: read-only", "readonly", [], 2, "not writable"),
]


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("scenario, setup, extra, code, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input(base, tmp_path, scenario, setup, extra, code, message, run):
    t0 = time.perf_counter()
    out = Outcome(scenario, "bad input", run, f"exit {code}, one line: '{message}'; nothing saved changes")
    results = fresh(base, tmp_path)
    table = results / "host.yaml"
    variant(tmp_path, [0])
    env: dict[str, str] = {}
    if setup.startswith("space:"):
        variant(tmp_path, [0], space_text=_broken_space(setup[6:]))
    elif setup.startswith("table:"):
        table.write_text(setup[6:])
    elif setup.startswith("env:"):
        k, _, v = setup[4:].partition("=")
        env[k] = v
    elif setup == "blocked":
        (tmp_path / "file").write_text("x")
        table = tmp_path / "file" / "results" / "host.yaml"
    elif setup == "readonly":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only directories")
        os.chmod(results, 0o555)
    before = snapshot(results, results / "host.yaml")
    args = ["search", *SHAPE, "--arch", "host", "--family", "rel", "--trials", "3", "--table", str(table), "--quiet"]
    # Later options win in click, so the scenario's own --arch/--m/--k replace the defaults.
    r = hk(*args, *extra, env={"HKTUNE_FAMILY_PATH": str(tmp_path / "families"), **env})
    if setup == "readonly":
        os.chmod(results, 0o755)
    after = snapshot(results, results / "host.yaml")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    out.exit_code = r.returncode
    out.detail = lines[0] if len(lines) == 1 else r.stderr.strip()[-300:]
    out.survived = r.returncode == code and len(lines) == 1 and message in lines[0]
    if after.table_bytes != before.table_bytes:
        out.problems.append("the table file changed")
    if after.complete != before.complete or len(trials(results)) != 1:
        out.problems.append("the study changed")
    assert not Path("/tmp/pwned").exists()
    audit(out, before, after)
    report(out, t0)
