"""A cache of tensors derived from other tensors (B transposed, a weight padded).

Keyed on the source tensor's identity and a signature that includes ``_version`` (bumped by
every in-place update, e.g. ``W.add_(1)`` or an optimizer step), its data pointer, shape and
strides, so a changed source never yields a stale copy. The source is held by a weakref: the
cache never keeps a tensor alive, and an entry goes when its tensor does.
"""
from __future__ import annotations

import threading
import weakref
from typing import Callable, Hashable

import torch


def signature(t: torch.Tensor, *extra: Hashable) -> tuple:
    """What must be unchanged for a copy derived from ``t`` to still be valid."""
    return (t._version, t.data_ptr(), tuple(t.shape), t.stride(), t.dtype, t.device, *extra)


class DerivedCache:
    """One derived tensor per (source tensor, purpose); recomputed when the source changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[int, tuple[weakref.ref, tuple, torch.Tensor]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, src: torch.Tensor, make: Callable[[torch.Tensor], torch.Tensor], *extra: Hashable) -> torch.Tensor:
        if src.is_inference():
            return make(src)  # inference tensors have no version counter: never cached
        sig = signature(src, *extra)
        key = id(src)
        item = self._items.get(key)
        if item is not None and item[0]() is src and item[1] == sig:
            self.hits += 1
            return item[2]
        value = make(src)
        # The derived copy must not alias the source: a view would keep the source alive
        # (and reflect its changes anyway), so only real copies are worth caching.
        if value.untyped_storage().data_ptr() == src.untyped_storage().data_ptr():
            return value
        self.misses += 1

        def drop(_: weakref.ref, key: int = key) -> None:
            with self._lock:
                cur = self._items.get(key)
                if cur is not None and cur[0]() is None:
                    del self._items[key]

        with self._lock:
            self._items[key] = (weakref.ref(src, drop), sig, value)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
