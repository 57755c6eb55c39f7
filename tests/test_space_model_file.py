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
