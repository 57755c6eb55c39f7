"""The one rule that turns a verified measurement into a table entry (search and sweep both use it),
and the provenance that goes with it."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hktune import dtypes
from hktune.record import table as tbl
from hktune.build.builder import tree_identity

# Measurement fields kept on an entry beside the headline figures (when the run target gives them).
EXTRA_FIELDS = ("ratio_lo", "ratio_hi", "precision", "converged", "rounds", "warnings", "method", "noise")


def provenance(builder: Any, info: dict[str, Any]) -> dict[str, Any]:
    """Compiler, torch and backend, and each external include tree's identity."""
    tc = {"compiler": builder.compiler_version, "torch": info.get("torch"), "backend": info.get("backend")}
    for d in builder.include_dirs:
        tc["include:" + d.name] = tree_identity(d)
    return tc


def max_error(dtype: str) -> float:
    """The relative Frobenius error above which a result of this dtype is not verified."""
    return dtypes.get(dtype).frobenius_max


def make_entry(key: tbl.Key, config: dict[str, int], res: dict[str, Any], *, trials: int, info: dict[str, Any],
               builder: Any, template_hash: str, extra: dict[str, Any] | None = None) -> tbl.Entry:
    """An Entry from one measurement ``res`` (a run worker's reply: tflops, median_us, spread,
    vendor_tflops, vendor_us, error, and the paired ratio when measured)."""
    vendor_tflops = res.get("vendor_tflops")
    ratio = res.get("ratio")
    if ratio is None:
        ratio = float(res["tflops"]) / float(vendor_tflops) if vendor_tflops else float("nan")
    more = {k: res[k] for k in EXTRA_FIELDS if res.get(k) not in (None, [])}
    if res.get("ratios"):
        more["ratios"] = [round(float(x), 4) for x in res["ratios"]][:64]  # the round ratios: the sweep's baseline
    env = res.get("environment") or {}
    if env.get("before") or env.get("after"):
        more["environment"] = env.get("after") or env.get("before")
    return tbl.Entry(
        key=key, config=dict(config), tflops=float(res["tflops"]), time_us=float(res["median_us"]),
        spread=float(res["spread"]),
        vendor={"name": dtypes.get(key.dtype).vendor_name if key.dtype in dtypes.DTYPES else "torch.matmul", "tflops": vendor_tflops, "time_us": res.get("vendor_us")},
        ratio=float(ratio), error=float(res["error"]), trials=int(trials),
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        device={"name": info.get("name"), "units": info.get("units"), "arch": info.get("arch")},
        toolchain=provenance(builder, info), template_hash=template_hash,
        extra={**more, **(extra or {})},
    )


def record(path: Any, entry: tbl.Entry, supersede_run: str | None = None, force: bool = False) -> tuple[bool, tbl.Entry | None]:
    """Store ``entry`` if it is verified (by its dtype's tolerance) and better than the stored one
    (or, with ``force``, whatever the stored one)."""
    return tbl.record(path, entry, max_error=max_error(entry.key.dtype), supersede_run=supersede_run, force=force)
