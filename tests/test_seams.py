"""The redesign's seams: strict family/space files, strategies as plug-ins that only propose
valid untried configs, the default family per arch, dtypes, and the safe expressions' edge cases."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hktune.family.family import load_family, resolve
from hktune.search import strategies
from hktune.search.problem import config_key
from hktune.space.expr import Expr
from hktune.space.space import load_space

ROOT = Path(__file__).resolve().parent.parent
TK = Path(os.environ.get("HKTUNE_TEST_TK", ROOT.parent / "shared" / "thirdparty" / "thunderkittens"))


def hk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_misspelt_space_key_is_refused_in_one_line(tmp_path: Path):
    bad = tmp_path / "space.yaml"
    bad.write_text((ROOT / "configs" / "host.yaml").read_text().replace("constraints:", "constraint:", 1))
    r = hk("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--space", str(bad),
           "--table", str(tmp_path / "t.yaml"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "constraint: unknown key" in r.stderr
    assert not (tmp_path / "t.yaml").exists()


def test_unknown_prune_rule_is_refused(tmp_path: Path):
    bad = tmp_path / "space.yaml"
    bad.write_text("params: {A: [1, 2]}\nprune: {max_spill: 0}\nlimits: {host: {}}\n")
    with pytest.raises(ValueError, match="prune.max_spill: unknown key"):
        load_space(bad, "host")


@pytest.mark.parametrize("line, message", [("check: [vmcnt]\n", "check: unknown key"),
                                           ("checks: [vmcnt2]\n", "unknown check 'vmcnt2'"),
                                           ("trees: [hipkittenz]\n", "unknown tree 'hipkittenz'")])
def test_misspelt_family_key_is_refused(tmp_path: Path, line: str, message: str):
    fam = tmp_path / "fams" / "typo"
    shutil.copytree(ROOT / "tests" / "families" / "faulty", fam)
    (fam / "family.yaml").write_text((fam / "family.yaml").read_text().replace("name: faulty", "name: typo") + line)
    r = hk("compile", "--arch", "host", "--family", "typo", "--all", env={"HKTUNE_FAMILY_PATH": str(tmp_path / "fams")})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("hktune: error: ") and message in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_strategies_propose_only_valid_untried_configs(name: str):
    space = load_space(ROOT / "configs" / "cuda.yaml", "sm_90")
    valid = space.enumerate((4096, 4096, 4096))[:120]  # enough to exhaust; TPE asks grow with the history
    keys = {config_key(c) for c in valid}
    s = strategies.make(name, space, valid, seed=1)
    s.prefer([valid[5], valid[5], {"BLOCK_M": 7}])  # a repeat and an invalid config are ignored
    seen: set[str] = set()
    rng = np.random.default_rng(0)
    while True:
        batch = s.ask(7)
        if not batch:
            break
        for c in batch:
            k = config_key(c)
            assert k in keys and k not in seen
            seen.add(k)
            s.observe(c, None if rng.random() < 0.1 else float(rng.random()))
    assert seen == keys and s.exhausted()


def test_first_preferred_config_comes_first():
    space = load_space(ROOT / "configs" / "host.yaml", "host")
    valid = space.enumerate((512, 512, 512))
    for name in strategies.STRATEGIES:
        s = strategies.make(name, space, valid, seed=0)
        s.prefer([valid[-1]])
        assert s.ask(1) == [valid[-1]]


def test_sm90_default_family_follows_the_thunderkittens_tree(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("THUNDERKITTENS_ROOT", raising=False)
    assert resolve("sm_90").name == "cuda"
    assert resolve("sm_80").name == "cuda"
    assert resolve("sm_90", roots={"thunderkittens": str(TK)}).name == "thunderkittens"
    monkeypatch.setenv("THUNDERKITTENS_ROOT", str(TK))
    assert resolve("sm_90").name == "thunderkittens"
    assert resolve("sm_90", family="cuda").name == "cuda"


def test_unknown_dtype_is_bad_input(tmp_path: Path):
    r = hk("search", "--arch", "host", "--m", "64", "--n", "64", "--k", "64", "--dtype", "fp9",
           "--table", str(tmp_path / "t.yaml"))
    assert r.returncode == 2 and r.stderr.startswith("hktune: error: ") and r.stderr.count("\n") == 1


def test_template_hash_ignores_notes_and_other_archs(tmp_path: Path):
    fam_dir = tmp_path / "hipkittens"
    shutil.copytree(ROOT / "kernels" / "hipkittens", fam_dir)
    fam = load_family(fam_dir)
    before = fam.template_hash("gfx950")
    (fam_dir / "NOTES.md").write_text("edited")
    (fam_dir / "gemm_cdna3.cpp").write_text("// other arch edited")
    assert fam.template_hash("gfx950") == before
    (fam_dir / "gemm_cdna4.cpp").write_text((fam_dir / "gemm_cdna4.cpp").read_text() + "\n// edit\n")
    assert fam.template_hash("gfx950") != before


def test_division_by_zero_makes_a_config_invalid():
    assert Expr("X // 0 <= 4").evaluate({"X": 3})[1] is True
    value, bad = Expr("X // Y <= 4").evaluate({"X": np.array([3, 9]), "Y": np.array([0, 1])})
    assert bad.tolist() == [True, False]
    with pytest.raises(ValueError, match="division by zero"):
        Expr("X % Y").__call__({"X": 1, "Y": 0})


def test_division_by_zero_in_a_space_is_never_valid(tmp_path: Path):
    f = tmp_path / "s.yaml"
    f.write_text("params: {A: [0, 1, 2]}\nderived: {Q: 8 // A}\nconstraints: ['Q <= 100']\nlimits: {host: {}}\n")
    space = load_space(f, "host")
    assert [c["A"] for c in space.enumerate()] == [1, 2]
    assert space.violations({"A": 0})


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cpp_rendering_keeps_python_floor_semantics(tmp_path: Path):
    cases = [(a, b) for a in (-7, -6, 7, 0) for b in (2, -2, 3)]
    exprs = [(Expr("A // B"), lambda a, b: a // b), (Expr("A % B"), lambda a, b: a % b)]
    lines = [f'printf("%d\\n", (int)({e.to_cpp({"A": a, "B": b})}));' for a, b in cases for e, _ in exprs]
    src = tmp_path / "t.cpp"
    src.write_text("#include <cstdio>\nint main(){\n" + "\n".join(lines) + "\n}\n")
    subprocess.run(["g++", "-o", str(tmp_path / "t"), str(src)], check=True)
    got = [int(x) for x in subprocess.run([str(tmp_path / "t")], capture_output=True, text=True).stdout.split()]
    assert got == [f(a, b) for a, b in cases for _, f in exprs]


@pytest.mark.parametrize("arch", ["gfx950", "gfx942"])
def test_hipkittens_spaces_refuse_c_with_2_31_elements(arch: str):
    space = load_space(ROOT / "configs" / f"hipkittens-{arch}.yaml", arch)
    assert space.enumerate((65536, 65536, 1024)) == []     # 2^32 elements of C: HK's int indexing wraps
    assert space.enumerate((32768, 65536, 1024)) == []     # exactly 2^31
    assert space.enumerate((8192, 8192, 8192))
