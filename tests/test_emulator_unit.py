"""The emulator path's pieces that need no emulator: kernargs from a metadata note, the kernel
descriptor, the pass/fail rule, locating/installing the pinned files, body grouping, the CLI's
missing-emulator error, and the child's crash / error reporting."""
from __future__ import annotations

import hashlib
import os
import struct
import sys
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hktune.build.amd import codeobject  # noqa: E402
from hktune.emulator import abi, launch, locate  # noqa: E402
from hktune.emulator import install as inst  # noqa: E402

# .args of hktune_hk_gemm as clang 22 writes them (gfx950 and gfx942 alike, code object v6)
HK_ARGS = [
    {".offset": 0, ".size": 152, ".value_kind": "by_value"},   # hkt::globals: 3 gl + num_xcds, padded
    {".offset": 152, ".size": 4, ".value_kind": "hidden_block_count_x"},
    {".offset": 156, ".size": 4, ".value_kind": "hidden_block_count_y"},
    {".offset": 160, ".size": 4, ".value_kind": "hidden_block_count_z"},
    {".offset": 164, ".size": 2, ".value_kind": "hidden_group_size_x"},
    {".offset": 166, ".size": 2, ".value_kind": "hidden_group_size_y"},
    {".offset": 168, ".size": 2, ".value_kind": "hidden_group_size_z"},
    {".offset": 170, ".size": 2, ".value_kind": "hidden_remainder_x"},
    {".offset": 192, ".size": 8, ".value_kind": "hidden_global_offset_x"},
    {".offset": 216, ".size": 2, ".value_kind": "hidden_grid_dims"},
    {".offset": 272, ".size": 4, ".value_kind": "hidden_dynamic_lds_size"},
]


def _kd(**kw) -> codeobject.KernelDescriptor:
    raw = bytearray(64)
    struct.pack_into("<III", raw, 0, kw.get("gs", 0), kw.get("ps", 0), kw.get("ka", 408))
    struct.pack_into("<q", raw, 16, kw.get("entry", 4480))
    struct.pack_into("<III", raw, 44, 20, 11469130, kw.get("rsrc2", 388))
    struct.pack_into("<HH", raw, 56, kw.get("props", 8), 0)
    return codeobject.KernelDescriptor.parse(bytes(raw))


def _kernel(args=HK_ARGS, **kw) -> codeobject.Kernel:
    return codeobject.Kernel("_Z14hktune_hk_gemmN3hkt7globalsE", 0x1A00, 4152, _kd(**kw),
                             {".args": args, ".kernarg_segment_size": 408})


def test_kernel_descriptor_fields_and_user_sgprs():
    kd = _kd()
    assert (kd.kernarg_size, kd.entry_offset, kd.rsrc2) == (408, 4480, 388)
    assert kd.user_sgprs() == [("kernarg_segment_ptr", 2)] and kd.user_sgpr_count == 2
    r2 = kd.rsrc2_with_lds(65536)
    assert (r2 >> 15) & 0x1FF == 128 and r2 & ~(0x1FF << 15) == 388  # 65536 / 512-byte granules, rest kept
    assert (kd.rsrc2_with_lds(1) >> 15) & 0x1FF == 1
    with pytest.raises(ValueError):
        kd.rsrc2_with_lds(512 * 512)


def test_hk_kernargs_layout_from_metadata_note():
    k = _kernel()
    launch_ = abi.Launch((16, 1, 1), (512, 1, 1), 65536)
    buf = abi.hipkittens_kernargs(k, 0x1000, 0x2000, 0x3000, 512, 256, 320, launch_)
    assert len(buf) == 408
    # three gl<bf16,-1,-1,-1,-1>: {ptr, batch, depth, rows, cols, empty descriptor_dict} = 48 bytes each
    a, b, c = (struct.unpack_from("<QQQQQ", buf, 48 * i) for i in range(3))
    assert a == (0x1000, 1, 1, 512, 320) and b == (0x2000, 1, 1, 256, 320) and c == (0x3000, 1, 1, 512, 256)
    assert struct.unpack_from("<i", buf, 144) == (8,)          # the device's XCDs (MI300X / MI355X)
    assert struct.unpack_from("<III", buf, 152) == (16, 1, 1)
    assert struct.unpack_from("<HHH", buf, 164) == (512, 1, 1)
    assert struct.unpack_from("<H", buf, 216) == (1,)
    assert struct.unpack_from("<I", buf, 272) == (65536,)
    assert not any(buf[192:200])  # global offsets stay 0
    six = abi.hipkittens_kernargs(k, 0x1000, 0x2000, 0x3000, 512, 256, 320, launch_, num_xcds=6)  # MI300A
    assert struct.unpack_from("<i", six, 144) == (6,) and six[:144] == buf[:144] and six[148:] == buf[148:]
    assert abi.user_sgprs(k, 0x1122334455, 0) == [0x22334455, 0x11]


def test_kernargs_reject_an_abi_mismatch():
    with pytest.raises(abi.AbiError, match="152 bytes, got 96"):
        abi.kernargs(_kernel(), [b"\0" * 96], abi.Launch((1, 1, 1), (64, 1, 1), 0))
    with pytest.raises(abi.AbiError, match="no .args"):
        abi.kernargs(_kernel(args=[]), [], abi.Launch((1, 1, 1), (64, 1, 1), 0))
    with pytest.raises(abi.AbiError, match="user SGPRs"):
        abi.user_sgprs(_kernel(props=8 | 2), 0, 0)  # dispatch ptr enabled but RSRC2 says 2


def test_launch_matches_the_family_host_code():
    l = abi.hipkittens_launch({"BLOCK_M": 256, "BLOCK_N": 128, "THREADS": 512, "LDS_BYTES": 98304}, 512, 512)
    assert l.grid == (8, 1, 1) and l.block == (512, 1, 1) and l.lds_bytes == 98304 and l.blocks == 8
    with pytest.raises(abi.AbiError):
        abi.hipkittens_launch({"BLOCK_M": 256, "BLOCK_N": 128, "THREADS": 512, "LDS_BYTES": 1}, 384, 512)


def test_compare_rule():
    a, bt = launch.inputs(64, 32, 96, seed=1)
    assert np.count_nonzero(a) == a.size  # random normal, never zeros
    ref = launch.from_bf16(a) @ launch.from_bf16(bt).T
    good = launch.to_bf16(ref)
    r = launch.compare(good, a, bt)
    assert r["ok"] and r["bad_elements"] == 0 and r["error"] < 5e-3
    bad = good.copy()
    bad[3, 4] = launch.to_bf16(np.array([ref[3, 4] + 5.0 * np.sqrt(np.mean(ref ** 2))]))[0]
    r = launch.compare(bad, a, bt)
    assert not r["ok"] and r["bad_elements"] == 1 and "1 of 2048 outputs wrong" in r["reason"]
    nan = good.copy()
    nan[0, :] = 0x7FC0
    r = launch.compare(nan, a, bt)
    assert not r["ok"] and r["nan_elements"] == 32 and "not written" in r["reason"]


def _fake_emulator(root: Path) -> None:
    for rel in locate.FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")


def test_missing_emulator_is_one_line_that_says_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("HKTUNE_EMULATOR_DIR", raising=False)
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    with pytest.raises(locate.EmulatorMissing) as e:
        locate.find()
    msg = str(e.value)
    assert "\n" not in msg and "hktune toolchain install --emulator" in msg and "HKTUNE_EMULATOR_DIR" in msg
    monkeypatch.setenv("HKTUNE_EMULATOR_DIR", str(tmp_path / "nothing"))
    with pytest.raises(locate.EmulatorMissing, match="has no test/mockgpu/amd/emu.py"):
        locate.find()


def test_verify_cli_exits_3_without_the_emulator(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from hktune.commands import main

    monkeypatch.delenv("HKTUNE_EMULATOR_DIR", raising=False)
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    r = CliRunner().invoke(main, ["verify", "--arch", "gfx950", "--seeds"])
    assert r.exit_code == 3
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hktune: error: AMD ISA emulator not installed")
    r = CliRunner().invoke(main, ["verify", "--arch", "gfx950", "--seeds", "--sample", "2"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["verify", "--arch", "sm_90", "--seeds"])
    assert r.exit_code == 2


def test_install_from_dir_checks_the_pinned_hashes(monkeypatch, tmp_path):
    src = tmp_path / "src"
    _fake_emulator(src)  # pin these bytes for the test
    monkeypatch.setattr(inst, "FILES", {rel: hashlib.sha256(f"# {rel}\n".encode()).hexdigest() for rel in locate.FILES})
    monkeypatch.setattr(locate, "FILES", inst.FILES)
    emu = inst.install(tmp_path / "emulator", src, pip=False)
    assert not locate.verify(emu.root) and (emu.root / "test" / "mockgpu" / "amd" / "__init__.py").is_file()
    assert (emu.root / locate.MARKER).is_file()
    monkeypatch.delenv("HKTUNE_EMULATOR_DIR", raising=False)
    monkeypatch.setenv("HKTUNE_TOOLCHAIN_DIR", str(tmp_path))
    assert locate.find(check_tinygrad=False).root == emu.root
    (emu.root / "test" / "amd" / "helpers.py").write_text("tampered\n")
    with pytest.raises(locate.EmulatorMissing, match=r"damaged \(test/amd/helpers.py"):
        locate.find(check_tinygrad=False)
    (src / "test" / "amd" / "helpers.py").write_text("tampered\n")
    with pytest.raises(locate.EmulatorMissing, match="refusing to install"):
        inst.install(tmp_path / "emu2", src, pip=False)


def test_install_without_github_fails_with_one_line(tmp_path):
    def offline(url: str) -> bytes:
        assert url.startswith(f"https://raw.githubusercontent.com/tinygrad/tinygrad/{locate.TINYGRAD_COMMIT}/test/")
        raise urllib.error.URLError("Name or service not known")

    with pytest.raises(locate.EmulatorMissing) as e:
        inst.install(tmp_path / "emu", fetch=offline, pip=False)
    assert "\n" not in str(e.value) and "--emulator-from DIR" in str(e.value)


def test_pinned_hashes_match_the_shared_copy():
    from emu_env import missing

    d = os.environ.get("HKTUNE_EMULATOR_DIR")
    if d and not (Path(d) / "test" / "mockgpu" / "amd" / "emu.py").is_file():
        pytest.fail(f"HKTUNE_EMULATOR_DIR={d} has no test/mockgpu/amd/emu.py", pytrace=False)
    if not d:
        missing("needs HKTUNE_EMULATOR_DIR")
    assert locate.verify(Path(d)) == []


def test_child_reports_an_error_as_a_failed_result(monkeypatch, tmp_path):
    from hktune.emulator import run

    monkeypatch.setenv("CC", "/usr/bin/clang")  # never called: the code object is unreadable first
    bogus = tmp_path / "k.hsaco"
    bogus.write_bytes(b"not an elf")
    req = {"code_object": str(bogus), "m": 64, "n": 64, "k": 64, "emulator_root": str(tmp_path),
           "launch": {"grid": [1, 1, 1], "block": [256, 1, 1], "lds_bytes": 0}}
    r = run.run_child(req, timeout_s=120)
    assert r["ok"] is False and "CodeObjectError" in r["reason"] and "not an ELF" in r["reason"]


def test_verify_emulates_each_body_once(monkeypatch, tmp_path):
    """Configs whose builds have the same body share one emulated run; a build the static
    checks reject is never emulated and is reported as rejected, not failed."""
    from types import SimpleNamespace

    from emu_env import seed, space
    from hktune.emulator import verify as V

    sp = space("gfx950")
    c1 = seed("gfx950", 1024)
    c2 = dict(c1, OCCUPANCY=4)  # pretend the compiler made the same code
    c3 = dict(c1, WGM=4)
    c4 = dict(c1, VMCNT_0=2)
    art = {}
    for i, (c, body) in enumerate(((c1, "same"), (c2, "same"), (c3, "other"), (c4, "x"))):
        p = tmp_path / f"{i}.hsaco"
        p.write_text(body)
        art[tuple(c.values())] = p

    def build_many(configs):
        for c in configs:
            rejected = c["VMCNT_0"] == 2
            yield SimpleNamespace(config=c, ok=True, artifact=art[tuple(c.values())],
                                  reason="rejected by vmcnt: 1 unsafe wait(s): ..." if rejected else None)

    calls = []
    monkeypatch.setattr(V, "device_code_object", lambda a, scratch: a)
    monkeypatch.setattr(V.codeobject, "load", lambda p: SimpleNamespace(body_hash=Path(p).read_text()))

    def fake_emulate(co, cfg, arch, m, n, k, timeout_s, seed, dtype="bf16"):
        calls.append((Path(co).read_text(), (m, n, k)))
        return {"ok": True, "error": 3e-3, "bad_elements": 0, "seconds": 1.0, "reason": None}

    monkeypatch.setattr(V, "emulate", fake_emulate)
    rows = V.verify(SimpleNamespace(space=sp, build_many=build_many), [c1, c2, c3, c4], jobs=2)
    assert sorted(calls) == [("other", (256, 256, 320)), ("same", (256, 256, 320))]
    assert [r.ok for r in rows] == [True, True, True, False]
    assert [r.shared for r in rows[:3]] == [2, 2, 1] and rows[3].body is None
    assert "rejected by vmcnt" in rows[3].result["reason"]
    assert [r.status for r in rows] == ["passed", "passed", "passed", "rejected"]
    assert rows[3].rejected.startswith("rejected by vmcnt") and rows[3].as_dict()["status"] == "rejected"
    assert V.counts(rows) == {"passed": 3, "failed": 0, "rejected": 1}
    assert V.distinct_bodies(rows) == 2


def _verify_cli(monkeypatch, rows):  # noqa: ANN001, ANN202
    """Run `hktune verify --seeds` over canned rows (no emulator, compiler or HipKittens)."""

    from click.testing import CliRunner

    from hktune.commands import verify as cmd
    from hktune.commands import main
    from hktune.emulator import run, verify as V
    from hktune.family.trees.hipkittens import TREE

    from emu_env import space

    monkeypatch.setattr(locate, "find", lambda *a, **k: None)
    monkeypatch.setattr(run, "host_cc", lambda: "cc")
    monkeypatch.setattr(TREE, "find", lambda root=None: Path("/hk"))
    sp = space("gfx950")

    class B:
        space = sp

        def __enter__(self):
            return self

        def __exit__(self, *e):
            return None

    monkeypatch.setattr(cmd, "setup", lambda arch, family, roots, jobs, dtype="bf16": (types.SimpleNamespace(space=sp), B()))
    monkeypatch.setattr(V, "verify", lambda builder, configs, **kw: rows)
    return CliRunner().invoke(main, ["verify", "--arch", "gfx950", "--seeds"])


def test_verify_cli_reports_rejected_configs_without_failing(monkeypatch):
    """A config a static check (vmcnt, m0) rejects is `rejected (static check)`: counted apart
    and no reason to exit 1; an emulator failure or a compile error still is."""
    from emu_env import seed
    from hktune.emulator.verify import Row

    c = seed("gfx950", 1024)
    passed = Row(c, (256, 256, 320), body="a" * 64, result={"ok": True, "error": 3e-3, "seconds": 1.0})
    rejected = Row(dict(c, WGM=8), (256, 256, 320), result={"ok": False, "reason": "rejected by m0: 1 LDS load(s) "
                                                                                    "use an M0 the compiler wrote (...)"},
                   rejected="rejected by m0: 1 LDS load(s) use an M0 the compiler wrote (...)")
    r = _verify_cli(monkeypatch, [passed, rejected])
    assert r.exit_code == 0, r.output
    assert "rejected (static check)" in r.output
    assert "2 configs, 1 distinct kernel bodies emulated; 1 passed, 0 failed, 1 rejected (static check)" in r.output
    crashed = Row(dict(c, WGM=2), (256, 256, 320), body="b" * 64,
                  result={"ok": False, "reason": "emulator crashed: SIGSEGV", "seconds": 2.0})
    r = _verify_cli(monkeypatch, [passed, rejected, crashed])
    assert r.exit_code == 1 and "1 passed, 1 failed, 1 rejected (static check)" in r.output
    broken = Row(dict(c, WGM=4), (256, 256, 320), result={"ok": False, "reason": "compile failed: error: ..."})
    r = _verify_cli(monkeypatch, [passed, broken])
    assert r.exit_code == 1 and "1 passed, 1 failed, 0 rejected (static check)" in r.output


@pytest.mark.parametrize("arch", ["gfx950", "gfx942"])
def test_default_shape_is_legal_with_2x2_blocks_for_every_seed(arch):
    from emu_env import space
    from hktune.emulator.verify import default_shape, select

    sp = space(arch)
    for c in select(sp, seeds=True) + select(sp, sample=50, rng_seed=3):
        m, n, k = default_shape(sp, c)
        assert not sp.shape_violations(c, m, n, k)
        assert (m // c["BLOCK_M"], n // c["BLOCK_N"]) == (2, 2)
        assert k // c["K_STEP"] >= 2 * (c["PREFETCH"] + 1) + 1


@pytest.mark.parametrize("arch", ["gfx950", "gfx942"])
def test_real_code_object_metadata_matches_the_hk_abi(arch, tmp_path):
    """Needs HipKittens + a HIP compiler, not the emulator: the compiled kernel's metadata note
    and descriptor are what abi.py assumes (one 152-byte by_value globals, kernarg pointer only)."""
    from emu_env import compile_variant, hip_compiler, missing, require_tree, seed

    require_tree(arch)
    if hip_compiler() is None:
        missing("needs a HIP device compiler")
    res = compile_variant(tmp_path, arch, seed(arch, 1024))
    co = codeobject.load(res.artifact)
    k = co.kernel()
    assert k.name == "_Z14hktune_hk_gemmN3hkt7globalsE" and k.code_size > 1000
    explicit = [a for a in k.args if not a[".value_kind"].startswith("hidden_")]
    assert explicit == [{".offset": 0, ".size": 3 * abi.HK_GL_SIZE + 8, ".value_kind": "by_value"}]
    kinds = {a[".value_kind"] for a in k.args}
    assert {"hidden_block_count_x", "hidden_group_size_x", "hidden_dynamic_lds_size"} <= kinds
    assert k.descriptor.user_sgprs() == [("kernarg_segment_ptr", 2)] and k.descriptor.group_segment_fixed_size == 0
    assert co.image[k.entry_vaddr:k.entry_vaddr + 4] != b"\0\0\0\0"
    assert codeobject.load(res.artifact).body_hash == co.body_hash  # deterministic
    buf = abi.hipkittens_kernargs(k, 1, 2, 3, 256, 256, 320, abi.Launch((4, 1, 1), (512, 1, 1), 65536))
    assert len(buf) == k.kernarg_size


def test_sample_replaces_rejected_configs_until_n_are_emulated(monkeypatch):
    """`verify --sample N` emulates N configs: each one a static check rejects is reported and
    replaced by the next config of the same random order."""
    from types import SimpleNamespace

    from emu_env import space
    from hktune.emulator import verify as V

    sp = space("gfx950")
    valid = sp.enumerate(None)[:40]
    sp = SimpleNamespace(enumerate=lambda shape: list(valid), names=space("gfx950").names)
    order = __import__("random").Random(3).sample(valid, len(valid))
    bad = {tuple(c.values()) for c in order[:6:2]}  # the 1st, 3rd and 5th are rejected
    seen = []

    def fake_verify(builder, configs, **kw):
        seen.extend(configs)
        return [V.Row(c, (1, 1, 1), rejected="rejected by m0: ..." if tuple(c.values()) in bad else None,
                      result={"ok": True}) for c in configs]

    monkeypatch.setattr(V, "verify", fake_verify)
    rows = V.verify_sample(SimpleNamespace(space=sp), 5, rng_seed=3)
    assert V.counts(rows) == {"passed": 5, "failed": 0, "rejected": 3}
    assert seen == order[:8]   # 5 first, then 3 replacements
    # a space with fewer valid configs than asked: everything, no endless loop
    rows = V.verify_sample(SimpleNamespace(space=SimpleNamespace(enumerate=lambda s: order[:3], names=sp.names)),
                           5)
    assert len(rows) == 3
