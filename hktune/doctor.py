"""`hktune doctor`: what this machine can compile and run, in one report."""
from __future__ import annotations

import os
import platform
from typing import Any

from hktune.build.builder import cache_dir
from hktune.build.compilers import REGISTRY, get_compiler
from hktune.family.family import discover, project_root
from hktune.family import trees
from hktune.build import toolchain as tc
from hktune.build import hip_runtime as hr
from hktune.run.devices import gpu_archs, torch_summary
from hktune.build.hiplink import runtime as link_rt


def collect(roots: dict[str, str | None] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {"python": platform.python_version(), "project": str(project_root()),
                              "cache": str(cache_dir()), "compilers": {}, "families": {}}
    for name in REGISTRY:
        try:
            c = get_compiler(name)
            report["compilers"][name] = c.version() if c.available() else "not found"
        except Exception as e:  # noqa: BLE001 - the doctor reports, it never fails
            report["compilers"][name] = f"not available: {str(e).splitlines()[0]}"
    try:
        rocm = tc.find_rocm()
        portable = tc.find()
        report["rocm"] = str(rocm) if rocm else "not found (set ROCM_PATH)"
        report["hip_runtime_clash"] = hr.clash(hr.torch_runtime(), hr.system_runtime(rocm))
        report["amd_portable_toolchain"] = f"{portable.version} at {portable.prefix}" if portable else "not installed (hktune toolchain install)"

        rt = link_rt.find(portable.prefix) if portable else None
        report["amd_link_runtime"] = f"{rt.version} in {rt.root}" if rt else "not installed (hktune toolchain install --runtime)"
    except Exception as e:  # noqa: BLE001
        report["rocm"] = f"unknown: {e}"
    for name, fam in discover().items():
        report["families"][name] = {"compiler": fam.compiler, "archs": list(fam.archs)}
    try:
        report["torch"] = torch_summary()
        report["gpus"] = [{"index": i, "arch": a, "name": n, "units": u} for i, a, n, u in gpu_archs()]
    except Exception as e:  # noqa: BLE001
        report["torch"] = f"not importable: {e}"
        report["gpus"] = []
    for name in trees.TREES:
        tree = trees.get(name)
        report[name] = tree.describe(tree.find((roots or {}).get(name)))
    report["cpu"] = {"cores": os.cpu_count(), "machine": platform.machine()}
    return report


def render(report: dict[str, Any]) -> str:
    from tabulate import tabulate

    rows: list[list[Any]] = [["python", report["python"]], ["project", report["project"]], ["build cache", report["cache"]]]
    rows += [[f"compiler {k}", v] for k, v in report["compilers"].items()]
    rows += [["ROCm", report.get("rocm")], ["AMD portable toolchain", report.get("amd_portable_toolchain")],
             ["HIP runtime for compile --link", report.get("amd_link_runtime")]]
    if report.get("hip_runtime_clash"):
        rows.append(["WARNING", report["hip_runtime_clash"]])
    t = report.get("torch")
    rows.append(["torch", t if isinstance(t, str) else f"{t['torch']} (cuda {t['cuda']}, hip {t['hip']}), {t['gpus']} GPU(s)"])
    for g in report.get("gpus", []):
        rows.append([f"gpu {g['index']}", f"{g['name']} ({g['arch']}, {g['units']} units)"])
    if not report.get("gpus"):
        rows.append(["gpus", "none visible: only --arch host can run here; `hktune compile` works for every arch with a compiler"])
    for name in reversed(list(trees.TREES)):
        t, d = trees.get(name), report[name]
        branch = f"branch {d['branch']}, " if d["branch"] else ""
        rows.append([t.title, f"{d['root']} ({branch}commit {d['commit']})" if d["root"]
                     else f"not set ({t.option} or {t.env_vars[0]})"])
    for name, f in report["families"].items():
        rows.append([f"family {name}", f"{f['compiler']}: {', '.join(f['archs'])}"])
    rows.append(["cpu", f"{report['cpu']['cores']} cores, {report['cpu']['machine']}"])
    return tabulate(rows, tablefmt="plain")
