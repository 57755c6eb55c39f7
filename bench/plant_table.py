"""Make a sweep test table from a tuned table: every entry as it is, plus a planted copy whose
stored paired ratio (and CI and round ratios) is 3.1% higher, i.e. the kernel measured now is
3.1% slower than that baseline claims: a sweep must pass the first and catch the second.

    python bench/plant_table.py IN.yaml OUT.yaml [--factor 1.031]
"""
from __future__ import annotations

import argparse
import copy

import yaml


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--factor", type=float, default=1.031)
    a = ap.parse_args()
    doc = yaml.safe_load(open(a.src))
    planted = []
    for e in doc["entries"]:
        p = copy.deepcopy(e)
        for k in ("ratio", "ratio_lo", "ratio_hi", "tflops"):
            if isinstance(p.get(k), (int, float)):
                p[k] *= a.factor
        if p.get("ratios"):
            p["ratios"] = [x * a.factor for x in p["ratios"]]
        p["key"]["m"] = e["key"]["m"]  # same problem; told apart in the report by the 'planted' mark
        p["planted"] = f"stored ratio x{a.factor}"
        planted.append(p)
    doc["entries"] = doc["entries"] + planted
    yaml.safe_dump(doc, open(a.dst, "w"), sort_keys=False)


if __name__ == "__main__":
    main()
