"""Where the emulator tests find HipKittens (both branches), the emulator and a HIP compiler.

CI sets HKTUNE_TEST_HK_MAIN (HipKittens branch main, gfx950), HKTUNE_TEST_HK_CDNA3 (branch
cdna3, gfx942) and HKTUNE_EMULATOR_DIR (a tinygrad checkout or the four-file folder at the
pinned commit); a test whose tree, emulator or compiler is missing is skipped with the reason -
unless HKTUNE_REQUIRE_EMULATOR is set (CI), where it fails. A tree variable that is set but does
not name a HipKittens checkout always fails: the run was told to use it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HK_ENV = {"gfx950": "HKTUNE_TEST_HK_MAIN", "gfx942": "HKTUNE_TEST_HK_CDNA3"}


def hk_root(arch: str) -> Path | None:
    v = os.environ.get(HK_ENV[arch])
    return Path(v) if v and (Path(v) / "include" / "kittens.cuh").is_file() else None


def emulator_missing() -> str | None:
    """Why the emulator cannot run here (None when it can)."""
    from hktune.emulator.locate import EmulatorMissing, find

    try:
        find()
    except EmulatorMissing as e:
        return str(e)
    try:
        from hktune.emulator.run import host_cc
        host_cc()
    except EmulatorMissing as e:
        return str(e)
    return None


def hip_compiler():  # noqa: ANN201
    from hktune.build.compilers.hip import HipCompiler

    c = HipCompiler()
    return c if c.available() else None


REQUIRE = "HKTUNE_REQUIRE_EMULATOR"


def missing(why: str) -> None:
    """Skip (fail when HKTUNE_REQUIRE_EMULATOR is set) because something the test needs is missing."""
    if os.environ.get(REQUIRE):
        pytest.fail(f"{REQUIRE} is set but the test {why}", pytrace=False)
    pytest.skip(why)


def require_tree(arch: str) -> Path:
    """The HipKittens tree for arch; a variable naming no checkout fails, an unset one is missing()."""
    v = os.environ.get(HK_ENV[arch])
    if v and hk_root(arch) is None:
        pytest.fail(f"{HK_ENV[arch]}={v} is not a HipKittens checkout (no include/kittens.cuh)", pytrace=False)
    if hk_root(arch) is None:
        missing(f"needs {HK_ENV[arch]}=<HipKittens checkout> for {arch}")
    return hk_root(arch)


def skip_unless(arch: str) -> None:
    """pytest.skip unless the tree for arch, the emulator and a HIP compiler are all there (with
    HKTUNE_REQUIRE_EMULATOR set: fail)."""
    require_tree(arch)
    why = emulator_missing()
    if why:
        missing(f"needs the emulator (HKTUNE_EMULATOR_DIR): {why}")
    if hip_compiler() is None:
        missing("needs a HIP device compiler (`hktune toolchain install`)")


def space(arch: str):  # noqa: ANN201
    from hktune.family.family import load_family

    return load_family(ROOT / "kernels" / "hipkittens").space(arch)


def seed(arch: str, shape: int = 1024, **override: int) -> dict:
    sp = space(arch)
    s = next(x for x in sp.seeds if x.get("shape") == [shape, shape, shape])
    cfg = {k: v for k, v in s.items() if k in sp.names}
    cfg.update(override)
    return cfg


def compile_variant(tmp: Path, arch: str, config: dict, extra: dict | None = None):  # noqa: ANN201
    """Compile the family's template for one config plus extra -D macros (plants) outside the
    build cache; returns the CompileResult (artifact = .hsaco or .so, asm = .s)."""
    from hktune.build.compilers.base import CompileJob
    from hktune.family.family import load_family

    fam = load_family(ROOT / "kernels" / "hipkittens")
    defines = {**space(arch).defines(config), **(extra or {})}
    out = tmp / f"{arch}-{len(list(tmp.iterdir()))}" / "libhktune.so"
    job = CompileJob(source=fam.arch(arch).source, out=out, arch=arch, defines=defines,
                     flags=fam.flags_for(arch), include_dirs=(hk_root(arch) / "include",))
    res = hip_compiler().compile(job)
    assert res.ok, res.log[-3000:]
    return res
