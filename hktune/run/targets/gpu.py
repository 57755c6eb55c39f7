"""The GPU target: one worker process per device, each pinned to its GPU."""
from __future__ import annotations

from hktune.run.devices import device_for
from hktune.run.settings import Settings
from hktune.run.runner import Worker
from hktune.target import Target

TIMES = True  # this target measures speed


def workers(target: Target, gpus: list[int | None] | None, settings: Settings | None = None,
            timeout_s: float = 120.0) -> list[Worker]:
    return [Worker(device_for(target, g), settings, timeout_s=timeout_s, dtype=target.dtype.name) for g in (gpus or [None])]
