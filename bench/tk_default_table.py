"""ThunderKittens' default <2,4,8> (TK's lcf kernel, the later knobs at their legacy values), as the
family's space file already states it (its first seed, configs/thunderkittens-sm_90.yaml): a copy of a
thunderkittens table with every entry's config replaced by it (the baseline the independent harness,
bench/independent.py, times beside a tuned table), or, with --config, its config string (the
`--baseline` of bench/tune.py).

    python3 bench/tk_default_table.py TABLE OUT
    python3 bench/tk_default_table.py --config
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

SPACE = Path(__file__).resolve().parents[1] / "configs" / "thunderkittens-sm_90.yaml"


def tk_default() -> dict[str, int]:
    seed = yaml.safe_load(SPACE.read_text())["seeds"][0]
    assert (seed["M_BLOCK"], seed["N_BLOCK"], seed["SUPER_M"], seed["SCHED"]) == (2, 4, 8, 0), "the first seed is TK's <2,4,8>"
    return {k: int(v) for k, v in seed.items()}


def main(src: str, dst: str) -> None:
    with open(src) as f:
        d = yaml.safe_load(f)
    for e in d["entries"]:
        e["config"] = tk_default()
    with open(dst, "w") as f:
        yaml.safe_dump(d, f, sort_keys=False)


if __name__ == "__main__":
    if sys.argv[1:] == ["--config"]:
        print(",".join(f"{k}={v}" for k, v in tk_default().items()))
    else:
        main(*sys.argv[1:3])
