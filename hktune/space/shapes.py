"""Shape files: the GEMMs a search should tune, as YAML or CSV.

YAML: ``shapes: [{m: 4096, n: 14336, k: 4096, count: 32, source: mlp.up}, ...]`` (``count`` and
``source`` optional, any other key refused as a typo; a bare list of ``[m, n, k]`` triples is accepted too). CSV: a header with
columns m, n, k (others ignored). M = tokens (batch x sequence), N = out features, K = in features.
"""
from __future__ import annotations

from hktune.errors import BadInput

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import yaml


class ShapesError(BadInput):
    """A shapes file is missing or malformed; the message names the file and the row."""


@dataclass(frozen=True)
class Shape:
    m: int
    n: int
    k: int
    count: int = 1
    source: str = ""

    @property
    def mnk(self) -> tuple[int, int, int]:
        return (self.m, self.n, self.k)

    def __str__(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"


KEYS = ("m", "n", "k", "count", "source")


def _shape(row: object, where: str, strict: bool = True) -> Shape:
    """One shape; ``strict`` (YAML): a key other than m, n, k, count, source is refused as a typo (a CSV's other
    columns are ignored: spreadsheets carry notes)."""
    if isinstance(row, (list, tuple)) and len(row) == 3:
        row = dict(zip("mnk", row))
    if not isinstance(row, dict):
        raise ShapesError(f"{where}: expected {{m, n, k}} or [m, n, k], got {row!r}")
    unknown = [str(key) for key in row if key not in KEYS]
    if strict and unknown:
        raise ShapesError(f"{where}: unknown key {unknown[0]!r} (a shape takes {', '.join(KEYS)})")
    try:
        vals = {key: _integer(row[key]) for key in ("m", "n", "k")}
        count = _integer(row.get("count", 1))
    except KeyError as e:
        raise ShapesError(f"{where}: missing {e.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ShapesError(f"{where}: m, n, k and count must be integers, got {row!r}") from None
    if min(vals.values()) <= 0 or count <= 0:
        raise ShapesError(f"{where}: sizes must be positive, got {row!r}")
    return Shape(count=count, source=str(row.get("source", "")), **vals)


def _integer(v: object) -> int:
    """An integer as written, the same for YAML and CSV: 512 or "512"; never 12.5, "12.5", 512.0,
    true or "" (truncating would tune a shape nobody asked for). Raises ValueError."""
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
        return int(v)
    raise ValueError(v)


def load_shapes(path: Path | str) -> list[Shape]:
    """Shapes in file order, duplicates merged (counts added)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ShapesError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ShapesError(f"{path}: not a shapes file (not UTF-8 text)") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"m", "n", "k"} <= {f.strip().lower() for f in reader.fieldnames}:
            raise ShapesError(f"{path}: a CSV needs columns m, n, k")
        rows = [{(k or "").strip().lower(): v for k, v in r.items()} for r in reader]
    else:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ShapesError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        rows = doc.get("shapes") if isinstance(doc, dict) else doc
        if isinstance(doc, dict) and set(doc) - {"shapes"}:
            raise ShapesError(f"{path}: unknown key {sorted(map(str, set(doc) - {'shapes'}))[0]!r} (a shapes file has only 'shapes')")
        if not isinstance(rows, list):
            raise ShapesError(f"{path}: expected a 'shapes' list")
    merged: dict[tuple[int, int, int], Shape] = {}
    for i, row in enumerate(rows, 1):
        s = _shape(row, f"{path}: shape {i}", strict=path.suffix.lower() != ".csv")
        if s.mnk in merged:
            old = merged[s.mnk]
            s = Shape(s.m, s.n, s.k, old.count + s.count, old.source or s.source)
        merged[s.mnk] = s
    if not merged:
        raise ShapesError(f"{path}: no shapes")
    return list(merged.values())


def write_shapes(path: Path | str, shapes: list[Shape]) -> None:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        lines = ["m,n,k,count,source"] + [f"{s.m},{s.n},{s.k},{s.count},{s.source}" for s in shapes]
        path.write_text("\n".join(lines) + "\n")
        return
    doc = {"shapes": [{"m": s.m, "n": s.n, "k": s.k, "count": s.count, **({"source": s.source} if s.source else {})} for s in shapes]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
