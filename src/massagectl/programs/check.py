"""Capability analysis: what a program becomes on one device, and what that device cannot do.

A program is device-independent; a device is not. This module lays a program onto a device
range the way the scheduler will (through the same :class:`~.timeline.Timeline`) and reports,
step by step, the levels that will be sent and whatever is skipped or clamped: heat on a device
without a heater, a built-in program the device does not have, a ``{level: N}`` beyond the
device's range. It also measures heat exposure (how long the heater is on), which the safety
envelope builds on.

:func:`default_profile_for` picks a simulated model that can do what a program needs, for
``show``, ``check`` and ``run`` without a device.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ..errors import ProfileError
from ..profiles import Profile, ProvenanceKind, all_profiles
from .model import Program, Pulse, Step, Wave
from .timeline import Change, DeviceRange, Levels, Segment, Timeline, flatten

__all__ = [
    "CheckReport",
    "HeatExposure",
    "Issue",
    "Requirements",
    "StepCheck",
    "analyse",
    "default_profile_for",
    "heat_exposure",
    "profile_range",
    "requirements",
]

#: Simulated models to fall back on, best first, when several can do everything a program needs.
_PREFERRED: Final = ("omp-wand-heat", "omp-percussion-pro", "omp-neck-rest", "omp-heat-pad")
#: The same, for a program that only heats (no motor at all).
_PREFERRED_HEAT_ONLY: Final = ("omp-heat-pad", "omp-wand-heat", "omp-neck-rest")


@dataclass(frozen=True, slots=True)
class Issue:
    """Something a device cannot do as written: ``what`` is ``kind`` (``skipped``/``clamped``)."""

    what: str
    kind: Literal["skipped", "clamped"]
    why: str

    def __str__(self) -> str:
        # "heat skipped: not on this device (no heater)", "speed level 15 clamped to 10 (...)"
        return f"{self.what} {self.kind}{':' if self.kind == 'skipped' else ''} {self.why}"


@dataclass(frozen=True, slots=True)
class StepCheck:
    """One flattened step on one device: the levels it uses after its ramp, and its issues."""

    segment: Segment
    #: Lowest and highest speed level the step uses (both 0 when the motor is off).
    speed_low: int
    speed_high: int
    heat: int
    #: The device's own program run during the step, 0 for none.
    program: int
    issues: tuple[Issue, ...] = ()

    @property
    def step(self) -> Step:
        """The step as written."""
        return self.segment.step

    @property
    def pulsed(self) -> bool:
        """Whether the speed pulses (on at ``speed_high``, then off)."""
        return isinstance(self.step.pattern, Pulse)


@dataclass(frozen=True, slots=True)
class HeatExposure:
    """How long the heater is on over a run."""

    #: Total seconds with heat above 0, every hold at its planned length.
    total_s: float
    #: The longest unbroken stretch of heat, seconds.
    longest_s: float
    #: Total seconds with every hold extended to its ``max_duration``.
    total_max_s: float
    #: The highest heat level sent (0 without a device).
    peak_level: int = 0


@dataclass(frozen=True, slots=True)
class CheckReport:
    """A program laid onto one device range."""

    program: Program
    device: DeviceRange
    steps: tuple[StepCheck, ...]
    #: Program-level warnings (a program that ``needs`` what the device lacks).
    warnings: tuple[str, ...]
    heat: HeatExposure

    @property
    def issues(self) -> list[tuple[StepCheck, Issue]]:
        """Every step issue, in step order."""
        return [(s, i) for s in self.steps for i in s.issues]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a program asks of a device."""

    motor: bool
    heat: bool
    max_device_program: int
    #: The highest ``{level: N}`` speed and heat written (0 when none).
    max_speed_level: int
    max_heat_level: int
    needs: frozenset[str] = field(default_factory=frozenset)

    @property
    def heat_only(self) -> bool:
        """True for a program that heats and never runs the motor."""
        return self.heat and not self.motor and not self.max_device_program


def requirements(program: Program) -> Requirements:
    """What ``program`` uses: motor, heat, built-in programs and explicit levels."""
    steps = [step for step, _ in flatten(program)]
    return Requirements(
        motor=any(_uses_motor(s) for s in steps),
        heat=any(not s.heat.is_off for s in steps) or "heat" in program.needs,
        max_device_program=max((s.device_program or 0 for s in steps), default=0),
        max_speed_level=max((s.speed.level or 0 for s in steps if s.speed is not None), default=0),
        max_heat_level=max((s.heat.level or 0 for s in steps), default=0),
        needs=frozenset(program.needs),
    )


def profile_range(profile: Profile) -> DeviceRange:
    """The device range a profile describes."""
    if profile.capabilities_from_device:
        raise ProfileError(
            f"profile {profile.name!r} stands for any device of its protocol; its capabilities "
            "come from the device itself (give --device, or name a concrete model)"
        )
    return DeviceRange(
        profile.speed_levels, profile.heat_levels, len(profile.capabilities.programs)
    )


def default_profile_for(program: Program, profiles: Iterable[Profile] | None = None) -> Profile:
    """A simulated model that can do what ``program`` needs (the one that loses least).

    Heat → ``omp-wand-heat``; speed only → ``omp-wand-heat`` too; a built-in program N beyond
    the wand's → a model with at least N (``omp-percussion-pro``); heat without any motor →
    ``omp-heat-pad``.
    """
    req = requirements(program)
    # Only models that exist to be simulated: a real device's profile (Theragun, RongTai, ...)
    # is simulatable too, but running a program "without a device" should not pick one.
    candidates = [
        p
        for p in (all_profiles() if profiles is None else profiles)
        if p.simulatable and p.provenance.kind == ProvenanceKind.SIMULATED_MODEL
    ]
    if not candidates:
        raise ProfileError("no simulated device profile is installed")
    order = _PREFERRED_HEAT_ONLY if req.heat_only else _PREFERRED

    def rank(p: Profile) -> tuple[int, int, str]:
        preference = order.index(p.name) if p.name in order else len(order)
        return (_shortfall(req, profile_range(p)), preference, p.name)

    return min(candidates, key=rank)


def analyse(program: Program, device: DeviceRange, *, intensity: float = 1.0) -> CheckReport:
    """Lay ``program`` onto ``device`` and report levels, issues and heat exposure."""
    timeline = Timeline(program, device)
    changes = list(timeline.changes(intensity=intensity))
    steps = tuple(
        _check_step(timeline, segment, changes, intensity) for segment in timeline.segments
    )
    warnings: list[str] = []
    if "heat" in program.needs and device.heat_levels == 0:
        warnings.append(f"{program.name} needs heat, and this device has no heater")
    if "speed" in program.needs and device.speed_levels == 0 and requirements(program).motor:
        warnings.append(f"{program.name} needs speed, and this device has no motor")
    return CheckReport(program, device, steps, tuple(warnings), heat_exposure(program, device))


def heat_exposure(program: Program, device: DeviceRange | None = None) -> HeatExposure:
    """How long the heater is on: on ``device`` as the scheduler drives it (ramps included), or,
    without a device, over the steps that ask for heat."""
    if device is None:
        segments = Timeline(program, DeviceRange(0, 0)).segments
        total, longest = _stretches((s.start, s.end, not s.step.heat.is_off) for s in segments)
        extended = sum(
            (s.step.max_duration or s.duration) for s in segments if not s.step.heat.is_off
        )
        return HeatExposure(total, longest, extended)
    timeline = Timeline(program, device)
    total, longest, peak = _timeline_heat(timeline)
    holds = {
        s.index: s.step.max_duration
        for s in timeline.segments
        if s.step.hold and s.step.max_duration is not None
    }
    total_max = total
    if holds:
        total_max, _, _ = _timeline_heat(Timeline(program, device, durations=holds))
    return HeatExposure(total, longest, total_max, peak)


# --- internals -----------------------------------------------------------------------------


def _uses_motor(step: Step) -> bool:
    if step.device_program is not None:
        return True
    if isinstance(step.pattern, Wave):
        return step.pattern.high > 0
    return step.speed is not None and bool(step.speed.fraction or step.speed.level)


def _shortfall(req: Requirements, device: DeviceRange) -> int:
    """How badly a device falls short of a program: 0 when it can do everything."""
    score = 0
    if req.motor and device.speed_levels == 0:
        score += 100
    if req.heat and device.heat_levels == 0:
        score += 100
    if req.max_device_program > device.program_count:
        score += 10
    if req.max_speed_level > device.speed_levels:
        score += 1
    if req.max_heat_level > device.heat_levels:
        score += 1
    return score


def _check_step(
    timeline: Timeline, segment: Segment, changes: Sequence[Change], intensity: float
) -> StepCheck:
    step, device = segment.step, timeline.device
    # The step's own levels: from the end of its ramp (the glide in belongs to both steps).
    settled = min(segment.start + step.ramp, segment.end - 1e-6)
    seen: list[Levels] = [timeline.levels_at(settled, intensity)]
    seen += [c.levels for c in changes if c.segment == segment.index and c.t > settled]
    speeds = [lv.speed for lv in seen]
    if isinstance(step.pattern, Pulse) and any(speeds):
        speeds = [s for s in speeds if s]  # the off phases are the pattern, not the range
    issues: list[Issue] = []
    if step.device_program is not None and step.device_program > device.program_count:
        has = f"the device has {device.program_count}" if device.program_count else "it has none"
        issues.append(
            Issue(f"device program {step.device_program}", "skipped", f"{has}; motor off")
        )
    if _uses_motor(step) and step.device_program is None and device.speed_levels == 0:
        issues.append(Issue("speed", "skipped", "not on this device (no motor)"))
    elif step.speed is not None and (step.speed.level or 0) > device.speed_levels > 0:
        issues.append(
            Issue(
                f"speed level {step.speed.level}",
                "clamped",
                f"to {device.speed_levels} (the device's top)",
            )
        )
    if not step.heat.is_off:
        if device.heat_levels == 0:
            issues.append(Issue("heat", "skipped", "not on this device (no heater)"))
        elif step.heat.level is not None and step.heat.level > device.heat_levels:
            issues.append(
                Issue(
                    f"heat level {step.heat.level}",
                    "clamped",
                    f"to {device.heat_levels} (the device's top)",
                )
            )
    return StepCheck(
        segment=segment,
        speed_low=min(speeds),
        speed_high=max(speeds),
        heat=max(lv.heat for lv in seen),
        program=seen[0].program,
        issues=tuple(issues),
    )


def _timeline_heat(timeline: Timeline) -> tuple[float, float, int]:
    changes = list(timeline.changes())
    spans = []
    peak = 0
    for here, after in itertools.pairwise(changes):
        spans.append((here.t, after.t, here.levels.heat > 0))
        peak = max(peak, here.levels.heat)
    total, longest = _stretches(spans)
    return total, longest, peak


def _stretches(spans: Iterable[tuple[float, float, bool]]) -> tuple[float, float]:
    """Total and longest unbroken time of the spans that are on."""
    total = longest = run = 0.0
    for start, end, on in spans:
        if on:
            total += end - start
            run += end - start
            longest = max(longest, run)
        elif end > start:
            run = 0.0
    return total, longest
