"""Render a sweep: a Markdown summary (for a CI job summary or a PR comment) and a JUnit XML
report (one testcase per entry) that CI systems show as test results. No dependency beyond
the standard library's xml.etree."""
from __future__ import annotations

import math
import socket
import xml.etree.ElementTree as ET
from typing import Any

from hktune.record import figures
from hktune.sweep.sweep import INCONCLUSIVE, RULE, SKIPPED, SweepReport, Verdict

_ICON = {"pass": "✅", "improved": "🚀", "regression": "❌", "wrong": "❌", "build failed": "❌", "invalid": "❌",
         "error": "❌", "skipped": "⏭️", "bad baseline": "❌", "inconclusive": "⚠️", "re-baselined": "🔁"}


def _f(x: Any, fmt: str = ".4g") -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and math.isfinite(x) else "–"


def _cfg(v: Verdict) -> str:
    return " ".join(f"{k}={x}" for k, x in v.entry.config.items())


def _shape(v: Verdict) -> str:
    k = v.entry.key
    return f"{k.m}x{k.n}x{k.k}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(v: Verdict, report: SweepReport) -> str:
    if v.status == SKIPPED and report.options.require_all:
        return "skipped (failure: --require-all)"
    return v.status


def markdown(report: SweepReport) -> str:
    """The sweep as Markdown: headline, one row per entry, then failures, provenance and skips."""
    o = report.options
    devs = "; ".join(f"{d['name']} ({d.get('arch')}, {d.get('units')} units)" for d in report.devices.values()) or "none"
    lines = [
        f"## hktune sweep: {report.headline()}",
        "",
        f"Table `{report.table}` · {report.started} · {report.seconds:.0f} s · devices: {devs}",
        "",
        f"Rule: {RULE}; tolerance {o.tolerance:g}"
        + (f"; a suspected regression is re-measured {o.confirm}x and the fastest verified figure judged" if o.confirm else ""),
        "",
        "| | family/arch | MxNxK | config | stored ratio | ratio now | change | limit | TFLOP/s now | vendor now | CI now | |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for v in report.verdicts:
        r = v.result or {}
        vt = r.get("vendor_tflops")
        now = figures.of(r) if r else None
        h = now.half_width() if now else None
        change = -v.slowdown / (1 + v.slowdown) if v.slowdown is not None and math.isfinite(v.slowdown) else None
        flags = []
        if v.provenance:
            flags.append("provenance differs: race-hunted")
        if v.updated:
            flags.append("table updated")
        if v.status != "pass" and v.status not in ("improved",) and v.message:
            flags.append(v.message)
        flags += v.notes
        lines.append("| " + " | ".join(_cell(c) for c in [
            _ICON.get(v.status, "") + " " + _status(v, report), f"{v.entry.key.family}/{v.entry.key.arch}", _shape(v),
            f"`{_cfg(v)}`", _f(figures.of(v.entry).ratio), _f(now.ratio if now else None), _f(change, "+.1%"),
            _f(-v.threshold if v.threshold is not None else None, ".1%"), _f(r.get("tflops")), _f(vt),
            ("+-" + _f(h, ".1%")) if h is not None else "–", "; ".join(flags)]) + " |")
    failing = report.failures()
    if failing:
        lines += ["", "### Failures", ""]
        lines += [f"- **{_status(v, report)}** `{v.entry.key}` `{_cfg(v)}`: {_cell(v.message)}" for v in failing]
    moved = [v for v in report.verdicts if v.provenance]
    if moved:
        lines += ["", "### Provenance differs (re-verified with race hunting, not trusted)", ""]
        for v in moved:
            lines.append(f"- `{v.entry.key}`: " + "; ".join(f"`{_cell(d)}`" for d in v.provenance))
    unsure = [v for v in report.verdicts if v.status == INCONCLUSIVE]
    if unsure:
        lines += ["", "### Inconclusive (not a pass: the measurements could not judge the change)", ""]
        lines += [f"- `{v.entry.key}` `{_cfg(v)}`: {_cell(v.message)}" for v in unsure]
    skipped = [v for v in report.verdicts if v.status == SKIPPED]
    if skipped and not o.require_all:
        lines += ["", "### Skipped", ""]
        lines += [f"- `{v.entry.key}`: skipped: {_cell(v.message)}" for v in skipped]
    return "\n".join(lines) + "\n"


def _testcase_text(v: Verdict) -> str:
    r = v.result or {}
    rows = [f"config: {_cfg(v)}", f"stored: {figures.of(v.entry).text()} on {v.entry.device.get('name')} ({v.entry.date})"]
    if r.get("ok"):
        rows.append(f"now: {figures.of(r).text()}")
        rows += [f"warning now: {w}" for w in r.get("warnings") or []]
        rows.append(f"now: {_f(r.get('tflops'))} TFLOP/s, median {_f(r.get('median_us'), '.1f')} us "
                    f"(p10 {_f(r.get('p10_us'), '.1f')}, p90 {_f(r.get('p90_us'), '.1f')}, spread {_f(r.get('spread'), '.1%')}), "
                    f"error {_f(r.get('error'), '.2e')}; vendor BLAS {_f(r.get('vendor_tflops'))} TFLOP/s")
    if v.slowdown is not None:
        rows.append(f"slowdown {_f(v.slowdown, '+.1%')} against a limit of {_f(v.threshold, '.1%')}")
    rows.append(f"measurements: {v.measurements}; race-hunted: {'yes' if v.race_hunted else 'no'}; "
                f"table updated: {'yes' if v.updated else 'no'}")
    rows += [f"provenance: {d}" for d in v.provenance]
    rows += [f"note: {n}" for n in v.notes]
    return "\n".join(rows)


def junit(report: SweepReport) -> bytes:
    """JUnit XML: one testcase per entry; failures carry the reason as their message."""
    failing = {id(v) for v in report.failures()}
    skipped = [v for v in report.verdicts if v.status in (SKIPPED, INCONCLUSIVE) and id(v) not in failing]
    suites = ET.Element("testsuites", name="hktune sweep", tests=str(len(report.verdicts)),
                        failures=str(len(failing)), errors="0", skipped=str(len(skipped)), time=f"{report.seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"hktune sweep {report.table}", tests=str(len(report.verdicts)),
                          failures=str(len(failing)), errors="0", skipped=str(len(skipped)), time=f"{report.seconds:.3f}",
                          timestamp=report.started, hostname=socket.gethostname())
    props = ET.SubElement(suite, "properties")
    o = report.options
    for name, value in [("rule", RULE), ("tolerance", f"{o.tolerance:g}"),
                        ("require_all", str(o.require_all).lower()), ("update", str(o.update).lower()),
                        *[(f"device {d}", f"{i.get('name')} ({i.get('arch')})") for d, i in report.devices.items()]]:
        ET.SubElement(props, "property", name=name, value=value)
    for v in report.verdicts:
        k = v.entry.key
        case = ET.SubElement(suite, "testcase", classname=f"hktune.{k.family}.{k.arch}",
                             name=f"{k.dtype} {k.layout} {k.m}x{k.n}x{k.k} [{_cfg(v)}]", time=f"{v.seconds:.3f}")
        if id(v) in failing:
            kind = "skipped" if v.status == SKIPPED else v.status
            msg = (f"skipped (--require-all): {v.message}" if v.status == SKIPPED else f"{v.status}: {v.message}")
            fail = ET.SubElement(case, "failure", message=msg, type=kind)
            fail.text = _testcase_text(v)
        elif v.status in (SKIPPED, INCONCLUSIVE):  # inconclusive: neither a pass nor a failure
            ET.SubElement(case, "skipped", message=f"{v.status}: {v.message}")
        ET.SubElement(case, "system-out").text = _testcase_text(v)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


__all__ = ["markdown", "junit"]
