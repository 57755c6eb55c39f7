"""`hktune toolchain`: the portable AMD device toolchain."""
from __future__ import annotations

from pathlib import Path

import click

from hktune.build.toolchain import ToolchainError
from hktune.build.toolchain_install import install
from hktune.commands.common import EXIT_MISSING, Fail
from hktune.emulator.install import install_for_cli
from hktune.build.hiplink import runtime as hip_rt


@click.group()
def toolchain() -> None:
    """The portable AMD device toolchain (compile for gfx942/gfx950 without ROCm)."""


@toolchain.command("install")
@click.option("--prefix", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--force", is_flag=True, help="reinstall even when the pinned toolchain is already there")
@click.option("--emulator", is_flag=True, help="also the AMD ISA emulator (tinygrad files at a pinned commit + tinygrad from PyPI)")
@click.option("--emulator-from", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="copy the emulator files from this folder (a tinygrad checkout) instead of GitHub; implies --emulator")
@click.option("--runtime", is_flag=True, help="also the HIP runtime (Debian) that `hktune compile --link` links and loads against")
def toolchain_install(prefix: Path | None, force: bool, emulator: bool, emulator_from: Path | None, runtime: bool) -> None:
    """Install pinned clang (AMDGPU), HIP headers and device libraries from PyPI and Debian."""
    try:
        t = install(prefix, force=force)
    except ToolchainError as e:
        raise Fail(str(e), EXIT_MISSING) from None
    click.echo(f"portable AMD toolchain ready: {t.version} at {t.prefix}")
    if runtime:
        try:
            click.echo(f"HIP runtime ready: {hip_rt.install(t.prefix, force=force).version} in {hip_rt.default_root(t.prefix)}")
        except ToolchainError as e:
            raise Fail(str(e), EXIT_MISSING) from None
    if emulator or emulator_from:
        click.echo(install_for_cli(t.prefix, emulator_from, Fail, EXIT_MISSING))




command = toolchain
