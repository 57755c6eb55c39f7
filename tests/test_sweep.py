"""`hktune sweep`: the rule on its own, then real sweeps of real tables through the command
line: a clean table passes; a planted slowdown, a slow config carrying a fast figure, a wrong
kernel and a broken build fail; provenance changes are race-hunted and reported; skips,
--require-all, --update, filters and bad input give the documented exit codes."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from hktune.record import table as tbl
from hktune.sweep.sweep import IMPROVED, PASS, REGRESSION, SweepError, judge, parse_shapes, provenance_diff  # noqa: F401

SHAPE = ["--m", "64", "--n", "64", "--k", "64"]
# a valid config of the cuda family (its configs are checked before the missing GPU skips it)
CUDA_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 64, "K_STEP": 32, "WARPS_M": 2, "WARPS_N": 2, "PREFETCH": 2, "WAIT": 1,
               "OCCUPANCY": 1, "GROUP_M": 8}


def hk(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# -- the rule (its statistics are tested with injected timings in tests/test_judge.py) ----------------
@pytest.mark.parametrize("stored, new, status", [
    (1.00, 1.00, PASS),
    (1.00, 0.50, REGRESSION),   # half as fast beats any plausible noise
    (1.00, 1.50, IMPROVED),
])
def test_judge_on_precise_paired_ratios(stored, new, status):
    def m(r: float) -> dict:
        return {"ratio": r, "ratio_lo": r * 0.998, "ratio_hi": r * 1.002, "precision": 0.002}
    got, slowdown, limit, why = judge(m(stored), m(new))
    assert got == status, (got, why)


def test_a_poor_baseline_is_refused_never_a_wider_threshold():
    poor = {"ratio": 1.0, "spread": 13.88}                 # the old-style entry of the issue: 1388% spread
    got, _, limit, why = judge(poor, {"ratio": 1 / 14, "ratio_lo": 0.07, "ratio_hi": 0.072, "precision": 0.01})
    assert got != PASS and limit == 0.03 and "re-baseline with --update" in why


def test_parse_shapes():
    assert parse_shapes("64x64x64, 128X256x512") == {(64, 64, 64), (128, 256, 512)}
    assert parse_shapes(None) is None
    for bad in ("64x64", "axbxc", "0x64x64", "-1x64x64", ","):
        with pytest.raises(SweepError):
            parse_shapes(bad)


def test_provenance_diff_names_what_changed():
    e = tbl.Entry(key=tbl.Key("host", "host", "bf16", "ABt", 64, 64, 64), config={}, tflops=1, time_us=1, spread=0,
                  vendor={}, ratio=1, error=0, trials=1, date="d", device={"name": "A", "units": 2, "arch": "host"},
                  toolchain={"compiler": "g++ 11", "torch": "2.13", "include:include": "abc"}, template_hash="h1")
    info = {"name": "A", "units": 2, "arch": "host"}
    same = {"compiler": "g++ 11", "torch": "2.13", "include:include": "abc"}
    assert provenance_diff(e, info, same, "h1") == []
    diff = provenance_diff(e, {**info, "name": "B"}, {**same, "include:include": "def"}, "h2")
    assert diff == ["device.name: 'A' -> 'B'", "toolchain.include:include: 'abc' -> 'def'", "template_hash: h1 -> h2"]


def _synthetic_report(require_all: bool):
    from hktune.sweep.sweep import SKIPPED, SweepOptions, SweepReport, Verdict

    def entry(m: int) -> tbl.Entry:
        return tbl.Entry(key=tbl.Key("host", "host", "bf16", "ABt", m, 64, 64), config={"B": 16}, tflops=1.0, time_us=1.0,
                         spread=0.01, vendor={"tflops": 2.0}, ratio=0.5, error=1e-3, trials=1, date="d",
                         device={"name": "A"}, toolchain={}, template_hash="h")

    res = {"ok": True, "tflops": 0.5, "vendor_tflops": 2.0, "spread": 0.01, "median_us": 2.0, "error": 1e-3}
    verdicts = [Verdict(entry(64), PASS, result={**res, "tflops": 1.0}, slowdown=0.0, threshold=0.03),
                Verdict(entry(128), REGRESSION, "1 -> 0.5 TFLOP/s", result=res, slowdown=1.0, threshold=0.03,
                        provenance=["toolchain.compiler: 'a' -> 'b'"], race_hunted=True, measurements=2),
                Verdict(entry(256), SKIPPED, "--arch x needs a GPU")]
    return SweepReport(Path("t.yaml"), SweepOptions(require_all=require_all), verdicts, "now", 1.0, total_entries=3)


@pytest.mark.parametrize("require_all", [False, True])
def test_reports_render_from_verdicts(require_all):
    from hktune.sweep.report import junit, markdown

    rep = _synthetic_report(require_all)
    assert rep.exit_code() == 1
    root = ET.fromstring(junit(rep))
    cases = list(root.iter("testcase"))
    assert len(cases) == 3 and root.get("failures") == ("2" if require_all else "1")
    assert cases[1].find("failure").get("type") == "regression"
    assert "provenance: toolchain.compiler: 'a' -> 'b'" in cases[1].find("failure").text
    if require_all:
        assert cases[2].find("failure").get("type") == "skipped" and cases[2].find("skipped") is None
    else:
        assert cases[2].find("skipped").get("message") == "skipped: --arch x needs a GPU"
    md = markdown(rep)
    assert md.startswith("## hktune sweep: FAIL: 1 regression, 1 pass, 1 skipped")
    assert "| ❌ regression | host/host | 128x64x64 |" in md and "-50.0%" in md and "### Provenance differs" in md


# -- real sweeps ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    """A real entry: the faulty family's correct kernel (FAULT=0) at 64x64x64, found by a search."""
    d = tmp_path_factory.mktemp("sweep-src")
    table = d / "host.yaml"
    r = hk("search", *SHAPE, "--arch", "host", "--family", "faulty", "--sampler", "exhaustive", "--trials", "1",
           "--table", str(table), "--quiet")
    assert r.returncode == 0, r.stderr
    entry = yaml.safe_load(table.read_text())["entries"][0]
    assert entry["config"] == {"FAULT": 0, "BLOCK": 16}
    return entry


def _table(path: Path, entries: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"schema": 1, "entries": entries}, sort_keys=False))
    return path


def _scaled(entry: dict, factor: float) -> dict:
    """The entry with its speed figures (TFLOP/s and the paired ratio with its CI and rounds) times factor."""
    e = copy.deepcopy(entry)
    e["tflops"] *= factor
    for k in ("ratio", "ratio_lo", "ratio_hi"):
        if isinstance(e.get(k), (int, float)):
            e[k] *= factor
    if e.get("ratios"):
        e["ratios"] = [x * factor for x in e["ratios"]]
    return e


def _precise(d: dict) -> dict:
    """``d`` with a paired ratio known to +-0.5% (CI and 8 equal round ratios) and a 1% spread, timed
    on an undisturbed machine (the injected timing carries no load warnings of the real run)."""
    r = d["ratio"]
    return {**d, "spread": 0.01, "ratio_lo": r * 0.995, "ratio_hi": r * 1.005, "precision": 0.005, "ratios": [r] * 8,
            "warnings": []}


def _variant(entry: dict, shape: tuple[int, int, int] | None = None, **changes) -> dict:
    e = copy.deepcopy(entry)
    if shape:
        e["key"].update(m=shape[0], n=shape[1], k=shape[2])
    for k, v in changes.items():
        e[k] = v
    return e


class _Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def injected_timing(monkeypatch, measured):
    """Kernels really build, run and are really verified (and race-hunted); only the timing is
    injected: every correct kernel runs at the measured speed, FAULT=8 ("slow but right") at a
    tenth of it, each with a 1% spread. Machine load then cannot move a verdict."""
    from hktune.run.runner import Worker

    real = Worker.evaluate

    def evaluate(self, lib, expected, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        res = real(self, lib, expected, *args, **kwargs)
        if res.get("ok") and "tflops" in res:
            slow = 10 if "FAULT=8" in (expected or "") else 1
            res.update(_precise({**res, "tflops": measured["tflops"] / slow, "ratio": measured["ratio"] / slow}))
        return res

    monkeypatch.setattr(Worker, "evaluate", evaluate)
    return _precise(measured)  # the stored figure with a known precision too


def _sweep(table: Path, tmp_path: Path, *extra: str) -> tuple[_Ran, dict[str, ET.Element], str]:
    """The sweep command, in-process (so that injected timings reach it)."""
    from click.testing import CliRunner

    from hktune.commands import main

    junit, md = tmp_path / "sweep.xml", tmp_path / "sweep.md"
    res = CliRunner().invoke(main, ["sweep", "--table", str(table), "--junit", str(junit), "--markdown", str(md), *extra],
                             catch_exceptions=False)
    r = _Ran(res.exit_code, res.stdout, res.stderr)
    cases = {}
    if junit.exists():
        for c in ET.parse(junit).getroot().iter("testcase"):
            cases[c.get("name").split(" [")[0].split()[-1]] = c  # by MxNxK
    return r, cases, md.read_text() if md.exists() else ""


def _failure(case: ET.Element) -> ET.Element | None:
    return case.find("failure")



@pytest.mark.slow
def test_clean_table_passes_and_skips_are_reported(injected_timing, tmp_path):
    measured = injected_timing
    sm90 = _variant(measured, (256, 256, 256), config=CUDA_CONFIG)
    sm90["key"].update(family="cuda", arch="sm_90")
    table = _table(tmp_path / "t.yaml", [measured, sm90])
    before = table.read_text()
    lenient = ()  # timings are injected: the default tolerance holds under any load
    r, cases, md = _sweep(table, tmp_path, *lenient)
    assert r.returncode == 0, r.stderr + r.stdout
    assert _failure(cases["64x64x64"]) is None and cases["64x64x64"].find("skipped") is None
    skip = cases["256x256x256"].find("skipped")
    assert skip is not None and skip.get("message").startswith("skipped: --arch sm_90 needs an NVIDIA GPU")
    assert "PASS" in md and "✅ pass" in md and "skipped: --arch sm_90" in md
    assert "race-hunted: no" in cases["64x64x64"].find("system-out").text  # same provenance: no hunt needed
    assert table.read_text() == before  # a sweep without --update never writes the table

    # --require-all turns the skip into a failure (exit 1), the clean entry still passes.
    r, cases, md = _sweep(table, tmp_path, "--require-all", *lenient)
    assert r.returncode == 1, r.stderr
    f = _failure(cases["256x256x256"])
    assert f is not None and f.get("type") == "skipped" and "needs an NVIDIA GPU" in f.get("message")
    assert _failure(cases["64x64x64"]) is None


@pytest.mark.slow
def test_planted_slowdowns_wrong_result_and_broken_build_fail(injected_timing, tmp_path):
    measured = injected_timing
    clean_elsewhere = _variant(measured, toolchain={**measured["toolchain"], "compiler": "g++ (elsewhere) 99.1"},
                               template_hash="0123456789abcdef")
    entries = [
        clean_elsewhere,                                                               # 64x64x64: passes, race-hunted
        _variant(_scaled(measured, 30.0), (128, 64, 64)),                              # stored figure inflated 30x
        _variant(measured, (64, 128, 64), config={"FAULT": 8, "BLOCK": 16}),            # slow kernel, fast figure
        _variant(measured, (64, 64, 128), config={"FAULT": 3, "BLOCK": 16}),            # wrong kernel
        _variant(measured, (128, 128, 64), config={"FAULT": 6, "BLOCK": 16}),           # does not compile
        _variant(measured, (32, 32, 64), config={"FAULT": 0, "BLOCK": 64}),             # not legal for its shape
    ]
    table = _table(tmp_path / "t.yaml", entries)
    r, cases, md = _sweep(table, tmp_path)
    assert r.returncode == 1, r.stderr + r.stdout
    assert len(cases) == 6

    ok = cases["64x64x64"]
    assert _failure(ok) is None, ok.find("failure").get("message")
    out = ok.find("system-out").text
    assert "race-hunted: yes" in out
    assert "provenance: toolchain.compiler: 'g++ (elsewhere) 99.1' -> 'g++" in out
    assert "provenance: template_hash: 0123456789abcdef ->" in out

    for shape in ("128x64x64", "64x128x64"):
        f = _failure(cases[shape])
        assert f is not None and f.get("type") == "regression", (shape, f is not None and f.get("message"))
        assert "measurements: 2" in f.text  # a suspected regression is re-measured before it counts
    f = _failure(cases["64x64x128"])
    assert f is not None and f.get("type") == "wrong" and "wrong result" in f.get("message")
    f = _failure(cases["128x128x64"])
    assert f is not None and f.get("type") == "build failed" and "planted compile error" in f.get("message")
    f = _failure(cases["32x32x64"])
    assert f is not None and f.get("type") == "invalid" and "BLOCK" in f.get("message")

    assert md.startswith("## hktune sweep: FAIL")
    assert "### Failures" in md and "### Provenance differs" in md and "toolchain.compiler" in md
    root = ET.parse(tmp_path / "sweep.xml").getroot()
    assert root.get("tests") == "6" and root.get("failures") == "5"


@pytest.mark.slow
def test_update_stores_a_faster_verified_result(measured, tmp_path, monkeypatch):
    """The kernel really runs and is really verified and race-hunted; only its timing is injected
    (the stored figure's own speed, spread 1%), so machine load cannot make the 4x gap vanish."""
    from hktune.run.runner import Worker
    from hktune.sweep.sweep import SweepOptions, run_sweep

    real = Worker.evaluate

    def evaluate(self, *args, **kwargs):
        res = real(self, *args, **kwargs)
        if res.get("ok") and "tflops" in res:
            res.update(_precise({**res, "tflops": measured["tflops"], "ratio": measured["ratio"]}))
        return res

    monkeypatch.setattr(Worker, "evaluate", evaluate)
    slow_figure = _precise(_scaled(measured, 0.25))
    table = _table(tmp_path / "t.yaml", [slow_figure])
    report = run_sweep(table, SweepOptions(update=True))
    (v,) = report.verdicts
    assert report.exit_code() == 0 and v.status == IMPROVED, (v.status, v.message)
    assert v.race_hunted and v.updated  # hunted before it may enter the table
    (stored,) = tbl.load(table)
    assert stored.tflops == pytest.approx(measured["tflops"]) and stored.extra.get("sweep") is True
    assert stored.config["FAULT"] in (0, 8) and stored.error < 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("args, code, message", [
    (["--shapes", "64x64"], 2, "--shapes: expected MxNxK"),
    (["--shapes", "0x64x64"], 2, "--shapes: sizes must be positive"),
    (["--arch", "gfx1234"], 2, "unknown arch 'gfx1234'"),
    (["--tolerance", "-1"], 2, "--tolerance must be >= 0"),
    (["--shapes", "8x8x8"], 3, "nothing runnable: no entry of the table matches"),
    (["--family", "nosuch"], 3, "nothing runnable"),
    (["--arch", "sm_90"], 3, "nothing runnable"),
])
def test_bad_input_and_nothing_selected(measured, tmp_path, args, code, message):
    table = _table(tmp_path / "t.yaml", [measured])
    r = hk("sweep", "--table", str(table), *args)
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr


@pytest.mark.slow
def test_only_skipped_entries_exit_3_with_the_reason(measured, tmp_path):
    sm90 = _variant(measured, config=CUDA_CONFIG)
    sm90["key"].update(family="cuda", arch="sm_90")
    r = hk("sweep", "--table", str(_table(tmp_path / "t.yaml", [sm90])), "--junit", str(tmp_path / "j.xml"))
    assert r.returncode == 3 and "every selected entry was skipped: --arch sm_90 needs an NVIDIA GPU" in r.stderr
    assert ET.parse(tmp_path / "j.xml").getroot().get("skipped") == "1"  # the report is written all the same


@pytest.mark.slow
def test_missing_malformed_table_and_unwritable_report(tmp_path):
    r = hk("sweep", "--table", str(tmp_path / "none.yaml"))
    assert r.returncode == 2 and r.stderr.strip() == f"hktune: error: no table at {tmp_path / 'none.yaml'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nentries: [\n")
    r = hk("sweep", "--table", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not valid YAML" in r.stderr
    assert bad.read_text() == "schema: 1\nentries: [\n"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    good = _table(tmp_path / "t.yaml", [])
    r = hk("sweep", "--table", str(good), "--junit", str(blocker / "j.xml"))
    assert r.returncode == 2 and "--junit: cannot create directory" in r.stderr


@pytest.mark.skipif(not os.environ.get("HKTUNE_TEST_TK"), reason="needs HKTUNE_TEST_TK (a ThunderKittens checkout)")
def test_an_fp8_entry_is_swept_with_the_family_s_fp8_kernel_and_space():
    """Until 2026-12-05 the sweep grouped entries by (family, arch) and resolved the bf16 target for all of them, so
    an fp8 entry was judged by the bf16 space ("PROMOTE=2 not in [0]") and would have been built without -DHKT_FP8."""
    from hktune.sweep.sweep import Group, SweepOptions, _config_problem

    root = Path(__file__).resolve().parent.parent
    table = root / "bench" / "results" / "h100-2026-12-05c" / "fp8-8192" / "search" / "sm_90.yaml"
    e = tbl.load(table)[0]
    assert e.key.dtype == "fp8_e4m3" and e.config["PROMOTE"] > 0
    opts = SweepOptions(roots={"thunderkittens": os.environ["HKTUNE_TEST_TK"]})
    g = Group("thunderkittens", "sm_90", opts, e.key.dtype)
    assert g.target.dtype.name == "fp8_e4m3" and "-DHKT_FP8" in g.target.flags
    assert g.space.path.name == "thunderkittens-sm_90-fp8_e4m3.yaml" and _config_problem(g.space, e) is None
    bf16 = Group("thunderkittens", "sm_90", opts)
    assert bf16.target.dtype.name == "bf16" and "PROMOTE=2 not in [0]" in _config_problem(bf16.space, e)
    for grp in (g, bf16):
        grp.close()
