"""What a search is about: config keys and strings, shape distances, and the configs that are legal
for a problem (its study name is hktune.target.Target.study_name)."""
from __future__ import annotations

import json
import math

from hktune.errors import BadInput
from hktune.space.space import Config, Space
from hktune.target import Target


class SearchError(BadInput):
    """Bad input for a search (no legal config, bad storage...): one line for the user."""


def config_key(config: Config) -> str:
    return json.dumps(sorted((k, int(v)) for k, v in config.items()))


def config_string(space: Space, config: Config) -> str:
    """What the library's hktune_config() must report."""
    return ",".join(f"{p.name}={config[p.name]}" for p in space.params)


def shape_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return sum(abs(math.log2(x / y)) for x, y in zip(a, b))


def legal_configs(target: Target, shape: tuple[int, int, int]) -> list[Config]:
    """The valid configs for a shape; SearchError (one line) when there are none."""
    space = target.space
    valid = space.enumerate(shape)
    if not valid:
        m, n, k = shape
        raise SearchError(
            f"no config of family {target.name} is legal for {m}x{n}x{k} on {target.arch} "
            f"(shape constraints: {'; '.join(c.text for c in space.shape_constraints) or 'none'})")
    return valid
