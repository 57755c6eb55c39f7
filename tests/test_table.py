"""The results table: round trip, replace-only-if-faster, concurrent writers, bad files."""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import tempfile
from pathlib import Path

import pytest
import yaml

from hktune.record import table
from hktune.record.table import Entry, Key, TableError, load, lookup, record, save, to_frame


def make_entry(m: int = 8192, n: int = 8192, k: int = 8192, tflops: float = 500.0, error: float = 0.003, **kw) -> Entry:
    return Entry(
        key=Key("cuda", "sm_90", "bf16", "ABt", m, n, k),
        config={"BLOCK_M": 128, "BLOCK_N": 256, "K_STEP": 64},
        tflops=tflops,
        time_us=2146.0,
        spread=0.012,
        vendor={"name": "torch.matmul", "tflops": 693.0},
        ratio=tflops / 693.0,
        error=error,
        trials=200,
        date="2026-11-21T10:00:00+00:00",
        device={"name": "NVIDIA H100 80GB HBM3", "units": 132, "arch": "sm_90"},
        toolchain={"compiler": "nvcc 13.0.88", "torch": "2.11.0", "hipkittens": None},
        template_hash="3f2a0123456789ab",
        **kw,
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "results" / "sm_90.yaml"  # parent created on demand
    entries = [make_entry(m=4096), make_entry(extra={"future_field": {"a": 1}}), make_entry(m=1024, error=float("nan"))]
    save(path, entries)
    back = load(path)
    assert [e.key.m for e in back] == [1024, 4096, 8192]  # sorted by key
    assert back[2].extra == {"future_field": {"a": 1}}
    assert back[1] == entries[0] and back[2] == entries[1]
    assert math.isnan(back[0].error)
    # A newer writer's fields survive a rewrite by this version.
    record(path, make_entry(m=8192, tflops=900.0))
    doc = yaml.safe_load(path.read_text())
    assert doc["schema"] == table.SCHEMA
    assert [e for e in doc["entries"] if e["key"]["m"] == 8192][0]["tflops"] == 900.0
    assert lookup(load(path), make_entry().key).tflops == 900.0


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.yaml") == []
    (tmp_path / "empty.yaml").write_text("")
    assert load(tmp_path / "empty.yaml") == []


def test_unquoted_date_stays_a_string(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    save(path, [make_entry()])
    path.write_text(path.read_text().replace("'2026-11-21T10:00:00+00:00'", "2026-11-21T10:00:00+00:00"))
    assert isinstance(load(path)[0].date, str)


def test_slower_never_replaces_faster(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    assert record(path, make_entry(tflops=500.0)) == (True, None)
    before = path.read_bytes()
    replaced, prev = record(path, make_entry(tflops=400.0))
    assert not replaced and prev is not None and prev.tflops == 500.0
    replaced, _ = record(path, make_entry(tflops=500.0))  # equal is not faster
    assert not replaced
    assert path.read_bytes() == before


def test_faster_replaces(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    record(path, make_entry(tflops=500.0))
    record(path, make_entry(m=1024, tflops=100.0))
    replaced, prev = record(path, make_entry(tflops=600.0))
    assert replaced and prev.tflops == 500.0
    assert sorted((e.key.m, e.tflops) for e in load(path)) == [(1024, 100.0), (8192, 600.0)]


def test_unverified_never_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    record(path, make_entry(tflops=500.0))
    assert record(path, make_entry(tflops=900.0, error=float("nan")))[0] is False
    assert record(path, make_entry(tflops=900.0, error=0.5))[0] is False
    assert record(path, make_entry(tflops=900.0, error=0.004), max_error=0.001)[0] is False
    assert load(path)[0].tflops == 500.0
    # A threshold stored in the table applies when none is passed.
    doc = yaml.safe_load(path.read_text())
    doc["max_error"] = 0.001
    path.write_text(yaml.safe_dump(doc))
    assert record(path, make_entry(tflops=900.0, error=0.004))[0] is False
    assert record(path, make_entry(tflops=900.0, error=0.0005))[0] is True
    assert yaml.safe_load(path.read_text())["max_error"] == 0.001  # kept on rewrite


def test_unverified_stored_entry_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    save(path, [make_entry(tflops=900.0, error=float("inf"))])
    replaced, prev = record(path, make_entry(tflops=100.0))
    assert replaced and prev.tflops == 900.0


def _writer(path: str, worker: int, go) -> None:
    go.wait(60)  # both processes start writing together, so their writes interleave
    for i in range(20):
        record(path, make_entry(m=64 * (worker * 100 + i + 1), tflops=float(i + 1)))


def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "t.yaml")
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, w, go)) for w in range(2)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ms = sorted(e.key.m for e in load(path))
    assert ms == sorted(64 * (w * 100 + i + 1) for w in range(2) for i in range(20))


BAD_FILES = {
    "malformed": ("schema: 1\nentries: [ {key: \n", "not valid YAML"),
    "newer": ("schema: 2\nentries: []\n", "newer"),
    "missing_schema": ("entries: []\n", "no schema"),
    "wrong_schema": ("schema: zero\nentries: []\n", "unsupported schema"),
    "not_a_list": ("schema: 1\nentries: {a: 1}\n", "not a list"),
    "missing_field": ("schema: 1\nentries:\n  - key: {family: cuda, arch: sm_90, dtype: bf16, layout: ABt, m: 1, n: 1, k: 1}\n    tflops: 3.0\n", "missing field"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_table_is_refused_and_untouched(tmp_path: Path, name: str) -> None:
    text, words = BAD_FILES[name]
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TableError, match=words) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    with pytest.raises(TableError, match=words):
        record(path, make_entry())
    assert path.read_text() == text


def test_unwritable_directory(tmp_path: Path) -> None:
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "t.yaml"
    save(path, [make_entry()])
    before = path.read_bytes()
    os.chmod(d, 0o500)
    try:
        try:  # root ignores directory permissions: then there is nothing to test here
            (d / "probe").write_text("x")
            (d / "probe").unlink()
            pytest.skip("directory permissions have no effect (running as root)")
        except PermissionError:
            pass
        with pytest.raises(TableError, match="t.yaml") as info:
            record(path, make_entry(tflops=900.0))
        assert "\n" not in str(info.value)
        with pytest.raises(TableError):
            save(path, [make_entry(tflops=900.0)])
        assert path.read_bytes() == before
    finally:
        os.chmod(d, 0o700)


def test_failed_write_leaves_table_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guarantee as above, checked even as root: the temp file cannot be created."""
    path = tmp_path / "t.yaml"
    save(path, [make_entry()])
    before = path.read_bytes()

    def deny(*a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    with pytest.raises(TableError, match="cannot write") as info:
        record(path, make_entry(tflops=900.0))
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(TableError, match="cannot create its directory"):
        record(tmp_path / "f" / "t.yaml", make_entry())


def test_to_frame() -> None:
    df = to_frame([make_entry(m=4096), make_entry(m=1024)])
    assert list(df.columns) == table.COLUMNS
    assert list(df["m"]) == [1024, 4096]
    assert df["config"][0] == "BLOCK_M=128 BLOCK_N=256 K_STEP=64"
    assert df["vendor_tflops"][0] == 693.0 and df["device"][0] == "NVIDIA H100 80GB HBM3"
    assert list(to_frame([]).columns) == table.COLUMNS
