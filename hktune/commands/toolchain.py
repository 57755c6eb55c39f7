"""`hktune toolchain`: the portable AMD device toolchain."""
from __future__ import annotations

from pathlib import Path

import click

from hktune.commands.common import (EXIT_MISSING, Fail)

@click.group()
def toolchain() -> None:
    """The portable AMD device toolchain (compile for gfx942/gfx950 without ROCm)."""


@toolchain.command("install")
@click.option("--prefix", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--force", is_flag=True)
def toolchain_install(prefix: Path | None, force: bool) -> None:
    """Install pinned clang (AMDGPU), HIP headers and device libraries from PyPI and Debian."""
    from hktune import toolchain as tc

    try:
        t = tc.install(prefix, force=force)
    except tc.ToolchainError as e:
        raise Fail(str(e), EXIT_MISSING) from None
    click.echo(f"portable AMD toolchain ready: {t.version} at {t.prefix}")




command = toolchain
