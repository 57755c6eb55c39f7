"""The command line's contract, case by case, as a new user meets it: every error is one line
``hktune: error: ...`` with its documented exit code (2 bad input, 3 something missing, 1 work
failed, 130 interrupted), and a refused command creates no file. Runs in-process (click's
CliRunner) with the search's trials faked where a case is about the command, not the kernels."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hktune.commands import main

ENTRY = """schema: 1
entries:
- key: {family: host, arch: host, dtype: bf16, layout: ABt, m: 64, n: 64, k: 64}
  config: {BLOCK_M: 32, BLOCK_N: 32, BLOCK_K: 64, MICRO_M: 4, SCHEDULE: 0}
  tflops: 0.01
  time_us: 52.4
  spread: 0.04
  vendor: {name: torch.matmul, tflops: 0.1, time_us: 5.2}
  ratio: 0.1
  error: 0.0017
  trials: 3
  date: '2026-12-01T00:00:00+00:00'
  device: {name: CPU, units: 2, arch: host}
  toolchain: {compiler: g++, torch: 2.13.0+cpu, backend: cpu}
  template_hash: 0000000000000000
"""


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_error(r, code: int, *needles: str) -> str:  # noqa: ANN001
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == code, (r.exit_code, r.stderr, r.stdout)
    assert len(lines) >= 1 and lines[-1].startswith("hktune: error: "), r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    for n in needles:
        assert n in lines[-1], lines[-1]
    return lines[-1]


# -- bad input is refused before any work, and creates nothing ----------------------------------
@pytest.mark.parametrize("extra, needle", [
    (["--trial-timeout", "0"], "--trial-timeout must be a positive number"),
    (["--trial-timeout", "-1"], "--trial-timeout must be a positive number"),
    (["--timeout", "-5"], "--timeout must be a positive number"),
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--storage", "not a url at all"], "neither a URL"),
    (["--storage", "nodir/studies.journal"], "neither a URL"),
    (["--arch", "hots"], "unknown arch 'hots' (known: "),
    (["--m", "1048576", "--n", "1048576", "--k", "1048576"], "shape too large: 1048576x1048576x1048576 needs"),
    (["--m", "63"], "no config of family host is legal for 63x64x64"),
])
def test_search_refuses_before_any_work(cwd, extra, needle):
    args = ["search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--trials", "1",
            "--table", str(cwd / "t" / "t.yaml")]
    for i in range(0, len(extra), 2):  # later options win: replace a default given above
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i:i + 2]
    one_error(run(*args), 2, needle)
    assert files(cwd) == set()  # no table folder, no journal, no junk study


def test_memory_precheck_sizes_the_buffers():
    from hktune.errors import BadInput
    from hktune.run.memory import check_fits, required_bytes

    # 3 bf16 matrices + the vendor's output + the fp32 reference, two sets at least.
    assert required_bytes(1024, 1024, 1024) >= 2 * (3 * 2 + 2 + 4) * 2**20
    check_fits([(64, 64, 64)], {"arch": "sm_90", "name": "GPU", "free_bytes": 2**30, "llc_bytes": 0})
    with pytest.raises(BadInput, match="more than GPU's free memory"):
        check_fits([(65536, 65536, 65536)], {"arch": "sm_90", "name": "GPU", "free_bytes": 80 * 2**30, "llc_bytes": 0})


@pytest.mark.parametrize("args, needle", [
    (["show", "--table", "typo.yaml"], "no such table"),
    (["show", "--studies", "--storage", "typo.journal"], "no such journal file"),
    (["show", "--studies", "--storage", "sqlite:///typo.db"], "no such SQLite file"),
    (["show", "--studies", "--storage", "not a url at all"], "neither a URL"),
    (["show", "--study", "foo"], "--study only applies with --studies"),
    (["show", "--storage", "x.journal"], "--storage only applies with --studies"),
    (["report", "foo", "--storage", "typo.journal"], "no such journal file"),
    (["export", "--table", "typo.yaml"], "no such table"),
    (["bench", "--table", "typo.yaml"], "no such table"),
    (["compile", "--arch", "nope", "--all"], "unknown arch 'nope'"),
])
def test_read_only_commands_refuse_typos_and_create_nothing(cwd, args, needle):
    pytest.importorskip("matplotlib") if args[0] == "report" else None
    one_error(run(*args), 2, needle)
    assert files(cwd) == set()


def test_export_bad_output_path_is_one_line_exit_2(cwd):
    (cwd / "t.yaml").write_text(ENTRY)
    for out in ("/proc/x.h", str(cwd / "nodir" / "x.h"), str(cwd)):
        one_error(run("export", "--table", "t.yaml", "--out", out), 2, "--out")
    assert files(cwd) == {"t.yaml"}


def test_export_empty_table_is_refused_and_counts_what_it_writes(cwd):
    (cwd / "empty.yaml").write_text("schema: 1\nentries: []\n")
    one_error(run("export", "--table", "empty.yaml", "--out", "x.h"), 2, "nothing to export")
    assert not (cwd / "x.h").exists()
    (cwd / "t.yaml").write_text(ENTRY)
    r = run("export", "--table", "t.yaml", "--out", "x.h", "--min-ratio", "0.5")
    assert r.exit_code == 0 and "wrote x.h: 0 entries (1 left out below --min-ratio 0.5)" in r.stderr
    r = run("export", "--table", "t.yaml", "--out", "y.h", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["entries"] == 1
    assert "lookup_host_host" in (cwd / "y.h").read_text()


def test_report_without_matplotlib_is_missing_exit_3(cwd, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    one_error(run("report", "foo"), 3, "pip install -e '.[report]'")


# -- the search's own output, with the trials faked ---------------------------------------------
class FakeWorker:
    info = {"name": "CPU", "units": 2, "arch": "host", "llc_bytes": 1 << 20}

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc):  # noqa: ANN002, ANN204
        return False


@pytest.fixture
def fake_search(monkeypatch):  # noqa: ANN201
    """Search.run calls progress `trials` times, then returns, fails or is interrupted."""
    from hktune.run.targets import host
    from hktune.search.driver import Search

    behaviour = {"trials": 2, "then": "done"}
    monkeypatch.setattr(host, "workers", lambda *a, **k: [FakeWorker()])

    def fake_run(self, progress):  # noqa: ANN001, ANN202
        for _ in range(behaviour["trials"]):
            progress(self.summary, {})
        if behaviour["then"] == "interrupt":
            raise KeyboardInterrupt
        return self.summary

    monkeypatch.setattr(Search, "run", fake_run)
    return behaviour


def test_ctrl_c_says_how_many_trials_are_saved_exit_130(cwd, fake_search):
    fake_search.update(trials=3, then="interrupt")
    one_error(run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--table", "t/t.yaml"), 130,
              "interrupted: 3 trials saved; the same command resumes")


def test_click_abort_is_exit_130(monkeypatch):
    @click.command()
    def boom() -> None:
        raise click.exceptions.Abort()

    main.add_command(boom, "boom-test")
    try:
        r = run("boom-test")
    finally:
        main.commands.pop("boom-test")
    assert r.exit_code == 130 and r.stderr.startswith("hktune: error: interrupted")


def test_failed_search_advice_names_the_storage_used_and_progress_is_plain_off_a_tty(cwd, fake_search):
    r = run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--table", "some/dir/t.yaml", "--trials", "2")
    journal = str((cwd / "some" / "dir" / "studies.journal").resolve())
    one_error(r, 1, "no config passed verification for 64x64x64", f"hktune show --studies --storage {journal}")
    assert "\r" not in r.stderr and "progress: 2/2 trials" in r.stderr


def test_shapes_file_illegal_shapes_listed_skipped_exit_1(cwd, fake_search, monkeypatch):
    from hktune.search.driver import Search

    ran = []
    real = Search.__init__

    def init(self, *a, **k):  # noqa: ANN002, ANN003, ANN202
        real(self, *a, **k)
        ran.append(self.shape)
        self.summary.best = {"tflops": 1.0, "median_us": 1.0, "spread": 0.0, "error": 1e-3, "vendor_tflops": 2.0,
                             "config": {"BLOCK_M": 32}}

    monkeypatch.setattr(Search, "__init__", init)
    (cwd / "s.yaml").write_text("shapes:\n- [64, 64, 64]\n- [63, 64, 64]\n- [64, 64, 65]\n")
    r = run("search", "--shapes", "s.yaml", "--arch", "host", "--table", "t/t.yaml", "--trials", "1")
    one_error(r, 1, "skipped 2 that no config can serve: 63x64x64, 64x64x65")
    assert ran == [(64, 64, 64)]  # the legal shape was tuned; the others never made a study
    assert "skipping 2 of 3 shapes" in r.stderr
    (cwd / "bad.yaml").write_text("shapes:\n- [63, 64, 64]\n")
    one_error(run("search", "--shapes", "bad.yaml", "--arch", "host", "--table", "t/t.yaml"), 2, "is legal for 63x64x64")


def test_search_json_has_snake_case_keys_and_config_objects(cwd, fake_search):
    r = run("search", "--m", "64", "--n", "64", "--k", "64", "--arch", "host", "--table", "t/t.yaml", "--json")
    assert r.exit_code == 1  # the fake ran no real trial: nothing verified
    (rec,) = json.loads(r.stdout)
    assert {"study", "storage", "m", "n", "k", "evaluated", "verified", "failed", "best", "table"} <= set(rec)
    assert all(k == k.lower() and " " not in k and "/" not in k for k in rec)


def test_show_studies_json_keys_and_configs(cwd):
    import optuna
    from optuna.distributions import CategoricalDistribution

    from hktune.search.storage import open_storage

    st = optuna.create_study(study_name="s1", storage=open_storage(str(cwd / "s.journal")), direction="maximize")
    st.add_trial(optuna.trial.create_trial(params={"BLOCK_M": 32}, distributions={"BLOCK_M": CategoricalDistribution([32])},
                                           value=1.5, user_attrs={"config": {"BLOCK_M": 32}, "vendor_tflops": 3.0}))
    r = run("show", "--studies", "--storage", "s.journal", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == [{"study": "s1", "verified": 1, "failed": 0, "pruned": 0, "interrupted": 0,
                                                         "best_ratio": 1.5, "best_ratio_lo": None, "best_ratio_hi": None,
                                                         "best": "best trial (no winner decided)", "unreliable": None}]
    r = run("show", "--studies", "--storage", "s.journal", "--study", "s1", "--json")
    (t,) = json.loads(r.stdout)
    assert t["config"] == {"BLOCK_M": 32} and t["ratio"] == 1.5 and t["vendor_tflops"] == 3.0 and t["state"] == "complete"
    one_error(run("show", "--studies", "--storage", "s.journal", "--study", "nope"), 2, "no study 'nope'")


# -- help ---------------------------------------------------------------------------------------
def test_every_option_has_help_and_arch_lists_the_known_archs():
    ctx = click.Context(main)
    for name, cmd in main.commands.items():
        assert cmd.help, name
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.help, (name, p.opts)
        text = cmd.get_help(click.Context(cmd, info_name=name, parent=ctx))
        arch = next((p for p in cmd.params if "--arch" in p.opts), None)
        if arch is not None and isinstance(arch.type, click.Choice):  # a command for some archs only (verify)
            assert all(c in text for c in arch.type.choices), name
        elif arch is not None:
            assert "one of:" in text and "host" in text, name
    top = main.get_help(ctx)
    assert "Exit codes" in top and "130" in top


def test_repeats_default_is_the_same_everywhere():
    from hktune.run.measure import Settings

    defaults = {name: p.default for name, cmd in main.commands.items() for p in cmd.params if p.name == "repeats"}
    assert set(defaults) == {"bench", "sweep"} and set(defaults.values()) == {Settings.repeats}


def test_the_checkout_is_found_from_any_folder(tmp_path, monkeypatch):
    from hktune.family.family import known_archs

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HKTUNE_HOME", raising=False)
    assert "host" in known_archs()



def test_an_os_error_raised_while_ctrl_c_is_handled_is_an_interruption():
    """A storage lock released half-way when Ctrl-C arrived raises FileNotFoundError inside the
    KeyboardInterrupt's handling: that is exit 130 (interrupted), not exit 2 (bad input)."""
    from hktune.commands import _during_interrupt

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise FileNotFoundError(2, "No such file or directory", "studies.journal.lock.rename")
    except FileNotFoundError as e:
        assert _during_interrupt(e)
    assert not _during_interrupt(FileNotFoundError(2, "No such file or directory", "x"))
