import numpy as np
import pytest

from hktune.space.expr import Expr, ExprError


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "BLOCK_M.__class__",
    "open('x')",
    "[1, 2][0]",
    "'abc'",
    "lambda: 1",
    "1.5 * BLOCK_M",
    "min(BLOCK_M, key=1)",
])
def test_rejects_anything_outside_the_subset(text):
    with pytest.raises(ExprError):
        Expr(text)


def test_scalar_and_vector_agree():
    e = Expr("ceil_div(A, B) * 2 + (A % B == 0 and is_pow2(A)) + max(A, B, 3) - log2(A) + (1 if A > B else 0)")
    a = np.array([1, 2, 3, 8, 16, 17, 64])
    b = np.array([1, 3, 2, 4, 5, 16, 64])
    vec = e({"A": a, "B": b})
    for i in range(len(a)):
        assert int(vec[i]) == int(e({"A": int(a[i]), "B": int(b[i])}))


def test_division_by_zero_is_invalid_not_a_crash():
    e = Expr("M % X == 0")
    assert not e({"M": 4, "X": 0})
    assert list(e({"M": np.array([4, 4]), "X": np.array([0, 2])})) == [False, True]


def test_unknown_name():
    with pytest.raises(ExprError, match="unknown name"):
        Expr("A + Z")({"A": 1})


def test_to_cpp_substitutes_config_and_keeps_shape():
    e = Expr("M % BLOCK_M == 0 and K >= 2 * K_STEP and not (N < 1)")
    out = e.to_cpp({"BLOCK_M": 128, "K_STEP": 64}, keep={"M", "N", "K"})
    assert "128" in out and "M" in out and "BLOCK_M" not in out
    assert "&&" in out and "!" in out


@pytest.mark.parametrize("text", ["P >= 1 or K <= 2048", "P == 1 and K <= 2048", "K <= 2048 or P == 1"])
def test_a_scalar_operand_of_and_or_broadcasts(text):
    """A shape-only test (K is one number) beside a config test (a column): the fp8 space's
    `PROMOTE >= 1 or K <= 2048`."""
    e = Expr(text)
    p = np.array([0, 1, 2, 4, 0])
    for k in (1024, 4096):
        vec = e({"P": p, "K": k})
        assert [bool(v) for v in vec] == [bool(e({"P": int(x), "K": k})) for x in p]
