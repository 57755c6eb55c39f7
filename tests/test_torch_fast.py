"""The eager linear's shortcut for shapes the plans already sent to the vendor (hktune.torch.gemm
.known_fallback): the second call of such a shape calls F.linear without planning again, is still
counted with its reason, and any change that may change a plan (tables reloaded, configure, a failed
kernel) makes the next call plan afresh. Host time per call, measured on the 2-core CI machine
(2026-12-05, 1x4096 @ 4096x64, no table): F.linear 30 us, hktune's fallback 49 us before, 39 us with it."""
from __future__ import annotations

import torch

import hktune.torch as ht
from hktune.torch import gemm, plan


def test_a_vendor_shape_skips_the_plan_until_a_plan_may_change(monkeypatch):
    ht.reset_stats()
    calls = []
    real = plan.plan_for

    def counting(*a, **kw):  # noqa: ANN002, ANN003
        calls.append(a)
        return real(*a, **kw)
    monkeypatch.setattr(plan, "plan_for", counting)
    monkeypatch.setattr(gemm.planning, "plan_for", counting)
    monkeypatch.setenv("HKTUNE_TABLE", "")
    ht.use_table([])                                  # no table: every shape goes to the vendor
    x, w = torch.randn(3, 5, 64, dtype=torch.bfloat16), torch.randn(32, 64, dtype=torch.bfloat16)
    with torch.no_grad():
        first = ht.linear(x, w)
        for _ in range(4):
            again = ht.linear(x, w)
        assert len(calls) == 1, "planned once"
        torch.testing.assert_close(again, first, rtol=0, atol=0)
        torch.testing.assert_close(first, torch.nn.functional.linear(x, w), rtol=0, atol=0)
        s = ht.stats()
        assert s["fallback"] == 5 and sum(s["reasons"].values()) == 5 and len(s["reasons"]) == 1, s
        ht.linear(torch.randn(7, 64, dtype=torch.bfloat16), w)   # another M: planned
        assert len(calls) == 2
        ht.configure(min_ratio=0.0)                   # settings changed: plan again
        ht.linear(x, w)
        assert len(calls) == 3
        ht.reload()                                   # tables re-read: plan again
        ht.linear(x, w)
        assert len(calls) == 4
    with torch.enable_grad():                         # autograd goes through the op: no shortcut
        ht.linear(x, w.clone().requires_grad_())
    assert len(calls) == 5
    ht.use_table(None)
