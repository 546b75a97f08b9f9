"""The timeline: a pure function from a program, a device range and an intensity to what the
device should be doing at any moment. No clocks, no I/O: tests sample it directly, and the
scheduler walks it at absolute deadlines.

Values are fractions of the device's range until the last moment, where the project's one
mapping rule (:mod:`massagectl.mapping`) turns them into levels.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from ..mapping import HEAT_NAMES, fraction_to_level
from .model import Heat, Program, Pulse, Repeat, Speed, Step, Use, Wave

#: How often ramps and waves are sampled: 25 a second leaves half of OMP/1's 50 frames/s for
#: heat, status and keepalive frames.
DEFAULT_SAMPLE_S: Final = 0.04
#: Intensity is a live scale from 0 to 150 %.
MAX_INTENSITY: Final = 1.5
#: Float noise allowed at a pulse edge or a ramp's end (seconds, and fractions of a cycle).
_EDGE_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True)
class DeviceRange:
    """What the timeline must fit: the device's speed and heat levels and built-in programs."""

    speed_levels: int
    heat_levels: int
    program_count: int = 0


@dataclass(frozen=True, slots=True)
class Segment:
    """One step of the flattened program, placed in time."""

    index: int
    step: Step
    label: str
    start: float
    duration: float

    @property
    def end(self) -> float:
        """When the step ends."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Setpoint:
    """What the program asks for at a moment, as fractions of the device's ranges."""

    speed: float
    heat: float
    device_program: int | None
    segment: int


@dataclass(frozen=True, slots=True)
class Levels:
    """What a device is told: its speed and heat levels and its own program (0 = none)."""

    speed: int
    heat: int
    program: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    """A moment at which the levels a device should be at change."""

    t: float
    levels: Levels
    segment: int


@dataclass(frozen=True, slots=True)
class Fade:
    """A fade-in of the speed (after a pause): from 0 at ``start`` to full over ``duration``."""

    start: float
    duration: float

    def factor(self, t: float) -> float:
        """The speed multiplier at ``t``."""
        if self.duration <= 0 or t >= self.start + self.duration:
            return 1.0
        return max(0.0, (t - self.start) / self.duration)


def flatten(program: Program) -> list[tuple[Step, str]]:
    """The program's steps in the order they run, ``repeat`` unrolled and ``use`` resolved."""
    definitions = program.step_definitions()
    out: list[tuple[Step, str]] = []

    def walk(items: list[Step | Repeat | Use], suffix: str) -> None:
        for item in items:
            if isinstance(item, Step):
                out.append((item, item.name + suffix))
            elif isinstance(item, Use):
                out.append((definitions[item.use], f"{item.use} (again){suffix}"))
            else:
                for n in range(1, item.repeat + 1):
                    walk(item.steps, f" ({n}/{item.repeat}){suffix}")

    walk(list(program.steps), "")
    return out


class Timeline:
    """A program laid out in time for one device range.

    ``durations`` overrides the length of chosen segments (a hold the person extended).
    """

    def __init__(
        self,
        program: Program,
        device: DeviceRange,
        *,
        durations: Mapping[int, float] | None = None,
    ) -> None:
        self.program = program
        self.device = device
        overrides = durations or {}
        segments: list[Segment] = []
        t = 0.0
        for i, (step, label) in enumerate(flatten(program)):
            length = overrides.get(i, step.duration)
            segments.append(Segment(i, step, label, t, length))
            t += length
        self.segments: tuple[Segment, ...] = tuple(segments)
        self.duration = t
        self._starts = [s.start for s in segments]
        # Where each step's ramp starts from: the previous step's values at its very end.
        self._from: list[tuple[float, float]] = []
        previous = (0.0, 0.0)
        for segment in self.segments:
            self._from.append(previous)
            previous = self._raw(segment, segment.duration, previous)

    def with_duration(self, index: int, seconds: float) -> Timeline:
        """The same timeline with segment ``index`` lasting ``seconds``."""
        overrides = {s.index: s.duration for s in self.segments if s.duration != s.step.duration}
        overrides[index] = seconds
        return Timeline(self.program, self.device, durations=overrides)

    # --- sampling ----------------------------------------------------------------------

    def segment_at(self, t: float) -> Segment:
        """The segment running at ``t`` (the last one at or after the end)."""
        i = bisect.bisect_right(self._starts, t) - 1
        return self.segments[min(max(i, 0), len(self.segments) - 1)]

    def setpoint(self, t: float, intensity: float = 1.0, fade: Fade | None = None) -> Setpoint:
        """What the program asks for at program time ``t`` (0 to :attr:`duration`)."""
        segment = self.segment_at(t)
        if segment.step.device_program is not None:
            heat = self._heat_fraction(segment.step.heat)
            return Setpoint(0.0, heat, segment.step.device_program, segment.index)
        speed, heat = self._raw(segment, t - segment.start, self._from[segment.index])
        scale = _clamp(intensity, 0.0, MAX_INTENSITY) * (fade.factor(t) if fade else 1.0)
        return Setpoint(_clamp(speed * scale, 0.0, 1.0), heat, None, segment.index)

    def levels(self, setpoint: Setpoint) -> Levels:
        """The device levels for a setpoint, within the device's range."""
        d = self.device
        program = setpoint.device_program or 0
        if program > d.program_count:
            program = 0  # the device cannot: the step runs without it (check warns)
        return Levels(
            speed=fraction_to_level(setpoint.speed, d.speed_levels) if not program else 0,
            heat=fraction_to_level(setpoint.heat, d.heat_levels),
            program=program,
        )

    def levels_at(self, t: float, intensity: float = 1.0, fade: Fade | None = None) -> Levels:
        """The device levels at program time ``t``."""
        return self.levels(self.setpoint(t, intensity, fade))

    def changes(
        self,
        *,
        start: float = 0.0,
        intensity: float = 1.0,
        fade: Fade | None = None,
        sample_s: float = DEFAULT_SAMPLE_S,
    ) -> Iterator[Change]:
        """Every moment from ``start`` at which the device's levels change, in order.

        The first change is at ``start`` itself (the state to be in from there). Step onsets
        and pulse edges fall exactly on their times; ramps, waves and fades are sampled every
        ``sample_s``, aligned to the step's start. A final change to rest comes at the end.
        """
        if start >= self.duration:
            # Nothing left to run: the state to be in is rest (sampling the last step at its
            # very end would first yield its values, sent for an instant after "next step").
            yield Change(self.duration, Levels(0, 0, 0), len(self.segments))
            return
        last: Levels | None = None
        for segment in self.segments[self.segment_at(start).index :]:
            step = segment.step
            if (
                fade is None
                and step.ramp <= 0
                and step.device_program is None
                and not isinstance(step.pattern, Pulse | Wave)
            ):
                # A steady step: one sample, at its beginning, of its one value. The same
                # arithmetic as setpoint() without finding the segment again or building the
                # sample times (a 20 Hz program is nothing but such steps).
                begin = max(start, segment.start)
                scale = _clamp(intensity, 0.0, MAX_INTENSITY) * 1.0
                speed = _clamp(self._speed_fraction(step.speed) * scale, 0.0, 1.0)
                heat = self._heat_fraction(step.heat)
                levels = self.levels(Setpoint(speed, heat, None, segment.index))
                if levels != last:
                    yield Change(begin, levels, segment.index)
                    last = levels
                continue
            for t in self._sample_times(segment, max(start, segment.start), sample_s, fade):
                levels = self.levels_at(t, intensity, fade)
                if levels != last:
                    yield Change(t, levels, segment.index)
                    last = levels
        if last != Levels(0, 0, 0):
            yield Change(self.duration, Levels(0, 0, 0), len(self.segments))

    # --- internals ---------------------------------------------------------------------

    def _sample_times(
        self, segment: Segment, begin: float, sample_s: float, fade: Fade | None
    ) -> Iterator[float]:
        step = segment.step
        yield begin
        if step.device_program is not None:
            return
        edges: list[float] = []
        if isinstance(step.pattern, Pulse):
            edges.extend(_pulse_edges(segment, step.pattern, begin))
        sampled_until = segment.start  # nothing continuous
        if isinstance(step.pattern, Wave):
            sampled_until = segment.end
            # Crests and troughs too: samples on a fixed grid could straddle the crest and
            # never send the wave's top level.
            edges.extend(_grid(segment.start, step.pattern.period / 2, begin, segment.end))
        elif step.ramp > 0:
            sampled_until = segment.start + step.ramp + sample_s
        if fade is not None:
            # One sample past the end, as for a ramp: the fade's full value must be reached.
            sampled_until = max(sampled_until, fade.start + fade.duration + sample_s)
        if sampled_until > begin:
            edges.extend(_grid(segment.start, sample_s, begin, min(sampled_until, segment.end)))
        yield from sorted(set(edges))

    def _raw(
        self, segment: Segment, offset: float, previous: tuple[float, float]
    ) -> tuple[float, float]:
        """Speed and heat fractions ``offset`` seconds into a segment, before intensity."""
        step = segment.step
        heat = self._heat_fraction(step.heat)
        if step.device_program is not None:
            return 0.0, heat
        pattern = step.pattern
        base = self._speed_fraction(step.speed)
        if isinstance(pattern, Pulse):
            speed = base if _pulse_is_on(pattern, offset) else 0.0
        elif isinstance(pattern, Wave):
            swing = (1 - math.cos(2 * math.pi * offset / pattern.period)) / 2
            speed = pattern.low + (pattern.high - pattern.low) * swing
        else:
            speed = base
        # The sample meant to land on the ramp's end can fall a hair short of it (the grid is
        # ``start + k * sample_s``, read back as ``t - start``); then a ramp down to off left a
        # sliver of speed or heat, which is level 1 (at least 1), for the rest of the step.
        if offset < step.ramp - _EDGE_EPS:
            # Glide from where the previous step ended towards this step's values.
            k = offset / step.ramp
            speed = previous[0] + (speed - previous[0]) * k
            heat = previous[1] + (heat - previous[1]) * k
        return speed, heat

    def _speed_fraction(self, speed: Speed | None) -> float:
        if speed is None:
            return 0.0
        if speed.fraction is not None:
            return speed.fraction
        levels = self.device.speed_levels
        return min(1.0, (speed.level or 0) / levels) if levels else 0.0

    def _heat_fraction(self, heat: Heat) -> float:
        if heat.name is not None:
            return HEAT_NAMES[heat.name]
        levels = self.device.heat_levels
        return min(1.0, (heat.level or 0) / levels) if levels else 0.0


def _pulse_is_on(pulse: Pulse, offset: float) -> bool:
    """Whether a pulse is in its on phase ``offset`` seconds into its step.

    The edges are placed at ``start + k * cycle (+ on)`` and sampled at ``t - start``, which
    float arithmetic leaves a hair either side of the edge; ``offset % cycle < on`` then read
    an off edge as still on (and an on edge as still off), and whole phases went missing from
    the plan. Snapping to the nearest edge within ``_EDGE_EPS`` makes every edge count.
    """
    cycle = pulse.on + pulse.off
    cycles = math.floor(offset / cycle + _EDGE_EPS)
    return offset - cycles * cycle < pulse.on - _EDGE_EPS


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _pulse_edges(segment: Segment, pulse: Pulse, begin: float) -> Iterator[float]:
    """The pulse's on and off edges after ``begin``, within the segment."""
    cycle = pulse.on + pulse.off
    k = math.floor((begin - segment.start) / cycle)
    while True:
        on_at = segment.start + k * cycle
        for edge in (on_at, on_at + pulse.on):
            if begin < edge < segment.end:
                yield edge
        if on_at >= segment.end:
            return
        k += 1


def _grid(origin: float, spacing: float, begin: float, until: float) -> Iterator[float]:
    """``origin + k * spacing`` after ``begin`` and before ``until`` (the grid counted from the
    segment's start, so that a seek lands on the same samples as a run from the start)."""
    k = math.floor((begin - origin) / spacing) + 1
    while (t := origin + k * spacing) < until:
        yield t
        k += 1
