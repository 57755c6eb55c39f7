"""hktune.torch never makes a model slower (issue 21): a GEMM goes to a tuned kernel only when the
entry's stored paired ratio is significantly above 1 (its 95% CI's lower end above 1, above
1 + the extra FLOPs when padded); otherwise torch runs it and the plan says why. Plans only: no
kernel is built here."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import hktune.torch as ht
from hktune.torch import plan as planning

CONFIG = {"BLOCK_M": 32, "BLOCK_N": 32, "BLOCK_K": 64, "MICRO_M": 4, "SCHEDULE": 0}


def table(path: Path, ratio: float, lo: float | None, hi: float | None) -> Path:
    e = {"key": {"family": "host", "arch": "host", "dtype": "bf16", "layout": "ABt", "m": 64, "n": 64, "k": 64},
         "config": CONFIG, "tflops": 0.01 * ratio, "time_us": 52.4 / ratio, "spread": 0.04,
         "vendor": {"name": "torch.matmul", "tflops": 0.01, "time_us": 52.4}, "ratio": ratio, "error": 0.0017,
         "trials": 3, "date": "2026-12-04T00:00:00+00:00", "device": {"name": "CPU", "units": 2, "arch": "host"},
         "toolchain": {"compiler": "g++", "torch": "2.13.0+cpu", "backend": "cpu"}, "template_hash": "0" * 16}
    if lo is not None:
        e.update(ratio_lo=lo, ratio_hi=hi)
    path.write_text(yaml.safe_dump({"schema": 1, "entries": [e]}, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _settings():
    ht.configure(pad_limit=0.125, min_ratio=0.0, family=None, faster_only=True)
    ht.reset_stats()
    yield
    ht.use_table(None)


@pytest.mark.parametrize("ratio, lo, hi, kind, says", [
    (0.96, 0.95, 0.97, "fallback", "vendor (tuned kernel not faster: 0.96x"),
    (1.05, 0.99, 1.10, "fallback", "vendor (tuned kernel not significantly faster: 1.05x (95% CI 0.99-1.10)"),
    (1.50, None, None, "fallback", "vendor (tuned kernel not shown faster: 1.50x with no CI"),
    (1.05, 1.02, 1.08, "tuned", "host config tuned at 64x64x64"),
])
def test_a_tuned_kernel_only_when_significantly_faster(tmp_path, ratio, lo, hi, kind, says):
    ht.use_table(table(tmp_path / "t.yaml", ratio, lo, hi))
    p = ht.plan_for(64, 64, 64, "host")
    assert p.kind == kind and says in p.detail, p
    if kind == "fallback":
        assert p.reason == "not_faster"


def test_padding_must_be_paid_for(tmp_path):
    # 60 rows pad to 64: 6.7% more FLOPs, so the kernel must be more than 1.067x faster.
    ht.use_table(table(tmp_path / "t.yaml", 1.06, 1.05, 1.07))
    p = ht.plan_for(60, 64, 64, "host")
    assert p.kind == "fallback" and "padding costs 6.7% FLOPs" in p.detail, p
    ht.use_table(table(tmp_path / "u.yaml", 1.20, 1.15, 1.25))
    assert ht.plan_for(60, 64, 64, "host").kind == "padded"


def test_a_ratio_is_evidence_only_for_the_shape_it_was_timed_at(tmp_path):
    """H200, 2026-12-05: an entry 1.01x cuBLAS at 4096^3 (CI above 1), served as the nearest entry at
    4096x14336x4096, made the Llama MLP block 0.993x torch. Now a nearest entry goes to torch, saying
    so; with the rule off (testing kernels) it still runs."""
    ht.use_table(table(tmp_path / "t.yaml", 1.30, 1.25, 1.35))
    assert ht.plan_for(64, 64, 64, "host").kind == "tuned"           # timed here: stands
    p = ht.plan_for(128, 128, 256, "host")                            # nearest: no evidence here
    assert (p.kind, p.reason) == ("fallback", "untimed_shape"), p
    assert "no paired ratio at 128x128x256" in p.detail and "timed at 64x64x64" in p.detail, p
    assert "hktune search --m 128 --n 128 --k 256" in p.detail
    ht.configure(faster_only=False)
    assert (ht.plan_for(128, 128, 256, "host").kind, ht.plan_for(128, 128, 256, "host").reason) == ("tuned", "nearest")


def test_the_slower_gemm_runs_in_torch_and_is_counted(tmp_path):
    ht.use_table(table(tmp_path / "t.yaml", 0.96, 0.95, 0.97))
    A, B = torch.randn(64, 64).bfloat16(), torch.randn(64, 64).bfloat16()
    torch.testing.assert_close(ht.matmul(A, B), A @ B)
    s = ht.stats()
    assert s["tuned"] == 0 and s["reasons"] == {"not_faster": 1}


def test_the_rule_can_be_turned_off_for_testing_kernels(tmp_path):
    ht.use_table(table(tmp_path / "t.yaml", 0.96, 0.95, 0.97))
    ht.configure(faster_only=False)
    assert ht.plan_for(64, 64, 64, "host").kind == "tuned"
    assert planning.Settings(faster_only=True).faster_only


def test_a_stored_config_older_than_a_knob_is_built_with_the_knobs_legacy_value(monkeypatch):
    """hktune.torch builds an entry stored before the schedule knobs existed with their legacy
    values (the space's legacy: map), not with a config the library would then disown."""
    from hktune.family.family import discover
    from hktune.space.space import load_space
    from hktune.torch import kernels

    fam = discover()["thunderkittens"]
    space = load_space(fam.arch("sm_90").space, "sm_90")
    old = {"M_BLOCK": 2, "N_BLOCK": 4, "STAGES": 4, "SUPER_M": 8, "PERSISTENT": 1, "PRODUCER_REGS": 40,
           "CONSUMER_REGS": 232, "EPILOGUE": 1}                       # a 2026-12-01 table's config
    seen = []

    class Builder:
        def build(self, config):  # noqa: ANN001, ANN202
            seen.append(dict(config))
            raise RuntimeError("no compiler in this test")

    monkeypatch.setattr(kernels, "_builder", lambda *a: Builder())
    with pytest.raises(kernels.KernelUnavailable):
        kernels.library(fam, "sm_90", space, old)
    assert seen and set(seen[0]) == set(space.names)
    assert {k: seen[0][k] for k in space.legacy} == space.legacy and seen[0]["M_BLOCK"] == 2


def test_an_entry_the_family_space_does_not_allow_is_not_served(tmp_path):
    """A config found in an opt-in space (here a schedule-kernel config of bench/tk-sched.yaml) is not
    built under the family space's rules: the plan falls back and says why. A config stored before
    the schedule knobs existed is completed with their legacy values and served."""
    old = {"M_BLOCK": 2, "N_BLOCK": 4, "STAGES": 4, "SUPER_M": 8, "PERSISTENT": 1, "PRODUCER_REGS": 40,
           "CONSUMER_REGS": 232, "EPILOGUE": 1}
    opt_in = dict(old, EPILOGUE=2, SCHED=1, WG_M=64, CLUSTER_M=2, CLUSTER_N=1, ORDER=0, MMA_LAG=0, SPLIT_K=1)
    for config, kind in ((opt_in, "fallback"), (old, "tuned")):
        path = table(tmp_path / f"{kind}.yaml", 1.05, 1.03, 1.07)
        d = yaml.safe_load(path.read_text())
        d["entries"][0]["key"].update(family="thunderkittens", arch="sm_90", m=4096, n=4096, k=4096)
        d["entries"][0]["config"] = config
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        ht.use_table(path)
        p = ht.plan_for(4096, 4096, 4096, "sm_90")
        assert p.kind == kind, p
        if kind == "fallback":
            assert p.reason == "config_not_in_space" and "CLUSTER_M" in p.detail, p
        else:
            assert p.entry.config["SCHED"] == 0 and p.entry.config["SPLIT_K"] == 1
