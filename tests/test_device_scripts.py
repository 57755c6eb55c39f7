"""The GPU scripts under bench/device run on a lent H200 with a 30-minute session budget, so a
mistake found there costs device time (one was found on the CPU: hopper.sh's sanitizer step could
not build its configs without --space). These checks run them as far as a CPU can: shell syntax,
and every config a script names is valid in the space it builds from, at the shape it runs."""
from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from hktune.space.space import load_space

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "bench" / "device"
SANITIZED = {"hopper.sh": "bench/tk-sched.yaml", "splitk.sh": "bench/tk-sched.yaml", "fp8-sched.sh": "bench/tk-sched-fp8.yaml",
             "fp8-overlap.sh": "bench/tk-sched-fp8.yaml", "next.sh": "bench/tk-sched-fp8.yaml"}


@pytest.mark.parametrize("script", sorted(p.name for p in DEVICE.glob("*.sh")))
def test_shell_syntax(script):
    r = subprocess.run(["bash", "-n", str(DEVICE / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _sanitized_runs(script: str) -> list[str]:
    """The SAN list the script defines (its lines before the first command that needs a GPU)."""
    text = (DEVICE / script).read_text()
    head = text[:text.index("\nt0=")]
    head = "\n".join(ln for ln in head.splitlines() if "setup.sh" not in ln and "mkdir" not in ln)
    r = subprocess.run(["bash", "-c", head + '\necho "$SAN"'], capture_output=True, text=True, cwd=ROOT,
                       env={"OUT": "/nonexistent", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return [ln for ln in r.stdout.splitlines() if ln.strip()]


@pytest.mark.parametrize("script, space_file", sorted(SANITIZED.items()))
def test_every_sanitized_config_is_valid_in_its_space_at_its_shape(script, space_file):
    space = load_space(ROOT / space_file, "sm_90")
    runs = _sanitized_runs(script)
    assert runs
    for line in runs:
        cfg_text = re.search(r"((?:[A-Z_]+=\d+,?)+)", line).group(1).strip(",")
        config = space.complete({k: int(v) for k, v in (kv.split("=") for kv in cfg_text.split(","))})
        m, n, k = (int(x) for x in line.rsplit(":", 1)[1].split("x"))
        assert set(config) == set(space.names), (line, set(space.names) - set(config))
        assert not space.violations(config) and not space.shape_violations(config, m, n, k), line
    assert f"--space {space_file}" in (DEVICE / script).read_text()     # the compile step builds from it


def test_the_kernel_check_names_exist():
    spec = importlib.util.spec_from_file_location("tk_kernel_check", ROOT / "bench" / "tk_kernel_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for script in ("hopper.sh", "splitk.sh"):
        names = re.search(r"(?:CONFIGS=|--configs )([\w,]+)", (DEVICE / script).read_text()).group(1).split(",")
        assert names and not [n for n in names if n not in mod.CONFIGS], script
