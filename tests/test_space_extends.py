"""A space file that extends another (hktune/space/extends.py): the base's derived values, prior, limits and
constraints with the extending file's params, extra constraints, dropped policies (by name), seeds and legacy."""
import textwrap

import pytest

from hktune.space.space import SpaceError, load_space

BASE = textwrap.dedent("""
    family: t
    params:
      BLOCK_M: [16, 32, 64, 128]
      WARPS: [1, 2, 4]
      PREFETCH: {values: [1, 2, 3], define: PF}
      NEW: [0, 1]
    legacy: {NEW: 0}
    derived:
      SMEM: (PREFETCH + 1) * BLOCK_M * 128
    constraints:
      - SMEM <= smem
      - BLOCK_M % (WARPS * 16) == 0
    policy:
      few_warps: WARPS < 4           # a choice of the base, not the kernel's rule
    shape_constraints:
      - M % BLOCK_M == 0
    limits:
      sm_90: {smem: 32768}
    prior:
      SCORE: BLOCK_M * WARPS / M
    seeds:
      - {BLOCK_M: 64, WARPS: 2, PREFETCH: 2, NEW: 0}
      - {BLOCK_M: 16, WARPS: 1, PREFETCH: 1, NEW: 0}
""")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture
def base(tmp_path):
    return write(tmp_path, "base.yaml", BASE)


def test_an_extending_space_takes_the_base_and_changes_only_what_it_says(tmp_path, base):
    sub = tmp_path / "opt"
    sub.mkdir()
    p = write(sub, "opt.yaml", """
        extends: ../base.yaml
        params:
          WARPS: [2, 4]
          NEW: [1]
        constraints:
          - PREFETCH >= 2
        without:
          - few_warps
    """)
    s, b = load_space(p, "sm_90"), load_space(base, "sm_90")
    assert s.names == b.names and s.limits == b.limits and list(s.derived) == ["SMEM"] and list(s.prior) == ["SCORE"]
    got = s.enumerate()
    assert got and {c["WARPS"] for c in got} == {2, 4} and {c["NEW"] for c in got} == {1}
    assert all(c["PREFETCH"] >= 2 and (c["PREFETCH"] + 1) * c["BLOCK_M"] * 128 <= 32768 for c in got)
    assert any(c["WARPS"] == 4 for c in got)                        # the base's policy was dropped
    base_got = b.enumerate()
    assert base_got and not any(c["WARPS"] == 4 for c in base_got)  # in the base it holds like a constraint
    assert "policy few_warps: WARPS < 4" in b.violations(dict(base_got[0], WARPS=4, BLOCK_M=128))   # by its name
    assert all(c["BLOCK_M"] % (c["WARPS"] * 16) == 0 for c in got)  # the base's other constraints hold
    assert s.shape_violations(got[0], 48, 64, 64)                   # and its shape constraints
    # the base's seeds are kept where valid here (NEW 1 only: none), its legacy where the value is still offered
    assert s.seeds == [] and s.legacy == {}
    assert s.defines(got[0]) == b.defines(got[0])


def test_seeds_and_legacy_of_the_extending_file_replace_the_base_s(tmp_path, base):
    p = write(tmp_path, "opt.yaml", """
        extends: base.yaml
        params: {PREFETCH: [1, 2]}
        legacy: {NEW: 1}
        seeds:
          - {BLOCK_M: 32, WARPS: 2, PREFETCH: 2, NEW: 1}
    """)
    s = load_space(p, "sm_90")
    assert s.legacy == {"NEW": 1} and [sd["BLOCK_M"] for sd in s.seeds] == [32]
    assert s.defines(s.seeds[0])["PF"] == 2 and "PREFETCH" not in s.defines(s.seeds[0])   # the base's -D name
    p2 = write(tmp_path, "opt2.yaml", "extends: base.yaml\nparams: {PREFETCH: [1, 2]}\n")
    s2 = load_space(p2, "sm_90")
    assert [sd["BLOCK_M"] for sd in s2.seeds] == [64, 16] and s2.legacy == {"NEW": 0}


@pytest.mark.parametrize("body,message", [
    ("extends: base.yaml\nparams: {NOPE: [1]}\n", "param NOPE: not a param of base.yaml"),
    ("extends: base.yaml\nwithout: ['WARPS < 4']\n", "not a policy of base.yaml (its policies: few_warps)"),
    ("extends: base.yaml\nderived: {X: 1}\n", "derived: unknown key"),
    ("extends: base.yaml\nprior: {SCORE: 1}\n", "prior: unknown key"),
    ("extends: missing.yaml\n", "no such space file"),
    ("extends: self.yaml\n", "nested more than"),
    ("extends: base.yaml\nparams: {WARPS: [3]}\n", ""),   # a value the kernel never had: no config is valid
])
def test_bad_extending_files_fail_with_one_line(tmp_path, base, body, message):
    p = write(tmp_path, "self.yaml", body)
    if not message:
        assert load_space(p, "sm_90").enumerate() == []
        return
    with pytest.raises(SpaceError) as e:
        load_space(p, "sm_90")
    assert message in str(e.value) and "\n" not in str(e.value)

