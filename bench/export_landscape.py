"""Write a study's evaluated configs as a replay landscape (bench/replay.py's format):
``{"shape", "family", "arch", "rows": [{"config", "tflops", "vendor_tflops", "ratio", "ratio_lo", "ratio_hi"}]}``
(tflops null for a config that failed).

    python bench/export_landscape.py --storage S.journal --study NAME --out L.json
"""
from __future__ import annotations

import argparse
import json

import optuna

from hktune.search.storage import open_storage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--storage", required=True)
    ap.add_argument("--study", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.load_study(study_name=a.study, storage=open_storage(a.storage))
    family, arch, _, shape = a.study.split("-", 3)
    m, n, k = (int(x) for x in shape.split("x"))
    rows = []
    for t in st.get_trials(deepcopy=False):
        u = t.user_attrs
        if not u.get("config") or "duplicate_of" in u or t.state.name not in ("COMPLETE", "FAIL"):
            continue
        ok = t.state.name == "COMPLETE"
        rows.append({"config": u["config"], "tflops": 2.0 * m * n * k / (u["median_us"] * 1e-6) / 1e12 if ok else None,
                     "vendor_tflops": u.get("vendor_tflops"), "ratio": t.value if ok else None,
                     "ratio_lo": u.get("ratio_lo"), "ratio_hi": u.get("ratio_hi"), "reason": u.get("reason")})
    json.dump({"shape": [m, n, k], "family": family, "arch": arch, "rows": rows}, open(a.out, "w"), indent=0)
    print(f"{len(rows)} configs ({sum(r['tflops'] is not None for r in rows)} verified) -> {a.out}")


if __name__ == "__main__":
    main()
