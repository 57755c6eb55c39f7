"""A space's analytical prior: how fast each config should be for a shape, before any is timed.

A space file may carry ``prior:``, named expressions evaluated in order over the params,
derived values, limits, the shape (M, N, K) and the earlier steps; the last step, ``SCORE``, is the
estimate (higher = faster; proportional to throughput, so log(SCORE) and log(measured speed)
differ by about a constant). Unlike constraints and derived values, the steps are real-valued:
``/`` divides exactly and decimal constants are allowed. It is a roofline-style model a kernel engineer would write down
(tiles per wave, operand reuse, latency hiding, occupancy), never a fit to measurements, and it
only orders a cold search (hktune.search.strategies.model): measurements always overrule it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hktune.space.space import SHAPE_NAMES, Config, Space


def estimate(space: Space, configs: Sequence[Config], shape: tuple[int, int, int]) -> np.ndarray | None:
    """SCORE for every config (float array; a step that divides by zero gives 0), or None when the
    space has no prior."""
    if not space.prior or not configs:
        return None
    n = len(configs)
    env: dict[str, Any] = {name: np.array([c[name] for c in configs], dtype=np.int64) for name in space.names}
    env.update(space.limits)
    env.update(dict(zip(SHAPE_NAMES, (int(x) for x in shape))))
    bad = np.zeros(n, dtype=bool)
    for name, ex in space.derived.items():      # integers, exactly as the compiler gets them
        value, div0 = ex.evaluate(env)
        env[name] = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))
        bad |= np.broadcast_to(np.asarray(div0, dtype=bool), (n,))
    for name, ex in space.prior.items():        # real arithmetic: '/' divides
        value, div0 = ex.evaluate(env)
        env[name] = np.broadcast_to(np.asarray(value, dtype=float), (n,))
        bad |= np.broadcast_to(np.asarray(div0, dtype=bool), (n,))
    score = env["SCORE"].astype(float)
    score[bad] = 0.0
    return score
