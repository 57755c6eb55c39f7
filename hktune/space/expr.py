"""Safe arithmetic expressions for search spaces.

An expression is parsed once with :mod:`ast`, checked against a whitelist, and then evaluated
by walking the tree. Evaluation works on plain ints or on numpy arrays, so a constraint is
checked for 100k configurations in one pass. Nothing is ever handed to ``eval``.
"""
from __future__ import annotations

from hktune.errors import BadInput

import ast
import operator
from typing import Any, Callable, Mapping

import numpy as np


class ExprError(BadInput):
    """An expression uses something outside the allowed subset, or names an unknown value."""


def _ceil_div(a: Any, b: Any) -> Any:
    return -((-a) // b)


def _log2(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        return np.log2(np.maximum(a, 1)).astype(np.int64)
    return int(a).bit_length() - 1 if a > 0 else 0


def _is_pow2(a: Any) -> Any:
    return (a > 0) & ((a & (a - 1)) == 0)


def _min(*xs: Any) -> Any:
    if any(isinstance(x, np.ndarray) for x in xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.minimum(out, x)
        return out
    return min(xs)


def _max(*xs: Any) -> Any:
    if any(isinstance(x, np.ndarray) for x in xs):
        out = xs[0]
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out
    return max(xs)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": _min,
    "max": _max,
    "abs": abs,
    "ceil_div": _ceil_div,
    "log2": _log2,
    "is_pow2": _is_pow2,
}

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.floordiv,  # integer spaces: '/' means exact-int division
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_CPP_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "/", ast.Mod: "%"}
_CPP_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


class Expr:
    """A parsed, whitelisted expression."""

    def __init__(self, text: str | int, real: bool = False) -> None:
        self.text = str(text)
        # real=True (a space's prior): '/' is true division and decimal constants are allowed
        self.real = real
        self._binops = {**_BINOPS, ast.Div: operator.truediv} if real else _BINOPS
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as e:
            raise ExprError(f"cannot parse expression {self.text!r}: {e.msg}") from None
        self._tree = tree.body
        self.names: set[str] = set()
        self._check(self._tree)

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def _check(self, node: ast.AST) -> None:
        bad = f"expression {self.text!r}: {type(node).__name__} is not allowed"
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, bool)) and not (self.real and isinstance(node.value, float)):
                raise ExprError(f"expression {self.text!r}: only integer constants are allowed")
        elif isinstance(node, ast.Name):
            self.names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExprError(bad)
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                raise ExprError(bad)
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _CMPOPS for op in node.ops):
                raise ExprError(bad)
            self._check(node.left)
            for c in node.comparators:
                self._check(c)
        elif isinstance(node, ast.IfExp):
            for n in (node.test, node.body, node.orelse):
                self._check(n)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ExprError(f"expression {self.text!r}: only calls to {sorted(FUNCTIONS)} are allowed")
            for a in node.args:
                self._check(a)
        else:
            raise ExprError(bad)

    def __call__(self, env: Mapping[str, Any]) -> Any:
        """The value; raises ExprError when a scalar evaluation divides by zero (vectorised
        callers use :meth:`evaluate` to get the mask of such rows instead)."""
        value, bad = self.evaluate(env)
        if isinstance(self._tree, (ast.Compare, ast.BoolOp)) or (isinstance(self._tree, ast.UnaryOp) and isinstance(self._tree.op, ast.Not)):
            # A condition that divides by zero does not hold (the config is invalid).
            return np.logical_and(value, np.logical_not(bad)) if isinstance(bad, np.ndarray) or isinstance(value, np.ndarray) else (bool(value) and not bad)
        if not isinstance(bad, np.ndarray) and bad:
            raise ExprError(f"expression {self.text!r}: division by zero")
        return value

    def evaluate(self, env: Mapping[str, Any]) -> tuple[Any, Any]:
        """(value, bad): ``bad`` is True (or a mask) where a division or modulo by zero made the
        value meaningless; such a config is invalid, whatever the comparison around it says."""
        bad: list[Any] = []
        value = self._eval(self._tree, env, bad)
        mask: Any = False
        for b in bad:
            mask = np.logical_or(mask, b) if isinstance(b, np.ndarray) or isinstance(mask, np.ndarray) else (mask or b)
        return value, mask

    def _eval(self, node: ast.AST, env: Mapping[str, Any], bad: list[Any] | None = None) -> Any:
        if bad is None:
            bad = []
        if isinstance(node, ast.Constant):
            return node.value if self.real else int(node.value)
        if isinstance(node, ast.Name):
            try:
                return env[node.id]
            except KeyError:
                raise ExprError(f"expression {self.text!r}: unknown name {node.id!r}") from None
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, env, bad), self._eval(node.right, env, bad)
            op = self._binops[type(node.op)]
            if op in (operator.floordiv, operator.mod, operator.truediv):
                # Division by zero makes the config invalid (recorded in ``bad``), never a value.
                if isinstance(right, np.ndarray) or isinstance(left, np.ndarray):
                    zero = np.asarray(right) == 0
                    bad.append(zero)
                    return op(left, np.where(zero, 1, right))
                if right == 0:
                    bad.append(True)
                    return 0
            return op(left, right)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env, bad)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return v
            return np.logical_not(v) if isinstance(v, np.ndarray) else (not v)
        if isinstance(node, ast.BoolOp):
            vals = [self._eval(v, env, bad) for v in node.values]
            vec = any(isinstance(v, np.ndarray) for v in vals)
            if isinstance(node.op, ast.And):
                if vec:  # a scalar operand (a shape-only test) broadcasts over the configs
                    return np.logical_and.reduce(np.broadcast_arrays(*[np.asarray(v, dtype=bool) for v in vals]))
                return all(bool(v) for v in vals)
            if vec:
                return np.logical_or.reduce(np.broadcast_arrays(*[np.asarray(v, dtype=bool) for v in vals]))
            return any(bool(v) for v in vals)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env, bad)
            result: Any = True
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, env, bad)
                r = _CMPOPS[type(op)](left, right)
                result = np.logical_and(result, r) if isinstance(r, np.ndarray) or isinstance(result, np.ndarray) else (result and r)
                left = right
            return result
        if isinstance(node, ast.IfExp):
            test = self._eval(node.test, env, bad)
            body, orelse = self._eval(node.body, env, bad), self._eval(node.orelse, env, bad)
            if isinstance(test, np.ndarray):
                return np.where(test, body, orelse)
            return body if test else orelse
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return FUNCTIONS[node.func.id](*(self._eval(a, env, bad) for a in node.args))
        raise ExprError(f"expression {self.text!r}: cannot evaluate {type(node).__name__}")

    def to_cpp(self, env: Mapping[str, int] | None = None, keep: set[str] | frozenset[str] = frozenset()) -> str:
        """Render as a C++ expression; names in ``env`` are replaced by their value, names in
        ``keep`` stay as identifiers (e.g. the runtime M, N, K)."""
        env = env or {}
        return self._cpp(self._tree, env, keep)

    def _cpp(self, node: ast.AST, env: Mapping[str, int], keep: set[str] | frozenset[str]) -> str:
        c = lambda n: self._cpp(n, env, keep)  # noqa: E731
        if isinstance(node, ast.Constant):
            return str(int(node.value))
        if isinstance(node, ast.Name):
            if node.id in keep:
                return node.id
            if node.id in env:
                return str(int(env[node.id]))
            raise ExprError(f"expression {self.text!r}: no value for {node.id!r}")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                raise ExprError(f"expression {self.text!r}: '**' has no C++ form")
            a, b = c(node.left), c(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv)):
                # Python floors; C++ truncates toward zero: correct when the signs differ.
                return f"({a} / {b} - ((({a} % {b}) != 0) && ((({a}) < 0) != (({b}) < 0))))"
            if isinstance(node.op, ast.Mod):
                # Python's remainder takes the divisor's sign; C++'s takes the dividend's.
                return f"((({a} % {b}) != 0 && ((({a} % {b}) < 0) != (({b}) < 0))) ? ({a} % {b}) + {b} : ({a} % {b}))"
            return f"({a} {_CPP_BINOPS[type(node.op)]} {b})"
        if isinstance(node, ast.UnaryOp):
            sym = {ast.USub: "-", ast.UAdd: "+", ast.Not: "!"}[type(node.op)]
            return f"({sym}{c(node.operand)})"
        if isinstance(node, ast.BoolOp):
            sym = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + sym.join(c(v) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, comp in zip(node.ops, node.comparators):
                parts.append(f"({c(left)} {_CPP_CMPOPS[type(op)]} {c(comp)})")
                left = comp
            return "(" + " && ".join(parts) + ")"
        if isinstance(node, ast.IfExp):
            return f"({c(node.test)} ? {c(node.body)} : {c(node.orelse)})"
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [c(a) for a in node.args]
            name = node.func.id
            if name in ("min", "max") and len(args) >= 2:
                out = args[0]
                for a in args[1:]:
                    op = "<" if name == "min" else ">"
                    out = f"(({out}) {op} ({a}) ? ({out}) : ({a}))"
                return out
            if name == "ceil_div" and len(args) == 2:
                return f"((({args[0]}) + ({args[1]}) - 1) / ({args[1]}))"
            if name == "abs":
                return f"(({args[0]}) < 0 ? -({args[0]}) : ({args[0]}))"
            if name == "is_pow2":
                return f"((({args[0]}) > 0) && ((({args[0]}) & (({args[0]}) - 1)) == 0))"
        raise ExprError(f"expression {self.text!r}: no C++ form for {ast.dump(node)[:40]}")
