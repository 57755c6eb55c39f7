"""bench/independent.py, the second method behind every published ratio, serves fp8 tables too: its
own nvcc build with the family's fp8 flags, the scaled C ABI, its own e4m3 inputs with per-tensor
scales and torch._scaled_mm as the vendor. Its GPU half runs on the device (bench/device/next.sh);
here: what it reads, builds and loads (nvcc and ThunderKittens, no GPU)."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TK = os.environ.get("HKTUNE_TEST_TK")
SEED = {"M_BLOCK": 2, "N_BLOCK": 2, "STAGES": 4, "SUPER_M": 8, "PERSISTENT": 1, "PRODUCER_REGS": 40,
        "CONSUMER_REGS": 232, "EPILOGUE": 1, "SCHED": 0, "WG_M": 64, "CLUSTER_M": 1, "CLUSTER_N": 1, "ORDER": 0,
        "MMA_LAG": 0, "SPLIT_K": 1, "PROMOTE": 1, "STREAM_K": 0, "N_EXTRA": 0}


def _load():
    spec = importlib.util.spec_from_file_location("independent", ROOT / "bench" / "independent.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["independent"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_a_table_says_each_entry_s_dtype_and_a_library_is_one_per_dtype(tmp_path: Path):
    ind = _load()
    entries = [{"key": {"family": "thunderkittens", "arch": "sm_90", "dtype": d, "layout": "ABt", "m": 4096, "n": 4096,
                        "k": 4096}, "config": SEED, "ratio": 0.9} for d in ("bf16", "fp8_e4m3")]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({"entries": entries}))
    args = ind.argparse.Namespace(table=str(tmp_path / "t.yaml"), landscape=None, dtype="bf16")
    pairs = ind.pairs_from(args)
    assert [p["dtype"] for p in pairs] == ["bf16", "fp8_e4m3"]
    assert ind.lib_key(pairs[0]) != ind.lib_key(pairs[1])       # same config, two libraries
    # a reused hktune cache entry is fp8 only when its nvcc command had -DHKT_FP8
    for name, cmd in (("a", "nvcc -O3 -DHKT_FP8 -DM_BLOCK=2"), ("b", "nvcc -O3 -DM_BLOCK=2"), ("c", None)):
        (tmp_path / name).mkdir()
        if cmd:
            (tmp_path / name / "build.log").write_text(cmd + "\nptxas info ...\n")
    assert [ind.lib_dtype(tmp_path / x / "lib.so") for x in "abc"] == ["fp8_e4m3", "bf16", "bf16"]
    (tmp_path / "a" / "other.so.cmd").write_text("nvcc -O3 -DM_BLOCK=2\n")      # its own sidecar first
    assert ind.lib_dtype(tmp_path / "a" / "other.so") == "bf16"


@pytest.mark.skipif(not TK or shutil.which("nvcc") is None, reason="needs HKTUNE_TEST_TK and nvcc")
def test_an_fp8_entry_builds_with_the_fp8_flags_and_loads_with_the_scaled_abi(tmp_path: Path, monkeypatch):
    ind = _load()
    commands = []
    real = ind.subprocess.run

    def run(cmd, **kw):  # noqa: ANN001, ANN003 - records the nvcc command, then runs it
        commands.append(cmd)
        return real(cmd, **kw)
    monkeypatch.setattr(ind.subprocess, "run", run)
    lib = ind.build(SEED, Path(TK), tmp_path, "fp8_e4m3")
    plain = ind.build(dict(SEED, PROMOTE=0), Path(TK), tmp_path, "bf16")
    assert lib != plain and lib.is_file() and plain.is_file()
    assert "-DHKT_FP8" in commands[0] and "-DHKT_FP8" not in commands[1]
    assert ind.build(SEED, Path(TK), tmp_path, "fp8_e4m3") == lib and len(commands) == 2   # built once
    assert ind.lib_dtype(lib) == "fp8_e4m3" and ind.lib_dtype(plain) == "bf16"     # so --reuse of this folder is safe
    k = ind.Kernel(lib, "fp8_e4m3")
    assert k.config() == SEED and k.scaled and len(k.fn.argtypes) == 9     # A, Bt, C, scale_a, scale_b, M, N, K, stream
    b = ind.Kernel(plain, "bf16")
    assert not b.scaled and len(b.fn.argtypes) == 7
