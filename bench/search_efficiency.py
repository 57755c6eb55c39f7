"""Search-efficiency and throughput benchmark for the cuda family.

    # on the GPU machine: time a random sample of >= 300 valid configs at 4096^3 and keep it
    python bench/search_efficiency.py collect --out DIR [--trials 400]
    # anywhere (CPU): replay the strategies over the kept data with bench/replay.py

`collect` runs the real product (`python -m hktune search --sampler exhaustive --space
bench/cuda-subspace.yaml`: all 448 valid configs of a representative subspace) and records
the throughput figures: the share of wall time the GPU spent timing candidates, and seconds per
evaluated config. It then runs the same search again on a fresh study, with the compile cache
warm. The replays (every strategy through the real driver, and Kernel Tuner's strategies) are
bench/replay.py's job.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SHAPE = (4096, 4096, 4096)


def _summary_numbers(stdout: str) -> dict[str, float]:
    out = {}
    for key, pat in {"wall_s": r"wall time\s+([\d.]+) s", "run_s": r"run time\s+([\d.]+) s",
                     "compile_s": r"compile time \(sum\)\s+([\d.]+) s", "evaluated": r"evaluated\s+(\d+)"}.items():
        m = re.search(pat, stdout)
        out[key] = float(m.group(1)) if m else float("nan")
    return out


SUBSPACE = Path(__file__).with_name("cuda-subspace.yaml")


def search(out: Path, tag: str, sampler: str, trials: int, shape: tuple[int, int, int], seed: int = 0,
           space: Path | None = None) -> dict[str, Any]:
    storage = out / f"{tag}.journal"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "hktune", "search", "--arch", "sm_90", "--m", str(shape[0]), "--n", str(shape[1]),
                        "--k", str(shape[2]), "--trials", str(trials), "--sampler", sampler, "--seed", str(seed),
                        "--storage", str(storage), "--table", str(out / f"{tag}.yaml"), "--quiet",
                        *(["--space", str(space)] if space else [])], capture_output=True, text=True)
    nums = _summary_numbers(r.stdout)
    nums.update(tag=tag, rc=r.returncode, process_wall_s=round(time.perf_counter() - t0, 1),
                gpu_share=nums["run_s"] / nums["wall_s"], s_per_config=nums["wall_s"] / max(nums["evaluated"], 1))
    (out / f"{tag}.log").write_text(r.stderr[-4000:] + r.stdout)
    print(json.dumps(nums), flush=True)
    return nums


def dump_sample(storage: Path, shape: tuple[int, int, int], path: Path) -> int:
    import optuna

    from hktune.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.load_study(study_name="cuda-sm_90-bf16-" + "x".join(map(str, shape)), storage=open_storage(str(storage)))
    rows = [{"config": t.user_attrs["config"], "tflops": t.value, "vendor_tflops": t.user_attrs.get("vendor_tflops")}
            for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and "duplicate_of" not in t.user_attrs]
    path.write_text(json.dumps({"shape": shape, "rows": rows}))
    return len(rows)


def collect(args: argparse.Namespace) -> None:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    # Every valid config of the subspace, timed once (the "exhaustive" ground truth).
    first = search(out, "sample", "exhaustive", args.trials, SHAPE, space=SUBSPACE)
    n = dump_sample(out / "sample.journal", SHAPE, out / "sample.json")
    again = search(out, "sample-cached", "exhaustive", args.trials, SHAPE, space=SUBSPACE)  # same configs, cache warm
    live = search(out, "tpe-live", "tpe", args.live_trials, SHAPE, seed=1)
    big = search(out, "tpe-8192", "tpe", args.live_trials, (8192, 8192, 8192), seed=1)
    dump_sample(out / "tpe-8192.journal", (8192, 8192, 8192), out / "sample-8192.json")
    (out / "throughput.json").write_text(json.dumps({"sample_configs": n, "first": first, "cached": again,
                                                     "tpe_live_4096": live, "tpe_8192": big}, indent=1))


# -- replay -----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--trials", type=int, default=1000)
    c.add_argument("--live-trials", type=int, default=120)
    args = ap.parse_args()
    collect(args)


if __name__ == "__main__":
    main()
