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


@pytest.mark.parametrize("chunk", [1, 5, 36, 37, 10**9])
def test_enumeration_in_slices_keeps_rows_and_order(space, chunk):
    # the product is evaluated in slices (leading params fixed) to bound memory: any slice size, same rows, same order
    cols = space.columns(None, chunk=chunk)
    assert [dict(zip(space.names, map(int, r))) for r in zip(*(cols[n] for n in space.names))] == space.enumerate()
    shaped = space.columns((96, 128, 64), chunk=chunk)
    assert len(shaped["BLOCK_M"]) == len(space.enumerate((96, 128, 64)))


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
    ("params: {A: [1, 2]}\nlegacy: {B: 1}", "legacy B: not a param"),
    ("params: {A: [1, 2]}\nlegacy: {A: 3}", "legacy A=3: not one of its values"),
    ("params: {A: [1, 2]}\nlegacy: {A: '1'}", "not an integer"),
    ("params: {A: [1, 2]}\nlegacy: [A]", "legacy"),
    ("params: {A: [1, 2]}\nlegasy: {A: 1}", "unknown key"),
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


def test_a_stored_config_takes_the_legacy_value_of_a_param_added_since(tmp_path):
    """Only a param the space declares a legacy value for is filled in; a config lacking any other
    param (or carrying an unknown one) is still refused by violations()."""
    p = tmp_path / "s.yaml"
    p.write_text(SPACE.replace("  WAIT: [0, 1, 2, 3]\n", "  WAIT: [0, 1, 2, 3]\n  SPLIT: [1, 2]\n")
                 + "legacy: {SPLIT: 1, WAIT: 0}\n")
    space = load_space(p, "sm_90")
    old = {"BLOCK_M": 16, "BLOCK_N": 16, "WARPS": 1, "PREFETCH": 2, "WAIT": 1}
    done = space.complete(old)
    assert done == {**old, "SPLIT": 1} and list(done) == space.names and not space.violations(done)
    assert space.complete({**old, "SPLIT": 2})["SPLIT"] == 2          # a stored value always wins
    assert space.complete({k: v for k, v in old.items() if k != "WAIT"})["WAIT"] == 0
    partial = space.complete({k: v for k, v in old.items() if k != "WARPS"})
    assert space.violations(partial) == ["missing parameter(s) WARPS"]
    assert "unknown" in space.violations(space.complete({**old, "X": 1}))[0]
    assert old == {"BLOCK_M": 16, "BLOCK_N": 16, "WARPS": 1, "PREFETCH": 2, "WAIT": 1}  # not mutated
