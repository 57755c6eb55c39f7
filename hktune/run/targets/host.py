"""The host target: one worker process on the CPU (the host family, and test families)."""
from __future__ import annotations

from hktune.run.settings import Settings
from hktune.run.runner import Worker
from hktune.target import Target

TIMES = True


def workers(target: Target, gpus: list[int | None] | None, settings: Settings | None = None,
            timeout_s: float = 120.0) -> list[Worker]:
    return [Worker("cpu", settings, timeout_s=timeout_s, dtype=target.dtype.name)]
