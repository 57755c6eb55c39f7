"""`hktune sweep`: the command line of hktune.sweep.sweep (re-verify and re-time a results table)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hktune.commands.bench import REPEATS
from hktune.commands.common import ArchOption, tree_options, check_arch, positive_seconds, emit_json
from hktune.commands.common import Fail as _Fail
from hktune.commands.outputs import check_output
from hktune.record import figures
from hktune.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK  # noqa: F401
from hktune.errors import EXIT_MISSING as EXIT_NOTHING
from hktune.record import table as tbl
from hktune.sweep.sweep import SweepError, SweepOptions, parse_shapes, run_sweep
from hktune.sweep.report import junit, markdown


def _writable(path: Path, what: str) -> None:
    """Fail before any work if a report (or the table, with --update) cannot be written. A missing folder is made only
    when the report is written (``_write``), so a sweep refused or failed creates nothing; here its nearest existing
    folder must be writable."""
    if path.is_dir():
        raise _Fail(f"{what}: {path} is a directory")
    d = path.absolute().parent
    while not d.exists():
        d = d.parent
    if not d.is_dir():
        raise _Fail(f"{what}: cannot create directory {path.parent}: {d} is not a directory")
    if not os.access(d, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _Fail(f"{what}: {path} is not writable")


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _nonneg(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and (value < 0 or value != value):
        raise _Fail(f"--{param.name.replace('_', '-')} must be >= 0, got {value}")
    return value


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise _Fail(f"--{param.name.replace('_', '-')} must be a positive integer, got {value}")
    return value


HELP = """Re-verify and re-time every entry of a results table, with the vendor BLAS timed in the
same run, and fail on a slowdown beyond noise, a wrong result or a failed build.

\b
Rule, per entry, on the paired ratio (vendor time / kernel time, timed in alternating rounds):
  regression:   the slowdown's 95% CI lies above 0 and reaches --tolerance
                (after --confirm re-measures; the best verified one counts)
  improved:     the mirror image (--update stores it, race-hunted first)
  inconclusive: the stored or the new measurement is too imprecise to judge --tolerance (its CI
                half-width, between-measurement noise included, exceeds max(1.5%, --tolerance/2)),
                or a change was seen while the machine was disturbed (host load above its cores,
                a throttled GPU). Not a pass; re-run on a quiet machine or give a larger --tolerance
  bad baseline: an old entry without a CI whose spread is too wide to judge by, or without a
                ratio: re-baseline with --update (never a wider threshold)

An entry measured with another compiler, torch, include tree (HipKittens commit), device or
template (template_hash) is not trusted: it is race-hunted (4 fresh inputs x 4 back-to-back
launches) as well as re-timed, and the report lists what differs. Entries whose arch has no
device here are skipped, with the reason.

\b
Exit codes:
  0  every selected entry verified, none significantly slower by --tolerance or more
  1  a regression, a bad baseline, a wrong result (or crash/hang), a failed build or an invalid config;
     also a skipped entry under --require-all
  2  bad input (missing or malformed table, bad --shapes, unknown --arch, unwritable report)
  3  nothing runnable (no entry selected, or every selected entry skipped)
  4  inconclusive: nothing failed, but an entry could not be judged (too noisy or a disturbed
     machine); the detail says what to do
"""


@click.command("sweep", help=HELP)
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path), required=True, help="the results table to sweep")
@click.option("--shapes", default=None, help="only these shapes: MxNxK,MxNxK,...")
@click.option("--family", default=None, help="only entries of this family")
@click.option("--arch", cls=ArchOption, default=None, callback=check_arch, help="only entries of this arch")
@click.option("--tolerance", type=float, default=0.03, show_default=True, callback=_nonneg,
              help="smallest slowdown that counts as a regression (0.03 = 3%)")
@click.option("--confirm", type=int, default=1, show_default=True, callback=_nonneg,
              help="re-measures of a suspected regression before it counts")
@click.option("--update", is_flag=True, help="store an improvement, and re-baseline a regression or a baseline too imprecise to judge by")
@click.option("--require-all", is_flag=True, help="a skipped entry (no device here) is a failure")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write a Markdown summary here")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write a JUnit XML report here (one testcase per entry)")
@click.option("--gpu", type=int, default=None, help="GPU index (default: the first of each entry's arch)")
@tree_options
@click.option("--trial-timeout", type=float, default=120.0, show_default=True, callback=positive_seconds,
              help="seconds before a hung measurement is killed")
@click.option("--repeats", type=int, default=REPEATS, show_default=True, callback=_positive, help="timed launches per measurement")
@click.option("--jobs", type=int, default=None, callback=_positive, help="parallel compiles (default: cores)")
@click.option("--quiet", is_flag=True, help="no per-entry progress on stderr")
@click.option("--json", "as_json", is_flag=True, help="one JSON record per entry on stdout (snake_case keys, configs as objects)")
def command(table: Path, shapes: str | None, family: str | None, arch: str | None, tolerance: float,
            confirm: int, update: bool, require_all: bool, markdown_path: Path | None, junit_path: Path | None,
            gpu: int | None, roots: dict[str, str | None], trial_timeout: float, repeats: int | None, jobs: int | None,
            quiet: bool, as_json: bool) -> None:
    from tabulate import tabulate

    if not table.is_file():
        raise _Fail(f"no table at {table}")
    for path, what in ((markdown_path, "--markdown"), (junit_path, "--junit")):
        if path is not None:
            _writable(path, what)
            check_output(path, what, [table])
    if markdown_path is not None and junit_path is not None and markdown_path.resolve() == junit_path.resolve():
        raise _Fail(f"--markdown and --junit name the same file {markdown_path}")
    if update:
        _writable(table, "--update")
    try:
        opts = SweepOptions(tolerance=tolerance, shapes=parse_shapes(shapes), family=family, arch=arch,
                            update=update, require_all=require_all, confirm=confirm, gpu=gpu, roots=roots,
                            trial_timeout=trial_timeout, repeats=repeats, jobs=jobs)
        report = run_sweep(table, opts, log=(lambda s: None) if quiet else (lambda s: click.echo(s, err=True)))
    except (tbl.TableError, SweepError) as e:
        raise _Fail(str(e)) from None

    rows = []
    for i, v in enumerate(report.verdicts, 1):
        r = v.result or {}
        rows.append([i, v.status, f"{v.entry.key.family}/{v.entry.key.arch}", f"{v.entry.key.m}x{v.entry.key.n}x{v.entry.key.k}",
                     figures.of(v.entry).ratio, figures.of(r).ratio if r else None,
                     -v.slowdown / (1 + v.slowdown) if v.slowdown is not None and v.slowdown > -1 else None,
                     v.threshold, r.get("tflops"), "yes" if v.provenance else ""])
    if as_json:
        emit_json([{"status": v.status, "family": v.entry.key.family, "arch": v.entry.key.arch, "m": v.entry.key.m,
                    "n": v.entry.key.n, "k": v.entry.key.k, "config": dict(v.entry.config), "stored_tflops": v.entry.tflops,
                    "tflops": (v.result or {}).get("tflops"), "vendor_tflops": (v.result or {}).get("vendor_tflops"),
                    "stored_ratio": figures.of(v.entry).ratio, "ratio": figures.of(v.result).ratio if v.result else None,
                    "slowdown": v.slowdown, "limit": v.threshold, "provenance": v.provenance or None,
                    "warnings": (v.result or {}).get("warnings") or None,
                    "detail": v.message or None} for v in report.verdicts])
    elif rows:
        click.echo(tabulate(rows, headers=["#", "status", "family/arch", "MxNxK", "stored ratio", "ratio now", "change",
                                           "limit", "TFLOP/s now", "provenance"], tablefmt="simple", floatfmt=".4g"))
        for i, v in enumerate(report.verdicts, 1):  # in full: the detail says what to do
            if v.message:
                click.echo(f"[{i}] {v.status}: {v.message}")
    try:
        if markdown_path is not None:
            _write(markdown_path, markdown(report).encode())
        if junit_path is not None:
            _write(junit_path, junit(report))
    except OSError as e:
        raise _Fail(f"cannot write report {e.filename}: {e.strerror}") from None
    code = report.exit_code()
    if code == EXIT_NOTHING:
        why = ("no entry of the table matches the filters" if not report.verdicts
               else "every selected entry was skipped: " + report.verdicts[0].message)
        raise _Fail(f"nothing runnable: {why}", EXIT_NOTHING)
    click.echo(report.headline(), err=True)
    sys.exit(code)
