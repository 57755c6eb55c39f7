"""The ISA-emulator target (gfx942/gfx950 without an AMD GPU): correctness only, never timing.

Each config is compiled through the target's builder (so the static checks run), and every
distinct kernel body is run once in tinygrad's CDNA emulator at a small legal shape with several
blocks (hktune.emulator.verify.default_shape), its output compared with a CPU reference."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from hktune.emulator.locate import find
from hktune.emulator.run import host_cc
from hktune.emulator.verify import verify
from hktune.errors import BadInput
from hktune.target import Target

TIMES = False  # this target proves correctness; it never measures speed


def workers(target: Target, gpus: list[int | None] | None, settings: Any = None, timeout_s: float = 120.0) -> list[Any]:
    raise BadInput(f"the emulator proves correctness only: it cannot time {target.name} on {target.arch}")


def check(builder: Any, configs: Iterable[Mapping[str, int]], *, jobs: int = 1, timeout_s: float = 1800.0,
          seed: int = 0, progress: Callable[[str, Any], None] | None = None) -> list[Any]:
    """Rows of hktune.emulator.verify (config, body hash, shape, result) for ``configs``."""
    find()     # EmulatorMissing (exit 3) before any compile
    host_cc()
    return verify(builder, list(configs), shape=None, jobs=jobs, timeout_s=timeout_s, seed=seed,
                  dtype=builder.target.dtype.name, progress=progress)
