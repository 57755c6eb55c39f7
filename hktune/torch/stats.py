"""Counters of what hktune.torch did with each GEMM: tuned kernel, padded, or torch fallback.

Every decision is counted here and logged at DEBUG on the ``hktune.torch`` logger, so a
fallback is never silent: ``stats()["fallback"]`` and ``stats()["reasons"]`` say how often and why.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

log = logging.getLogger("hktune.torch")

KINDS = ("tuned", "padded", "fallback")

_lock = threading.Lock()
_kinds: Counter[str] = Counter()
_details: Counter[str] = Counter()   # tuned: exact / nearest; padded: the tuned entry's rule
_reasons: Counter[str] = Counter()   # fallback reasons
_copies: Counter[str] = Counter()    # inputs made contiguous / realigned before a launch


def note(kind: str, reason: str, shape: tuple[int, int, int], detail: str = "") -> None:
    """Count one GEMM call of ``kind`` (tuned|padded|fallback) and why."""
    with _lock:
        _kinds[kind] += 1
        (_reasons if kind == "fallback" else _details)[reason] += 1
    if log.isEnabledFor(logging.DEBUG):
        m, n, k = shape
        log.debug("gemm %dx%dx%d: %s (%s)%s", m, n, k, kind, reason, f": {detail}" if detail else "")


def note_copy(what: str) -> None:
    """Count an input that had to be copied (non-contiguous or misaligned) before a launch."""
    with _lock:
        _copies[what] += 1
    log.debug("copied an input before the launch: %s", what)


def stats() -> dict[str, Any]:
    """A snapshot: {"tuned", "padded", "fallback", "exact", "nearest", "contiguous", "reasons": {...}}."""
    with _lock:
        out: dict[str, Any] = {k: _kinds[k] for k in KINDS}
        out["exact"] = _details["exact"]
        out["nearest"] = _details["nearest"]
        out["contiguous"] = sum(_copies.values())
        out["copies"] = dict(_copies)
        out["reasons"] = dict(_reasons)
    return out


def reset_stats() -> None:
    """Zero every counter (e.g. before the forward pass you want to count)."""
    with _lock:
        _kinds.clear()
        _details.clear()
        _reasons.clear()
        _copies.clear()
