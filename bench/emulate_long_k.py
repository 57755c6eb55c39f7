"""gfx942 at the K values whose row stride HK's make_srsrc would turn into a swizzled buffer
(K = 14336: Llama-3-8B down_proj; K = 11008), emulated with the buffer resources exactly as the
template builds them (the emulator refuses any V# with stride / swizzle bits: hktune/emulator/strict.py).

    PYTHONPATH=. HKTUNE_TEST_HK_CDNA3=DIR python bench/emulate_long_k.py [--k 14336 --k 11008] [--hk-swizzled]

One block (M = N = BLOCK) per run; prints one JSON line per (config, K).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from emu_env import compile_variant, seed, space  # noqa: E402
from hktune.emulator import emulate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, action="append", default=[])
    ap.add_argument("--prefetch", type=int, action="append", default=[])
    ap.add_argument("--hk-swizzled", action="store_true", help="HK's own swizzled-resource loads (test-only macro)")
    a = ap.parse_args()
    ks = a.k or [14336, 11008]
    with tempfile.TemporaryDirectory() as tmp:
        for pf in a.prefetch or [1]:
            cfg = seed("gfx942", 1024, PREFETCH=pf)
            res = compile_variant(Path(tmp), "gfx942", cfg, {"HKT_HK_SWIZZLED_LOADS": 1} if a.hk_swizzled else None)
            for k in ks:
                t0 = time.perf_counter()
                r = emulate(res.artifact, cfg, space("gfx942"), cfg["BLOCK_M"], cfg["BLOCK_N"], k, timeout_s=1800)
                print(json.dumps({"config": cfg, "hk_swizzled_loads": a.hk_swizzled, "shape": [cfg["BLOCK_M"], cfg["BLOCK_N"], k],
                                  "ok": r.get("ok"), "error": r.get("error"), "bad_elements": r.get("bad_elements"),
                                  "reason": r.get("reason"), "emulated_s": r.get("seconds"),
                                  "wall_s": round(time.perf_counter() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
