"""Sustained, launch-free timing of a candidate (A) against the vendor BLAS (B), the way a model
runs GEMMs: back to back, the device never waiting for the host.

Why: a kernel timed one launch at a time between two events, with a host synchronisation before
the next, starts on an idle device, carries the host's launch latency (a torch dispatch on one
arm, a ctypes call on the other) inside its event window, and runs at clocks that are not the
power-capped steady state. That bias depends on the kernel (its length, its launch path), so it
reorders rankings (issue 19: up to 17 % on short kernels, 3-4 % on the winners).

Methods (the one used is recorded with every result as ``method``):
  * ``graph`` (CUDA or ROCm torch): each arm is captured once as a device graph
    (``torch.cuda.CUDAGraph``, a HIP graph on ROCm) of ``L`` back-to-back launches walking the
    rotated input sets, ``L`` chosen so that one replay lasts at least ``replay_ms`` (30 ms by
    default, so graph-launch and event overheads are < 0.05 %). ``L`` is a multiple of the
    number of sets, so every replay reads every set equally often; the vendor's walk starts half a
    rotation behind the candidate's.
  * ``prequeued`` (a GPU arm that cannot be captured): the same launches issued directly, the
    first round queued behind a device-side spin (``torch.cuda._sleep``) long enough for the host
    to queue it, each next one while the one before runs, so the device never waits for the host
    inside a timed window, nor idles between rounds.
  * ``host`` (the CPU backend, not this module): ``hktune.run.measure`` times batches with a host
    clock; there is no device queue to keep full.

A round is the quartet A B B A (``hktune.run.paired`` says why), each replay between two device
events, with no host synchronisation inside the round; the next round is queued before the
previous one is read, so the device also runs across round boundaries without a gap. A warm-up
of back-to-back replays of both arms precedes timing, so the card is in its power-capped steady
state when the first round starts.

On a power-capped card the ratio depends on how long each arm runs before the other takes over:
the clock follows the power drawn over the last tens of ms, so in short segments both arms run at
a shared clock, and in long ones each at its own. Measured on an H200 (2026-12-04, TK's 128x256
tile vs cuBLAS, bench/results/measure-h200-2026-12-04): 8192^3 read 1.01 / 0.98 / 0.95 with 8 / 32 /
128 launches per replay (15 / 55 / 220 ms). 30 ms segments ("tens of ms", as in a model's layers,
which follow each other within milliseconds) is the regime hktune measures; the replay length is
recorded with every result (``launches_per_replay``, ``replay_ms``).

``SustainedPair.next_round()`` returns (a1, b1, b2, a2) in seconds per launch: the contract of
``paired.measure_paired``'s ``round_fn``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

Launch = Callable[[], None]
Bind = Callable[[int], list[Launch]]   # stream handle -> one launch per input set

GRAPH, PREQUEUED, HOST = "graph", "prequeued", "host"
SPIN_HZ = 2.0e9          # cycles per second assumed for the spin (a slower clock spins longer: safe)
MAX_LAUNCHES = 20_000    # per replay (a 0.5 us kernel at replay_ms = 10)


@dataclass
class ReplayPlan:
    replay_ms: float = 30.0   # one timed replay of an arm lasts at least this long
    warm_ms: float = 200.0    # back-to-back replays of both arms before the first timed round


def launches_per_replay(per_launch_s: float, sets: int, replay_ms: float) -> int:
    """Launches in one replay: at least ``replay_ms`` of work, a whole number of rotations."""
    if not (per_launch_s > 0 and math.isfinite(per_launch_s)):
        per_launch_s = 1e-6
    need = max(1, math.ceil(replay_ms / 1e3 / per_launch_s - 1e-9))
    rotations = max(1, math.ceil(need / max(1, sets)))
    return min(max(sets, MAX_LAUNCHES - MAX_LAUNCHES % max(1, sets)), rotations * sets)


def enqueue_abba(issue_a: Callable[[], None], issue_b: Callable[[], None], spin_s: float) -> tuple[list, float]:
    """Queue one A B B A round on the current stream, behind a device-side spin of ``spin_s``
    seconds (0: none) so the host can queue it all before the device reaches it: the five events
    around the four bursts (read them after ``events[4].synchronize()``) and the host seconds the
    queueing took (what the next spin must cover)."""
    if spin_s > 0:
        torch.cuda._sleep(int(spin_s * SPIN_HZ))
    t0 = time.perf_counter()
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(5)]
    ev[0].record()
    for i, issue in enumerate((issue_a, issue_b, issue_b, issue_a)):
        issue()
        ev[i + 1].record()
    return ev, time.perf_counter() - t0


def _walk(fns: list[Launch], start: int, count: int) -> list[Launch]:
    return [fns[(start + j) % len(fns)] for j in range(count)]


class _Arm:
    """One arm on the device: a captured graph, or its launch list behind a spin."""

    def __init__(self, launches: list[Launch], graph: "torch.cuda.CUDAGraph | None") -> None:
        self.launches = launches
        self.graph = graph
        self.n = len(launches)

    def issue(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            for f in self.launches:
                f()


class SustainedPair:
    """Candidate and vendor arms set up for sustained timing on one device (module docstring).

    ``bind_a`` / ``bind_b`` give each arm's launches for a stream handle (one per input set, in
    set order); the device is a CUDA (or ROCm) one; ``per_launch_a`` / ``per_launch_b`` are pilot estimates (seconds) that size the
    replays. On a CUDA device the caller has warmed both arms once already (module load,
    one-time attributes), so that nothing but launches happens during capture."""

    def __init__(self, device: torch.device, bind_a: Bind, bind_b: Bind, per_launch_a: float, per_launch_b: float,
                 sets: int, plan: ReplayPlan | None = None, allow_graph: bool = True) -> None:
        self.device = device
        self.t = plan or ReplayPlan()
        self.la = launches_per_replay(per_launch_a, sets, self.t.replay_ms)
        self.lb = launches_per_replay(per_launch_b, sets, self.t.replay_ms)
        self.sets = sets
        self.capture_error: str | None = None
        self._pending: list | None = None
        self._spin_s = 0.0
        self.stream = torch.cuda.Stream(device)
        if allow_graph:
            try:
                self.a = self._capture(bind_a, 0, self.la)
                self.b = self._capture(bind_b, sets // 2, self.lb)
                self.method = GRAPH
                return
            except Exception as e:  # noqa: BLE001 - any capture failure: fall back, and say why
                torch.cuda.synchronize(device)
                self.capture_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        cur = torch.cuda.current_stream(device).cuda_stream
        self.a = _Arm(_walk(bind_a(cur), 0, self.la), None)
        self.b = _Arm(_walk(bind_b(cur), sets // 2, self.lb), None)
        self.method = PREQUEUED
        # First guess of the host's queueing time per launch; corrected from each round.
        self._spin_s = 4 * (self.la + self.lb) * 30e-6

    def _capture(self, bind: Bind, start: int, count: int) -> _Arm:
        fns = bind(self.stream.cuda_stream)
        seq = _walk(fns, start, count)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, stream=self.stream, capture_error_mode="thread_local"):
            for f in seq:
                f()
        return _Arm(seq, g)

    # -- timing ------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Back-to-back replays of both arms for ``warm_ms`` (clocks, power and caches settle)."""
        t_end = time.perf_counter() + self.t.warm_ms / 1e3
        while time.perf_counter() < t_end:
            self._spin()
            for arm in (self.a, self.b):
                arm.issue()
            torch.cuda.current_stream(self.device).synchronize()

    def _spin(self) -> None:
        if self.method == PREQUEUED:
            torch.cuda._sleep(int(self._spin_s * SPIN_HZ))

    def _enqueue(self, first: bool) -> list:
        """Queue one round. Prequeued, the first round after a host wait is queued behind a spin
        covering the host's queueing time; later ones are queued while the one before runs, and a
        spin before them would idle the device between rounds (the replay after it would start at
        clocks still ramping up: the A arm's first, a bias)."""
        spin = self._spin_s if self.method == PREQUEUED and first else 0.0
        ev, host_s = enqueue_abba(self.a.issue, self.b.issue, spin)
        if self.method == PREQUEUED:  # the next first spin covers 1.5x the host time this round took
            self._spin_s = max(self._spin_s, 1.5 * host_s)
        return ev

    def next_round(self) -> tuple[float, float, float, float]:
        """(a1, b1, b2, a2): seconds per launch of the four replays of one A B B A round."""
        if self._pending is None:
            self._pending = self._enqueue(first=True)
        cur, self._pending = self._pending, self._enqueue(first=False)  # queued before this one is read
        cur[4].synchronize()
        ms = [cur[i].elapsed_time(cur[i + 1]) for i in range(4)]
        return ms[0] / 1e3 / self.la, ms[1] / 1e3 / self.lb, ms[2] / 1e3 / self.lb, ms[3] / 1e3 / self.la

    def finish(self) -> None:
        """Let the round queued ahead complete (its outputs are written) and drop the graphs."""
        torch.cuda.current_stream(self.device).synchronize()
        self._pending = None

    def describe(self) -> dict:
        d = {"method": self.method, "launches_per_replay": [self.la, self.lb], "replay_ms": self.t.replay_ms,
             "warm_ms": self.t.warm_ms}
        if self.capture_error:
            d["capture_error"] = self.capture_error
        return d
