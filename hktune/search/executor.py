"""Compile ahead, run on whichever worker is free.

Candidates are compiled on the builder's thread pool as soon as they are added; a compiled
candidate goes to the first free worker (each worker owns one device), and finished runs come
back in completion order. All study access stays with the caller's thread: the executor only
moves (token, config) pairs through build and run."""
from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Generic, Hashable, TypeVar

from hktune.build.builder import BuildOutcome, Builder
from hktune.space.space import Config

T = TypeVar("T", bound=Hashable)


class Executor(Generic[T]):
    def __init__(self, builder: Builder, workers: list[Any], run: Callable[[Any, Config, BuildOutcome], dict[str, Any]],
                 lookahead: int | None = None) -> None:
        self.builder, self.workers, self.run = builder, workers, run
        self.lookahead = lookahead or max(2, builder.jobs * 2) + len(workers)
        self.pending: deque[tuple[T, Config, Future[BuildOutcome]]] = deque()
        self.running: dict[Future[dict[str, Any]], tuple[T, Config, BuildOutcome, Any]] = {}
        self.free = list(workers)
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(workers)), thread_name_prefix="hktune-run")

    def room(self) -> int:
        """How many more candidates to add now to keep compiles ahead of the workers."""
        return max(0, self.lookahead - len(self.pending))

    def add(self, token: T, config: Config) -> None:
        self.pending.append((token, config, self.builder.submit(config)))

    def in_flight(self) -> int:
        return len(self.pending) + len(self.running)

    def step(self, admit: Callable[[T, Config, BuildOutcome], bool], more_coming: bool
             ) -> list[tuple[T, Config, BuildOutcome, dict[str, Any]]]:
        """Hand ready builds to free workers (``admit`` says whether a build may run), then wait
        for at least one run to finish (briefly, when builds are still coming); return finished runs."""
        while self.free and self.pending and (self.pending[0][2].done() or not self.running):
            token, cfg, fut = self.pending.popleft()
            outcome = fut.result()
            if not admit(token, cfg, outcome):
                continue
            w = self.free.pop()
            self.running[self.pool.submit(self.run, w, cfg, outcome)] = (token, cfg, outcome, w)
        if not self.running:
            return []
        quick = (self.pending and self.free) or more_coming
        done, _ = wait(list(self.running), timeout=0.05 if quick else None, return_when=FIRST_COMPLETED)
        out = []
        for f in done:
            token, cfg, outcome, w = self.running.pop(f)
            self.free.append(w)
            out.append((token, cfg, outcome, f.result()))
        return out

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
