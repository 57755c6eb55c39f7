"""One error contract for the whole tool.

Every error a user can meet derives from :class:`HktuneError`, which carries its exit code; the
command line (hktune.commands) prints it as one line, ``hktune: error: ...``, and exits with it.

Exit codes: 0 success; 1 the work ran and failed; 2 bad input; 3 something the machine lacks
(compiler, GPU, toolchain, emulator, an optional extra); 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_MISSING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class HktuneError(Exception):
    """Base of every user-facing error; ``exit_code`` says which of the codes above it is."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class BadInput(HktuneError, ValueError):
    """The user asked for something that cannot work (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class Missing(HktuneError, RuntimeError):
    """The machine lacks something the work needs (exit 3)."""

    exit_code = EXIT_MISSING
