"""Two HIP runtimes in one process (hktune/build/hip_runtime.py): seen from the files alone."""
from __future__ import annotations

from pathlib import Path

from hktune.build import hip_runtime as hr


def lib(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    real = folder / name
    real.write_bytes(b"\x7fELF")
    (folder / "libamdhip64.so").symlink_to(real.name)
    return folder / "libamdhip64.so"


def test_version_comes_from_the_resolved_file_name(tmp_path: Path):
    assert hr.version(lib(tmp_path / "a", "libamdhip64.so.6.4.43482")) == "6.4.43482"
    assert hr.version(tmp_path / "none.so") is None and hr.version(None) is None


def test_a_mismatch_is_one_line_and_names_both(tmp_path: Path):
    torch_lib = hr._find(lib(tmp_path / "torch" / "lib", "libamdhip64.so.6.2.41133").parent)
    rocm_lib = hr.system_runtime(lib(tmp_path / "rocm" / "lib", "libamdhip64.so.7.2.53211").parent.parent)
    msg = hr.clash(torch_lib, rocm_lib)
    assert msg and "\n" not in msg and "6.2.41133" in msg and "7.2.53211" in msg and str(rocm_lib) in msg


def test_one_runtime_or_one_release_is_no_clash(tmp_path: Path):
    a = hr._find(lib(tmp_path / "a", "libamdhip64.so.7.2.53211").parent)
    b = hr._find(lib(tmp_path / "b", "libamdhip64.so.7.2.53211").parent)
    assert hr.clash(a, a) is None and hr.clash(a, b) is None
    assert hr.clash(None, a) is None and hr.clash(a, None) is None


def test_a_cpu_or_cuda_torch_bundles_no_hip_runtime():
    assert hr.torch_runtime() is None   # CI's torch is the CPU build (torch.version.hip is None)
