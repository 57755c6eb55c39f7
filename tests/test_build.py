import pytest

from hktune.build.builder import Builder, prune_reason
from hktune.family.family import resolve
from hktune.target import make_target


@pytest.fixture
def host():
    fam = resolve("host")
    return fam, fam.space("host")


def test_compile_then_cache_hit(host, tmp_path):
    fam, space = host
    cfg = space.enumerate()[0]
    with Builder(make_target(fam, "host", space), jobs=2, cache=tmp_path) as b:
        first = b.build(cfg)
        again = b.build(cfg)
    assert first.usable and not first.cached and first.artifact.exists()
    assert again.cached and again.artifact == first.artifact
    assert b.key(cfg) != b.key({**cfg, "SCHEDULE": 1 - cfg["SCHEDULE"]})


def test_compile_error_is_a_failed_outcome_with_its_log_and_is_cached(tmp_path):
    fam = resolve("host", "faulty")
    space = fam.space("host")
    with Builder(make_target(fam, "host", space), jobs=1, cache=tmp_path) as b:
        out = b.build({"FAULT": 6, "BLOCK": 16})
        again = b.build({"FAULT": 6, "BLOCK": 16})
    assert not out.ok and "planted compile error" in out.log_path.read_text()
    assert "compile failed" in out.reason
    assert again.cached and not again.ok


def test_parallel_builds(host, tmp_path):
    fam, space = host
    cfgs = space.enumerate()[:4]
    with Builder(make_target(fam, "host", space), jobs=2, cache=tmp_path) as b:
        outs = list(b.build_many(cfgs))
    assert sorted(map(str, (o.config for o in outs))) == sorted(map(str, cfgs))
    assert all(o.usable for o in outs)


def test_prune_rules(host):
    _, space = host
    space.prune = {"max_spills": 0, "min_occupancy_met": True}
    assert prune_reason(space, {"OCCUPANCY": 2}, {"vgpr_spills": 3}).startswith("spills")
    assert "occupancy" in prune_reason(space, {"OCCUPANCY": 2}, {"occupancy": 1})
    assert prune_reason(space, {"OCCUPANCY": 2}, {"occupancy": 2, "spills": 0}) is None


def test_ptxas_wgmma_serialization_is_read_and_pruned(host):
    from hktune.build.compilers.nvcc import parse_ptxas
    log = """ptxas info    : (C7512) Potential Performance Loss: wgmma.mma_async instructions are serialized due to insufficient register resources for the function 'k'
ptxas info    : (C7517) warpgroup.wait is injected in around line 4683 by compiler to allow use of registers defined by GMMA in function 'k'
ptxas info    : Used 168 registers, used 16 barriers, 80 bytes smem
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"""
    res = parse_ptxas(log)
    assert (res["wgmma_serialized"], res["wgmma_waits_injected"], res["registers"], res["spills"]) == (1, 1, 168, 0)
    assert parse_ptxas(log.split("\n", 2)[2])["wgmma_serialized"] == 0
    _, space = host
    space.prune = {"max_spills": 0, "wgmma_serialized": False}
    assert "serialized" in prune_reason(space, {}, res)
    assert prune_reason(space, {}, dict(res, wgmma_serialized=0)) is None     # an injected wait alone is not pruned
    assert prune_reason(space, {}, {"spills": 0}) is None                     # a build cached before the field existed


def test_a_check_added_after_the_entry_was_built_runs_on_load(host, tmp_path):
    """The cache key does not hash the family's check list: an entry built before a check
    existed gets that check run once when loaded, and its verdict kept in meta.json."""
    import dataclasses
    import json

    fam, space = host
    cfg = space.enumerate()[0]
    with Builder(make_target(dataclasses.replace(fam, checks=("m0",)), "host", space), jobs=1, cache=tmp_path) as b:
        key = b.key(cfg)
        entry = b._entry(key)
        entry.mkdir(parents=True)
        (entry / "k.s").write_text("k:\n\tbuffer_load_dwordx4 v1, s[8:11], s3 offen lds\n\ts_endpgm\n")
        (entry / "build.log").write_text("")
        (entry / "meta.json").write_text(json.dumps({"ok": True, "seconds": 1.0, "artifact": None, "asm": "k.s",
                                                     "checks": {}, "config": cfg}))
        out = b.build(cfg)
    assert out.cached and out.reason.startswith("rejected by m0: 1 LDS load(s) use an M0 the compiler wrote")
    assert json.loads((entry / "meta.json").read_text())["checks"]["m0"].startswith("1 LDS load(s)")


def test_a_verdict_of_another_checker_version_is_judged_again(host, tmp_path):
    """A cached "ok" from an older (or simply other) version of the checkers' code does not stand:
    the assembly is checked again and the new verdict and version are stored."""
    import dataclasses
    import json

    from hktune.build.checks import version

    fam, space = host
    cfg = space.enumerate()[0]
    with Builder(make_target(dataclasses.replace(fam, checks=("m0",)), "host", space), jobs=1, cache=tmp_path) as b:
        entry = b._entry(b.key(cfg))
        entry.mkdir(parents=True)
        (entry / "k.s").write_text("k:\n\tbuffer_load_dwordx4 v1, s[8:11], s3 offen lds\n\ts_endpgm\n")
        (entry / "build.log").write_text("")
        meta = {"ok": True, "seconds": 1.0, "artifact": None, "asm": "k.s", "config": cfg,
                "checks": {"m0": "ok"}, "checks_version": "an-older-checker"}
        (entry / "meta.json").write_text(json.dumps(meta))
        stale = b.build(cfg)
        (entry / "meta.json").write_text(json.dumps({**meta, "checks_version": version(("m0",))}))
        current = b.build(cfg)
    assert stale.reason.startswith("rejected by m0")      # judged again: the stored "ok" was stale
    assert current.reason is None or not current.reason.startswith("rejected")   # same version: kept
