"""A prior kept in its own file (``prior_from:``, hktune/space/prior_file.py): the space's own steps (the constants the
file needs) first, then the file's; a missing need, a name in both, an unknown key or a missing file is one line."""
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hktune.space.prior import estimate
from hktune.space.space import SpaceError, load_space

ROOT = Path(__file__).resolve().parents[1]

PRIOR = """
    needs: [RATE]
    prior:
      WORK: BLOCK_M * M / RATE
      SCORE: WORK / (WORK + 1)
"""

SPACE = """
    family: t
    params:
      BLOCK_M: [16, 32, 64]
    limits:
      sm_90: {smem: 32768}
    prior_from: ../kernel/prior.yaml
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
    write(tmp_path / "kernel/prior.yaml", PRIOR)
    slow = load_space(write(tmp_path / "configs/slow.yaml", space(4)), "sm_90")
    fast = load_space(write(tmp_path / "configs/fast.yaml", space(0.5)), "sm_90")
    assert list(slow.prior) == ["RATE", "WORK", "SCORE"]
    configs = slow.enumerate()
    work = np.array([c["BLOCK_M"] * 64 / 4 for c in configs])
    np.testing.assert_allclose(estimate(slow, configs, (64, 64, 64)), work / (work + 1))
    assert (estimate(fast, configs, (64, 64, 64)) > estimate(slow, configs, (64, 64, 64))).all()


def test_an_extending_space_takes_its_base_prior_file_relative_to_the_base(tmp_path):
    write(tmp_path / "kernel/prior.yaml", PRIOR)
    write(tmp_path / "configs/base.yaml", space(4))
    opt = load_space(write(tmp_path / "bench/deep/opt.yaml", "extends: ../../configs/base.yaml\nparams: {BLOCK_M: [32]}\n"),
                     "sm_90")
    assert list(opt.prior) == ["RATE", "WORK", "SCORE"]


@pytest.mark.parametrize("text,prior,message", [
    (SPACE.replace("RATE: @RATE@", "OTHER: 2"), PRIOR, "needs RATE"),
    (SPACE.replace("RATE: @RATE@", "RATE: 2\n      WORK: 3"), PRIOR, "prior step WORK is also a step of"),
    (space(2), PRIOR + "    extra: 1\n", "extra: unknown key"),
    (space(2), PRIOR.replace("SCORE", "FINAL"), "the last step of 'prior' must be named SCORE"),
    (space(2).replace("prior.yaml", "missing.yaml"), PRIOR, "no such file"),
    (space(2).replace("../kernel/prior.yaml", "[1]"), PRIOR, "prior_from: a path"),
])
def test_a_broken_prior_file_or_use_is_one_line(tmp_path, text, prior, message):
    write(tmp_path / "kernel/prior.yaml", prior)
    with pytest.raises(SpaceError, match=message) as e:
        load_space(write(tmp_path / "configs/s.yaml", text.replace("@RATE@", "2")), "sm_90")
    assert "\n" not in str(e.value)


def test_an_extending_space_cannot_name_its_own_prior_file(tmp_path):
    write(tmp_path / "kernel/prior.yaml", PRIOR)
    write(tmp_path / "configs/base.yaml", space(4))
    p = write(tmp_path / "configs/opt.yaml", "extends: base.yaml\nprior_from: ../kernel/prior.yaml\n")
    with pytest.raises(SpaceError, match="prior_from: unknown key"):
        load_space(p, "sm_90")


def test_the_thunderkittens_spaces_share_one_model_and_differ_in_their_constants():
    bf16 = load_space(ROOT / "configs/thunderkittens-sm_90.yaml", "sm_90")
    fp8 = load_space(ROOT / "configs/thunderkittens-sm_90-fp8_e4m3.yaml", "sm_90")
    constants = ["K_DEPTH", "FMA_CLK", "TMA_LATENCY"]
    assert list(bf16.prior)[:3] == list(fp8.prior)[:3] == constants
    assert [(k, e.text) for k, e in list(bf16.prior.items())[3:]] == [(k, e.text) for k, e in list(fp8.prior.items())[3:]]
    # one k step of a tile takes as many tensor-core cycles in either dtype (twice the depth at twice the rate)
    assert int(bf16.prior["K_DEPTH"].text) * 2 == int(fp8.prior["K_DEPTH"].text)
    assert int(bf16.prior["FMA_CLK"].text) * 2 == int(fp8.prior["FMA_CLK"].text)
