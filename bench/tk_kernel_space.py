"""The thunderkittens family's space for bench/tk_kernel_check.py, read from its YAML without
hktune: derived values, constraints and shape constraints evaluated as hktune's space does."""
from __future__ import annotations

import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILY_DIR = ROOT / "kernels/thunderkittens"
FAMILY = FAMILY_DIR / "family.yaml"


def _ceil_div(a, b):
    return -(-a // b)


SAFE = {"min": min, "max": max, "abs": abs, "ceil_div": _ceil_div,
        "log2": lambda x: int(math.log2(x)), "is_pow2": lambda x: x > 0 and x & (x - 1) == 0}


def load_yaml():
    import yaml
    fam = yaml.safe_load(FAMILY.read_text())
    space = yaml.safe_load((ROOT / fam["archs"]["sm_90"]["space"]).read_text())
    return fam, space


def resolve(params, space, arch="sm_90"):
    """params -> (defines incl. derived, violated constraints)."""
    env = dict(params)
    env.update(space["limits"][arch])
    for name, expr in space["derived"].items():
        env[name] = eval(str(expr), {"__builtins__": {}, **SAFE}, env)
    bad = [c for c in space["constraints"] if not eval(str(c), {"__builtins__": {}, **SAFE}, env)]
    return {k: env[k] for k in list(params) + list(space["derived"])}, bad


def shape_ok(params, space, M, N, K):
    env = dict(resolve(params, space)[0], M=M, N=N, K=K)   # shape constraints may use derived values
    return all(eval(str(c), {"__builtins__": {}, **SAFE}, env) for c in space["shape_constraints"])
