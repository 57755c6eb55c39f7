"""Verify and time one GEMM library on one device. Runs inside the worker process.

The same code serves every backend: torch gives the tensors, the reference and the vendor
BLAS; a Timer gives device events on a GPU (CUDA or ROCm torch) and a host clock on the CPU.

Verification (README.md, "How a trial is judged", says why each step is there):
  * output poisoned with NaN before every launch, so an unwritten element can never pass;
  * fresh random inputs (never zeros) for every trial, several of them;
  * back-to-back launches, each into its own poisoned buffer, all checked (races show up as
    outputs that differ from launch to launch);
  * an element-wise bound and a relative Frobenius bound against an fp32 reference;
  * after timing, the outputs of the timed launches are checked too.
Timing (hktune.run.sustained, hktune.run.paired, hktune.run.precision): the candidate (A) and
the vendor BLAS (B) timed in alternating A B B A rounds on the same rotated input sets (working set
larger than twice the last-level cache; the vendor writes its own outputs, half a rotation behind),
until the CI of the median per-round ratio vendor/candidate is within ``target_precision`` (or the
time cap). On a GPU each arm is a captured graph of back-to-back launches (``method`` 'graph'; or
launches queued behind a device-side spin, 'prequeued', where capture fails), replayed with no host
gap after a warm-up to the power-capped steady state; on the CPU, batches between host clock
readings ('host'). Absolute medians of both arms are reported too, with readings of clocks, power,
throttling and host load.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from hktune.dtypes import DTYPES, DType, Inputs
from hktune.run.device_info import device_info
from hktune.run.environment import environment_warnings, read_environment
from hktune.run.paired import Paired, measure_paired
from hktune.run.precision import choose_batch
from hktune.run.settings import Settings  # noqa: F401 - the worker's settings, also named here
from hktune.run.sustained import HOST, ReplayPlan, SustainedPair
from hktune.run.timer import Timer
from hktune.run.verify import Library, MeasureError, check, parse_config_string


BF16 = DTYPES["bf16"]


@dataclass
class Result:
    ok: bool
    reason: str | None = None
    error: float | None = None  # worst relative Frobenius error seen
    median_us: float | None = None
    p10_us: float | None = None
    p90_us: float | None = None
    spread: float | None = None
    tflops: float | None = None
    launches: int = 0
    sets: int = 0
    vendor_us: float | None = None
    vendor_tflops: float | None = None
    samples_us: list[float] = field(default_factory=list)
    # Paired timing (hktune.run.paired): vendor time / candidate time, > 1 = candidate faster.
    ratio: float | None = None
    ratio_lo: float | None = None
    ratio_hi: float | None = None
    precision: float | None = None   # achieved relative CI half-width of the ratio
    converged: bool | None = None    # precision reached target_precision before the cap
    rounds: int = 0
    ratios: list[float] = field(default_factory=list)  # one per ABBA round
    environment: dict = field(default_factory=dict)    # readings before/after timing
    warnings: list[str] = field(default_factory=list)
    method: str | None = None  # how it was timed: 'graph', 'prequeued' (GPU) or 'host'

    def to_dict(self) -> dict:
        return asdict(self)


def _stream(device: torch.device) -> int:
    return torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0


@dataclass
class ShapeSets:
    """Input sets of one shape, rotated while timing; each has its own output and reference."""

    A: list[torch.Tensor]
    Bt: list[torch.Tensor]
    C: list[torch.Tensor]
    ref: list[torch.Tensor]
    Cv: list[torch.Tensor] = field(default_factory=list)  # the vendor's outputs (never checked)
    X: list[tuple] = field(default_factory=list)          # the dtype's extra kernel operands (e.g. scales)
    dtype: DType = BF16

    def inputs(self, i: int) -> Inputs:
        return Inputs(self.A[i], self.Bt[i], self.X[i])


def refresh(sets: ShapeSets, gen: torch.Generator) -> None:
    """New input values at every address of every set, at the cost of a copy: the rows of A and of
    Bt permuted at random and (for float inputs) their signs flipped at random, exactly, so each
    reference follows exactly by the same permutation and signs, with no new matmul (the inputs stay
    the dtype's random inputs, never zero; per-tensor operands such as scales are unchanged). On the
    CPU this runs on one thread: small ops on a loaded machine cost ~10 ms each in thread hand-offs
    (25 s instead of 0.4 s for 256 small sets, measured)."""
    threads = torch.get_num_threads()
    if sets.A and sets.A[0].device.type == "cpu":
        torch.set_num_threads(1)
    try:
        _refresh(sets, gen)
    finally:
        torch.set_num_threads(threads)


SIGNED = (torch.bfloat16, torch.float16, torch.float32)   # negation by a multiply is exact and supported


def _refresh(sets: ShapeSets, gen: torch.Generator) -> None:
    for i, (A, Bt) in enumerate(zip(sets.A, sets.Bt)):
        m, n, dev = A.shape[0], Bt.shape[0], A.device
        pm, pn = torch.randperm(m, generator=gen, device=dev), torch.randperm(n, generator=gen, device=dev)
        ref = sets.ref[i][pm][:, pn]
        if A.dtype in SIGNED and Bt.dtype in SIGNED:
            sm = torch.randint(0, 2, (m,), generator=gen, device=dev) * 2 - 1
            sn = torch.randint(0, 2, (n,), generator=gen, device=dev) * 2 - 1
            A.copy_(A[pm] * sm[:, None].to(A.dtype))
            Bt.copy_(Bt[pn] * sn[:, None].to(Bt.dtype))
            ref = ref * (sm[:, None] * sn[None, :]).to(ref.dtype)
        else:
            A.copy_(A[pm])
            Bt.copy_(Bt[pn])
        sets.ref[i] = ref


def make_sets(m: int, n: int, k: int, device: torch.device, llc: int, s: Settings, dtype: DType = BF16) -> ShapeSets:
    """Input sets of the dtype's random inputs (never zeros), outputs and fp32 references."""
    per_set = dtype.set_bytes(m, n, k)
    # At least 3 sets: with 2, the paired arms alternate over the same two buffers and each sees
    # what the other just left in the cache.
    count = max(3, min(s.max_sets, math.ceil(s.llc_multiple * llc / per_set)))
    gen = torch.Generator(device=device).manual_seed(1_000_003 + s.seed)
    sets = ShapeSets([], [], [], [], dtype=dtype)
    for _ in range(count):
        x = dtype.random_inputs(m, n, k, device, gen)
        sets.A.append(x.A)
        sets.Bt.append(x.Bt)
        sets.X.append(tuple(dtype.kernel_args(x)))
        sets.C.append(dtype.empty_out(m, n, device))
        sets.Cv.append(dtype.empty_out(m, n, device))
        sets.ref.append(dtype.reference(x))
    return sets


# -- one evaluation -------------------------------------------------------------------------------
class Evaluator:
    """Holds per-shape input sets and vendor timings across trials in one worker."""

    def __init__(self, device: torch.device, settings: Settings | None = None) -> None:
        self.device = device
        self.s = settings or Settings()
        self.info = device_info(device)
        self.timer = Timer(device)
        self._sets: dict[tuple[int, int, int, str], ShapeSets] = {}
        self._vendor: dict[tuple[int, int, int, str], tuple[float, float]] = {}
        self._trial = 0
        self._draw = 0   # fresh input sets drawn so far (a confirmation measures on new inputs)
        self._pci = _pci_bus_id(device)
        self._busy_end: float | None = None   # when the device last finished timed work (heat: Settings)
        torch.backends.cuda.matmul.allow_tf32 = False

    def sets(self, m: int, n: int, k: int, fresh: bool = False, dtype: DType = BF16) -> ShapeSets:
        """The shape's rotated input sets of ``dtype``; ``fresh``: new input values for them (``refresh``)."""
        key = (m, n, k, dtype.name)
        if key not in self._sets:
            self._sets.clear()  # one shape at a time keeps memory bounded
            self._vendor.clear()
            self._sets[key] = make_sets(m, n, k, self.device, self.info["llc_bytes"], self.s, dtype)
        elif fresh:
            self._draw += 1
            refresh(self._sets[key], torch.Generator(device=self.device).manual_seed(7_777_777 * self._draw + self.s.seed))
        return self._sets[key]

    def _warm(self, fns: list[Callable[[], None]], cover: bool = False) -> None:
        # Warm-up by time and by count: module load, clocks and caches settle before timing.
        # cover: at least one launch on every set, so every output is written before the check.
        t_end = time.perf_counter() + self.s.warmup_ms / 1e3
        least = max(self.s.min_warmup, len(fns) if cover else 0)
        n = 0
        while n < least or time.perf_counter() < t_end:
            fns[n % len(fns)]()
            n += 1
            if n % len(fns) == 0:
                self.timer.sync()
        self.timer.sync()

    def _timed(self, fns: list[Callable[[], None]]) -> list[float]:
        self._warm(fns)
        return self.timer.time(fns, max(self.s.repeats, len(fns)))

    def vendor_launches(self, sets: ShapeSets) -> list[Callable[[], None]]:
        """The dtype's vendor call into the vendor's own outputs, views made now (no host allocation
        when timed)."""
        return [sets.dtype.vendor_launch(sets.inputs(i), C) for i, C in enumerate(sets.Cv)]

    def _warm_ms(self, budget_ms: float | None, steady: bool) -> float:
        """Back-to-back replays before the first round: a tournament's short round follows another;
        a figure on a card that cooled for more than cool_s is heated to its steady state first."""
        if budget_ms is not None:
            return self.s.warm_short_ms
        idle = math.inf if self._busy_end is None else time.perf_counter() - self._busy_end
        return self.s.heat_ms if steady and idle > self.s.cool_s else self.s.warm_ms

    def paired(self, bind: Callable[[int], list[Callable[[], None]]], sets: ShapeSets,
               budget_ms: float | None = None, stop_below: float | None = None,
               steady: bool = True) -> tuple[Paired, dict, list[str], str]:
        """Candidate vs vendor in ABBA rounds on the same rotated sets (hktune.run.paired).

        ``bind(stream)`` gives the candidate's launches, one per set. Both arms walk the sets in the
        same order; the vendor starts half a rotation behind, so neither reads inputs the other has
        just pulled into the cache. On a GPU the arms are replayed graphs (hktune.run.sustained);
        on the CPU, batches sized from a pilot launch of each arm (precision.choose_batch).
        ``stop_below``: a search's best ratio so far; timing stops as soon as this candidate is
        shown to be slower than it (hktune.run.paired: early stop)."""
        gpu = self.device.type == "cuda"
        cand = bind(_stream(self.device))
        vend = self.vendor_launches(sets)
        # A full measurement warms every set once, so the check after timing sees every output
        # written; a tournament round (budget_ms) checks a fresh input instead and warms by time.
        self._warm(cand, cover=budget_ms is None)
        self._warm(vend)
        run_a = self.timer.batch_runner(cand, 0)
        run_b = self.timer.batch_runner(vend, len(vend) // 2)
        pilot_a = _pilot(run_a)
        pilot_b = _pilot(run_b)
        rule = self.s.stop_rule(gpu)
        if budget_ms is not None:  # one short round (a tournament's): cap the timed work
            rule.max_time_s = budget_ms / 1e3
            rule.min_time_s = min(rule.min_time_s, rule.max_time_s / 2)
            rule.min_samples = 6  # the fewest rounds with a finite 95 % CI
        rule.min_launches = max(rule.min_launches, len(cand))  # a full rotation, as before (wall cap permitting)
        if gpu:
            warm = self._warm_ms(budget_ms, steady)
            pair = SustainedPair(self.device, bind, lambda _s: self.vendor_launches(sets), pilot_a, pilot_b, len(sets.A),
                                 ReplayPlan(self.s.replay_ms, warm), allow_graph=self.s.graph)
            pair.warm()
            before = read_environment(self.device.index, self._pci, gpu=gpu)
            try:
                res = measure_paired(None, None, rule, pair.la, pair.lb, round_fn=pair.next_round, stop_below=stop_below)
            finally:
                pair.finish()
                self._busy_end = time.perf_counter()
            method, detail = pair.method, pair.describe()
        else:
            before = read_environment(self.device.index, self._pci, gpu=gpu)
            batch_s = self.s.batch_ms / 1e3
            res = measure_paired(run_a, run_b, rule, choose_batch(pilot_a, batch_s), choose_batch(pilot_b, batch_s),
                                 stop_below=stop_below)
            method, detail = HOST, {"method": HOST}
        after = read_environment(self.device.index, self._pci, gpu=gpu)
        warns = list(dict.fromkeys(environment_warnings(before) + environment_warnings(after)))
        if detail.get("capture_error"):
            warns.append(f"timed pre-queued: graph capture failed ({detail['capture_error']})")
        if not res.converged and res.stop != "behind the best":
            if res.precision <= self.s.target_precision:   # precise enough, but short of the minimum timed work
                warns.append(f"stopped by the {res.stop} before the minimum timed work (precision {res.precision:.2%})")
            else:
                warns.append(f"precision {res.precision:.2%} did not reach {self.s.target_precision:.2%} ({res.stop})")
        return res, {"before": before, "after": after, "timing": detail}, warns, method

    def vendor(self, m: int, n: int, k: int, dtype: DType = BF16) -> tuple[float, float]:
        """(median us, TFLOP/s) of torch.matmul on the same buffers, timed the same way.

        Timed afresh right after each candidate: a GPU at its power limit runs slower once hot,
        and a vendor figure taken while it was cold would flatter the vendor."""
        sets = self.sets(m, n, k, dtype=dtype)
        samples = self._timed(self.vendor_launches(sets))
        med = statistics.median(samples)
        self._vendor[(m, n, k, dtype.name)] = (med, 2.0 * m * n * k / (med * 1e-6) / 1e12)
        return self._vendor[(m, n, k, dtype.name)]

    def verify(self, lib: Library, m: int, n: int, k: int, inputs: int, back_to_back: int, dtype: DType = BF16) -> float:
        """Fresh random inputs, poisoned outputs, back-to-back launches; returns the worst error."""
        self._trial += 1
        gen = torch.Generator(device=self.device).manual_seed(self.s.seed * 7919 + self._trial)
        stream = _stream(self.device)
        worst = 0.0
        for i in range(inputs):
            x = dtype.random_inputs(m, n, k, self.device, gen)
            ref = dtype.reference(x)
            extra = tuple(dtype.kernel_args(x))
            outs = [dtype.nan_out(m, n, self.device) for _ in range(back_to_back)]
            for C in outs:
                lib(x.A, x.Bt, C, stream, extra)
            self.timer.sync()
            for j, C in enumerate(outs):
                err, why = check(C, ref, dtype)
                worst = max(worst, err)
                if why:
                    raise MeasureError(f"wrong result (input {i + 1}, launch {j + 1}): {why}")
        return worst

    def evaluate(self, lib_path: str, expected: str | None, m: int, n: int, k: int,
                 time_it: bool = True, inputs: int | None = None, back_to_back: int | None = None,
                 budget_ms: float | None = None, fresh: bool = False, dtype: DType = BF16,
                 stop_below: float | None = None, steady: bool = True) -> Result:
        """Verify, then (``time_it``) time paired with the vendor. ``fresh``: on newly drawn input
        sets (a confirmation measurement); ``budget_ms``: one short tournament measurement;
        ``steady=False``: no heating of a cooled card first (a search trial: Settings.heat_ms); inputs,
        references, tolerances and the vendor call come from ``dtype`` (hktune.dtypes)."""
        lib = Library(lib_path)
        try:
            got = lib.config()
            if expected is not None and parse_config_string(got) != parse_config_string(expected):
                return Result(False, f"library was built as {got!r}, expected {expected!r}")
            err = self.verify(lib, m, n, k, inputs or self.s.verify_inputs, back_to_back or self.s.back_to_back, dtype)
            if not time_it:
                return Result(True, error=err)
            sets = self.sets(m, n, k, fresh=fresh, dtype=dtype)
            for C in sets.C:
                C.fill_(float("nan"))

            def bind(stream: int) -> list[Callable[[], None]]:
                return [lib.bind(A, Bt, C, stream, X) for A, Bt, C, X in zip(sets.A, sets.Bt, sets.C, sets.X)]
            pr, env, warns, method = self.paired(bind, sets, budget_ms, stop_below, steady)
            if self.s.check_after_timing and budget_ms is None:
                for i, (C, ref) in enumerate(zip(sets.C, sets.ref)):
                    e, why = check(C, ref, dtype)
                    err = max(err, e)
                    if why:
                        raise MeasureError(f"wrong result in timed launches (set {i + 1}): {why}")
            res = summarize_paired(pr, m, n, k, err, len(sets.A), env, warns)
            res.method = method
            return res
        except MeasureError as e:
            return Result(False, str(e))
        except RuntimeError as e:  # torch reports asynchronous device faults here
            return Result(False, f"device error: {str(e).splitlines()[0]}")
        finally:
            self.timer.sync() if self.device.type == "cpu" else None
            lib.close()


def _pilot(run: Callable[[int], float]) -> float:
    """Seconds per launch of one arm: the best of 3 single launches, then a ~2 ms batch (a single
    short launch is mostly launch overhead)."""
    one = min(run(1) for _ in range(3))
    n = choose_batch(one, 2e-3)
    return min(one, run(n)) if n > 1 else one


def _pci_bus_id(device: torch.device) -> str | None:
    """NVML's PCI bus id of a CUDA device (robust to CUDA_VISIBLE_DEVICES), when torch gives it."""
    if device.type != "cuda" or torch.version.hip:
        return None
    try:
        p = torch.cuda.get_device_properties(device)
        return f"{p.pci_domain_id:08X}:{p.pci_bus_id:02X}:{p.pci_device_id:02X}.0"
    except (AttributeError, RuntimeError):
        return None


def summarize_paired(pr: Paired, m: int, n: int, k: int, err: float, sets: int, env: dict, warns: list[str]) -> Result:
    """A Result from a paired measurement: the old absolute fields from the candidate's batches
    (per-launch us) and the vendor's median, plus the paired ratio with its CI."""
    flop = 2.0 * m * n * k
    vendor_us = pr.b.median * 1e6
    res = summarize([x * 1e6 for x in pr.a_samples], m, n, k, err, sets, vendor_us, flop / (vendor_us * 1e-6) / 1e12)
    res.launches = len(pr.a_samples) * pr.batch_a
    res.ratio, res.ratio_lo, res.ratio_hi = pr.ratio.median, pr.ratio.lo, pr.ratio.hi
    res.precision, res.converged, res.rounds = pr.precision, pr.converged, pr.rounds
    res.ratios = [round(x, 5) for x in pr.ratios]
    res.environment = {**env, "batch": [pr.batch_a, pr.batch_b], "timed_s": pr.timed_s, "stop": pr.stop}
    res.warnings = warns
    return res


def summarize(samples: list[float], m: int, n: int, k: int, err: float, sets: int,
              vendor_us: float | None, vendor_tflops: float | None) -> Result:
    q = statistics.quantiles(samples, n=10)
    med = statistics.median(samples)
    return Result(
        ok=True, error=err, median_us=med, p10_us=q[0], p90_us=q[-1], spread=(q[-1] - q[0]) / med,
        tflops=2.0 * m * n * k / (med * 1e-6) / 1e12, launches=len(samples), sets=sets,
        vendor_us=vendor_us, vendor_tflops=vendor_tflops, samples_us=[round(x, 3) for x in samples],
    )
