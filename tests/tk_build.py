"""Shared by the thunderkittens tests: build configs of a schedule space at the 168-register launch cap."""
from __future__ import annotations

import os
from pathlib import Path

from hktune.build.builder import Builder
from hktune.target import make_target

TK = os.environ.get("HKTUNE_TEST_TK")


def build_at_the_launch_cap(fam, space, configs: list[dict], tmp_path: Path, dtype: str = "bf16") -> list:  # noqa: ANN001
    """Build valid configs of a schedule space; each must compile with no spill at the 168-register cap a
    384-thread block has. Returns the outcomes in the configs' order."""
    for c in configs:
        assert not space.violations(c), space.violations(c)
    target = make_target(fam, "sm_90", space, dtype=dtype, include_dirs=fam.include_dirs("sm_90", {"thunderkittens": TK}))
    with Builder(target, jobs=2, cache=tmp_path / "cache") as b:
        outcomes = {tuple(sorted(o.config.items())): o for o in b.build_many(configs)}
    ordered = [outcomes[tuple(sorted(c.items()))] for c in configs]
    for o in ordered:
        assert o.ok, o.log_tail()
        assert o.reason is None and o.resources.get("spills", 0) == 0, o.reason      # no spills
        assert int(o.resources.get("registers") or 0) == 168         # 384 threads: the launch cap
    return ordered
