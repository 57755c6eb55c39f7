"""`hktune search`: tune one shape or a shapes file."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from hktune.dtypes import DTYPES
from hktune.search.strategies import DEFAULT as DEFAULT_STRATEGY
from hktune.search.strategies import STRATEGIES

from hktune.commands.common import (roots, EXIT_FAILED, Fail, _check_writable, _default_table,
                                    _positive, _setup)

@click.command()
@click.option("--m", type=int, default=None, callback=_positive, help="rows of A and C")
@click.option("--n", type=int, default=None, callback=_positive, help="rows of Bt, columns of C")
@click.option("--k", type=int, default=None, callback=_positive, help="the reduction size")
@click.option("--shapes", "shapes_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="tune every shape of a YAML/CSV shapes file (see `hktune shapes`) instead of --m/--n/--k")
@click.option("--arch", required=True, help="host, sm_90, sm_80, gfx942, gfx950")
@click.option("--family", default=None, help="template family (default: the one serving --arch)")
@click.option("--trials", type=int, default=50, show_default=True, callback=_positive, help="configs to evaluate in the study (in all, across resumes)")
@click.option("--timeout", type=float, default=None, help="stop starting new trials after this many seconds")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the strategy's random choices and of the inputs")
@click.option("--strategy", "--sampler", "sampler", type=click.Choice(list(STRATEGIES)), default=DEFAULT_STRATEGY, show_default=True,
              help="how the next configs are chosen (hktune/search/strategies/)")
@click.option("--dtype", type=click.Choice(list(DTYPES)), default="bf16", show_default=True, help="element type of A, Bt and C")
@click.option("--storage", default=None, help="a journal file path, or an Optuna RDB URL (default: studies.journal beside the table)")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="YAML table (default results/<arch>.yaml)")
@click.option("--jobs", type=int, default=None, callback=_positive, help="parallel compiles (default: cores)")
@click.option("--gpu", type=int, default=None, help="GPU index (default: the first of --arch)")
@click.option("--gpus", default=None, help="several GPUs, e.g. 0,1,2,3: one run worker each, one shared study")
@click.option("--trial-timeout", type=float, default=120.0, show_default=True, help="seconds before a hung trial is killed")
@click.option("--hk-root", default=None, help="HipKittens checkout (else HIPKITTENS_ROOT)")
@click.option("--tk-root", default=None, help="ThunderKittens checkout (else THUNDERKITTENS_ROOT)")
@click.option("--space", "space_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="search this space file instead of the family's (e.g. a narrower one)")
@click.option("--finalists", type=int, default=5, show_default=True, callback=_positive,
              help="configs in the closing tournament (each race-hunted, then re-measured in interleaved paired rounds)")
@click.option("--tournament-rounds", type=int, default=30, show_default=True, callback=_positive,
              help="at most this many tournament rounds (the top two tie when they stay inseparable)")
@click.option("--sanitize/--no-sanitize", default=True, show_default=True,
              help="NVIDIA: run the winner once under compute-sanitizer racecheck and synccheck (when present)")
@click.option("--retime", is_flag=True, help="a finished study: run the finalists' tournament again (else its entry is reported at once)")
@click.option("--emulate", is_flag=True, help="gfx942/gfx950 without an AMD GPU: check the strategy's configs in the ISA "
              "emulator instead of timing them (correctness only; nothing is written to a table)")
@click.option("--quiet", is_flag=True, help="no progress bar")
def search(m: int | None, n: int | None, k: int | None, shapes_file: Path | None, arch: str, family: str | None, trials: int, timeout: float | None, seed: int,
           sampler: str, dtype: str, storage: str | None, table: Path | None, jobs: int | None, gpu: int | None, gpus: str | None,
           trial_timeout: float, hk_root: str | None, tk_root: str | None, space_file: Path | None, finalists: int, tournament_rounds: int, sanitize: bool, retime: bool, emulate: bool, quiet: bool) -> None:
    """Tune GEMM shapes: compile, verify, time and search; the best verified config goes into the table."""
    from tqdm import tqdm

    from hktune.record import table as tbl
    from hktune.run import targets
    from hktune.search.driver import Search, SearchError, SearchOptions
    from hktune.space.shapes import ShapesError, load_shapes

    if shapes_file is not None:
        if any((m, n, k)):
            raise Fail("give --shapes or --m/--n/--k, not both")
        try:
            shapes = [s.mnk for s in load_shapes(shapes_file)]
        except ShapesError as e:
            raise Fail(str(e)) from None
    elif m and n and k:
        shapes = [(m, n, k)]
    else:
        raise Fail("give --m, --n and --k (or --shapes FILE)")
    table = table or _default_table(arch)
    _check_writable(table)
    tbl.load(table)  # a malformed table stops us before any work, and stays as it is
    fam, space, builder = _setup(arch, family, roots(hk_root, tk_root), jobs, space_file, dtype)
    target = targets.get("emulator" if emulate else fam.target)
    if not target.TIMES:
        return _emulate(fam, arch, space, builder, shapes, trials, seed, jobs, quiet)
    if len(shapes) == 1:
        # One shape: a shape no config can serve is bad input, said before any worker starts.
        Search.check_shape(fam, arch, space, shapes[0])
    workers = target.workers(arch, _gpu_list(gpus) if gpus else [gpu], timeout_s=trial_timeout)
    failed_shapes = []
    with builder, contextlib.ExitStack() as stack:
        for shape in shapes:
            opts = SearchOptions(m=shape[0], n=shape[1], k=shape[2], trials=trials, timeout_s=timeout, seed=seed,
                                 sampler=sampler, storage=storage, table=table, dtype=dtype, retime=retime,
                                 finalists=finalists, tournament_rounds=tournament_rounds, sanitize=sanitize)
            try:
                s = Search(fam, arch, space, builder, workers, opts)
            except SearchError as e:
                if len(shapes) == 1:
                    raise
                click.echo(f"hktune: skipping {shape[0]}x{shape[1]}x{shape[2]}: {e}", err=True)
                failed_shapes.append(shape)
                continue
            if s.finished() and not retime:
                click.echo(f"study {s.name}: finished ({s.already} trials); its recorded best (`--retime` re-runs "
                           f"the tournament, a larger --trials goes on searching)", err=True)
                s.summary.best = s.recorded_best()
                _print_summary(s.summary, table)
                continue
            for w in workers:
                if not w.info:
                    stack.enter_context(w)
            info = workers[0].info
            click.echo(f"study {s.name}: {len(s.valid)} valid configs of {space.raw_size()}; {len(workers)}x {info['name']} "
                       f"({info['units']} units); {s.already} trials done before; storage {s.storage}", err=True)
            bar = tqdm(total=max(0, min(trials, len(s.valid)) - s.already), disable=quiet, unit="cfg", file=sys.stderr, dynamic_ncols=True)

            def progress(summary, res, bar=bar) -> None:  # noqa: ANN001
                bar.update(1)
                if summary.best:
                    b = summary.best
                    bar.set_postfix_str(f"best {b['tflops']:.3g} TFLOP/s ({b['tflops'] / b['vendor_tflops']:.2f}x vendor), failed {summary.failed}")

            summary = s.run(progress)
            bar.close()
            _print_summary(summary, table)
            if summary.best is None and s.already == 0:
                failed_shapes.append(shape)
    if failed_shapes:
        raise Fail(f"no config passed verification for {', '.join('x'.join(map(str, x)) for x in failed_shapes)}; "
                   "see `hktune show --studies` for the reasons", EXIT_FAILED)


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
            ["pruned (resources)", summary.pruned], ["proposals outside the valid space", summary.skipped_invalid],
            ["wall time", f"{summary.wall_s:.1f} s"], ["compile time (sum)", f"{summary.compile_s:.1f} s"],
            ["run time", f"{summary.run_s:.1f} s"]]
    if summary.best:
        b = summary.best
        g = lambda k, fmt: format(b[k], fmt) if isinstance(b.get(k), (int, float)) else "?"  # noqa: E731
        what = "recorded best" if b.get("recorded") else "best this run"
        ratio = f"{g('ratio', '.3f')}x vendor (paired)"
        if b.get("finalists"):
            ratio += f"; tournament of {b['finalists']}, {b.get('rounds')} rounds" + (", top two tied" if b.get("tie") else "")
        rows += [[what, f"{g('tflops', '.4g')} TFLOP/s, {g('median_us', '.1f')} us (spread {g('spread', '.1%')})"],
                 ["vendor BLAS", f"{g('vendor_tflops', '.4g')} TFLOP/s"], ["ratio", ratio],
                 ["error", g("error", ".2e")],
                 ["config", " ".join(f"{k}={v}" for k, v in b["config"].items())]]
    rows.append(["table", f"{table} ({'updated' if summary.recorded else 'unchanged'})"])
    click.echo(tabulate(rows, tablefmt="plain"))
    reasons: dict[str, int] = {}
    for _, why in summary.failures:
        reasons[why.split(":")[0]] = reasons.get(why.split(":")[0], 0) + 1
    if reasons:
        click.echo("failures: " + ", ".join(f"{v}x {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))




command = search


def _emulate(fam, arch: str, space, builder, shapes, trials: int, seed: int, jobs: int | None, quiet: bool) -> None:  # noqa: ANN001
    """`search --emulate`: the seeds, then the strategy's picks among the configs legal for every
    shape, each checked in the ISA emulator. Correctness only: no timing, no table, no study."""
    from tabulate import tabulate

    from hktune.run import targets
    from hktune.search import strategies
    from hktune.search.problem import config_key, legal_configs

    if not arch.startswith("gfx"):
        raise Fail(f"--emulate runs AMD code objects (gfx942, gfx950), not {arch}")
    legal = [{config_key(c): c for c in legal_configs(fam, arch, space, s)} for s in shapes]
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
        rows = targets.get("emulator").check(builder, configs, arch, jobs=jobs or 1, seed=seed, progress=progress)
    click.echo(tabulate([[" ".join(f"{k}={v}" for k, v in r.config.items()), (r.body or "")[:12], "x".join(map(str, r.shape)),
                          {"passed": "ok", "failed": "FAILED", "rejected": "rejected (static check)"}[r.status],
                          r.result.get("error"), r.result.get("reason") or r.build_reason or ""]
                         for r in rows], headers=["config", "body", "emulated at", "result", "error", "reason"],
                        tablefmt="simple", floatfmt=".3g"))
    failed = sum(r.status == "failed" for r in rows)  # a config a static check rejects is no failure
    if failed:
        raise Fail(f"{failed} of {len(rows)} configs failed in the emulator", EXIT_FAILED)
