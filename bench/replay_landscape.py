"""Recorded landscapes for bench/replay.py: loading one, its configs' keys, its plain space and
the nearest other landscape (the one a warm start would come from)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


def key(cfg: dict[str, Any]) -> str:
    return json.dumps(sorted((k, int(v)) for k, v in cfg.items()))


@dataclass
class Landscape:
    name: str
    shape: tuple[int, int, int]
    rows: list[dict[str, Any]]
    family: str = "cuda"
    arch: str = "sm_90"
    values: dict[str, float | None] = field(default_factory=dict)   # key -> tflops (None: failed)
    vendor: dict[str, float] = field(default_factory=dict)

    metric: str = "tflops"    # the objective: "ratio" (the paired vendor/kernel ratio) when recorded, else tflops

    def __post_init__(self) -> None:
        for r in self.rows:
            k = key(r["config"])
            self.values[k] = None if r.get(self.metric) is None else float(r[self.metric])
            self.vendor[k] = float(r.get("vendor_tflops") or 0.0)

    @property
    def configs(self) -> list[dict[str, int]]:
        return [{k: int(v) for k, v in r["config"].items()} for r in self.rows]

    @property
    def best(self) -> float:
        return max(v for v in self.values.values() if v is not None)

    def top(self, share: float = 0.01) -> set[str]:
        ok = sorted(((v, k) for k, v in self.values.items() if v is not None), reverse=True)
        n = max(1, math.ceil(share * len(self.values)))
        return {k for _, k in ok[:n]}

    def best_configs(self, n: int) -> list[dict[str, int]]:
        ok = sorted((r for r in self.rows if r.get(self.metric) is not None), key=lambda r: -r[self.metric])
        return [{k: int(v) for k, v in r["config"].items()} for r in ok[:n]]


def load_landscape(path: Path | str, shape: Sequence[int] | None = None, family: str | None = None,
                   arch: str | None = None) -> Landscape:
    path = Path(path)
    doc = json.loads(path.read_text())
    if isinstance(doc, list):
        doc = {"rows": doc}
    rows = [r for r in doc["rows"] if r.get("config")]
    shp = tuple(int(x) for x in (shape or doc.get("shape") or (4096, 4096, 4096)))
    seen: dict[str, dict] = {}
    for r in rows:  # a config recorded twice keeps its first figure
        seen.setdefault(key(r["config"]), r)
    ok = [r for r in seen.values() if r.get("tflops") is not None]
    metric = "ratio" if ok and all(r.get("ratio") is not None for r in ok) else "tflops"
    return Landscape(doc.get("name") or path.stem, shp, list(seen.values()), family or doc.get("family", "cuda"),
                     arch or doc.get("arch", "sm_90"), metric=metric)


def plain_space(land: Landscape):  # noqa: ANN201
    """A space of exactly the recorded knob values, no derived values or constraints."""
    from hktune.space.space import Param, Space

    names = list(land.rows[0]["config"])
    params = [Param(n, sorted({int(r["config"][n]) for r in land.rows}), n) for n in names]
    return Space(path=Path(land.name), family=land.family, arch=land.arch, params=params, derived={}, constraints=[],
                 shape_constraints=[], limits={}, seeds=[], prune={})


def nearest(land: Landscape, others: list[Landscape]) -> list[Landscape]:
    """The other landscape of the same family whose shape is nearest (log2 distance), as the
    driver's warm start picks the nearest tuned shape; [] when there is none."""
    same = [o for o in others if o.family == land.family and o.shape != land.shape]
    dist = lambda o: sum(abs(math.log2(a / b)) for a, b in zip(land.shape, o.shape))  # noqa: E731
    return sorted(same, key=dist)[:1]
