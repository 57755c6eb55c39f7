"""`hktune search`: tune one shape or a shapes file."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from hktune.dtypes import DTYPES
from hktune.record import figures
from hktune.search.strategies import DEFAULT as DEFAULT_STRATEGY
from hktune.search.strategies import STRATEGIES

from hktune.commands.common import (tree_options, EXIT_FAILED, ArchOption, Fail, check_arch, check_writable, default_table,
                                    positive, positive_seconds, setup, check_storage, emit_json, note_interrupt,
                                    trials_saved_message)
from hktune.record import table as tbl
from hktune.run import targets
from hktune.run.memory import check_fits
from hktune.space.shapes import ShapesError, load_shapes
from hktune.search import strategies
from hktune.search.problem import SearchError, config_key, legal_configs
from hktune.target import Target
from hktune.search.driver import Search, SearchOptions
from hktune.search.storage import default_storage

EPILOG = """\b
Exit codes: 0 success; 1 no config verified for a shape, or a --shapes file had shapes no config
can serve (they are listed and skipped, the others are tuned); 2 bad input (unknown arch, a shape
no config serves or too large for the device's memory, bad --storage); 3 something missing;
130 interrupted (the trials already finished are saved: the same command resumes)."""

@click.command(epilog=EPILOG)
@click.option("--m", type=int, default=None, callback=positive, help="rows of A and C")
@click.option("--n", type=int, default=None, callback=positive, help="rows of Bt, columns of C")
@click.option("--k", type=int, default=None, callback=positive, help="the reduction size")
@click.option("--shapes", "shapes_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="tune every shape of a YAML/CSV shapes file (see `hktune shapes`) instead of --m/--n/--k")
@click.option("--arch", cls=ArchOption, required=True, callback=check_arch, help="target arch")
@click.option("--family", default=None, help="template family (default: the one serving --arch)")
@click.option("--trials", type=int, default=50, show_default=True, callback=positive, help="configs to evaluate in the study (in all, across resumes)")
@click.option("--timeout", type=float, default=None, callback=positive_seconds, help="stop starting new trials after this many seconds")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the strategy's random choices and of the inputs")
@click.option("--strategy", "--sampler", "sampler", type=click.Choice(list(STRATEGIES)), default=DEFAULT_STRATEGY, show_default=True,
              help="how the next configs are chosen (hktune/search/strategies/)")
@click.option("--dtype", type=click.Choice(list(DTYPES)), default="bf16", show_default=True, help="element type of A, Bt and C")
@click.option("--storage", default=None, help="a journal file (*.journal, in an existing folder) or an Optuna RDB URL such as sqlite:///x.db (default: studies.journal beside the table)")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="YAML table (default results/<arch>.yaml)")
@click.option("--jobs", type=int, default=None, callback=positive, help="parallel compiles (default: cores)")
@click.option("--gpu", type=int, default=None, help="GPU index (default: the first of --arch)")
@click.option("--gpus", default=None, help="several GPUs, e.g. 0,1,2,3: one run worker each, one shared study")
@click.option("--trial-timeout", type=float, default=120.0, show_default=True, callback=positive_seconds,
              help="seconds before a hung trial is killed")
@tree_options
@click.option("--space", "space_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="search this space file instead of the family's (e.g. a narrower one)")
@click.option("--finalists", type=int, default=5, show_default=True, callback=positive,
              help="configs in the closing tournament (each race-hunted, then re-measured in interleaved paired rounds)")
@click.option("--tournament-rounds", type=int, default=30, show_default=True, callback=positive,
              help="at most this many tournament rounds (the top two tie when they stay inseparable)")
@click.option("--early-stop/--no-early-stop", default=True, show_default=True,
              help="stop timing a trial once its paired ratio is shown below the best so far (its CI wholly under it)")
@click.option("--sanitize/--no-sanitize", default=True, show_default=True,
              help="NVIDIA: run the winner once under compute-sanitizer racecheck and synccheck (when present)")
@click.option("--retime", is_flag=True, help="a finished study: run the finalists' tournament again (else its entry is reported at once)")
@click.option("--emulate", is_flag=True, help="gfx942/gfx950 without an AMD GPU: check the strategy's configs in the ISA "
              "emulator instead of timing them (correctness only; nothing is written to a table)")
@click.option("--quiet", is_flag=True, help="no progress bar or progress lines")
@click.option("--json", "as_json", is_flag=True, help="print each shape's summary as JSON on stdout (snake_case keys)")
def search(m: int | None, n: int | None, k: int | None, shapes_file: Path | None, arch: str, family: str | None, trials: int, timeout: float | None, seed: int,
           sampler: str, dtype: str, storage: str | None, table: Path | None, jobs: int | None, gpu: int | None, gpus: str | None,
           trial_timeout: float, roots: dict[str, str | None], space_file: Path | None, finalists: int,
           tournament_rounds: int, early_stop: bool, sanitize: bool, retime: bool, emulate: bool, quiet: bool,
           as_json: bool) -> None:
    """Tune GEMM shapes: compile, verify, time and search; the best verified config goes into the table."""
    if storage is not None:
        check_storage(storage, must_exist=False)  # first: refused in under 2 s, before any family is read
    if gpu is not None and gpus:
        raise Fail("--gpu and --gpus: give one of them")
    shapes = _shapes_given(m, n, k, shapes_file)
    tgt, builder = setup(arch, family, roots, jobs, space_file, dtype)
    run_target = targets.get("emulator" if emulate else tgt.run)
    shapes, illegal = _servable(tgt, shapes, shapes_file)
    if tgt.run == "host" and run_target.TIMES:
        check_fits(shapes, dtype=tgt.dtype)  # this machine's RAM, before any worker starts
    table = table or default_table(arch)
    check_writable(table)
    default = default_storage(table.parent)  # where Search puts the studies without --storage
    if storage is None and Path(default).is_file():
        check_storage(default, must_exist=True)  # checked as a given one is
    tbl.load(table)  # a malformed table stops us before any work, and stays as it is
    if not run_target.TIMES:
        return _emulate(tgt, builder, shapes, trials, seed, jobs, quiet)
    workers = targets.open_workers(tgt, _gpu_list(gpus) if gpus else [gpu], timeout_s=trial_timeout)
    failed_shapes, storages, results = [], [], []
    with builder, contextlib.ExitStack() as stack:
        for shape in shapes:
            opts = SearchOptions(m=shape[0], n=shape[1], k=shape[2], trials=trials, timeout_s=timeout, seed=seed,
                                 sampler=sampler, storage=storage, table=table, retime=retime,
                                 finalists=finalists, tournament_rounds=tournament_rounds, sanitize=sanitize,
                                 early_stop=early_stop)
            try:
                s = Search(tgt, builder, workers, opts)
            except SearchError as e:
                if len(shapes) == 1:
                    raise
                click.echo(f"hktune: skipping {_mnk(shape)}: {e}", err=True)
                failed_shapes.append(shape)
                continue
            if s.storage not in storages and not (s.finished() and not retime):
                storages.append(s.storage)
            summary = _tune(s, workers, stack, quiet)
            if as_json:
                results.append(_summary_dict(summary, table, shape))
            else:
                _print_summary(summary, table)
            if summary.best is None and s.already == 0:
                failed_shapes.append(shape)
    if as_json:
        emit_json(results)
    where = f"`hktune show --studies --storage {storages[0]}`" if len(storages) == 1 else "`hktune show --studies`"
    if failed_shapes:
        raise Fail(f"no config passed verification for {', '.join(map(_mnk, failed_shapes))}; "
                   f"see {where} for the reasons", EXIT_FAILED)
    if illegal:
        raise Fail(f"tuned {len(shapes)} shapes; skipped {len(illegal)} that no config can serve: "
                   f"{', '.join(_mnk(x) for x, _ in illegal)}", EXIT_FAILED)


def _shapes_given(m: int | None, n: int | None, k: int | None, shapes_file: Path | None) -> list[tuple[int, int, int]]:
    if shapes_file is not None:
        if any((m, n, k)):
            raise Fail("give --shapes or --m/--n/--k, not both")
        try:
            return [s.mnk for s in load_shapes(shapes_file)]
        except ShapesError as e:
            raise Fail(str(e)) from None
    if m and n and k:
        return [(m, n, k)]
    if any((m, n, k)):
        raise Fail("--m, --n and --k go together (or give --shapes FILE)")
    raise Fail("give --m, --n and --k (or --shapes FILE)")


def _servable(tgt: Target, shapes: list[tuple[int, int, int]], shapes_file: Path | None
              ) -> tuple[list[tuple[int, int, int]], list[tuple[tuple[int, int, int], str]]]:
    """Every shape is checked before any work: a shape no config can serve is bad input. Alone it
    stops the command (exit 2); in a shapes file it is listed, skipped, and makes the exit 1."""
    illegal: list[tuple[tuple[int, int, int], str]] = []
    for shape in shapes:
        try:
            legal_configs(tgt, shape)
        except SearchError as e:
            if len(shapes) == 1:
                raise
            illegal.append((shape, str(e)))
    if illegal:
        if len(illegal) == len(shapes):
            raise Fail(f"no shape of {shapes_file} can be served: {illegal[0][1]}")
        click.echo(f"hktune: skipping {len(illegal)} of {len(shapes)} shapes that no config can serve: "
                   f"{', '.join(_mnk(x) for x, _ in illegal)} ({illegal[0][1]})", err=True)
        shapes = [x for x in shapes if x not in {y for y, _ in illegal}]
    return shapes, illegal


def _tune(s, workers: list, stack: contextlib.ExitStack, quiet: bool):  # noqa: ANN001, ANN202
    """One shape's study: its recorded best when it is finished (and not --retime), else run it
    (the workers started on first use, the device's free memory checked first)."""
    if s.finished() and not s.opts.retime:
        click.echo(f"study {s.name}: finished ({s.already} trials); its recorded best (`--retime` re-runs "
                   f"the tournament, a larger --trials goes on searching)", err=True)
        s.summary.best = s.recorded_best()
        return s.summary
    for w in workers:
        if not w.info:
            stack.enter_context(w)
    if s.target.run != "host" and workers[0].info:
        check_fits([s.shape], workers[0].info, dtype=s.target.dtype)  # the device's free memory, before the study runs
    info = workers[0].info
    click.echo(f"study {s.name}: {len(s.valid)} valid configs of {s.space.raw_size()}; {len(workers)}x {info['name']} "
               f"({info['units']} units); {s.already} trials done before; storage {s.storage}", err=True)
    done = [s.already]
    note_interrupt(trials_saved_message(s.already))
    report = _progress(max(0, min(s.opts.trials, len(s.valid)) - s.already), quiet)

    def progress(summary, res) -> None:  # noqa: ANN001
        done[0] += 1
        note_interrupt(trials_saved_message(done[0]))
        report(summary)

    summary = s.run(progress)
    report(None)
    return summary


def _mnk(shape: tuple[int, int, int]) -> str:
    return "x".join(map(str, shape))


def _progress(total: int, quiet: bool):  # noqa: ANN202
    """A tqdm bar on a terminal; plain progress lines (every 10 trials or 30 s) in a log.
    The returned function takes the summary after each trial, and None at the end."""
    import time

    if quiet:
        return lambda summary: None

    def best_text(summary) -> str:  # noqa: ANN001
        if not summary.best:
            return f"failed {summary.failed}"
        f = figures.of(summary.best)
        ratio = f"{f.ratio:.3g}x vendor (paired)" if f.ratio else "?"
        tf = f"{f.tflops:.3g}" if f.tflops else "?"
        return f"best so far {ratio} (first timing), {tf} TFLOP/s, failed {summary.failed}"

    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="cfg", file=sys.stderr, dynamic_ncols=True)

        def tty(summary) -> None:  # noqa: ANN001
            if summary is None:
                bar.close()
                return
            bar.update(1)
            bar.set_postfix_str(best_text(summary))
        return tty

    state = {"n": 0, "last": time.monotonic(), "t0": time.monotonic()}

    def plain(summary) -> None:  # noqa: ANN001
        if summary is None:
            return
        state["n"] += 1
        now = time.monotonic()
        if state["n"] % 10 == 0 or state["n"] == total or now - state["last"] >= 30:
            state["last"] = now
            click.echo(f"progress: {state['n']}/{total} trials, {now - state['t0']:.0f} s; {best_text(summary)}", err=True)
    return plain


def _summary_dict(summary, table: Path, shape: tuple[int, int, int]) -> dict:  # noqa: ANN001
    best = None
    if summary.best:
        b = summary.best
        best = {**figures.of(b).as_dict(), "time_us": b.get("median_us"), "spread": b.get("spread"),
                "error": b.get("error"), "config": dict(b["config"])}
    reasons: dict[str, int] = {}
    for _, why in summary.failures:
        reasons[why.split(":")[0]] = reasons.get(why.split(":")[0], 0) + 1
    return {"study": summary.study, "storage": summary.storage, "m": shape[0], "n": shape[1], "k": shape[2],
            "warm_started": summary.warm_started, "evaluated": summary.evaluated, "verified": summary.succeeded,
            "failed": summary.failed, "pruned": summary.pruned, "skipped_invalid": summary.skipped_invalid,
            "wall_s": summary.wall_s, "compile_s": summary.compile_s, "run_s": summary.run_s, "best": best,
            "stopped_behind": summary.behind, "phases_s": {k: round(v, 2) for k, v in summary.phases.items()},
            "table": str(table), "table_updated": bool(summary.recorded), "failures": reasons}


def _gpu_list(text: str) -> list[int]:
    try:
        ids = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise Fail(f"--gpus: expected a list like 0,1,2, got {text!r}") from None
    if not ids or len(set(ids)) != len(ids):
        raise Fail(f"--gpus: expected distinct GPU indices, got {text!r}")
    return ids


def _print_summary(summary, table: Path) -> None:  # noqa: ANN001
    from tabulate import tabulate

    rows = [["study", summary.study], ["warm-started from nearby shapes", summary.warm_started],
            ["evaluated", summary.evaluated], ["verified", summary.succeeded], ["failed", summary.failed],
            ["stopped early (behind the best)", summary.behind],
            ["pruned (resources)", summary.pruned], ["proposals outside the valid space", summary.skipped_invalid],
            ["wall time", f"{summary.wall_s:.1f} s"], ["compile time (sum)", f"{summary.compile_s:.1f} s"],
            ["run time", f"{summary.run_s:.1f} s"]]
    if summary.phases:
        rows.append(["phases", ", ".join(f"{k} {v:.1f} s" for k, v in summary.phases.items())])
    f = figures.of(summary.best) if summary.best else None
    if summary.best:
        b = summary.best
        g = lambda k, fmt: format(b[k], fmt) if isinstance(b.get(k), (int, float)) else "?"  # noqa: E731
        what = "recorded best" if b.get("recorded") else "best this run"
        how = ""
        if b.get("finalists"):
            out = f" ({summary.left_out} behind on their trials left out)" if summary.left_out else ""
            how = f"tournament of {b['finalists']}{out}, {b.get('rounds')} rounds" + (", top two tied" if b.get("tie") else "")
        rows += [[what, f.ratio_text() + (f"; {how}" if how else "")],
                 ["absolute", f"{f.absolute_text()}, {g('median_us', '.1f')} us per launch"],
                 ["error", g("error", ".2e")],
                 ["config", " ".join(f"{k}={v}" for k, v in b["config"].items())]]
    rows.append(["table", f"{table} ({'updated' if summary.recorded else 'unchanged'})"])
    click.echo(tabulate(rows, tablefmt="plain"))
    if f is not None:
        for w in f.warnings:
            click.echo(f"warning: {w}")
        why = f.unreliable()
        if why:
            click.echo(f"unreliable: {'; '.join(why)} (re-run on a quieter machine; `hktune bench --table {table}` re-times it)")
    reasons: dict[str, int] = {}
    for _, why in summary.failures:
        reasons[why.split(":")[0]] = reasons.get(why.split(":")[0], 0) + 1
    if reasons:
        click.echo("failures: " + ", ".join(f"{v}x {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))




command = search


def _emulate(tgt, builder, shapes, trials: int, seed: int, jobs: int | None, quiet: bool) -> None:  # noqa: ANN001
    """`search --emulate`: the seeds, then the strategy's picks among the configs legal for every
    shape, each checked in the ISA emulator. Correctness only: no timing, no table, no study."""
    from tabulate import tabulate

    fam, arch, space = tgt.family, tgt.arch, tgt.space
    if not tgt.amd:
        raise Fail(f"--emulate runs AMD code objects (gfx942, gfx950), not {arch}")
    legal = [{config_key(c): c for c in legal_configs(tgt, s)} for s in shapes]
    common = [c for key, c in legal[0].items() if all(key in d for d in legal[1:])]
    if not common:
        raise Fail("no config is legal for every shape given")
    pick = strategies.make("random", space, common, seed)
    pick.prefer([{k: int(v) for k, v in s.items() if k in space.names} for s in space.seeds])
    configs = pick.ask(trials)
    click.echo(f"correctness only (ISA emulator, no timing; nothing written to a table): {len(configs)} of "
               f"{len(common)} legal configs of {fam.name} on {arch}", err=True)

    def progress(what: str, row) -> None:  # noqa: ANN001
        if what == "emulated" and not quiet:
            click.echo(f"  emulated {row.body[:12]}: {'ok' if row.result.get('ok') else 'FAILED'}", err=True)

    with builder:
        rows = targets.get("emulator").check(builder, configs, jobs=jobs or 1, seed=seed, progress=progress)
    click.echo(tabulate([[" ".join(f"{k}={v}" for k, v in r.config.items()), (r.body or "")[:12], "x".join(map(str, r.shape)),
                          {"passed": "ok", "failed": "FAILED", "rejected": "rejected (static check)"}[r.status],
                          r.result.get("error"), r.result.get("reason") or r.build_reason or ""]
                         for r in rows], headers=["config", "body", "emulated at", "result", "error", "reason"],
                        tablefmt="simple", floatfmt=".3g"))
    failed = sum(r.status == "failed" for r in rows)  # a config a static check rejects is no failure
    if failed:
        raise Fail(f"{failed} of {len(rows)} configs failed in the emulator", EXIT_FAILED)
