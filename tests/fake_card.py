"""A simulated device for the measurement tests: per-launch times of two arms with lognormal
noise, optional bimodal slow launches, a clock that drops over the run, and an order bias that
slows the second launch of every pair of calls. Everything is seeded; nothing is really timed."""
from __future__ import annotations

import math
import random


class FakeCard:
    def __init__(self, a_s: float = 1e-3, b_s: float = 1e-3, sigma: float = 0.02, seed: int = 0,
                 drift: float = 0.0, drift_over_s: float = 1.0, second_slow: float = 0.0,
                 bimodal_p: float = 0.0, bimodal_x: float = 1.3, common_sigma: float = 0.0) -> None:
        self.t = {"a": a_s, "b": b_s}
        self.sigma, self.rng = sigma, random.Random(seed)
        self.drift, self.drift_over_s = drift, drift_over_s
        self.second_slow, self.bimodal_p, self.bimodal_x = second_slow, bimodal_p, bimodal_x
        self.common_sigma = common_sigma
        self.elapsed = 0.0   # simulated device time
        self.calls = 0
        self.log: list[tuple[str, float, float]] = []  # (arm, elapsed at start, per-launch time)

    def clock_factor(self) -> float:
        """Time multiplier of a clock that drops linearly: 1 -> 1 + drift over drift_over_s."""
        return 1.0 + self.drift * min(1.0, self.elapsed / self.drift_over_s)

    def run(self, arm: str, n: int) -> float:
        total = 0.0
        common = math.exp(self.rng.gauss(0, self.common_sigma)) if self.common_sigma else 1.0
        for _ in range(n):
            x = self.t[arm] * self.clock_factor() * common * math.exp(self.rng.gauss(0, self.sigma))
            if self.bimodal_p and self.rng.random() < self.bimodal_p:
                x *= self.bimodal_x
            total += x
        per = total / n
        if self.second_slow and self.calls % 2 == 1:
            per *= 1.0 + self.second_slow
        self.log.append((arm, self.elapsed, per))
        self.elapsed += per * n
        self.calls += 1
        return per

    def arms(self):
        return (lambda n: self.run("a", n)), (lambda n: self.run("b", n))

    def clock(self) -> float:
        return self.elapsed
