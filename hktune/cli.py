"""hktune's command line. Each command parses, validates, and hands off to one module.

Exit codes: 0 success; 1 the work ran but failed (no config verified, a regression); 2 bad
input (usage, unknown arch, bad shape, malformed file); 3 something the machine lacks
(compiler, GPU, toolchain). Every error is one line on stderr.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_MISSING = 1, 2, 3


class Fail(click.ClickException):
    """One line on stderr and a chosen exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"hktune: error: {self.format_message()}", err=True)


def _errors(fn):  # noqa: ANN001 - a decorator mapping our exceptions to one-line failures
    import functools

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        from hktune.compilers import CompilerMissing
        from hktune.devices import DeviceError
        from hktune.export import ExportError
        from hktune.family import FamilyError
        from hktune.hipkittens import HipKittensError
        from hktune.runner import WorkerError
        from hktune.search import SearchError
        from hktune.space import SpaceError
        from hktune.table import TableError

        try:
            return fn(*a, **kw)
        except (FamilyError, SpaceError, TableError, SearchError, HipKittensError, ExportError) as e:
            raise Fail(str(e), EXIT_BAD_INPUT) from None
        except (CompilerMissing, DeviceError, WorkerError) as e:
            raise Fail(str(e), EXIT_MISSING) from None
        except PermissionError as e:
            raise Fail(f"cannot write {e.filename}: permission denied", EXIT_BAD_INPUT) from None

    return wrapper


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise Fail(f"--{param.name} must be a positive integer, got {value}")
    return value


def _default_table(arch: str) -> Path:
    from hktune.family import project_root

    return project_root() / "results" / f"{arch}.yaml"


def _check_writable(path: Path) -> None:
    """Fail before any work if results cannot be saved (nothing is lost later)."""
    d = path.parent
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Fail(f"cannot create results directory {d}: {e.strerror}") from None
    if not os.access(d, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise Fail(f"results directory {d} is not writable")


def _setup(arch: str, family: str | None, hk_root: str | None, jobs: int | None, space_file: Path | None = None):  # noqa: ANN202
    """Family, space, builder for an arch (with HipKittens include dirs where the family needs them)."""
    from hktune.build import Builder
    from hktune.family import known_archs, resolve
    from hktune.hipkittens import include_dirs_for
    from hktune.space import load_space

    if arch not in known_archs():
        raise Fail(f"unknown arch {arch!r} (known: {', '.join(known_archs())})")
    fam = resolve(arch, family)
    space = load_space(space_file, arch) if space_file else fam.space(arch)
    builder = Builder(fam, arch, space=space, jobs=jobs, include_dirs=include_dirs_for(fam, arch, hk_root))
    return fam, space, builder


def _parse_config(text: str, space) -> dict[str, int]:  # noqa: ANN001
    cfg: dict[str, int] = {}
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise Fail(f"--config: expected NAME=VALUE, got {part!r}")
        try:
            cfg[k.strip()] = int(v)
        except ValueError:
            raise Fail(f"--config: {k}={v!r} is not an integer") from None
    bad = space.violations(cfg)
    if bad:
        raise Fail(f"--config is not a valid config of {space.path.name}: {bad[0]}")
    return cfg


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hktune")
def main() -> None:
    """hktune: autotune GEMM kernel templates (HipKittens on gfx942/gfx950; CUDA; host CPU)."""


# -- search ----------------------------------------------------------------------------------------
@main.command()
@click.option("--m", type=int, default=None, callback=_positive, help="rows of A and C")
@click.option("--n", type=int, default=None, callback=_positive, help="rows of Bt, columns of C")
@click.option("--k", type=int, default=None, callback=_positive, help="the reduction size")
@click.option("--shapes", "shapes_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="tune every shape of a YAML/CSV shapes file (see `hktune shapes`) instead of --m/--n/--k")
@click.option("--arch", required=True, help="host, sm_90, sm_80, gfx942, gfx950")
@click.option("--family", default=None, help="template family (default: the one serving --arch)")
@click.option("--trials", type=int, default=50, show_default=True, callback=_positive, help="configs to evaluate in the study (in all, across resumes)")
@click.option("--timeout", type=float, default=None, help="stop starting new trials after this many seconds")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sampler", type=click.Choice(["tpe", "random", "exhaustive"]), default="tpe", show_default=True)
@click.option("--storage", default=None, help="a journal file path, or an Optuna RDB URL (default: studies.journal beside the table)")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="YAML table (default results/<arch>.yaml)")
@click.option("--jobs", type=int, default=None, callback=_positive, help="parallel compiles (default: cores)")
@click.option("--gpu", type=int, default=None, help="GPU index (default: the first of --arch)")
@click.option("--gpus", default=None, help="several GPUs, e.g. 0,1,2,3: one run worker each, one shared study")
@click.option("--trial-timeout", type=float, default=120.0, show_default=True, help="seconds before a hung trial is killed")
@click.option("--hk-root", default=None, help="HipKittens checkout (else HIPKITTENS_ROOT / THUNDERKITTENS_ROOT)")
@click.option("--space", "space_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="search this space file instead of the family's (e.g. a narrower one)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@_errors
def search(m: int | None, n: int | None, k: int | None, shapes_file: Path | None, arch: str, family: str | None, trials: int, timeout: float | None, seed: int,
           sampler: str, storage: str | None, table: Path | None, jobs: int | None, gpu: int | None, gpus: str | None,
           trial_timeout: float, hk_root: str | None, space_file: Path | None, quiet: bool) -> None:
    """Tune GEMM shapes: compile, verify, time and search; the best verified config goes into the table."""
    from tqdm import tqdm

    from hktune import table as tbl
    from hktune.devices import device_for
    from hktune.runner import Worker
    from hktune.search import Search, SearchError, SearchOptions
    from hktune.shapes import ShapesError, load_shapes

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
    fam, space, builder = _setup(arch, family, hk_root, jobs, space_file)
    devices = [device_for(arch, g) for g in _gpu_list(gpus)] if gpus else [device_for(arch, gpu)]
    if len(shapes) == 1:
        # One shape: a shape no config can serve is bad input, said before any worker starts.
        Search.check_shape(fam, arch, space, shapes[0])
    workers = [Worker(d, timeout_s=trial_timeout) for d in devices]
    failed_shapes = []
    with builder, contextlib.ExitStack() as stack:
        for w in workers:
            stack.enter_context(w)
        for shape in shapes:
            opts = SearchOptions(m=shape[0], n=shape[1], k=shape[2], trials=trials, timeout_s=timeout, seed=seed,
                                 sampler=sampler, storage=storage, table=table)
            try:
                s = Search(fam, arch, space, builder, workers, opts)
            except SearchError as e:
                if len(shapes) == 1:
                    raise
                click.echo(f"hktune: skipping {shape[0]}x{shape[1]}x{shape[2]}: {e}", err=True)
                failed_shapes.append(shape)
                continue
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
        rows += [["best this run", f"{b['tflops']:.4g} TFLOP/s, {b['median_us']:.1f} us (spread {b['spread']:.1%})"],
                 ["vendor BLAS", f"{b['vendor_tflops']:.4g} TFLOP/s ({b['tflops'] / b['vendor_tflops']:.2f}x)"],
                 ["error", f"{b['error']:.2e}"],
                 ["config", " ".join(f"{k}={v}" for k, v in b["config"].items())]]
    rows.append(["table", f"{table} ({'updated' if summary.recorded else 'unchanged'})"])
    click.echo(tabulate(rows, tablefmt="plain"))
    reasons: dict[str, int] = {}
    for _, why in summary.failures:
        reasons[why.split(":")[0]] = reasons.get(why.split(":")[0], 0) + 1
    if reasons:
        click.echo("failures: " + ", ".join(f"{v}x {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))


# -- compile ---------------------------------------------------------------------------------------
@main.command("compile")
@click.option("--arch", required=True)
@click.option("--family", default=None)
@click.option("--config", "config_text", default=None, help="one config: NAME=V,NAME=V,...")
@click.option("--all", "all_", is_flag=True, help="every valid config of the space")
@click.option("--m", type=int, default=None, callback=_positive, help="with --n/--k: only configs legal for this shape")
@click.option("--n", type=int, default=None, callback=_positive)
@click.option("--k", type=int, default=None, callback=_positive)
@click.option("--limit", type=int, default=None, callback=_positive, help="at most this many configs")
@click.option("--jobs", type=int, default=None, callback=_positive)
@click.option("--hk-root", default=None)
@click.option("--json", "as_json", is_flag=True)
@_errors
def compile_(arch: str, family: str | None, config_text: str | None, all_: bool, m: int | None, n: int | None,
             k: int | None, limit: int | None, jobs: int | None, hk_root: str | None, as_json: bool) -> None:
    """Compile only (no GPU needed): one config or the whole space, with resource usage."""
    from tabulate import tabulate

    from hktune.build import outcome_dict

    if bool(config_text) == all_:
        raise Fail("give exactly one of --config or --all")
    shape = (m, n, k) if m and n and k else None
    if any((m, n, k)) and shape is None:
        raise Fail("--m, --n and --k go together")
    fam, space, builder = _setup(arch, family, hk_root, jobs)
    configs = [_parse_config(config_text, space)] if config_text else space.enumerate(shape)
    if limit:
        configs = configs[:limit]
    t0 = time.perf_counter()
    with builder:
        outcomes = sorted(builder.build_many(configs), key=lambda o: [o.config[p] for p in space.names])
    wall = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps([outcome_dict(o) for o in outcomes], indent=1))
    else:
        keys: list[str] = []
        for o in outcomes:
            keys += [r for r in o.resources if r not in keys]
        rows = [[" ".join(f"{p}={o.config[p]}" for p in space.names), "ok" if o.ok else "FAILED",
                 *[o.resources.get(r, "") for r in keys], f"{o.seconds:.1f}", "cached" if o.cached else "",
                 o.reason or ""] for o in outcomes]
        click.echo(tabulate(rows, headers=["config", "build", *keys, "s", "", "pruned / failed"], tablefmt="simple"))
    ok = sum(o.ok for o in outcomes)
    fresh = [o.seconds for o in outcomes if not o.cached]
    click.echo(f"{len(space.enumerate(shape))} valid configs in the space ({space.raw_size()} raw); compiled {len(outcomes)}: "
               f"{ok} ok, {len(outcomes) - ok} failed, {sum(1 for o in outcomes if o.ok and o.reason)} pruned; "
               f"{(sum(fresh) / len(fresh)) if fresh else 0:.2f} s per compile, {wall:.1f} s wall with {builder.jobs} jobs "
               f"({builder.compiler_version})", err=True)
    if ok < len(outcomes):
        sys.exit(EXIT_FAILED)


# -- export / show -----------------------------------------------------------------------------------
@main.command()
@click.option("--table", "tables", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("hktune_configs.h"), show_default=True)
@click.option("--min-ratio", type=float, default=0.0, show_default=True, help="leave out entries slower than this x vendor BLAS")
@_errors
def export(tables: tuple[Path, ...], out: Path, min_ratio: float) -> None:
    """Write a C++ header with the tuned configs, legality predicates and a shape lookup."""
    from hktune import table as tbl
    from hktune.export import export_header
    from hktune.family import resolve

    entries = [e for t in tables for e in tbl.load(t)]
    text = export_header(entries, lambda fam, arch: resolve(arch, fam).space(arch), out, min_ratio=min_ratio,
                         table=", ".join(str(t) for t in tables))
    click.echo(f"wrote {out}: {len(entries)} entries, {len(text.splitlines())} lines", err=True)


@main.command()
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), default=None, help="a table (default: every results/*.yaml)")
@click.option("--studies", is_flag=True, help="list the studies in the storage instead")
@click.option("--storage", default=None, help="journal file or Optuna RDB URL (default: results/studies.journal)")
@click.option("--study", "study_name", default=None, help="with --studies: the trials of one study")
@click.option("--json", "as_json", is_flag=True)
@_errors
def show(table: Path | None, studies: bool, storage: str | None, study_name: str | None, as_json: bool) -> None:
    """Show a table's entries, or the studies and their trials."""
    from tabulate import tabulate

    from hktune import table as tbl
    from hktune.family import project_root

    if studies:
        from hktune.report import study_rows

        from hktune.storage import default_storage

        storage = storage or default_storage(project_root() / "results")
        rows, headers = study_rows(storage, study_name)
        click.echo(json.dumps([dict(zip(headers, r)) for r in rows], indent=1, default=str) if as_json
                   else tabulate(rows, headers=headers, tablefmt="simple"))
        return
    paths = [table] if table else sorted((project_root() / "results").glob("*.yaml"))
    entries = [e for p in paths for e in tbl.load(p)]
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=1, default=str))
        return
    if not entries:
        click.echo("no entries" + (f" in {table}" if table else " in results/*.yaml"))
        return
    df = tbl.to_frame(entries)
    click.echo(tabulate(df, headers="keys", tablefmt="simple", showindex=False, floatfmt=".4g"))


# -- bench -------------------------------------------------------------------------------------------
@main.command()
@click.option("--arch", default=None, help="with --config: the arch")
@click.option("--family", default=None)
@click.option("--config", "config_text", default=None, help="one config NAME=V,... to time")
@click.option("--m", type=int, default=None, callback=_positive)
@click.option("--n", type=int, default=None, callback=_positive)
@click.option("--k", type=int, default=None, callback=_positive)
@click.option("--table", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="time every entry of a table")
@click.option("--gpu", type=int, default=None)
@click.option("--hk-root", default=None)
@click.option("--repeats", type=int, default=100, show_default=True, callback=_positive)
@click.option("--json", "as_json", is_flag=True)
@_errors
def bench(arch: str | None, family: str | None, config_text: str | None, m: int | None, n: int | None, k: int | None,
          table: Path | None, gpu: int | None, hk_root: str | None, repeats: int, as_json: bool) -> None:
    """Time one config, or a table's entries, against the vendor BLAS in the same run."""
    from tabulate import tabulate

    from hktune import table as tbl
    from hktune.devices import device_for
    from hktune.measure import Settings
    from hktune.runner import Worker
    from hktune.search import config_string

    if table:
        jobs_ = [(e.key.arch, e.key.family, e.config, (e.key.m, e.key.n, e.key.k), e) for e in tbl.load(table)]
    elif config_text and arch and m and n and k:
        jobs_ = [(arch, family, None, (m, n, k), None)]
    else:
        raise Fail("give --table, or --arch, --config, --m, --n and --k")
    rows, out = [], []
    workers: dict[str, Worker] = {}
    try:
        for arch_, fam_name, cfg, shape, entry in jobs_:
            fam, space, builder = _setup(arch_, fam_name, hk_root, None)
            cfg = cfg or _parse_config(config_text, space)
            bad = space.shape_violations(cfg, *shape)
            if bad:
                raise Fail(f"config is not legal for {shape[0]}x{shape[1]}x{shape[2]}: {bad[0]}")
            o = builder.build(cfg)
            builder.close()
            if not o.ok:
                res = {"ok": False, "reason": o.reason}
            else:
                dev = device_for(arch_, gpu)
                if dev not in workers:
                    workers[dev] = Worker(dev, Settings(repeats=repeats))
                    workers[dev].start()
                res = workers[dev].evaluate(o.artifact, config_string(space, cfg), *shape)
            res.pop("samples_us", None)
            out.append({"arch": arch_, "family": fam.name, "shape": shape, "config": cfg, **res,
                        "stored_tflops": entry.tflops if entry else None})
            rows.append([fam.name, arch_, "x".join(map(str, shape)), "ok" if res.get("ok") else "FAILED",
                         res.get("tflops"), res.get("vendor_tflops"),
                         (res["tflops"] / res["vendor_tflops"]) if res.get("ok") else None,
                         res.get("spread"), entry.tflops if entry else None, res.get("reason") or ""])
    finally:
        for w in workers.values():
            w.close()
    if as_json:
        click.echo(json.dumps(out, indent=1, default=str))
    else:
        click.echo(tabulate(rows, headers=["family", "arch", "MxNxK", "check", "TFLOP/s", "vendor", "ratio", "spread", "stored", "reason"],
                            tablefmt="simple", floatfmt=".4g"))
    if not all(o.get("ok") for o in out):
        sys.exit(EXIT_FAILED)


# -- doctor / toolchain -------------------------------------------------------------------------------
@main.command()
@click.option("--hk-root", default=None)
@click.option("--json", "as_json", is_flag=True)
def doctor(hk_root: str | None, as_json: bool) -> None:
    """Compilers and versions, GPUs and their arch, torch backend, caches, HipKittens."""
    from hktune.doctor import collect, render

    report = collect(hk_root)
    click.echo(json.dumps(report, indent=1, default=str) if as_json else render(report))


@main.group()
def toolchain() -> None:
    """The portable AMD device toolchain (compile for gfx942/gfx950 without ROCm)."""


@toolchain.command("install")
@click.option("--prefix", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--force", is_flag=True)
@click.option("--emulator", is_flag=True, help="also the AMD ISA emulator (tinygrad files at a pinned commit + tinygrad from PyPI)")
@click.option("--emulator-from", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="copy the emulator files from this folder (a tinygrad checkout) instead of GitHub; implies --emulator")
def toolchain_install(prefix: Path | None, force: bool, emulator: bool, emulator_from: Path | None) -> None:
    """Install pinned clang (AMDGPU), HIP headers and device libraries from PyPI and Debian."""
    from hktune import toolchain as tc

    try:
        t = tc.install(prefix, force=force)
    except tc.ToolchainError as e:
        raise Fail(str(e), EXIT_MISSING) from None
    click.echo(f"portable AMD toolchain ready: {t.version} at {t.prefix}")
    if emulator or emulator_from:
        from hktune.emulator.install import install_for_cli

        click.echo(install_for_cli(t.prefix, emulator_from, Fail, EXIT_MISSING))


# Commands that live in their own modules (hktune/cmd_<name>.py, each exposing `command`):
# a new command is a new file plus one name here.
for _name in ("sweep", "shapes", "report", "check_model", "verify"):
    try:
        _mod = __import__(f"hktune.cmd_{_name}", fromlist=["command"])
    except ModuleNotFoundError as _e:
        if _e.name != f"hktune.cmd_{_name}":
            raise
        continue
    main.add_command(_mod.command)


if __name__ == "__main__":
    main()
