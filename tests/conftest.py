"""Shared fixtures: an isolated build cache and results folder per test session, and the
test-only families (tests/families) on the family path."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["HKTUNE_CACHE_DIR"] = str(tmp_path_factory.mktemp("build-cache"))
    os.environ["HKTUNE_FAMILY_PATH"] = str(HERE / "families")
    # Small CPU problems: keep OpenMP from spinning against torch's own thread pool.
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    return d


@pytest.fixture
def cwd(tmp_path, monkeypatch) -> Path:
    """An empty working folder (the CLI's default results/ and tables land in it)."""
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    return d
