"""Which space each part of the header is checked and rendered under: one per (dtype, layout) group of a (family,
arch), whose params and derived values are the group's C++ struct, and, per entry, the space it was searched in (its
``space:``, an opt-in space that extends the family's) where it names one."""
from __future__ import annotations

from typing import Callable

from hktune import dtypes
from hktune.errors import BadInput
from hktune.record.table import Entry
from hktune.space.space import Space, load_space
from hktune.target import space_file

ABI_DTYPE_LAYOUT = ("bf16", "ABt")     # the C ABI's hktune_gemm: the plain lookup every header has


class ExportError(BadInput):
    """The table cannot be exported; the one-line message says which entry and why."""


def group_spaces(label: str, mine: list[Entry], space_of: Callable[[str], Space]) -> dict[tuple[str, str], Space]:
    """The space of each (dtype, layout) group of one (family, arch) (``label``; ``space_of(dtype)``
    loads its space for a dtype): the groups of its entries, and
    the C ABI's bf16 group (empty) whenever the family serves bf16 there, so callers always find
    the plain lookup. An entry of a dtype hktune does not know, or its family does not serve, is refused."""
    out: dict[tuple[str, str], Space] = {}
    for dtype, layout in sorted({(e.key.dtype, e.key.layout) for e in mine}):
        if dtype not in dtypes.DTYPES:
            raise ExportError(f"entries of {label}: unknown dtype {dtype!r} (known: {', '.join(dtypes.DTYPES)})")
        out[(dtype, layout)] = space_of(dtype)
    if ABI_DTYPE_LAYOUT not in out:
        try:
            out[ABI_DTYPE_LAYOUT] = space_of(ABI_DTYPE_LAYOUT[0])
        except BadInput:
            if not mine:   # a family named without entries must serve the C ABI's dtype
                raise
    return dict(sorted(out.items()))


def entry_spaces(group: list[Entry], space: Space, arch: str) -> list[Space]:
    """The space each entry of a group is checked and rendered under: the one it was searched in (``space:``) where
    it names one, else the group's ``space``. Its params and derived values must be the group's (the C++ struct):
    an opt-in space that extends the family space always has them."""
    loaded: dict[str, Space] = {}
    out = []
    for e in group:
        ref = e.extra.get("space")
        if not ref:
            out.append(space)
            continue
        if ref not in loaded:
            own = load_space(space_file(ref), arch)
            if own.names != space.names or list(own.derived) != list(space.derived):
                raise ExportError(f"entry {e.key}: its space {ref} has other params or derived values than "
                                  f"{space.path.name} (the header's struct): export it from a space that extends it")
            loaded[ref] = own
        out.append(loaded[ref])
    return out
