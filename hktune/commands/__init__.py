"""hktune's command line: one module per command in this folder, registered in COMMANDS below.

The error contract lives here, once: every error (hktune's own, click's usage errors, a missing
file or a permission problem) is one line, ``hktune: error: ...``, and the exit code of
hktune.errors: 0 success, 1 work failed, 2 bad input, 3 something missing, 4 inconclusive (sweep),
130 interrupted.
"""
from __future__ import annotations

import importlib
import sys

import click

from hktune.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, HktuneError
from hktune.commands.common import interrupted_message

# A new command is a module hktune/commands/<name>.py exposing `command`, plus its name here.
COMMANDS = ("search", "compile", "verify", "bench", "export", "show", "sweep", "shapes", "report", "check_model",
            "doctor", "toolchain")

_NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())

EPILOG = ("Exit codes: 0 success; 1 the work ran and failed; 2 bad input; 3 something the machine lacks "
          "(compiler, GPU, toolchain, emulator, an optional extra); 4 `sweep` only: inconclusive (nothing failed, but "
          "a measurement was too noisy or disturbed to judge; the detail says what to do); 130 interrupted "
          "(the same command resumes).")


def _line(message: str) -> str:
    first = " ".join(str(message).split()) or "unknown error"
    return f"hktune: error: {first}"


class Main(click.Group):
    """A click group whose every failure is one line and a documented exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN201
        try:
            rv = super().main(args=args, prog_name=prog_name or "hktune", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except HktuneError as e:
            click.echo(_line(str(e)), err=True)
            sys.exit(e.exit_code)
        except _NO_ARGS_HELP as e:  # click >= 8.2: a bare group prints its help
            click.echo(e.ctx.get_help() if e.ctx else "")
            sys.exit(EXIT_BAD_INPUT)
        except click.UsageError as e:
            hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
            click.echo(_line(e.format_message()) + hint, err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as e:
            click.echo(_line(e.format_message()), err=True)
            sys.exit(e.exit_code if e.exit_code not in (None, 0) else EXIT_FAILED)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo(_line(interrupted_message()), err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as e:
            if _during_interrupt(e):  # e.g. a storage lock released half-way when Ctrl-C arrived
                click.echo(_line(interrupted_message()), err=True)
                sys.exit(EXIT_INTERRUPTED)
            _os_error(e)
        sys.exit(rv if isinstance(rv, int) else 0)


def _during_interrupt(e: BaseException) -> bool:
    """True when ``e`` was raised while a Ctrl-C was being handled (its context chain holds one)."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, (KeyboardInterrupt, click.exceptions.Abort)):
            return True
        seen.add(id(cur))
        cur = cur.__context__ or cur.__cause__
    return False


def _os_error(e: OSError) -> None:
    """One line and the documented exit code for a file-system error."""
    if isinstance(e, PermissionError):
        click.echo(_line(f"cannot access {e.filename}: permission denied"), err=True)
        sys.exit(EXIT_BAD_INPUT)
    if isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        click.echo(_line(f"{e.filename}: {e.strerror}"), err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo(_line(f"{getattr(e, 'filename', None) or ''} {e.strerror or e}".strip()), err=True)
    sys.exit(EXIT_FAILED)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(package_name="hktune")
def main() -> None:
    """hktune: autotune GEMM kernel templates (HipKittens on gfx942/gfx950; ThunderKittens and CUDA on
    sm_90/sm_80; host CPU)."""


for _name in COMMANDS:
    main.add_command(importlib.import_module(f"hktune.commands.{_name}").command)
