"""Compile ahead, run on whichever worker is free.

Candidates are compiled on the builder's thread pool as soon as they are added; a compiled
candidate goes to the first free worker (each worker owns one device), and finished runs come
back in completion order. All study access stays with the caller's thread: the executor only
moves (token, config) pairs through build and run."""
from __future__ import annotations

import math
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Generic, Hashable, TypeVar

from hktune.build.builder import BuildOutcome, Builder
from hktune.space.space import Config

T = TypeVar("T", bound=Hashable)
FIRST_COMPILES = 4   # compiles in flight before any compile or run time is known


class Executor(Generic[T]):
    def __init__(self, builder: Builder, workers: list[Any], run: Callable[[Any, Config, BuildOutcome], dict[str, Any]],
                 lookahead: int | None = None) -> None:
        self.builder, self.workers, self.run = builder, workers, run
        self.lookahead = lookahead          # fixed: candidates compiled ahead; None: adaptive (room)
        self.compile_s: float | None = None   # running means: seconds per build (0 when cached) ...
        self.run_s: float | None = None       # ... and per run
        self.pending: deque[tuple[T, Config, Future[BuildOutcome]]] = deque()
        self.running: dict[Future[dict[str, Any]], tuple[T, Config, BuildOutcome, Any]] = {}
        self.free = list(workers)
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(workers)), thread_name_prefix="hktune-run")

    def room(self) -> int:
        """How many more candidates to add now to keep compiles ahead of the workers.

        Adaptive by default: one ready candidate per worker plus one, and as many compiles in
        flight as keep the workers busy (workers x measured compile time / run time, at most the
        builder's jobs; a few before anything is measured). Cold compiles get the whole pool; a
        cached search asks a couple at a time, so a model-guided strategy learns from each result
        instead of committing to one big batch."""
        if self.lookahead is not None:
            return max(0, self.lookahead - len(self.pending))
        n, jobs = len(self.workers), max(1, self.builder.jobs)
        if self.compile_s is None or self.run_s is None:
            compiles = min(jobs, FIRST_COMPILES)
        else:
            compiles = min(jobs, math.ceil(n * self.compile_s / max(self.run_s, 1e-3)))
        return max(0, n + 1 + compiles - len(self.pending))

    @staticmethod
    def _mean(old: float | None, new: float, w: float = 0.25) -> float:
        return new if old is None else (1 - w) * old + w * new

    def add(self, token: T, config: Config) -> None:
        self.pending.append((token, config, self.builder.submit(config)))

    def in_flight(self) -> int:
        return len(self.pending) + len(self.running)

    def step(self, admit: Callable[[T, Config, BuildOutcome], bool], more_coming: bool
             ) -> list[tuple[T, Config, BuildOutcome, dict[str, Any]]]:
        """Hand ready builds to free workers (``admit`` says whether a build may run), then wait
        for at least one run to finish (briefly, when builds are still coming); return finished runs."""
        self._dispatch(admit)
        if not self.running:
            return []
        quick = (self.pending and self.free) or more_coming
        done, _ = wait(list(self.running), timeout=0.05 if quick else None, return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            token, cfg, outcome, w = self.running.pop(f)
            self.free.append(w)
            res = f.result()
            if isinstance(res, dict) and res.get("_seconds"):
                self.run_s = self._mean(self.run_s, float(res["_seconds"]))
            out.append((token, cfg, outcome, res))
        # a freed worker starts its next ready candidate now, before the caller records the
        # finished ones and asks the strategy again: the GPU does not wait for the bookkeeping
        self._dispatch(admit, block=False)
        return out

    def _dispatch(self, admit: Callable[[T, Config, BuildOutcome], bool], block: bool = True) -> None:
        """Hand finished builds to free workers, whichever finished first (a slow compile does not
        hold back the cached ones queued behind it); with ``block``, wait for a build when nothing
        is running."""
        while self.free and self.pending:
            ready = next((i for i, p in enumerate(self.pending) if p[2].done()), None)
            if ready is None:
                if not block or self.running:
                    return
                wait([p[2] for p in self.pending], return_when=FIRST_COMPLETED)
                continue
            token, cfg, fut = self.pending[ready]
            del self.pending[ready]
            outcome = fut.result()
            self.compile_s = self._mean(self.compile_s, 0.0 if outcome.cached else float(outcome.seconds or 0.0))
            if not admit(token, cfg, outcome):
                continue
            w = self.free.pop()
            self.running[self.pool.submit(self.run, w, cfg, outcome)] = (token, cfg, outcome, w)

    def abandon(self) -> list[T]:
        """Cancel everything not finished; return the tokens of what never ran to the end."""
        tokens = [r[0] for r in self.running.values()] + [p[0] for p in self.pending]
        for f in self.running:
            f.cancel()
        for _, _, fut in self.pending:
            fut.cancel()
        self.running.clear()
        self.pending.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        return tokens
