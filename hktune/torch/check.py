"""Model-level check: a Llama-style MLP block run with torch's nn.Linear and with hktune's.

Same weights, same input; reports the error between the two outputs (and of each against an
fp32 reference), the end-to-end speed ratio, and what each GEMM ran as (tuned/padded/fallback).
Used by ``hktune check-model`` and bench/check_model.py.
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn

import hktune.torch as ht
from hktune.run.precision import median_ci
from hktune.run.settings import Settings
from hktune.run.sustained import enqueue_abba

GPU_DEFAULTS = {"hidden": 4096, "intermediate": 14336, "tokens": 4096}
CPU_DEFAULTS = {"hidden": 256, "intermediate": 896, "tokens": 128}
# The tuned block must agree with torch's about as well as two bf16 GEMM orders do (~3e-3).
MAX_REL_ERROR = 2e-2
BACK_TO_BACK = 8  # forwards per timed sample
HEAT_S = Settings.heat_ms / 1000   # GPU: both variants back to back before timing, as the GEMM figures are taken


class MLP(nn.Module):
    """down(silu(gate(x)) * up(x)), bias-free, as in Llama."""

    def __init__(self, hidden: int, intermediate: int, device: torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kw = {"bias": False, "device": device, "dtype": dtype}
        self.gate_proj = nn.Linear(hidden, intermediate, **kw)
        self.up_proj = nn.Linear(hidden, intermediate, **kw)
        self.down_proj = nn.Linear(intermediate, hidden, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


def gemm_shapes(hidden: int, intermediate: int, tokens: int) -> dict[str, tuple[int, int, int]]:
    """(M, N, K) of each projection: what `hktune search` must tune for this block."""
    return {"gate_proj": (tokens, intermediate, hidden), "up_proj": (tokens, intermediate, hidden),
            "down_proj": (tokens, hidden, intermediate)}


@dataclass
class CheckResult:
    device: str
    arch: str | None
    hidden: int
    intermediate: int
    tokens: int
    iters: int
    patched: list[str]
    max_abs_error: float            # hktune block vs torch block (both bf16)
    rel_error: float                # relative Frobenius, hktune vs torch
    rel_error_torch_fp32: float     # torch bf16 block vs an fp32 reference
    rel_error_hktune_fp32: float    # hktune bf16 block vs the fp32 reference
    torch_ms: float                 # median forward time
    hktune_ms: float
    speedup: float                  # median over rounds of the paired ratio torch / hktune (> 1: hktune faster)
    speedup_lo: float               # its 95% CI; a CI that holds 1 is a tie
    speedup_hi: float
    timer: str
    stats: dict[str, Any]           # counters of one forward pass of the hktune block
    plans: dict[str, str] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        """As JSON can hold it: a bound too few rounds cannot give (an infinite CI end) is None."""
        return {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in asdict(self).items()}


def _rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a.float() - ref)) / max(float(torch.linalg.vector_norm(ref)), 1e-30)


def _heat(device: torch.device, a: Callable[[], Any], b: Callable[[], Any], seconds: float) -> None:
    """GPU: the bursts ``a`` and ``b`` back to back for ``seconds``, one pair always queued behind the
    running one, so the card reaches its power-capped steady state before the first timed round (the
    GEMM figures' heat: Settings.heat_ms)."""
    if device.type != "cuda" or seconds <= 0:
        return
    t0, prev = time.perf_counter(), None
    while time.perf_counter() - t0 < seconds:
        a()
        b()
        ev = torch.cuda.Event()
        ev.record()
        if prev is not None:
            prev.synchronize()
        prev = ev
    if prev is not None:
        prev.synchronize()


def _rounds(device: torch.device, a: Callable[[], Any], b: Callable[[], Any], n: int,
            warmup: int = 0) -> tuple[str, list[tuple]]:
    """``n`` A B B A rounds of the bursts ``a`` and ``b`` after ``warmup`` untimed ones: (timer name,
    [(a1, b1, b2, a2) in ms]). On a GPU the first round is queued behind a device-side spin longer
    than the host takes to queue it, and every next round is queued before the previous one is read
    (hktune.run.sustained's method): the device runs all rounds back to back, never idle, as a
    model's layers follow each other, and no host time lands inside a timed window. A round read
    before the next is queued would leave the device idle between rounds, and the burst that follows
    the idle time (A's first) would start at clocks still ramping up: on an H100 (2026-12-05) two
    identical arms then read 1.016x and 1.028x, CIs above 1. On the CPU: perf_counter per burst."""
    out: list[tuple] = []
    if device.type != "cuda":
        def t(f: Callable[[], Any]) -> float:
            t0 = time.perf_counter()
            f()
            return (time.perf_counter() - t0) * 1e3
        for _ in range(warmup):
            a(), b()
        for _ in range(n):
            out.append((t(a), t(b), t(b), t(a)))
        return "perf_counter", out
    ev, host_s = enqueue_abba(a, b, 2e-3)
    if host_s > 2e-3:   # the host took longer than the spin: queue round 0 again behind a long enough one
        torch.cuda.synchronize(device)
        ev, _ = enqueue_abba(a, b, 1.5 * host_s)
    pending = [ev]
    for i in range(1, warmup + n + 1):
        if i < warmup + n:
            pending.append(enqueue_abba(a, b, 0.0)[0])
        done = pending.pop(0)
        done[4].synchronize()
        if i > warmup:
            out.append(tuple(done[j].elapsed_time(done[j + 1]) for j in range(4)))
    return "cuda events, rounds queued back to back behind one device spin", out


def _fp32_reference(model: MLP, x: torch.Tensor) -> torch.Tensor:
    xf = x.float()
    g = xf @ model.gate_proj.weight.float().t()
    u = xf @ model.up_proj.weight.float().t()
    return (nn.functional.silu(g) * u) @ model.down_proj.weight.float().t()


def run_check(hidden: int, intermediate: int, tokens: int, device: str | torch.device = "cpu",
              iters: int = 10, warmup: int = 2, seed: int = 0, heat_s: float = HEAT_S) -> CheckResult:
    """Build the block, run it both ways on the same input, compare and time them (on a GPU after
    ``heat_s`` of both back to back)."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 reference means fp32
    try:
        return _run(hidden, intermediate, tokens, dev, iters, warmup, seed, heat_s)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32


def _run(hidden: int, intermediate: int, tokens: int, dev: torch.device, iters: int, warmup: int, seed: int,
         heat_s: float) -> CheckResult:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch.manual_seed(seed)
    base = MLP(hidden, intermediate, device=dev, dtype=torch.bfloat16)
    # [1, T, H]: a batch dim, flattened to M = T by nn.Linear and by hktune alike.
    x = torch.randn(1, tokens, hidden, generator=gen).to(device=dev, dtype=torch.bfloat16)
    tuned = copy.deepcopy(base)
    patched = ht.patch(tuned)

    with torch.no_grad():
        ht.reset_stats()
        y_tuned = tuned(x)          # the first call builds / loads the kernels
        one = ht.stats()            # what one forward pass ran as
        y_base = base(x)
        ref = _fp32_reference(base, x)
        max_abs = float((y_tuned.float() - y_base.float()).abs().max())
        rel = _rel(y_tuned, y_base.float())
        rel_t, rel_h = _rel(y_base, ref), _rel(y_tuned, ref)
        del ref

        # Each sample is BACK_TO_BACK forwards queued one after the other, as a model runs them
        # (the host's per-call cost hides behind the device's work unless it exceeds it); per forward.
        def burst(model: nn.Module) -> Callable[[], None]:
            return lambda: [model(x) for _ in range(BACK_TO_BACK)]
        # A = torch, B = hktune, A B B A, so drift (clocks, heat) hits both alike; each round's
        # paired ratio is torch's time over hktune's
        _heat(dev, burst(base), burst(tuned), heat_s)
        timer, rounds = _rounds(dev, burst(base), burst(tuned), iters, warmup)

    arch = ht.arch_of(dev)
    plans = {}
    if arch is not None:
        for name, (m, n, k) in gemm_shapes(hidden, intermediate, tokens).items():
            p = ht.plan_for(m, n, k, arch)
            cfg = " ".join(f"{a}={b}" for a, b in p.entry.config.items()) if p.entry else ""
            plans[name] = f"{m}x{n}x{k}: {p.kind} ({p.reason}) {cfg} {p.detail}".strip()
    tb = statistics.median((a1 + a2) / 2 / BACK_TO_BACK for a1, _, _, a2 in rounds)
    th = statistics.median((b1 + b2) / 2 / BACK_TO_BACK for _, b1, b2, _ in rounds)
    est = median_ci([(a1 + a2) / (b1 + b2) for a1, b1, b2, a2 in rounds])
    ok = math.isfinite(rel) and rel <= MAX_REL_ERROR
    return CheckResult(
        device=str(dev), arch=arch, hidden=hidden, intermediate=intermediate, tokens=tokens, iters=iters,
        patched=patched, max_abs_error=max_abs, rel_error=rel, rel_error_torch_fp32=rel_t,
        rel_error_hktune_fp32=rel_h, torch_ms=tb, hktune_ms=th, speedup=est.median, speedup_lo=est.lo, speedup_hi=est.hi,
        timer=timer, stats=one, plans=plans, tables=[str(p) for p in ht.table_paths()], ok=ok,
    )


def _speed_word(r: CheckResult) -> str:
    if not (math.isfinite(r.speedup_lo) and math.isfinite(r.speedup_hi)):
        return "too few rounds for a CI"
    return "hktune faster" if r.speedup_lo > 1 else "hktune slower" if r.speedup_hi < 1 else "tie (the CI holds 1)"


def markdown(r: CheckResult) -> str:
    """A short Markdown report of one check."""
    s = r.stats
    lines = [
        f"# hktune check-model: MLP block H={r.hidden} I={r.intermediate} T={r.tokens} on {r.device} ({r.arch})",
        "",
        "| quantity | value |", "|---|---|",
        f"| rel. Frobenius error, hktune vs torch | {r.rel_error:.3e} |",
        f"| max abs error, hktune vs torch | {r.max_abs_error:.3e} |",
        f"| rel. error vs fp32: torch / hktune | {r.rel_error_torch_fp32:.3e} / {r.rel_error_hktune_fp32:.3e} |",
        f"| forward, torch (median of {r.iters} A B B A rounds of {BACK_TO_BACK} back-to-back forwards per burst; {r.timer}) | {r.torch_ms:.3f} ms |",
        f"| forward, hktune | {r.hktune_ms:.3f} ms |",
        f"| speed ratio torch/hktune (paired per round, 95% CI) | {r.speedup:.3f}x ({r.speedup_lo:.3f}-{r.speedup_hi:.3f}): {_speed_word(r)} |",
        f"| GEMMs per forward: tuned / padded / fallback | {s['tuned']} / {s['padded']} / {s['fallback']} |",
        f"| fallback reasons | {s['reasons'] or '-'} |",
        f"| verdict | {'ok' if r.ok else f'FAILED: error above {MAX_REL_ERROR}'} |",
        "", "GEMM plans:", "",
    ]
    lines += [f"- {name}: {text}" for name, text in r.plans.items()]
    lines += ["", f"tables: {', '.join(r.tables) or 'none'}", ""]
    return "\n".join(lines)
