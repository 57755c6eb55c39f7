"""Fakes for driving hktune.search.driver.Search without a compiler or a GPU: a toy target from a
space text and a builder whose every build is a cached success (optionally with a device-code
identity). Workers are per test: each fakes what its test is about."""
from __future__ import annotations

import types
from concurrent.futures import Future
from pathlib import Path
from typing import Callable

from hktune.build.builder import BuildOutcome
from hktune.dtypes import DTYPES
from hktune.space.space import load_space
from hktune.target import Target


def toy_target(tmp_path: Path, space_text: str) -> Target:
    (tmp_path / "s.yaml").write_text(space_text)
    space = load_space(tmp_path / "s.yaml", "x")
    fam = types.SimpleNamespace(name="toy", template_hash=lambda arch: "t")
    return Target(family=fam, arch="x", spec=None, space=space, dtype=DTYPES["bf16"], layout="ABt", flags=(),
                  include_dirs=(), template_hash="t", checks=(), run="host")


class CachedBuilder:
    """Every config builds at once, from the cache; ``code_hash(cfg)`` gives its device-code identity."""
    jobs = 1
    compiler_version = "fake"
    include_dirs: tuple = ()

    def __init__(self, code_hash: Callable[[dict], str | None] = lambda cfg: None) -> None:
        self.code_hash = code_hash

    def submit(self, cfg: dict) -> Future:
        f: Future = Future()
        f.set_result(BuildOutcome(config=cfg, key=str(sorted(cfg.items())), ok=True, seconds=0.0, cached=True,
                                  artifact=Path("x"), log_path=None, code_hash=self.code_hash(cfg)))
        return f


class CountingWorker:
    """A fake run worker: TILE=t times at ratio t / 64; ``timed`` the config strings it timed, ``asked``
    the options of each (stop_below, fresh, steady, ...)."""
    info = {"name": "fake", "units": 0, "arch": "fake"}

    def __init__(self) -> None:
        self.timed: list[str] = []
        self.asked: list[dict] = []

    def prepare(self, m: int, n: int, k: int) -> dict:
        return {"ok": True}

    def evaluate(self, lib, expected: str, m: int, n: int, k: int, time: bool = True, **kw) -> dict:  # noqa: ANN001
        if time:
            self.timed.append(expected)
            self.asked.append(kw)
        tile = int(expected.split("TILE=")[1].split(",")[0])
        return {"ok": True, "tflops": float(tile), "vendor_tflops": 64.0, "ratio": tile / 64.0, "median_us": 1.0,
                "spread": 0.0, "error": 1e-3}
