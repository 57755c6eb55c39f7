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
import traceback


def _die_with_parent() -> None:
    """A worker stuck in a hung kernel never reads its closed stdin again; without this it would
    outlive a killed search and keep holding the GPU. Poll the parent and exit when it is gone."""
    import threading
    import time

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

    import torch

    from hktune.dtypes import get as get_dtype
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
        op = req.get("op")
        if op == "quit":
            return 0
        try:
            dtype = get_dtype(req.get("dtype") or "bf16")
            if op == "evaluate":
                res = ev.evaluate(req["lib"], req.get("expected"), req["m"], req["n"], req["k"],
                                  time_it=req.get("time", True), inputs=req.get("inputs"),
                                  back_to_back=req.get("back_to_back"), budget_ms=req.get("budget_ms"),
                                  fresh=bool(req.get("fresh", False)), dtype=dtype)
                reply = {"op": "result", **res.to_dict()}
                if not res.ok and res.reason and res.reason.startswith("device error"):
                    # A device fault poisons the context: answer, then exit so the parent restarts us.
                    proto.write(json.dumps(reply) + "\n")
                    return 4
            elif op == "prepare":
                # Input sets and the first vendor timing of a shape, outside any trial's timeout.
                ev.sets(req["m"], req["n"], req["k"], dtype=dtype)
                # Settle clocks, power and temperature before the first trial (an idle GPU ramps up
                # over the first fraction of a second, which would handicap whoever is measured first).
                import time as _time

                t_end = _time.perf_counter() + (1.0 if device.type == "cuda" else 0.0)
                us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
                while _time.perf_counter() < t_end:
                    us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
                reply = {"op": "prepared", "ok": True, "vendor_us": us, "vendor_tflops": tflops}
            elif op == "vendor":
                us, tflops = ev.vendor(req["m"], req["n"], req["k"], dtype)
                reply = {"op": "vendor", "median_us": us, "tflops": tflops}
            else:
                reply = {"op": "error", "reason": f"unknown op {op!r}"}
        except Exception as e:  # noqa: BLE001 - report anything to the parent, then go on
            traceback.print_exc()
            reply = {"op": "result", "ok": False, "reason": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        proto.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
