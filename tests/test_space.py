import textwrap

import pytest

from hktune.space.space import SpaceError, iter_product, load_space

SPACE = textwrap.dedent("""
    family: t
    params:
      BLOCK_M: [16, 32, 64, 128]
      BLOCK_N: {values: [16, 64, 128], define: BN}
      WARPS: [1, 2, 4]
      PREFETCH: [1, 2, 3]
      WAIT: [0, 1, 2, 3]
    derived:
      THREADS: WARPS * 32
      SMEM: (PREFETCH + 1) * (BLOCK_M + BLOCK_N) * 64 * 2
    constraints:
      - SMEM <= smem
      - BLOCK_M % (WARPS * 16) == 0
      - WAIT <= PREFETCH - 1
    shape_constraints:
      - M % BLOCK_M == 0 and N % BLOCK_N == 0
    limits:
      sm_90: {smem: 65536}
    seeds:
      - {BLOCK_M: 64, BLOCK_N: 64, WARPS: 2, PREFETCH: 2, WAIT: 1, shape: [4096, 4096, 4096]}
""")


@pytest.fixture
def space(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SPACE)
    return load_space(p, "sm_90")


def test_vectorised_enumeration_matches_brute_force(space):
    brute = [c for c in iter_product(space) if not space.violations(c)]
    assert space.enumerate() == brute
    assert 0 < len(brute) < space.raw_size()
    shaped = space.enumerate((96, 128, 64))
    assert shaped == [c for c in brute if not space.shape_violations(c, 96, 128, 64)]
    assert all(c["BLOCK_M"] in (16, 32) for c in shaped)


def test_defines_use_define_names_and_include_derived(space):
    cfg = space.enumerate()[0]
    d = space.defines(cfg)
    assert "BN" in d and "BLOCK_N" not in d
    assert d["THREADS"] == cfg["WARPS"] * 32


def test_violations_name_the_broken_constraint(space):
    cfg = {"BLOCK_M": 16, "BLOCK_N": 16, "WARPS": 1, "PREFETCH": 1, "WAIT": 1}
    assert space.violations(cfg) == ["WAIT <= PREFETCH - 1"]
    assert space.violations({**cfg, "WAIT": 9})[0].startswith("WAIT=9 not in")
    assert "missing" in space.violations({"BLOCK_M": 16})[0]


@pytest.mark.parametrize("body, message", [
    ("params: {}", "non-empty 'params'"),
    ("params: {A: [1, 2]}\nconstraints: ['A.real > 0']", "not allowed"),
    ("params: {A: [1, 2]}\nconstraints: ['B > 0']", "unknown name"),
    ("params: {A: [1, 'x']}", "not an integer"),
    ("params: {A: [1, 2]\n", "not valid YAML"),
    ("params: {A: [1, 2]}\nlimits: {gfx942: {x: 1}}", "no limits for arch sm_90"),
    ("params: {A: [1, 2]}\nseeds: [{A: 3}]", "seed"),
])
def test_malformed_space_files_fail_with_one_line(tmp_path, body, message):
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(SpaceError, match=message) as e:
        load_space(p, "sm_90")
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_repo_spaces_load_and_have_valid_configs():
    from hktune.family.family import discover

    for fam in discover().values():
        for arch in fam.archs:
            s = fam.space(arch)
            assert s.enumerate(), f"{fam.name}/{arch} has no valid config"
