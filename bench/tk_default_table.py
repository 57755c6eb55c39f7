"""A copy of a thunderkittens table with every entry's config replaced by ThunderKittens' default
<2,4,8> (TK's lcf kernel, the later knobs at their legacy values): the baseline the independent
harness (bench/independent.py) times beside a tuned table.

    python3 bench/tk_default_table.py TABLE OUT
"""
from __future__ import annotations

import sys

import yaml

TK_DEFAULT = {"M_BLOCK": 2, "N_BLOCK": 4, "STAGES": 4, "SUPER_M": 8, "PERSISTENT": 1, "PRODUCER_REGS": 40,
              "CONSUMER_REGS": 232, "EPILOGUE": 1, "SCHED": 0, "WG_M": 64, "CLUSTER_M": 1, "CLUSTER_N": 1,
              "ORDER": 0, "MMA_LAG": 0, "SPLIT_K": 1, "PROMOTE": 0}


def main(src: str, dst: str) -> None:
    with open(src) as f:
        d = yaml.safe_load(f)
    for e in d["entries"]:
        e["config"] = dict(TK_DEFAULT)
    with open(dst, "w") as f:
        yaml.safe_dump(d, f, sort_keys=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
