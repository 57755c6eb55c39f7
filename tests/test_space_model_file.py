"""The kernel's model kept beside the kernel (``model_from:``, hktune/space/model_file.py): its derived values and
prior after the space's own (the constants the file needs), its rules before the space's; a missing need, a name in
both, an unknown key or a missing file is one line."""
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hktune.space.prior import estimate
from hktune.space.space import SpaceError, load_space

ROOT = Path(__file__).resolve().parents[1]

MODEL = """
    needs: [RATE]
    derived:
      ROWS: 2 * BLOCK_M
    constraints:
      - ROWS <= 64
    prior:
      WORK: ROWS * M / RATE
      SCORE: WORK / (WORK + 1)
"""

SPACE = """
    family: t
    params:
      BLOCK_M: [16, 32, 64]
    limits:
      sm_90: {smem: 32768}
    model_from: ../kernel/model.yaml
    prior:
      RATE: @RATE@
"""


def space(rate) -> str:
    return SPACE.replace("@RATE@", str(rate))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_space_gives_the_constants_and_the_file_the_model(tmp_path):
    write(tmp_path / "kernel/model.yaml", MODEL)
    slow = load_space(write(tmp_path / "configs/slow.yaml", space(4)), "sm_90")
    fast = load_space(write(tmp_path / "configs/fast.yaml", space(0.5)), "sm_90")
    assert list(slow.prior) == ["RATE", "WORK", "SCORE"]
    configs = slow.enumerate()
    assert [c["BLOCK_M"] for c in configs] == [16, 32]      # the model's rule holds: ROWS <= 64
    assert list(slow.derived) == ["ROWS"] and slow.defines(configs[0])["ROWS"] == 2 * configs[0]["BLOCK_M"]
    work = np.array([2 * c["BLOCK_M"] * 64 / 4 for c in configs])
    np.testing.assert_allclose(estimate(slow, configs, (64, 64, 64)), work / (work + 1))
    assert (estimate(fast, configs, (64, 64, 64)) > estimate(slow, configs, (64, 64, 64))).all()


def test_an_extending_space_takes_its_base_model_file_relative_to_the_base(tmp_path):
    write(tmp_path / "kernel/model.yaml", MODEL)
    write(tmp_path / "configs/base.yaml", space(4))
    opt = load_space(write(tmp_path / "bench/deep/opt.yaml", "extends: ../../configs/base.yaml\nparams: {BLOCK_M: [32]}\n"),
                     "sm_90")
    assert list(opt.prior) == ["RATE", "WORK", "SCORE"]


@pytest.mark.parametrize("text,model,message", [
    (SPACE.replace("RATE: @RATE@", "OTHER: 2"), MODEL, "needs RATE"),
    (SPACE.replace("RATE: @RATE@", "RATE: 2\n      WORK: 3"), MODEL, "prior WORK is also in"),
    (space(2), MODEL + "    extra: 1\n", "extra: unknown key"),
    (space(2), MODEL.replace("SCORE", "FINAL"), "the last step of 'prior' must be named SCORE"),
    (space(2) + "    derived:\n      ROWS: 3\n", MODEL, "derived ROWS is also in"),
    (space(2).replace("model.yaml", "missing.yaml"), MODEL, "missing.yaml: no such model file"),
    (space(2).replace("../kernel/model.yaml", "[1]"), MODEL, "model_from: a path"),
])
def test_a_broken_model_file_or_use_is_one_line(tmp_path, text, model, message):
    write(tmp_path / "kernel/model.yaml", model)
    with pytest.raises(SpaceError, match=message) as e:
        load_space(write(tmp_path / "configs/s.yaml", text.replace("@RATE@", "2")), "sm_90")
    assert "\n" not in str(e.value)


def test_an_extending_space_cannot_name_its_own_model_file(tmp_path):
    write(tmp_path / "kernel/model.yaml", MODEL)
    write(tmp_path / "configs/base.yaml", space(4))
    p = write(tmp_path / "configs/opt.yaml", "extends: base.yaml\nmodel_from: ../kernel/model.yaml\n")
    with pytest.raises(SpaceError, match="model_from: unknown key"):
        load_space(p, "sm_90")


def test_the_thunderkittens_spaces_share_one_model_and_differ_in_their_constants():
    # bf16 and fp8 run one kernel (gemm.cu, -DHKT_FP8): the same derived values reach nvcc, and one prior rates them
    bf16 = load_space(ROOT / "configs/thunderkittens-sm_90.yaml", "sm_90")
    fp8 = load_space(ROOT / "configs/thunderkittens-sm_90-fp8_e4m3.yaml", "sm_90")
    constants = ["K_DEPTH", "FMA_CLK", "TMA_LATENCY"]
    assert list(bf16.prior)[:3] == list(fp8.prior)[:3] == constants
    assert [(k, e.text) for k, e in bf16.derived.items()] == [(k, e.text) for k, e in fp8.derived.items()]
    rules = [e.text for e in bf16.constraints]
    assert rules[0].startswith("SMEM_BYTES <=") and rules[:13] == [e.text for e in fp8.constraints][:13]
    assert "SMEM_BYTES" in bf16.derived and "CBOX" in bf16.derived
    assert [(k, e.text) for k, e in list(bf16.prior.items())[3:]] == [(k, e.text) for k, e in list(fp8.prior.items())[3:]]
    # one k step of a tile takes as many tensor-core cycles in either dtype (twice the depth at twice the rate)
    assert int(bf16.prior["K_DEPTH"].text) * 2 == int(fp8.prior["K_DEPTH"].text)
    assert int(bf16.prior["FMA_CLK"].text) * 2 == int(fp8.prior["FMA_CLK"].text)


def test_a_need_may_be_a_derived_value_and_the_file_may_hold_shape_rules(tmp_path):
    write(tmp_path / "kernel/model.yaml", """
        needs: [EB]
        derived:
          BYTES: BLOCK_M * EB
        shape_constraints:
          - M * K * EB <= 1048576
        prior:
          SCORE: BYTES / 64
    """)
    doc = """
        family: t
        params:
          BLOCK_M: [16, 32]
        derived:
          EB: "@EB@"
        shape_constraints:
          - M % BLOCK_M == 0
        limits:
          sm_90: {smem: 32768}
        model_from: ../kernel/model.yaml
    """
    one = load_space(write(tmp_path / "configs/one.yaml", doc.replace("@EB@", "1")), "sm_90")
    two = load_space(write(tmp_path / "configs/two.yaml", doc.replace("@EB@", "2")), "sm_90")
    assert list(one.derived) == ["EB", "BYTES"] and one.defines({"BLOCK_M": 32})["BYTES"] == 32
    assert [e.text for e in one.shape_constraints] == ["M * K * EB <= 1048576", "M % BLOCK_M == 0"]
    assert not one.shape_violations({"BLOCK_M": 32}, 1024, 64, 1024)     # 1 MiB of 1-byte elements fits
    assert two.shape_violations({"BLOCK_M": 32}, 1024, 64, 1024)         # of 2-byte ones it does not
    assert one.shape_violations({"BLOCK_M": 32}, 48, 64, 64)             # the space's own rule still holds


def test_the_hipkittens_gfx950_spaces_share_one_model_and_differ_in_their_constants():
    # bf16 and fp8 run one template (gemm_cdna4.cpp, -DHKT_FP8): its derived values, rules and prior are written once
    bf16 = load_space(ROOT / "configs/hipkittens-gfx950.yaml", "gfx950")
    fp8 = load_space(ROOT / "configs/hipkittens-gfx950-fp8_e4m3.yaml", "gfx950")
    assert [(k, e.text) for k, e in bf16.derived.items()][1:] == [(k, e.text) for k, e in fp8.derived.items()][1:]
    assert (bf16.derived["HKT_EB"].text, fp8.derived["HKT_EB"].text) == ("2", "1")
    assert [e.text for e in bf16.constraints] == [e.text for e in fp8.constraints]
    assert [e.text for e in bf16.shape_constraints] == [e.text for e in fp8.shape_constraints]
    assert list(bf16.prior)[0] == list(fp8.prior)[0] == "FMA_CLK"
    assert [(k, e.text) for k, e in list(bf16.prior.items())[1:]] == [(k, e.text) for k, e in list(fp8.prior.items())[1:]]
    # a k step of 64 bf16 and one of 128 fp8 are the same bytes, the same loads and the same LDS
    cfg = dict(BLOCK_M=256, BLOCK_N=128, WARPS_M=2, WARPS_N=4, PREFETCH=1, SCHEDULE=0, VMCNT_0=4, VMCNT_1=-1, LGKMCNT=4,
               OCCUPANCY=2, SETPRIO=1, WGM=4, CHUNK=4)
    b, f = bf16.defines({**cfg, "K_STEP": 64}), fp8.defines({**cfg, "K_STEP": 128})
    for name in ("HKT_LA", "HKT_LB", "LDS_BYTES", "HKT_PH1_READS", "HKT_V0MAX", "THREADS"):
        assert b[name] == f[name], name
