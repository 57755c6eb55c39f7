"""Readings of the machine a measurement ran on: GPU clocks, power, temperature and throttle
reasons (NVML through ``pynvml``/``nvidia-ml-py``, or ``amdsmi``, when importable) and host load.

Contract
  * ``read_environment(gpu_index=None, pci_bus_id=None)`` -> dict, never raises: every reading
    that the installed library or the device does not give is simply absent. Keys:
      host: {"load1", "load5", "load15", "cpus"}
      gpu:  {"source": "nvml"|"amdsmi", "sm_clock_mhz", "mem_clock_mhz", "power_w",
             "power_limit_w", "temp_c", "throttle": [reason, ...]}   (absent without a library)
  * ``environment_warnings(env)`` -> list of one-line warnings: throttled for a reason that slows
    the clocks (power cap, thermal, power brake, HW slowdown; not "idle" nor "application clocks"),
    or host 1-minute load above the number of cores (the host cannot feed the device on time).
The GPU is identified by PCI bus id when given (robust to CUDA_VISIBLE_DEVICES), else by index.
"""
from __future__ import annotations

import os
from typing import Any, Callable

# NVML clocks-event (throttle) reason bits that mean "clocks were lowered", by name.
_NVML_SLOWING = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x20: "sw_thermal", 0x40: "hw_thermal",
                 0x80: "hw_power_brake"}
_nvml: Any = None     # the imported module once nvmlInit succeeded, False when unavailable
_amdsmi: Any = None


def _host(loadavg: Callable[[], tuple[float, float, float]] | None, cpus: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"cpus": cpus if cpus is not None else (os.cpu_count() or 1)}
    try:
        out["load1"], out["load5"], out["load15"] = (loadavg or os.getloadavg)()
    except (OSError, AttributeError):
        pass
    return out


def _nvml_module() -> Any:
    global _nvml
    if _nvml is None:
        try:
            import pynvml  # nvidia-ml-py installs this name too

            pynvml.nvmlInit()
            _nvml = pynvml
        except Exception:  # noqa: BLE001 - no library, no driver, no device: no readings
            _nvml = False
    return _nvml


def _read_nvml(index: int | None, pci_bus_id: str | None) -> dict[str, Any] | None:
    nv = _nvml_module()
    if not nv:
        return None
    h, by = None, "pci"
    if pci_bus_id:
        try:
            h = nv.nvmlDeviceGetHandleByPciBusId(pci_bus_id)
        except Exception:  # noqa: BLE001 - fall back to the index (wrong under CUDA_VISIBLE_DEVICES)
            h = None
    if h is None:
        by = "index"
        try:
            h = nv.nvmlDeviceGetHandleByIndex(index or 0)
        except Exception:  # noqa: BLE001
            return None
    out: dict[str, Any] = {"source": "nvml", "found_by": by}
    reads = {
        "sm_clock_mhz": lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM),
        "mem_clock_mhz": lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM),
        "power_w": lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "power_limit_w": lambda: nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0,
        "temp_c": lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU),
    }
    for key, fn in reads.items():
        try:
            out[key] = fn()
        except Exception:  # noqa: BLE001
            pass
    for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
        fn = getattr(nv, name, None)
        if fn is None:
            continue
        try:
            bits = int(fn(h))
        except Exception:  # noqa: BLE001
            continue
        out["throttle_bits"] = bits
        out["throttle"] = [v for b, v in _NVML_SLOWING.items() if bits & b]
        break
    return out


def _read_amdsmi(index: int | None) -> dict[str, Any] | None:
    global _amdsmi
    if _amdsmi is None:
        try:
            import amdsmi

            amdsmi.amdsmi_init()
            _amdsmi = amdsmi
        except Exception:  # noqa: BLE001
            _amdsmi = False
    a = _amdsmi
    if not a:
        return None
    try:
        h = a.amdsmi_get_processor_handles()[index or 0]
    except Exception:  # noqa: BLE001
        return None
    out: dict[str, Any] = {"source": "amdsmi"}
    try:
        clk = a.amdsmi_get_clock_info(h, a.AmdSmiClkType.GFX)
        out["sm_clock_mhz"] = clk.get("cur_clk", clk.get("clk"))
    except Exception:  # noqa: BLE001
        pass
    try:
        p = a.amdsmi_get_power_info(h)
        out["power_w"] = p.get("current_socket_power", p.get("average_socket_power"))
        if "power_limit" in p:
            out["power_limit_w"] = p["power_limit"]
    except Exception:  # noqa: BLE001
        pass
    try:
        out["temp_c"] = a.amdsmi_get_temp_metric(h, a.AmdSmiTemperatureType.HOTSPOT, a.AmdSmiTemperatureMetric.CURRENT)
    except Exception:  # noqa: BLE001
        pass
    try:
        m = a.amdsmi_get_gpu_metrics_info(h)
        status = m.get("throttle_status")
        if isinstance(status, int) and status not in (0, 0xFFFFFFFF):
            out["throttle"] = [f"throttle_status=0x{status:x}"]
        elif status is not None:
            out["throttle"] = []
    except Exception:  # noqa: BLE001
        pass
    return out


def read_environment(gpu_index: int | None = None, pci_bus_id: str | None = None, gpu: bool = True,
                     loadavg: Callable[[], tuple[float, float, float]] | None = None,
                     cpus: int | None = None) -> dict[str, Any]:
    """Host load, and GPU readings when ``gpu`` and a library are available (module docstring)."""
    env: dict[str, Any] = {"host": _host(loadavg, cpus)}
    if gpu:
        g = _read_nvml(gpu_index, pci_bus_id) or _read_amdsmi(gpu_index)
        if g:
            env["gpu"] = g
    return env


def environment_warnings(env: dict[str, Any]) -> list[str]:
    """One-line warnings for readings that make a timing suspect (module docstring)."""
    out = []
    g = env.get("gpu") or {}
    if g.get("throttle"):
        out.append(f"GPU throttled while timing ({', '.join(g['throttle'])})")
    h = env.get("host") or {}
    load, cpus = h.get("load1"), h.get("cpus")
    if isinstance(load, (int, float)) and isinstance(cpus, int) and load > cpus:
        out.append(f"host load {load:.2f} > {cpus} cores: launches may be late")
    return out
