"""hktune.build.amd.lds: cross-wave LDS ordering under the schedule's barrier model, on small
hand-written gfx9 assembly (the compiled-template side is tests/test_barrier_ablation.py)."""
from __future__ import annotations

from hktune.build.amd import lds

HEAD = "k:\n"


def _asm(body: str, lag: int | None = 0, stagger: bool = False) -> str:
    pre = [f"\t;hkt.barrier_lag {lag}"] if lag is not None else []
    if stagger:
        pre += ["\t;hkt.stagger", "\ts_cbranch_execz .LBB0_1", "\ts_barrier", ".LBB0_1:"]
    post = ["\t;hkt.unstagger", "\ts_cbranch_execz .LBB0_2", "\ts_barrier", ".LBB0_2:"] if stagger else []
    return HEAD + "\n".join(pre + [ln.strip() and "\t" + ln.strip() for ln in body.strip().splitlines()] + post
                            + ["\ts_endpgm"]) + "\n"


WRITE_READ = """
;hkt.write T s=0
ds_write_b64 v1, v[2:3]
s_waitcnt lgkmcnt(0)
{bars}
;hkt.read T s=0
ds_read_b64 v[4:5], v1
s_waitcnt lgkmcnt(0)
"""


def _check(text: str):  # noqa: ANN202
    model, fs, truncated = lds.check(text)
    assert not truncated
    return model, fs


def test_lockstep_raw_needs_one_barrier_after_the_write_retires():
    model, fs = _check(_asm(WRITE_READ.format(bars="s_barrier")))
    assert model.lag == 0 and model.error is None and lds.unsafe(fs) == []
    assert [(f.kind, f.status) for f in fs] == [("raw", "ok")]
    _, fs = _check(_asm(WRITE_READ.format(bars="")))
    (bad,) = lds.unsafe(fs)
    assert bad.kind == "raw" and "0 barrier(s) after the write retired" in bad.message


def test_ping_pong_raw_needs_two_barriers_inside_the_stagger():
    model, fs = _check(_asm(WRITE_READ.format(bars="s_barrier"), lag=1, stagger=True))
    assert model.lag == 1 and model.error is None
    (bad,) = lds.unsafe(fs)
    assert "barrier lag 1 needs 2" in bad.message
    _, fs = _check(_asm(WRITE_READ.format(bars="s_barrier\ns_barrier"), lag=1, stagger=True))
    assert lds.unsafe(fs) == []


def test_a_write_retired_after_the_barrier_is_not_ordered():
    body = WRITE_READ.replace("s_waitcnt lgkmcnt(0)\n{bars}", "{bars}\ns_waitcnt lgkmcnt(0)", 1)
    _, fs = _check(_asm(body.format(bars="s_barrier")))
    (bad,) = lds.unsafe(fs)
    assert bad.kind == "raw"


def test_war_direct_to_lds_load_over_a_tile_still_being_read():
    body = """
    ;hkt.read T s=0
    ds_read_b128 v[4:7], v1
    {wait}
    s_barrier
    ;hkt.load T s=0
    buffer_load_dwordx4 v2, s[4:7], s8 offen lds
    s_waitcnt vmcnt(0)
    """
    _, fs = _check(_asm(body.format(wait="s_waitcnt lgkmcnt(0)")))
    assert lds.unsafe(fs) == [] and [f.kind for f in fs] == ["war"]
    _, fs = _check(_asm(body.format(wait="")))
    (bad,) = lds.unsafe(fs)
    assert bad.kind == "war" and "in flight" in bad.message


def test_dma_write_retired_by_vmcnt_then_read_with_no_barrier():
    body = """
    ;hkt.load T s=0
    buffer_load_dwordx4 v2, s[4:7], s8 offen lds
    s_waitcnt vmcnt(0)
    ;hkt.read T s=0
    ds_read_b128 v[4:7], v1
    s_waitcnt lgkmcnt(0)
    """
    _, fs = _check(_asm(body))
    (bad,) = lds.unsafe(fs)
    assert bad.kind == "raw" and "0 barrier(s)" in bad.message


def test_barrier_model_is_checked_against_the_code(tmp_path):
    assert lds.barrier_model(_asm("s_nop 0", lag=None)).lag == 0   # no declaration: no template
    m = lds.barrier_model(_asm("s_nop 0", lag=1))
    assert m.error and "stagger marker is missing" in m.error
    m = lds.barrier_model(_asm("s_nop 0", lag=0, stagger=True))
    assert m.error and "lag 0 but has a ping-pong stagger" in m.error and m.lag == 1
    unconditional = _asm("s_nop 0", lag=1, stagger=True).replace("\ts_cbranch_execz .LBB0_1\n", "")
    m = lds.barrier_model(unconditional)
    assert m.error and "stagger is not followed by a conditional s_barrier" in m.error
    assert lds.barrier_model(_asm("s_nop 0", lag=1, stagger=True)).error is None
    f = tmp_path / "k.s"
    f.write_text(unconditional)
    assert lds.build_check(f).startswith("barrier model: the code declares barrier lag 1 (ping-pong)")
    f.write_text(_asm(WRITE_READ.format(bars="s_barrier")))
    assert lds.build_check(f) == "ok"
