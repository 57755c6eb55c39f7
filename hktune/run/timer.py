"""Per-launch and per-batch timing: device events on a GPU, a host clock on the CPU (the worker's
simple timers; the sustained GPU measurement is hktune.run.sustained)."""
from __future__ import annotations

import time
from typing import Callable

import torch


class Timer:
    """Per-launch timing: device events on a GPU, a host clock on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.gpu = device.type == "cuda"

    def time(self, fns: list[Callable[[], None]], repeats: int) -> list[float]:
        """Run fns round-robin ``repeats`` times; return each launch's time in microseconds."""
        if self.gpu:
            starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
            ends = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
            for i in range(repeats):
                starts[i].record()
                fns[i % len(fns)]()
                ends[i].record()
            torch.cuda.synchronize()
            return [s.elapsed_time(e) * 1e3 for s, e in zip(starts, ends)]
        out = []
        for i in range(repeats):
            t0 = time.perf_counter()
            fns[i % len(fns)]()
            out.append((time.perf_counter() - t0) * 1e6)
        return out

    def sync(self) -> None:
        if self.gpu:
            torch.cuda.synchronize()

    def batch_runner(self, fns: list[Callable[[], None]], start: int = 0) -> Callable[[int], float]:
        """run(n): n back-to-back launches of fns in rotation, continuing where the previous call
        stopped (the first at ``start``); returns seconds per launch. One pair of device events
        (or host clock readings) brackets the whole batch; the launch list is built before it."""
        pos = [start % len(fns)]
        count = len(fns)
        if self.gpu:
            ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

            def run(n: int) -> float:
                seq = [fns[(pos[0] + j) % count] for j in range(n)]
                pos[0] = (pos[0] + n) % count
                ev0.record()
                for f in seq:
                    f()
                ev1.record()
                ev1.synchronize()
                return ev0.elapsed_time(ev1) * 1e-3 / n
        else:
            clock = time.perf_counter

            def run(n: int) -> float:
                seq = [fns[(pos[0] + j) % count] for j in range(n)]
                pos[0] = (pos[0] + n) % count
                t0 = clock()
                for f in seq:
                    f()
                return (clock() - t0) / n
        return run
