"""The one way hktune runs an external program with a time limit.

The child starts in its own session (so its process group holds everything it forks: a compiler
driver's cc1/lld, a sanitizer's target, the emulator's clang); on a time-out, or when the caller
is interrupted, the whole group is killed with SIGKILL, so nothing is left running.
"""
from __future__ import annotations

import os
import signal
import subprocess
from typing import Sequence

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT


def kill_group(p: subprocess.Popen) -> None:
    """SIGKILL the child's process group (the child leads it: start_new_session)."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


COMPILE_NICE = 10  # compilers run at this niceness: the process that launches and times kernels keeps its core


def _niced(level: int):  # noqa: ANN202 - a preexec_fn
    return lambda: os.nice(level)


def run(cmd: Sequence[str], timeout: float | None, *, input: str | bytes | None = None, capture_output: bool = True,
        stdout: int | None = None, stderr: int | None = None, text: bool = True, nice: int = 0,
        **kw) -> subprocess.CompletedProcess:
    """subprocess.run in a session of its own, the whole process group killed on time-out.

    Output is captured (stdout and stderr; ``stderr=STDOUT`` merges them) unless
    ``capture_output=False``. On time-out raises subprocess.TimeoutExpired carrying the output
    read up to the kill. A missing program raises OSError (FileNotFoundError) as subprocess.run
    does. ``nice`` > 0 lowers the child's priority (compiles beside a timing worker). Other keywords
    (cwd, env, errors, ...) go to subprocess.Popen.
    """
    if nice > 0:
        kw["preexec_fn"] = _niced(nice)
    if capture_output:
        stdout = PIPE if stdout is None else stdout
        stderr = PIPE if stderr is None else stderr
    stdin = PIPE if input is not None else kw.pop("stdin", None)
    with subprocess.Popen(list(cmd), stdin=stdin, stdout=stdout, stderr=stderr, text=text,
                          start_new_session=True, **kw) as p:
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            out, err = p.communicate()
            raise subprocess.TimeoutExpired(p.args, timeout, output=out, stderr=err) from None
        except BaseException:  # e.g. KeyboardInterrupt: the group must not outlive us
            kill_group(p)
            raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


__all__ = ["run", "kill_group", "PIPE", "STDOUT", "COMPILE_NICE"]
