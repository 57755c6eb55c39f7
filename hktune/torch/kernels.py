"""Tuned kernel libraries for hktune.torch: built through the Builder's content-addressed cache
(so a second process loads the .so another one compiled) and kept loaded per build key."""
from __future__ import annotations

import logging
import threading

from hktune import dtypes
from hktune.build.builder import Builder
from hktune.family.family import Family
from hktune.run.verify import Library, parse_config_string
from hktune.space.space import Space
from hktune.target import make_target

log = logging.getLogger("hktune.torch")


class KernelUnavailable(RuntimeError):
    """The tuned config cannot be built or loaded here; the message says why."""


_lock = threading.Lock()
_builders: dict[tuple[str, str, str, str], Builder] = {}   # (family, arch, dtype, space file) -> its builder
_libraries: dict[str, Library] = {}       # build key -> loaded library, for the whole process
_by_config: dict[tuple, Library] = {}     # (family, arch, dtype, config) -> library, to skip hashing per call


def _builder(family: Family, arch: str, space: Space, dtype: str) -> Builder:
    key = (family.name, arch, dtype, str(space.path))   # an entry searched in an opt-in space builds under it
    b = _builders.get(key)
    if b is None:
        b = Builder(make_target(family, arch, space, dtype), jobs=1)
        _builders[key] = b
    return b


def library(family: Family, arch: str, space: Space, config: dict[str, int], dtype: str = dtypes.DEFAULT) -> Library:
    """The loaded library for one config of ``family`` as it serves ``dtype`` (its kernel for that
    dtype: hktune.family.Family.for_dtype), built on first use, then from the cache. A stored config
    lacking a param added since takes the param's legacy value (Space.complete)."""
    config = space.complete(config)
    ck = (family.name, arch, dtype, str(space.path), tuple(sorted(config.items())))
    lib = _by_config.get(ck)
    if lib is not None:
        return lib
    with _lock:  # one build at a time per process; the Builder's file lock covers other processes
        lib = _by_config.get(ck)
        if lib is not None:
            return lib
        try:
            b = _builder(family, arch, space, dtype)
            out = b.build(config)
        except Exception as e:  # a missing compiler or HipKittens tree: fall back, say why
            raise KernelUnavailable(f"cannot build {family.name}/{arch} {config}: {e}") from None
        if not out.usable or not out.runnable or out.artifact is None:
            why = out.reason or ("not loadable here (device code only)" if not out.runnable else "no artifact")
            raise KernelUnavailable(f"{family.name}/{arch} {config}: {why}")
        lib = _libraries.get(out.key)
        if lib is None:
            try:
                lib = Library(out.artifact)
            except OSError as e:
                raise KernelUnavailable(f"cannot load {out.artifact}: {e}") from None
            # The library reports the config it was compiled with: a cache mix-up is caught here.
            want = ",".join(f"{p.name}={config[p.name]}" for p in space.params)  # as search.config_string
            if parse_config_string(lib.config()) != parse_config_string(want):
                raise KernelUnavailable(f"{out.artifact} was built as {lib.config()!r}, expected {want!r}")
            _libraries[out.key] = lib
            log.debug("loaded %s (%s, %s)", out.artifact, want, "cached" if out.cached else "compiled")
        _by_config[ck] = lib
        return lib


def loaded() -> dict[str, str]:
    """Build key -> library path of every library this process has loaded."""
    return {k: v.path for k, v in _libraries.items()}
