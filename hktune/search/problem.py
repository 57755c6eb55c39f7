"""What a search is about: the problem key (family, arch, dtype, layout, M, N, K), its study name,
and the configs that are legal for it."""
from __future__ import annotations

import json
import math

from hktune.errors import BadInput
from hktune.family.family import Family
from hktune.space.space import Config, Space


class SearchError(BadInput):
    """Bad input for a search (no legal config, bad storage...): one line for the user."""


def study_name(family: str, arch: str, m: int, n: int, k: int, dtype: str = "bf16", layout: str = "ABt") -> str:
    """One study per problem. The layout is named only when it is not the default A·Btᵀ, so the
    studies of earlier versions keep their names."""
    lay = "" if layout == "ABt" else f"-{layout}"
    return f"{family}-{arch}-{dtype}{lay}-{m}x{n}x{k}"


def config_key(config: Config) -> str:
    return json.dumps(sorted((k, int(v)) for k, v in config.items()))


def config_string(space: Space, config: Config) -> str:
    """What the library's hktune_config() must report."""
    return ",".join(f"{p.name}={config[p.name]}" for p in space.params)


def shape_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return sum(abs(math.log2(x / y)) for x, y in zip(a, b))


def legal_configs(family: Family, arch: str, space: Space, shape: tuple[int, int, int]) -> list[Config]:
    """The valid configs for a shape; SearchError (one line) when there are none."""
    valid = space.enumerate(shape)
    if not valid:
        m, n, k = shape
        raise SearchError(
            f"no config of family {family.name} is legal for {m}x{n}x{k} on {arch} "
            f"(shape constraints: {'; '.join(c.text for c in space.shape_constraints) or 'none'})")
    return valid
