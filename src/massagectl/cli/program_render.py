"""How programs, their steps and their fit to a device look on a terminal."""

from __future__ import annotations

from rich.table import Table

from ..durations import format_duration
from ..programs.check import CheckReport, StepCheck
from ..programs.model import Program, Pulse, Step, Wave
from ..programs.timeline import DeviceRange, Levels, Timeline


def seconds_text(seconds: float) -> str:
    """A duration as written in programs: ``1m30s``, ``5s``, ``0.3s``."""
    if seconds < 60 and round(seconds, 3) != round(seconds):
        return f"{round(seconds, 3):g}s"
    return format_duration(seconds)


def clock_text(seconds: float, *, hours: bool = False) -> str:
    """Program time as ``mm:ss``, or ``h:mm:ss`` for programs of an hour or more."""
    total = max(0, int(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if hours or h else f"{m:02d}:{s:02d}"


def percent_text(fraction: float) -> str:
    """``45%`` (``42.5%`` when it takes a decimal)."""
    return f"{round(fraction * 100, 2):g}%"


def speed_text(step: Step) -> str:
    """The speed as the program writes it: ``30%``, ``wave 45–80%/6s``, ``pulse 50% 0.3s/0.3s``."""
    if step.device_program is not None:
        return f"device program {step.device_program}"
    pattern = step.pattern
    if isinstance(pattern, Wave):
        return (
            f"wave {percent_text(pattern.low).rstrip('%')}–{percent_text(pattern.high)}"
            f"/{seconds_text(pattern.period)}"
        )
    if step.speed is None:
        return "off"
    base = (
        f"level {step.speed.level}"
        if step.speed.level is not None
        else percent_text(step.speed.fraction or 0.0)
    )
    if isinstance(pattern, Pulse):
        return f"pulse {base} {seconds_text(pattern.on)}/{seconds_text(pattern.off)}"
    return base


def heat_text(step: Step) -> str:
    """``low``, ``level 3``, or ``off``."""
    if step.heat.name is not None:
        return step.heat.name
    return "off" if not step.heat.level else f"level {step.heat.level}"


def step_text(step: Step) -> str:
    """``speed 30%, heat low``, or ``device program 2, heat off``."""
    speed = speed_text(step)
    return f"{speed if step.device_program else 'speed ' + speed}, heat {heat_text(step)}"


def hold_text(step: Step) -> str:
    """``up to 30s`` for a hold, else empty."""
    if not step.hold or step.max_duration is None:
        return ""
    return f"up to {seconds_text(step.max_duration)}"


def length_text(program: Program) -> str:
    """``10m``, or ``10m (+1m)`` when the holds can be extended."""
    timeline = Timeline(program, DeviceRange(0, 0))
    extra = sum(
        (s.step.max_duration or s.duration) - s.duration for s in timeline.segments if s.step.hold
    )
    planned = seconds_text(timeline.duration)
    return f"{planned} (+{seconds_text(extra)})" if extra > 0 else planned


def device_text(device: DeviceRange) -> str:
    """``10 speeds, 2 heat levels, 3 built-in programs``."""

    def n(count: int, one: str, many: str) -> str:
        return f"{count or 'no'} {one if count == 1 else many}"

    return ", ".join(
        (
            n(device.speed_levels, "speed", "speeds"),
            n(device.heat_levels, "heat level", "heat levels"),
            n(device.program_count, "built-in program", "built-in programs"),
        )
    )


def step_speed_part(
    check: StepCheck, device: DeviceRange, program_names: tuple[str, ...] = ()
) -> str | None:
    """What a step's motor does on one device: ``3–5/10``, ``device program 2 (Knead)``, ..."""
    step = check.step
    if check.program:
        return f"device program {check.program}{_program_name(check.program, program_names)}"
    if step.device_program is not None:
        return f"device program {step.device_program}: not on this device"
    if device.speed_levels:
        return speed_levels_text(check, device)
    if _wants_motor(step):
        return "not on this device"
    return None


def step_heat_part(check: StepCheck, device: DeviceRange) -> str | None:
    """What a step's heat is on one device: ``1/2``, or ``not on this device``."""
    if device.heat_levels:
        return f"{check.heat}/{device.heat_levels}"
    return None if check.step.heat.is_off else "not on this device"


def step_levels_text(
    check: StepCheck, device: DeviceRange, program_names: tuple[str, ...] = ()
) -> str:
    """What a step sends to one device: ``speed 3–5/10, heat 1/2``; skipped parts say so."""
    parts: list[str] = []
    speed = step_speed_part(check, device, program_names)
    if speed is not None:
        parts.append(speed if speed.startswith("device") else f"speed {speed}")
    heat = step_heat_part(check, device)
    if heat is not None:
        parts.append(f"heat {heat}")
    return ", ".join(parts) or "rest"


def _program_name(index: int, program_names: tuple[str, ...]) -> str:
    return f" ({program_names[index - 1]})" if 1 <= index <= len(program_names) else ""


def speed_levels_text(check: StepCheck, device: DeviceRange) -> str:
    """``3/10``, ``3–5/10``, ``6/10 pulsed`` or ``off``."""
    if check.speed_high == 0:
        return "off"
    if check.pulsed:
        return f"{check.speed_high}/{device.speed_levels} pulsed"
    if check.speed_low == check.speed_high:
        return f"{check.speed_high}/{device.speed_levels}"
    return f"{check.speed_low}–{check.speed_high}/{device.speed_levels}"


def levels_text(levels: Levels, device: DeviceRange, program_names: tuple[str, ...] = ()) -> str:
    """What a device is at now: ``speed 3/10, heat 1/2`` or ``program 2 (Knead)``."""
    parts: list[str] = []
    if levels.program:
        parts.append(f"program {levels.program}{_program_name(levels.program, program_names)}")
    elif device.speed_levels:
        parts.append(f"speed {levels.speed}/{device.speed_levels}")
    if device.heat_levels:
        parts.append(f"heat {levels.heat}/{device.heat_levels}")
    return ", ".join(parts) or "rest"


def _wants_motor(step: Step) -> bool:
    if isinstance(step.pattern, Wave):
        return step.pattern.high > 0
    return step.speed is not None and bool(step.speed.fraction or step.speed.level)


# --- tables --------------------------------------------------------------------------------


def programs_table(programs: list[Program]) -> Table:
    """``massagectl programs``."""
    table = Table(title="Massage programs", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("title")
    table.add_column("routine (based on)")
    table.add_column("length", no_wrap=True)
    table.add_column("needs", no_wrap=True)
    for p in programs:
        table.add_row(p.name, p.title, p.based_on or "-", length_text(p), ", ".join(p.needs))
    return table


def steps_table(report: CheckReport, program_names: tuple[str, ...] = ()) -> Table:
    """``massagectl show``: the steps in the order they run, with the levels on one device."""
    timeline_hours = report.steps[-1].segment.end >= 3600 if report.steps else False
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("start", no_wrap=True)
    table.add_column("duration", no_wrap=True)
    table.add_column("speed", no_wrap=True)
    table.add_column("heat", no_wrap=True)
    table.add_column("ramp", no_wrap=True)
    table.add_column("hold", no_wrap=True)
    table.add_column("cue", ratio=1)
    for check in report.steps:
        seg, step = check.segment, check.step
        # The program's value, and under it what the device gets.
        speed = step_speed_part(check, report.device, program_names)
        if step.device_program is not None:
            name = _program_name(check.program, program_names).strip(" ()")
            speed = name if check.program else "skipped: not on this device"
        heat = step_heat_part(check, report.device)
        table.add_row(
            str(seg.index + 1),
            seg.label,
            clock_text(seg.start, hours=timeline_hours),
            seconds_text(seg.duration),
            speed_text(step) + (f"\n→ {speed}" if speed else ""),
            heat_text(step) + (f"\n→ {heat}" if heat and not step.heat.is_off else ""),
            seconds_text(step.ramp) if step.ramp else "-",
            hold_text(step) or "-",
            step.cue or "",
        )
    return table


def check_table(report: CheckReport, program_names: tuple[str, ...] = ()) -> Table:
    """``massagectl check --profile/--device``: the levels per step and what is skipped."""
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("speed", no_wrap=True)
    table.add_column("levels")
    table.add_column("heat", no_wrap=True)
    table.add_column("heat level", no_wrap=True)
    table.add_column("notes")
    device = report.device
    for check in report.steps:
        step = check.step
        if check.program:
            speed_levels = f"program {check.program}{_program_name(check.program, program_names)}"
        elif device.speed_levels:
            speed_levels = speed_levels_text(check, device)
        else:
            speed_levels = "-"
        table.add_row(
            str(check.segment.index + 1),
            check.segment.label,
            speed_text(step),
            speed_levels,
            heat_text(step),
            f"{check.heat}/{device.heat_levels}" if device.heat_levels else "-",
            "; ".join(str(i) for i in check.issues),
        )
    return table
