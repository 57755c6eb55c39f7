"""The ISA-emulator target (gfx942/gfx950 without an AMD GPU): correctness only, never timing.

Each config is compiled through the family's builder (so the static checks run), and every
distinct kernel body is run once in tinygrad's CDNA emulator at a small legal shape with several
blocks (hktune.emulator.verify.default_shape), its output compared with a CPU reference."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

TIMES = False  # this target proves correctness; it never measures speed


def check(builder: Any, configs: Iterable[Mapping[str, int]], arch: str, *, jobs: int = 1, timeout_s: float = 1800.0,
          seed: int = 0, progress: Callable[[str, Any], None] | None = None) -> list[Any]:
    """Rows of hktune.emulator.verify (config, body hash, shape, result) for ``configs``."""
    from hktune.emulator.locate import find
    from hktune.emulator.run import host_cc
    from hktune.emulator.verify import verify

    find()     # EmulatorMissing (exit 3) before any compile
    host_cc()
    return verify(builder, list(configs), arch, shape=None, jobs=jobs, timeout_s=timeout_s, seed=seed, progress=progress)
