"""The program commands' bodies: ``programs``, ``show``, ``check`` and ``run``."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from ..address import DeviceAddress, parse_address
from ..errors import UsageError
from ..profiles import Profile, get_profile
from ..programs.check import (
    CheckReport,
    analyse,
    default_profile_for,
    heat_exposure,
    profile_range,
)
from ..programs.loader import all_programs, get_program
from ..programs.model import Program
from ..programs.timeline import Timeline, flatten
from ..safety.limits import limits_for, load_user_limits
from ..safety.report import envelope_report
from . import runner
from .program_render import (
    check_table,
    device_text,
    length_text,
    programs_table,
    seconds_text,
    steps_table,
)
from .signals import exit_at_once
from .values import parse_intensity

# The device stack, the scheduler, the journal and the live view are imported by the functions
# that connect to devices, so that `programs`, `show` and `check` without a device start sooner.
if TYPE_CHECKING:
    from ..device import Massager
    from .live import DeviceView


def _console() -> Console:
    # A pipe gets the whole table rather than rich's 80-column squeeze.
    return Console(width=None if sys.stdout.isatty() else 132)


async def programs_command() -> None:
    """``massagectl programs``: the presets as a table."""
    _console().print(programs_table(all_programs()))


async def show_command(
    program_ref: str, *, plot: str | None, profile: str | None, as_json: bool = False
) -> None:
    """``massagectl show``: the steps as a table, and optionally a plot."""
    with exit_at_once():  # only files are read: a stop signal need not wait for the parse
        program = get_program(program_ref)
        prof = get_profile(profile) if profile is not None else default_profile_for(program)
    device = profile_range(prof)
    if plot is not None:
        from ..programs.plot import PLOT_SUFFIXES

        # Checked before the table is printed, so that a typo fails at once and alone.
        if Path(plot).suffix.lower() not in PLOT_SUFFIXES:
            raise UsageError(f"--plot {plot!r}: write a .png or .svg file")
    report = analyse(program, device)
    if as_json:
        _show_as_json(program, report, prof.name, plot)
        return
    console = _console()
    _print_header(program, console)
    console.print(f"levels on {prof.name}: {device_text(device)}")
    console.print(steps_table(report, _program_names(prof)))
    if plot is not None:
        from ..programs.plot import plot_program

        plot_program(program, device, Path(plot), device_name=prof.name)
        console.print(f"plot written to {plot}")


def _show_as_json(program: Program, report: CheckReport, where: str, plot: str | None) -> None:
    import json

    from .program_json import show_json

    if plot is not None:
        from ..programs.plot import plot_program

        plot_program(program, report.device, Path(plot), device_name=where)
    print(json.dumps(show_json(report, where, plot), indent=2), flush=True)


async def check_command(
    file: str, *, device: str | None, profile: str | None, as_json: bool = False
) -> None:
    """``massagectl check``: validate, then fit the program to a device or a profile."""
    if device is not None and profile is not None:
        raise UsageError("check: give --device or --profile, not both")
    addr = parse_address(device) if device is not None else None
    with exit_at_once():  # only files are read: a stop signal need not wait for the parse
        prof = get_profile(profile) if profile is not None else None
        if prof is not None:
            profile_range(prof)  # a profile that defers to the device is refused here
        program = get_program(file)
        if addr is not None:
            load_user_limits()  # as in `run`: refused before the device hears a byte
    if as_json:
        await _check_as_json(program, addr, prof)
        return
    steps = flatten(program)
    print(
        f"ok: {program.name}, {len(steps)} step{'s' if len(steps) != 1 else ''}, "
        f"{length_text(program)}",
        flush=True,
    )
    if addr is None and prof is None:
        print(_heat_line(program, None), flush=True)
        return
    if addr is not None:
        from ..connection import connect
        from ..programs.scheduler import device_range

        async with connect(addr) as m:
            rng, names, where = device_range(m), m.info.program_names, m.name
            limits = m.envelope.limits
    else:
        assert prof is not None
        rng, names, where = profile_range(prof), _program_names(prof), prof.name
        limits = limits_for(prof)
    report = analyse(program, rng)
    console = _console()
    console.print(f"levels on {where}: {device_text(rng)}")
    console.print(check_table(report, names))
    for warning in report.warnings:
        console.print(f"warning: {warning}")
    issues = report.issues
    if issues:
        count = len({s.segment.index for s, _ in issues})
        console.print(
            f"{count} step{'s' if count != 1 else ''} cannot run as written on {where} (see notes)"
        )
    console.print(_heat_line(program, report))
    # What the safety envelope will cut, counted as a run counts it.
    for line in envelope_report(Timeline(program, rng), rng, limits):
        console.print(f"safety: {line}")


async def _check_as_json(
    program: Program, addr: DeviceAddress | None, prof: Profile | None
) -> None:
    import json

    from .program_json import check_json

    if addr is None and prof is None:
        print(json.dumps(check_json(program, None, None, []), indent=2), flush=True)
        return
    if addr is not None:
        from ..connection import connect
        from ..programs.scheduler import device_range

        async with connect(addr) as m:
            rng, where, limits = device_range(m), m.name, m.envelope.limits
    else:
        assert prof is not None
        rng, where, limits = profile_range(prof), prof.name, limits_for(prof)
    report = analyse(program, rng)
    safety = list(envelope_report(Timeline(program, rng), rng, limits))
    print(json.dumps(check_json(program, report, where, safety), indent=2), flush=True)


async def run_command(
    program_ref: str,
    *,
    devices: list[str],
    intensity: str | None,
    speedup: str | None,
    on_disconnect: str = "stop",
    journal: Path | None = None,
) -> None:
    """``massagectl run``: run a program with the scheduler, live or one line per step; the run
    is recorded in the session journal at ``journal`` (None: not recorded)."""
    from ..clock import Clock, MonotonicClock, ScaledClock
    from ..runtime.program_run import ProgramRun
    from .live import LineView, LiveView, interactive

    if on_disconnect not in ("stop", "resume"):
        raise UsageError(f"--on-disconnect {on_disconnect!r}: use stop or resume")
    with exit_at_once():  # no device is open yet: a stop signal need not wait for the parse
        program = get_program(program_ref)
        # Each device reads safety.yaml once it has greeted it; read it here first, so that a
        # broken file refuses the run before any device hears a byte.
        load_user_limits()
    scale = parse_intensity(intensity) if intensity is not None else 1.0
    factor = parse_speedup(speedup) if speedup is not None else None
    addresses = [parse_address(d) for d in devices]
    if not addresses:
        addresses = [parse_address(f"sim:{default_profile_for(program).name}")]
    if factor is not None:
        real = [str(a) for a in addresses if a.scheme != "sim"]
        if real:
            raise UsageError(
                f"--speedup runs simulated time faster; {', '.join(real)} is a real device "
                "(only sim: addresses take --speedup)"
            )
    clock: Clock = ScaledClock(factor) if factor is not None else MonotonicClock()
    async with ProgramRun(
        program,
        addresses,
        clock=clock,
        intensity=scale,
        journal=journal,
        source=_source(program_ref),
        speedup=factor,
        on_disconnect="resume" if on_disconnect == "resume" else "stop",
        signal_name=runner.stop_signal_name,
    ) as run:
        views = [device_view(m, program, scale) for m in run.massagers]
        for view in views:
            _print_fit(view)
        await (LiveView(run, views) if interactive() else LineView(run, views)).run()


def _source(program_ref: str) -> str:
    """Where a run's program came from, for the journal: a file's full path, or ``preset``."""
    path = Path(program_ref)
    return str(path.resolve()) if path.is_file() else "preset"


def _print_fit(view: DeviceView) -> None:
    """What the device cannot do, on stderr before the run: one line per kind of issue."""
    for warning in view.report.warnings:
        print(f"massagectl: warning: {view.name}: {warning}", file=sys.stderr, flush=True)
    steps: dict[str, list[int]] = {}
    for check, issue in view.report.issues:
        steps.setdefault(str(issue), []).append(check.segment.index + 1)
    for text, numbers in steps.items():
        which = ", ".join(map(str, numbers))
        label = "steps" if len(numbers) > 1 else "step"
        print(
            f"massagectl: note: {view.name}: {label} {which}: {text}", file=sys.stderr, flush=True
        )


def parse_speedup(text: str) -> float:
    """A number greater than 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"--speedup {text!r}: use a number greater than 0, such as 10")
    return value


def device_view(m: Massager, program: Program, intensity: float) -> DeviceView:
    """How ``program`` fits a connected device, for the views."""
    from ..programs.scheduler import device_range
    from .live import DeviceView

    rng = device_range(m)
    report = analyse(program, rng, intensity=intensity)
    return DeviceView(m.name, rng, report, m.info.program_names)


def _program_names(profile: Profile) -> tuple[str, ...]:
    return tuple(p.name for p in profile.capabilities.programs)


def _print_header(program: Program, console: Console) -> None:
    console.print(f"[bold]{program.title}[/bold] ({program.name})", highlight=False)
    if program.summary:
        console.print(program.summary, highlight=False)
    facts = [f"length {length_text(program)}", f"needs {', '.join(program.needs)}"]
    if program.based_on:
        facts.insert(0, f"based on {program.based_on}")
    console.print("; ".join(facts), highlight=False)


def _heat_line(program: Program, report: CheckReport | None) -> str:
    if report is None:
        exposure = heat_exposure(program)
        if exposure.total_s == 0:
            return "heat: off throughout"
        return (
            f"heat exposure: {seconds_text(exposure.total_s)} with heat on "
            f"(longest unbroken {seconds_text(exposure.longest_s)})"
            + _up_to(exposure.total_max_s, exposure.total_s)
        )
    exposure, rng = report.heat, report.device
    asked = any(not s.step.heat.is_off for s in report.steps)
    if exposure.total_s == 0:
        if asked and rng.heat_levels == 0:
            return "heat exposure: none (heat skipped: the device has no heater)"
        return "heat exposure: none (heat off throughout)"
    return (
        f"heat exposure: {seconds_text(exposure.total_s)} with heat on "
        f"(longest unbroken {seconds_text(exposure.longest_s)}, "
        f"peak level {exposure.peak_level}/{rng.heat_levels})"
        + _up_to(exposure.total_max_s, exposure.total_s)
    )


def _up_to(longest: float, planned: float) -> str:
    if longest - planned < 0.5:
        return ""
    return f"; up to {seconds_text(longest)} with every hold at its longest"
