"""hktune.torch on the CPU with the host family: a real tiny search makes the table, then the
op, its layouts, padding, fallbacks, caches, torch.compile, autograd, the nn.Linear drop-in,
shape capture and `hktune check-model` run against it."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import hktune.torch as ht
from hktune.torch import functional, gemm

pytestmark = pytest.mark.slow

BF16 = torch.bfloat16
# The two shapes tuned for these tests: (M, N, K) = the MLP's down_proj and gate/up at H=128, I=256, T=64.
SHAPES = [(64, 128, 256), (64, 256, 128)]


ANY_ENTRY = {"HKTUNE_TORCH_ANY_ENTRY": "1"}  # the never-slower rule off in child processes (see _fresh)


def hk(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hktune", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **ANY_ENTRY, **(env or {})})


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("torch-table") / "host.yaml"
    shapes = path.parent / "shapes.yaml"  # one search process for all shapes: one worker start-up
    shapes.write_text("shapes:\n" + "".join(f"- [{m}, {n}, {k}]\n" for m, n, k in SHAPES))
    r = hk("search", "--arch", "host", "--shapes", str(shapes), "--trials", "3", "--table", str(path), "--quiet")
    assert r.returncode == 0, r.stderr
    ht.use_table(path)
    yield path
    ht.use_table(None)


@pytest.fixture(autouse=True)
def _fresh(table: Path) -> None:
    ht.use_table(table)
    # These tests are about the op's mechanics on a host table whose kernels need not beat CPU
    # torch: the never-slower rule is off here (tests/test_torch_plan.py tests it).
    ht.configure(pad_limit=0.125, min_ratio=0.0, family=None, faster_only=False)
    ht.reset_stats()


def rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.float()
    return float((got.float() - ref).norm() / ref.norm())


def rand(*shape: int, dtype: torch.dtype = BF16) -> torch.Tensor:
    return torch.randn(*shape).to(dtype)


# -- the op and its two layouts ------------------------------------------------------------------
def test_custom_op_is_registered():
    assert hasattr(torch.ops.hktune, "gemm_abt")
    assert "hktune::gemm_abt(Tensor A, Tensor Bt) -> Tensor" in str(torch.ops.hktune.gemm_abt.default._schema)


def test_linear_and_matmul_match_torch_at_tuned_shapes():
    x, W = rand(64, 256), rand(128, 256)  # x @ W.T: (64, 128, 256), W is already Bt
    y = ht.linear(x, W)
    assert y.dtype == BF16 and y.shape == (64, 128)
    assert rel(y, x.float() @ W.float().t()) < 1e-2
    A, B = rand(64, 128), rand(128, 256)  # A @ B: (64, 256, 128), B transposed once
    C = ht.matmul(A, B)
    assert rel(C, A.float() @ B.float()) < 1e-2
    s = ht.stats()
    assert (s["tuned"], s["exact"], s["padded"], s["fallback"]) == (2, 2, 0, 0)
    # The libraries came from the build cache the search filled (content-addressed: no rebuild).
    from hktune.torch import kernels

    assert all(p.startswith(os.environ["HKTUNE_CACHE_DIR"]) for p in kernels.loaded().values())


def test_bias_and_batched_inputs_are_flattened_like_nn_linear():
    x, W, b = rand(2, 32, 128), rand(256, 128), rand(256)  # M = 2*32 = 64
    y = ht.linear(x, W, b)
    assert y.shape == (2, 32, 256)
    assert rel(y, nn.functional.linear(x.float(), W.float(), b.float())) < 1e-2
    A, B = rand(4, 16, 256), rand(256, 128)
    assert ht.matmul(A, B).shape == (4, 16, 128)
    assert rel(ht.matmul(A, B), A.float() @ B.float()) < 1e-2
    assert ht.stats()["tuned"] == 3 and ht.stats()["fallback"] == 0


def test_nearest_tuned_shape_is_used_when_legal():
    p = ht.plan_for(128, 128, 256, "host")  # every tuned BLOCK_M divides 64, so 128 too
    assert (p.kind, p.reason) == ("tuned", "nearest")
    x, W = rand(128, 256), rand(128, 256)
    assert rel(ht.linear(x, W), x.float() @ W.float().t()) < 1e-2
    assert ht.stats()["nearest"] == 1


def test_non_contiguous_inputs_are_copied_and_counted():
    big = rand(64, 512)
    A = big[:, ::2]  # [64, 256], strided
    W = rand(256, 128).t()  # [128, 256] view of a transposed tensor
    y = ht.linear(A, W)
    assert rel(y, A.float() @ W.float().t()) < 1e-2
    s = ht.stats()
    assert s["tuned"] == 1 and s["contiguous"] == 2


# -- padding and fallbacks -----------------------------------------------------------------------
def test_padding_up_to_a_legal_shape():
    p = ht.plan_for(63, 127, 256, "host")
    assert p.kind == "padded" and p.run_shape == (64, 128, 256), p
    x, W = rand(63, 256), rand(127, 256)
    y = ht.linear(x, W)
    assert y.shape == (63, 127) and y.is_contiguous()
    assert rel(y, x.float() @ W.float().t()) < 1e-2
    hits = gemm._padded_bt.hits
    ht.linear(x, W)
    assert gemm._padded_bt.hits == hits + 1  # the padded weight is made once
    with torch.no_grad():
        W.add_(1)  # in place: the padded copy must be remade
    assert rel(ht.linear(x, W), x.float() @ W.float().t()) < 1e-2
    assert ht.stats()["padded"] == 3 and ht.stats()["fallback"] == 0


def test_fallbacks_are_counted_with_reasons_and_still_correct():
    x, W = rand(1, 256), rand(128, 256)  # M=1: padding to a tuned BLOCK_M costs >= 16x
    assert ht.plan_for(1, 128, 256, "host").reason == "padding_too_costly"
    assert rel(ht.linear(x, W), x.float() @ W.float().t()) < 1e-2
    xf, Wf = torch.randn(64, 256), torch.randn(128, 256)  # fp32: bf16-only kernels
    torch.testing.assert_close(ht.linear(xf, Wf), xf @ Wf.t())
    ht.configure(pad_limit=0.0)  # padding off: 63 rows go to torch
    assert ht.linear(rand(63, 256), W).shape == (63, 128)
    s = ht.stats()
    assert s["fallback"] == 3 and s["tuned"] == 0
    assert s["reasons"] == {"padding_too_costly": 2, "dtype": 1}


def test_no_table_means_torch(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("schema: 1\nentries: []\n")
    ht.use_table(empty)
    x, W = rand(64, 256), rand(128, 256)
    assert rel(ht.linear(x, W), x.float() @ W.float().t()) < 1e-2
    assert ht.stats()["reasons"] == {"no_table": 1}


def test_table_discovery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, table: Path):
    ht.use_table(None)
    monkeypatch.setenv("HKTUNE_TABLE", os.pathsep.join([str(table), str(tmp_path / "none.yaml")]))
    assert ht.table_paths() == [table, tmp_path / "none.yaml"]
    assert ht.plan_for(64, 128, 256, "host").kind == "tuned"
    monkeypatch.delenv("HKTUNE_TABLE")
    monkeypatch.setenv("HKTUNE_HOME", str(tmp_path))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "host.yaml").write_text("schema: 1\nentries: []\n")
    assert ht.table_paths() == [tmp_path / "results" / "host.yaml"]
    from hktune.record.table import TableError

    with pytest.raises(TableError, match="no such table"):
        ht.use_table(tmp_path / "missing.yaml")


# -- caches ----------------------------------------------------------------------------------------
def test_transposed_b_is_cached_and_invalidated_by_in_place_updates():
    A, B = rand(64, 128), rand(128, 256)
    misses = functional._transposed.misses
    C1 = ht.matmul(A, B)
    ht.matmul(A, B)
    assert functional._transposed.misses == misses + 1  # one transpose for two calls
    B.add_(1)  # bumps B._version
    C2 = ht.matmul(A, B)
    assert functional._transposed.misses == misses + 2
    assert rel(C2, A.float() @ B.float()) < 1e-2 and rel(C1, C2) > 0.1
    n = len(functional._transposed)
    del B
    assert len(functional._transposed) == n - 1  # a weakref: the cache keeps no tensor alive


# -- torch integration: custom op checks, compile, autograd ----------------------------------------
def test_opcheck():
    op = torch.ops.hktune.gemm_abt.default
    cases = [(rand(64, 256), rand(128, 256)),                     # tuned
             (rand(63, 256), rand(128, 256)),                     # padded
             (torch.randn(8, 16), torch.randn(4, 16)),            # fp32: fallback
             (rand(64, 256).requires_grad_(), rand(128, 256).requires_grad_())]
    for a, b in cases:
        torch.library.opcheck(op, (a, b))


def test_torch_compile_fullgraph_inductor():
    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return nn.functional.silu(ht.linear(x, w)) * 2

    x, W = rand(64, 256), rand(128, 256)
    compiled = torch.compile(f, fullgraph=True)  # inductor (g++ on the CPU)
    got = compiled(x, W)
    ht.reset_stats()
    got = compiled(x, W)
    assert ht.stats()["tuned"] == 1  # the op ran the tuned kernel inside the compiled graph
    torch.testing.assert_close(got, f(x, W))


def test_torch_compile_fullgraph_with_backward_aot_eager():
    def f(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ht.matmul(a, b).float().square().sum()

    A, B = rand(64, 128).requires_grad_(), rand(128, 256).requires_grad_()
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    compiled(A, B).backward()
    gA, gB = A.grad.clone(), B.grad.clone()
    A.grad = B.grad = None
    f(A, B).backward()
    torch.testing.assert_close(gA, A.grad)
    torch.testing.assert_close(gB, B.grad)


def test_gradcheck_of_the_backward_formulas():
    # fp64 runs the op's torch path, so gradcheck tests dA = dC Bt and dBt = dC^T A exactly.
    A = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    Bt = torch.randn(3, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(torch.ops.hktune.gemm_abt, (A, Bt))
    B = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ht.matmul, (A, B))


def test_bf16_gradients_match_torch():
    x = rand(2, 32, 128).requires_grad_()
    W, b = rand(256, 128).requires_grad_(), rand(256).requires_grad_()
    y = ht.linear(x, W, b)
    assert ht.stats()["tuned"] == 1
    g = rand(2, 32, 256)
    y.backward(g)
    xr, Wr, br = (t.detach().float().requires_grad_() for t in (x, W, b))
    nn.functional.linear(xr, Wr, br).backward(g.float())
    for got, want in ((x.grad, xr.grad), (W.grad, Wr.grad), (b.grad, br.grad)):
        assert rel(got, want) < 1e-2


# -- nn.Linear drop-in and patch ---------------------------------------------------------------------
def test_linear_module_is_a_drop_in():
    torch.manual_seed(0)
    ref = nn.Linear(128, 256)
    torch.manual_seed(0)
    mine = ht.Linear(128, 256)
    assert isinstance(mine, nn.Linear)
    torch.testing.assert_close(mine.weight, ref.weight, rtol=0, atol=0)  # same init, same RNG draws
    torch.testing.assert_close(mine.bias, ref.bias, rtol=0, atol=0)
    big = ht.Linear(1024, 1024).requires_grad_(False)
    bound = 1 / 1024**0.5  # kaiming_uniform(a=sqrt(5)) and the bias: U(-1/sqrt(in), 1/sqrt(in))
    assert float(big.weight.abs().max()) <= bound and float(big.weight.std()) == pytest.approx(bound / 3**0.5, rel=0.02)
    assert float(big.bias.abs().max()) <= bound
    sd = ref.state_dict()
    assert sd.keys() == mine.state_dict().keys()
    other = ht.Linear(128, 256, bias=True, dtype=BF16)
    other.load_state_dict(sd)
    nn.Linear(128, 256).load_state_dict(other.state_dict())
    x = rand(64, 128)
    assert rel(other(x), nn.functional.linear(x.float(), ref.weight, ref.bias)) < 1e-2
    assert ht.stats()["tuned"] == 1

    lin = nn.Linear(128, 256, bias=False, dtype=BF16)
    conv = ht.Linear.from_linear(lin)
    assert conv.weight is lin.weight and conv.bias is None
    torch.testing.assert_close(conv(x), lin(x), rtol=2e-2, atol=2e-2)


def test_patch_swaps_every_linear_and_returns_names():
    class Custom(nn.Linear):  # a subclass may do more than F.linear: left alone
        pass

    shared = nn.Linear(128, 256, dtype=BF16)
    model = nn.Sequential(nn.Linear(128, 128, dtype=BF16), nn.ReLU(), nn.ModuleDict({"a": shared, "b": shared}),
                          Custom(256, 8))
    x = rand(64, 128)
    before = model[2]["a"](model[1](model[0](x)))
    weight = model[0].weight
    names = ht.patch(model)
    assert names == ["0", "2.a", "2.b"]
    assert type(model[0]) is ht.Linear and model[0].weight is weight
    assert model[2]["a"] is model[2]["b"]  # sharing kept
    assert type(model[3]) is Custom
    after = model[2]["a"](model[1](model[0](x)))
    assert rel(after, before) < 1e-2
    assert ht.patch(model) == []  # idempotent
    with pytest.raises(TypeError):
        ht.patch(nn.Linear(4, 4))


# -- shape capture -----------------------------------------------------------------------------------
def test_capture_shapes_with_hooks(tmp_path: Path):
    from hktune.torch.check import MLP

    model = MLP(128, 256, dtype=BF16)
    with ht.capture_shapes(model) as cap:
        model(rand(2, 32, 128))
        model(rand(2, 32, 128))
    rows = cap.shapes()
    assert rows == [{"m": 64, "n": 256, "k": 128, "count": 4, "source": "gate_proj, up_proj"},
                    {"m": 64, "n": 128, "k": 256, "count": 2, "source": "down_proj"}]
    doc = yaml.safe_load(cap.write(tmp_path / "shapes.yaml").read_text())
    assert doc == {"shapes": rows}
    with (cap.write(tmp_path / "shapes.csv")).open() as f:
        assert list(csv.DictReader(f)) == [{"m": "64", "n": "256", "k": "128", "count": "4"},
                                           {"m": "64", "n": "128", "k": "256", "count": "2"}]
    model(rand(2, 32, 128))  # hooks are gone after the block
    assert cap.shapes()[0]["count"] == 4


def test_capture_shapes_without_a_model():
    x, W = rand(3, 10, 128), rand(256, 128)
    with ht.capture_shapes() as cap:
        nn.functional.linear(x, W)
        x @ W.t()
        ht.linear(x, W)
        torch.bmm(rand(2, 4, 8), rand(2, 8, 16))  # not a GEMM this module records
    got = {(r["m"], r["n"], r["k"]): (r["count"], r["source"]) for r in cap.shapes()}
    assert got == {(30, 256, 128): (3, "linear, matmul, hktune.gemm_abt")}


# -- model-level check and a second process -----------------------------------------------------------
def test_check_model_cli(table: Path):
    r = hk("check-model", "--hidden", "128", "--intermediate", "256", "--tokens", "64", "--device", "cpu",
           "--table", str(table), "--iters", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))   # no Infinity / NaN
    assert out["speedup_lo"] is None and out["speedup_hi"] is None      # 2 rounds give no 95% CI
    assert out["ok"] and out["rel_error"] < 1e-2 and out["patched"] == ["gate_proj", "up_proj", "down_proj"]
    assert out["stats"]["tuned"] == 3 and out["stats"]["fallback"] == 0
    assert out["torch_ms"] > 0 and out["hktune_ms"] > 0 and out["speedup"] > 0
    r = hk("check-model", "--device", "cuda")
    if not torch.cuda.is_available():
        assert r.returncode == 3 and "sees no GPU" in r.stderr


def test_second_process_loads_from_the_build_cache(table: Path):
    cache = Path(os.environ["HKTUNE_CACHE_DIR"])
    before = sorted(p.name for p in cache.glob("*/*") if p.is_dir())
    code = ("import torch, hktune.torch as ht; x = torch.randn(64, 256).bfloat16(); w = torch.randn(128, 256).bfloat16();"
            "ht.linear(x, w); print(ht.stats()['tuned'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, **ANY_ENTRY, "HKTUNE_TABLE": str(table)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"
    assert sorted(p.name for p in cache.glob("*/*") if p.is_dir()) == before  # nothing compiled
