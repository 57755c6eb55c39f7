"""Record the GEMM shapes a model runs, for ``hktune search --shapes FILE``.

With a model: forward hooks on its nn.Linear modules (source = the layer's qualified name).
Without one: a TorchFunctionMode that sees F.linear, matmul/mm/addmm/@ and hktune's own op
(source = the function). A call with x [..., K] and a weight [N, K] is the GEMM (M, N, K) with
M = prod(leading dims of x), as nn.Linear flattens it.
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.overrides import TorchFunctionMode

_MAX_SOURCES = 4  # layer names listed per shape in the YAML; the rest as "(+N more)"


class ShapeCapture:
    """Counts of (M, N, K) per source; :meth:`shapes` / :meth:`write` merge the sources."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, int, int, str]] = Counter()

    def add(self, m: int, n: int, k: int, source: str, times: int = 1) -> None:
        if m > 0 and n > 0 and k > 0:
            self.counts[(m, n, k, source)] += times

    def shapes(self) -> list[dict[str, Any]]:
        """One row per distinct (m, n, k), in first-seen order: m, n, k, count, source."""
        rows: dict[tuple[int, int, int], dict[str, Any]] = {}
        for (m, n, k, src), c in self.counts.items():
            row = rows.setdefault((m, n, k), {"m": m, "n": n, "k": k, "count": 0, "sources": []})
            row["count"] += c
            if src not in row["sources"]:
                row["sources"].append(src)
        out = []
        for row in rows.values():
            srcs = row.pop("sources")
            more = f" (+{len(srcs) - _MAX_SOURCES} more)" if len(srcs) > _MAX_SOURCES else ""
            out.append({**row, "source": ", ".join(srcs[:_MAX_SOURCES]) + more})
        return out

    def write(self, path: str | Path) -> Path:
        """Write the shapes file: YAML (``shapes: [{m, n, k, count, source}]``), or CSV
        (columns m,n,k,count) when the name ends in .csv."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.shapes()
        if path.suffix.lower() == ".csv":
            with path.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["m", "n", "k", "count"])
                w.writerows([r["m"], r["n"], r["k"], r["count"]] for r in rows)
        else:
            text = "# GEMM shapes (C[m,n] = A[m,k] B[k,n]) captured by hktune.torch.capture_shapes\n"
            path.write_text(text + yaml.safe_dump({"shapes": rows}, sort_keys=False, width=4096))
        return path


def _leading(x: torch.Tensor) -> int:
    return math.prod(x.shape[:-1]) if x.dim() >= 1 else 1


class _Mode(TorchFunctionMode):
    """Sees every torch function call inside the block; records the GEMMs."""

    def __init__(self, cap: ShapeCapture) -> None:
        super().__init__()
        self.cap = cap
        self.linear = {torch.nn.functional.linear}
        self.matmul = {torch.matmul, torch.mm, torch.Tensor.matmul, torch.Tensor.mm, torch.Tensor.__matmul__}
        self.gemm_abt = {torch.ops.hktune.gemm_abt, torch.ops.hktune.gemm_abt.default}
        self.scaled = {torch.ops.hktune.scaled_gemm_abt, torch.ops.hktune.scaled_gemm_abt.default}  # fp8_e4m3

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        try:
            self._record(func, args, kwargs)
        except (IndexError, TypeError, AttributeError):
            pass  # an unusual call form: not ours to reject, torch will judge it
        return func(*args, **kwargs)

    def _record(self, func: Any, args: tuple, kwargs: dict) -> None:
        if func in self.linear:
            x, w = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            self.cap.add(_leading(x), w.shape[0], w.shape[1], "linear")
        elif func in self.gemm_abt:
            a, bt = args[0], args[1]
            self.cap.add(a.shape[0], bt.shape[0], a.shape[1], "hktune.gemm_abt")
        elif func in self.scaled:
            a, bt = args[0], args[1]
            self.cap.add(a.shape[0], bt.shape[0], a.shape[1], "hktune.scaled_gemm_abt")
        elif func in self.matmul:
            a, b = args[0], args[1] if len(args) > 1 else kwargs["other"]
            if a.dim() >= 2 and b.dim() == 2:
                self.cap.add(_leading(a), b.shape[1], a.shape[-1], "matmul")
            elif a.dim() >= 2 and b.dim() > 2:  # batched: one GEMM per batch element
                self.cap.add(a.shape[-2], b.shape[-1], a.shape[-1], "matmul (batched)", math.prod(b.shape[:-2]))
        elif func is torch.addmm:
            a, b = args[1], args[2]
            self.cap.add(a.shape[0], b.shape[1], a.shape[1], "addmm")


class capture_shapes:
    """``with capture_shapes(model) as cap: model(x)`` then ``cap.write("shapes.yaml")``.

    ``model``: hooks on its nn.Linear modules (hktune Linear included); None: every GEMM run
    inside the block, whatever calls it."""

    def __init__(self, model: nn.Module | None = None) -> None:
        self.model = model
        self.cap = ShapeCapture()
        self._handles: list[Any] = []
        self._mode: _Mode | None = None

    def __enter__(self) -> ShapeCapture:
        if self.model is None:
            self._mode = _Mode(self.cap)
            self._mode.__enter__()
        else:
            for name, mod in self.model.named_modules():
                if isinstance(mod, nn.Linear):
                    self._handles.append(mod.register_forward_hook(self._hook(name or type(mod).__name__)))
        return self.cap

    def _hook(self, name: str):  # noqa: ANN202
        def hook(mod: nn.Linear, inputs: tuple, output: Any) -> None:
            x = inputs[0]
            self.cap.add(_leading(x), mod.out_features, mod.in_features, name)
        return hook

    def __exit__(self, *exc: object) -> None:
        if self._mode is not None:
            self._mode.__exit__(*exc)
            self._mode = None
        for h in self._handles:
            h.remove()
        self._handles.clear()
