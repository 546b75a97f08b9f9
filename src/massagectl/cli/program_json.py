"""The ``show --json`` and ``check --json`` documents (their shapes are documented in docs/cli.md).

A key is only ever added, never renamed or dropped: scripts read these.
"""

from __future__ import annotations

from typing import Any

from ..programs.check import CheckReport, HeatExposure, StepCheck, heat_exposure
from ..programs.model import Program
from ..programs.timeline import DeviceRange, Timeline, flatten


def _levels(rng: DeviceRange) -> dict[str, int]:
    return {
        "speed_levels": rng.speed_levels,
        "heat_levels": rng.heat_levels,
        "program_count": rng.program_count,
    }


def _heat(exposure: HeatExposure) -> dict[str, float | int]:
    return {
        "total_s": exposure.total_s,
        "longest_s": exposure.longest_s,
        "total_max_s": exposure.total_max_s,
        "peak_level": exposure.peak_level,
    }


def _step(step: StepCheck) -> dict[str, Any]:
    seg = step.segment
    return {
        "index": seg.index,
        "label": seg.label,
        "start_s": seg.start,
        "duration_s": seg.duration,
        "speed_low": step.speed_low,
        "speed_high": step.speed_high,
        "pulsed": step.pulsed,
        "heat": step.heat,
        "program": step.program,
        "issues": [str(issue) for issue in step.issues],
    }


def show_json(report: CheckReport, device: str, plot: str | None) -> dict[str, Any]:
    """``show --json``: the program's steps in the order they run, on ``device``."""
    program = report.program
    return {
        "program": program.name,
        "title": program.title,
        "device": device,
        "levels": _levels(report.device),
        "length_s": float(Timeline(program, report.device).duration),
        "steps": [_step(s) for s in report.steps],
        "warnings": list(report.warnings),
        "heat": _heat(report.heat),
        "plot": plot,
    }


def check_json(
    program: Program, report: CheckReport | None, device: str | None, safety: list[str]
) -> dict[str, Any]:
    """``check --json``: a valid program, and, fitted to ``device``, what it will skip or clamp."""
    steps = flatten(program)
    doc: dict[str, Any] = {
        "ok": True,
        "program": program.name,
        "steps": len(steps),
        "length_s": float(Timeline(program, DeviceRange(0, 0)).duration),
        "device": device,
        "levels": None,
        "issues": [],
        "warnings": [],
        # Without a device: how long the program asks for heat, as the text output says.
        "heat": _heat(heat_exposure(program)),
        "safety": safety,
    }
    if report is not None:
        doc["levels"] = _levels(report.device)
        doc["issues"] = [
            {"step": s.segment.index, "label": s.segment.label, "issue": str(issue)}
            for s, issue in report.issues
        ]
        doc["warnings"] = list(report.warnings)
        doc["heat"] = _heat(report.heat)
    return doc
