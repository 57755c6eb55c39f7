"""What the audit of 2026-12-05 found a user could fall into, case by case: an output option (export --out, shapes --out,
sweep --markdown / --junit) that replaced a results table or a study journal and exited 0; a search that appended a
journal record to a file that is not a journal; a traceback for a non-UTF-8 file or a mistyped table field; a header
exported from a table whose sizes do not fit its `int`s; options accepted that make no sense. Each is refused now with
one line `hktune: error: ...` and exit 2, and no file changes."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from test_cli_contract import ENTRY, one_error, run

JOURNAL = '{"op_code": 0, "worker_id": "x", "study_name": "s", "directions": [1]}\n'


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HKTUNE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "t.yaml").write_text(ENTRY)
    (tmp_path / "studies.journal").write_text(JOURNAL)
    (tmp_path / "notes.txt").write_text("hello\n")
    return tmp_path


@pytest.mark.parametrize("args, needle", [
    (["export", "--table", "t.yaml", "--out", "t.yaml"], "is this command's input"),
    (["export", "--table", "t.yaml", "--out", "studies.journal"], "holds an Optuna study journal"),
    (["shapes", "--tokens", "128", "--linear", "256:512", "--out", "t.yaml"], "holds a results table"),
    (["sweep", "--table", "t.yaml", "--markdown", "t.yaml"], "is this command's input"),
    (["sweep", "--table", "t.yaml", "--junit", "studies.journal"], "holds an Optuna study journal"),
    (["search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t.yaml", "--storage", "notes.txt"],
     "not an Optuna journal"),
    (["show", "--studies", "--storage", "t.yaml"], "not an Optuna journal"),
    (["show", "--studies", "--storage", "sqlite:///notes.txt"], "not an SQLite database"),
    (["export", "--table", "t.yaml", "--out", "h.h", "--min-ratio", "nan"], "--min-ratio must be a finite number"),
    (["verify", "--arch", "gfx950", "--seeds", "--timeout", "0"], "--timeout must be a positive number"),
    (["search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t.yaml", "--tournament-rounds", "0"],
     "--tournament-rounds must be a positive integer"),
    (["search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t.yaml", "--gpu", "0", "--gpus", "0,1"],
     "--gpu and --gpus"),
    (["bench", "--arch", "host", "--config", "BLOCK_M=32", "--m", "64", "--n", "64", "--k", "64", "--shapes", "64x64x64"],
     "--shapes and --m/--n/--k"),
    (["compile", "--arch", "host", "--config", "BLOCK_M=32,BLOCK_M=64"], "BLOCK_M is given twice"),
])
def test_refused_in_one_line_and_nothing_changes(saved: Path, args: list[str], needle: str):
    before = digest(saved)
    one_error(run(*args), 2, needle)
    assert digest(saved) == before


def test_search_checks_the_default_journal_beside_the_table(saved: Path):
    """No --storage: the studies go to studies.journal beside the table, and that file is checked as a given one is."""
    (saved / "studies.journal").write_text("my notes\n")
    before = digest(saved)
    one_error(run("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--table", "t.yaml", "--trials", "1"),
              2, "studies.journal", "not an Optuna journal")
    assert digest(saved) == before


def test_a_refused_sweep_makes_no_report_folder(saved: Path):
    """--markdown / --junit in a missing folder: the folder is made when the report is written, not before the work."""
    one_error(run("sweep", "--table", "t.yaml", "--markdown", "out/r.md", "--junit", "out/r.md"), 2, "name the same file")
    assert not (saved / "out").exists()


@pytest.mark.parametrize("line, needle", [
    ("  space: [a, b]", "space: input should be a valid string"),
    ("  warnings: 5", "warnings: input should be a valid list"),
    ("  method: [1, 2]", "method: input should be a valid string"),
    ("  rounds: 2.5", "rounds: input should be a valid integer"),
])
@pytest.mark.parametrize("command", [["show", "--table", "t.yaml"], ["export", "--table", "t.yaml", "--out", "h.h"],
                                     ["bench", "--table", "t.yaml"]])
def test_a_mistyped_entry_field_is_one_line(saved: Path, line: str, needle: str, command: list[str]):
    (saved / "t.yaml").write_text(ENTRY + line + "\n")
    before = digest(saved)
    one_error(run(*command), 2, "entry 0", needle)
    assert digest(saved) == before


@pytest.mark.parametrize("old, new, needle", [
    ("m: 64,", "m: 3000000000,", "size 3000000000 is not in 1..2147483647"),
    ("m: 64,", "m: -64,", "size -64 is not in 1.."),
    ("BLOCK_M: 32,", "BLOCK_M: 4294967296,", "does not fit a 32-bit int"),
    ("layout: ABt", "layout: AB", "layout AB is not served by family host"),
])
def test_export_refuses_what_the_header_cannot_hold(saved: Path, old: str, new: str, needle: str):
    (saved / "t.yaml").write_text(ENTRY.replace(old, new, 1))
    one_error(run("export", "--table", "t.yaml", "--out", "h.h"), 2, needle)
    assert not (saved / "h.h").exists()


@pytest.mark.parametrize("args", [["show", "--table", "bad.yaml"], ["export", "--table", "bad.yaml", "--out", "h.h"],
                                  ["search", "--arch", "host", "--shapes", "bad.yaml", "--table", "t.yaml"],
                                  ["compile", "--arch", "host", "--space", "bad.yaml", "--config", "BLOCK_M=32"]])
def test_a_file_that_is_not_utf8_text_is_one_line(saved: Path, args: list[str]):
    (saved / "bad.yaml").write_bytes(b"\xff\xfe\x00junk")
    before = digest(saved)
    one_error(run(*args), 2, "not UTF-8 text")
    assert digest(saved) == before


def test_a_shapes_file_with_a_misspelt_key_is_refused(saved: Path):
    (saved / "s.yaml").write_text("shapes:\n- {m: 64, n: 64, k: 64, cnt: 3}\n")
    one_error(run("search", "--arch", "host", "--shapes", "s.yaml", "--table", "t.yaml"), 2, "unknown key 'cnt'")
    (saved / "s.yaml").write_text("shape:\n- [64, 64, 64]\n")
    one_error(run("search", "--arch", "host", "--shapes", "s.yaml", "--table", "t.yaml"), 2, "unknown key 'shape'")


def test_a_space_of_another_family_is_refused(saved: Path):
    root = Path(__file__).resolve().parent.parent
    (saved / "sp.yaml").write_text((root / "configs" / "host.yaml").read_text().replace("family: host", "family: nope"))
    one_error(run("compile", "--arch", "host", "--space", "sp.yaml", "--config", "BLOCK_M=32"), 2,
              "a space of family nope, not of host")


def test_check_model_refuses_a_missing_table_named_by_hktune_table(saved: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("HKTUNE_TABLE", str(saved / "nope.yaml") + os.pathsep + str(saved / "t.yaml"))
    one_error(run("check-model", "--device", "cpu"), 2, "HKTUNE_TABLE names", "nope.yaml: no such table")


def test_overwriting_an_older_header_or_report_is_still_allowed(saved: Path):
    (saved / "h.h").write_text("// an older header\n")
    r = run("export", "--table", "t.yaml", "--out", "h.h")
    assert r.exit_code == 0, r.stderr
    assert "an older header" not in (saved / "h.h").read_text()
