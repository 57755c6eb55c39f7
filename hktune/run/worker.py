"""The run worker: a separate process that owns one device and evaluates libraries on it.

Protocol: one JSON object per line on stdin, one JSON reply per line on the protocol pipe
(the original stdout; the library's own prints go to stderr so they cannot corrupt it). Every
request that touches a shape (evaluate, prepare, vendor) names its ``dtype`` (hktune.dtypes; bf16
when absent): the inputs, references, tolerances and vendor call are that dtype's.
A kernel that crashes the process, or hangs, takes only this process down: the parent
(hktune.run.runner) sees it, records the trial as failed and starts a fresh worker.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback

from hktune.dtypes import get as get_dtype


def _die_with_parent() -> None:
    """A worker stuck in a hung kernel never reads its closed stdin again; without this it would
    outlive a killed search and keep holding the GPU. Poll the parent and exit when it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(70)

    threading.Thread(target=watch, daemon=True, name="hktune-parent-watch").start()


def main() -> int:
    _die_with_parent()
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printing to stdout lands in the worker's stderr log

    # torch (and the measurement, which loads it) only now: a broken torch is reported on the pipe
    import torch

    from hktune.run.measure import Evaluator, Settings

    device = torch.device(os.environ.get("HKTUNE_DEVICE", "cpu"))
    if device.type == "cuda":
        if not torch.cuda.is_available():
            proto.write(json.dumps({"op": "ready", "error": "torch sees no GPU (torch.cuda.is_available() is False)"}) + "\n")
            return 3
        torch.cuda.set_device(device)
    # HKTUNE_TIMING (JSON) overrides timing settings for experiments, e.g. {"replay_ms": 50}.
    settings = Settings(**{**json.loads(os.environ.get("HKTUNE_SETTINGS", "{}")),
                           **json.loads(os.environ.get("HKTUNE_TIMING", "{}"))})
    ev = Evaluator(device, settings)
    proto.write(json.dumps({"op": "ready", "device": ev.info}) + "\n")

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("op") == "quit":
            return 0
        try:
            reply = handle(ev, req, get_dtype(req.get("dtype") or "bf16"))
        except Exception as e:  # noqa: BLE001 - report anything to the parent, then go on
            traceback.print_exc()
            reply = {"op": "result", "ok": False, "reason": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        proto.write(json.dumps(reply) + "\n")
        if reply.get("op") == "result" and not reply.get("ok") and str(reply.get("reason") or "").startswith("device error"):
            return 4  # a device fault poisons the context: answered, now exit so the parent restarts us
    return 0


def handle(ev, req: dict, dtype) -> dict:  # noqa: ANN001 - an Evaluator and a DType (the worker imports them late)
    """One request's reply: evaluate (verify, then time), prepare (a shape's input sets and a settled
    first vendor timing, outside any trial's timeout) or vendor."""
    op = req.get("op")
    if op == "evaluate":
        res = ev.evaluate(req["lib"], req.get("expected"), req["m"], req["n"], req["k"],
                          time_it=req.get("time", True), inputs=req.get("inputs"),
                          back_to_back=req.get("back_to_back"), budget_ms=req.get("budget_ms"),
                          fresh=bool(req.get("fresh", False)), dtype=dtype, stop_below=req.get("stop_below"),
                          steady=bool(req.get("steady", True)))
        return {"op": "result", **res.to_dict()}
    if op == "prepare":
        ev.sets(req["m"], req["n"], req["k"], dtype=dtype)
        # Settle clocks, power and temperature before the first trial (an idle GPU ramps up over
        # the first fraction of a second, which would handicap whoever is measured first).
        t_end = time.perf_counter() + (1.0 if ev.device.type == "cuda" else 0.0)
        us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
        while time.perf_counter() < t_end:
            us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
        return {"op": "prepared", "ok": True, "vendor_us": us, "vendor_tflops": tflops}
    if op == "vendor":
        us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
        return {"op": "vendor", "median_us": us, "tflops": tflops}
    return {"op": "error", "reason": f"unknown op {op!r}"}

if __name__ == "__main__":
    sys.exit(main())
