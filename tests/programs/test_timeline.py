"""The timeline, sampled directly: no clock, no device, no event loop."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from massagectl.mapping import fraction_to_level
from massagectl.programs.loader import all_programs
from massagectl.programs.model import Heat, Program, Pulse, Repeat, Speed, Step, Use, Wave
from massagectl.programs.timeline import (
    DEFAULT_SAMPLE_S,
    MAX_INTENSITY,
    Change,
    DeviceRange,
    Fade,
    Levels,
    Timeline,
    flatten,
)

from .helpers import run_order, total_seconds

WAND = DeviceRange(speed_levels=10, heat_levels=2, program_count=3)
PERCUSSION = DeviceRange(speed_levels=13, heat_levels=0, program_count=7)
REST = Levels(0, 0, 0)


def program(*steps: dict[str, Any] | Step | Repeat | Use) -> Program:
    """A program from step dicts (as written in YAML) or models."""
    return Program.model_validate({"name": "t", "title": "T", "steps": list(steps)})


def step(name: str, duration: float, **fields: Any) -> dict[str, Any]:
    return {"name": name, "duration": duration, **fields}


# --- length --------------------------------------------------------------------------------


def test_duration_is_the_sum_of_the_flattened_steps() -> None:
    p = program(
        step("a", 10, speed="30%"),
        {
            "repeat": 2,
            "steps": [step("b", 5, speed="50%"), step("c", 3), {"use": "a"}],
        },
        {"use": "b"},
    )
    tl = Timeline(p, WAND)
    assert tl.duration == 10 + 2 * (5 + 3 + 10) + 5
    assert [s.label for s in tl.segments] == [
        "a",
        "b (1/2)",
        "c (1/2)",
        "a (again) (1/2)",
        "b (2/2)",
        "c (2/2)",
        "a (again) (2/2)",
        "b (again)",
    ]
    starts = [s.start for s in tl.segments]
    assert starts == [0, 10, 15, 18, 28, 33, 36, 46]
    assert [s.step for s in tl.segments] == [s for s, _ in flatten(p)]


@pytest.mark.parametrize("preset", all_programs(), ids=lambda p: p.name)
def test_preset_duration_is_what_its_steps_add_up_to(preset: Program) -> None:
    for device in (WAND, PERCUSSION):
        tl = Timeline(preset, device)
        assert tl.duration == pytest.approx(total_seconds(preset), abs=1e-9)
        assert [s.step for s in tl.segments] == run_order(preset)


# --- setpoints at chosen times ----------------------------------------------------------------


def test_steady_step_holds_its_level() -> None:
    tl = Timeline(program(step("a", 60, speed="40%", heat="low")), PERCUSSION)
    for t in (0, 0.001, 30, 59.999):
        assert tl.levels_at(t) == Levels(5, 0, 0)  # 0.4 * 13 = 5.2 -> 5; no heater
    tl = Timeline(program(step("a", 60, speed="35%", heat="high")), WAND)
    assert tl.levels_at(30) == Levels(4, 2, 0)  # 3.5 rounds half up


def test_ramp_is_halfway_at_half_its_length() -> None:
    tl = Timeline(
        program(
            step("a", 10, speed="50%", heat="high"),
            step("b", 10, speed="100%", heat="off", ramp=4),
        ),
        WAND,
    )
    assert tl.setpoint(10).speed == pytest.approx(0.5)
    assert tl.setpoint(12).speed == pytest.approx(0.75)
    assert tl.setpoint(12).heat == pytest.approx(0.5)
    assert tl.levels_at(12) == Levels(8, 1, 0)  # 7.5 rounds half up
    assert tl.setpoint(14).speed == pytest.approx(1.0)
    assert tl.levels_at(14) == Levels(10, 0, 0)


@pytest.mark.parametrize(("before", "ramp"), [(1, 0.2), (8, 0.04), (30, 0.2), (1000, 0.04)])
def test_a_ramp_down_to_off_ends_off(before: float, ramp: float) -> None:
    # The sample on the ramp's end used to read back a hair inside the ramp: a sliver of speed
    # and heat, which is level 1 (at least 1), kept for the whole step.
    tl = Timeline(
        program(step("a", before, speed="60%", heat="high"), step("b", 20, ramp=ramp)), WAND
    )
    last = list(tl.changes())[-1]
    assert (last.levels, last.segment) == (REST, 1)  # not the rest at the program's end
    assert last.t == pytest.approx(before + ramp, abs=1e-9)
    assert tl.levels_at(before + ramp + 0.04) == REST


def test_first_step_ramps_in_from_rest() -> None:
    tl = Timeline(program(step("a", 10, speed="80%", ramp=4)), WAND)
    assert tl.levels_at(0) == REST
    assert tl.setpoint(1).speed == pytest.approx(0.2)
    assert tl.setpoint(2).speed == pytest.approx(0.4)
    assert tl.setpoint(4).speed == pytest.approx(0.8)


def test_wave_at_zero_quarter_and_half_period() -> None:
    wave = {"wave": {"period": "8s", "low": "20%", "high": "80%"}}
    tl = Timeline(program(step("a", 5, speed="10%"), step("b", 40, pattern=wave)), WAND)
    start = 5.0
    for k in range(3):
        at = start + 8 * k
        assert tl.setpoint(at).speed == pytest.approx(0.2)
        assert tl.setpoint(at + 2).speed == pytest.approx(0.5)
        assert tl.setpoint(at + 4).speed == pytest.approx(0.8)
        assert tl.setpoint(at + 6).speed == pytest.approx(0.5)
    assert tl.levels_at(start) == Levels(2, 0, 0)
    assert tl.levels_at(start + 4) == Levels(8, 0, 0)


@pytest.mark.parametrize("start", [10.0, 1515.0, 3.7])
def test_pulse_edges_are_exact(start: float) -> None:
    # A late start makes the edge times carry float noise (start + k * 0.6 + 0.3); every edge
    # must still count, on and off alike.
    pulse = {"pulse": {"on": "0.3s", "off": "0.3s"}}
    tl = Timeline(
        program(step("a", start, speed="20%"), step("b", 12, speed="50%", pattern=pulse)), WAND
    )
    for k in range(20):
        on_at = start + k * 0.6
        off_at = on_at + 0.3
        assert tl.levels_at(on_at).speed == 5, f"on edge {k}"
        assert tl.levels_at(off_at).speed == 0, f"off edge {k}"
        assert tl.levels_at(on_at + 0.15).speed == 5
        assert tl.levels_at(off_at + 0.15).speed == 0
        assert tl.levels_at(off_at - 1e-6).speed == 5
    in_pulse = [c for c in tl.changes() if c.segment == 1]
    assert len(in_pulse) == 40  # 20 on edges, 20 off edges
    for i, change in enumerate(in_pulse):
        assert change.t == pytest.approx(start + i * 0.3, abs=1e-9)
        assert change.levels.speed == (5 if i % 2 == 0 else 0)


def test_device_program_step() -> None:
    p = program(
        step("a", 10, speed="50%"),
        step("b", 30, device_program=2, heat="medium"),
    )
    setpoint = Timeline(p, WAND).setpoint(20)
    assert (setpoint.speed, setpoint.device_program, setpoint.segment) == (0.0, 2, 1)
    assert setpoint.heat == pytest.approx(2 / 3)
    assert Timeline(p, WAND).levels_at(20) == Levels(0, 1, 2)
    # A device without that program runs the step without it (check warns about it).
    assert Timeline(p, DeviceRange(10, 2, 1)).levels_at(20) == Levels(0, 1, 0)
    assert Timeline(p, PERCUSSION).levels_at(20) == Levels(0, 0, 2)


# The project rule: low = 1/3, medium = 2/3, high = 1 of the heat range, halves rounded up, at
# least 1. Written out by hand rather than computed with the rule under test.
HEAT_TABLE = {
    1: (1, 1, 1),
    2: (1, 1, 2),
    3: (1, 2, 3),
    4: (1, 3, 4),
    5: (2, 3, 5),
    6: (2, 4, 6),
}


@pytest.mark.parametrize("levels", sorted(HEAT_TABLE))
def test_heat_names_become_levels_by_the_project_rule(levels: int) -> None:
    device = DeviceRange(10, levels)
    for name, expected in zip(("low", "medium", "high"), HEAT_TABLE[levels], strict=True):
        tl = Timeline(program(step("a", 10, heat=name)), device)
        assert tl.levels_at(5) == Levels(0, expected, 0), name
    assert Timeline(program(step("a", 10, heat="off")), device).levels_at(5) == REST


def test_heat_on_a_device_without_a_heater_is_zero() -> None:
    tl = Timeline(program(step("a", 10, speed="50%", heat="high")), PERCUSSION)
    assert tl.levels_at(5) == Levels(7, 0, 0)


def test_intensity_scales_speed_only() -> None:
    tl = Timeline(program(step("a", 10, speed="80%", heat="high")), WAND)
    assert tl.levels_at(5, intensity=0.5) == Levels(4, 2, 0)
    assert tl.levels_at(5, intensity=0.0) == Levels(0, 2, 0)
    assert tl.setpoint(5, intensity=0.5).heat == 1.0


@pytest.mark.parametrize("intensity", [1.25, MAX_INTENSITY, 3.0])
def test_intensity_above_full_never_exceeds_the_range(intensity: float) -> None:
    tl = Timeline(program(step("a", 10, speed="80%"), step("b", 10, speed="40%")), WAND)
    assert tl.levels_at(5, intensity=intensity) == Levels(10, 0, 0)
    assert tl.setpoint(5, intensity=intensity).speed == 1.0
    expected = fraction_to_level(0.4 * min(intensity, MAX_INTENSITY), 10)
    assert tl.levels_at(15, intensity=intensity).speed == expected
    assert tl.levels_at(5, intensity=-1.0) == REST


def test_levels_beyond_the_devices_range_clamp() -> None:
    p = program(
        step("a", 10, speed={"level": 20}, heat={"level": 5}),
        step("b", 10, speed={"level": 3}, heat={"level": 1}),
    )
    assert Timeline(p, WAND).levels_at(5) == Levels(10, 2, 0)
    assert Timeline(p, WAND).levels_at(15) == Levels(3, 1, 0)
    assert Timeline(p, PERCUSSION).levels_at(5) == Levels(13, 0, 0)
    assert Timeline(p, PERCUSSION).levels_at(15) == Levels(3, 0, 0)
    assert Timeline(p, DeviceRange(0, 0)).levels_at(5) == REST


def test_fade_brings_speed_back_from_zero() -> None:
    tl = Timeline(program(step("a", 60, speed="80%", heat="low")), WAND)
    fade = Fade(20.0, 3.0)
    assert tl.levels_at(20, fade=fade) == Levels(0, 1, 0)
    assert tl.setpoint(21.5, fade=fade).speed == pytest.approx(0.4)
    assert tl.levels_at(23, fade=fade) == Levels(8, 1, 0)
    speeds = [c.levels.speed for c in tl.changes(start=20, fade=fade)][:-1]
    assert speeds == sorted(speeds)
    assert speeds[0] == 0
    assert speeds[-1] == 8
    assert all(b - a == 1 for a, b in itertools.pairwise(speeds))


# --- changes ----------------------------------------------------------------------------------


def test_changes_are_only_real_changes_from_start_to_rest() -> None:
    p = program(
        step("a", 10, speed="30%", heat="medium"),
        step("b", 10, speed="30%"),  # heat off: only heat changes
        step("c", 10, speed="30%"),  # nothing changes
        step("d", 5, speed="60%"),
    )
    changes = list(Timeline(p, WAND).changes())
    assert changes == [
        Change(0.0, Levels(3, 1, 0), 0),
        Change(10.0, Levels(3, 0, 0), 1),
        Change(30.0, Levels(6, 0, 0), 3),
        Change(35.0, REST, 4),
    ]


def test_changes_from_a_later_start() -> None:
    p = program(step("a", 10, speed="30%"), step("b", 10, speed="60%", heat="low"))
    tl = Timeline(p, WAND)
    assert list(tl.changes(start=12.5)) == [
        Change(12.5, Levels(6, 1, 0), 1),
        Change(20.0, REST, 2),
    ]
    # From the very end there is nothing left but rest.
    assert list(tl.changes(start=20.0)) == [Change(20.0, REST, 2)]


def test_changes_end_without_a_second_rest() -> None:
    p = program(step("a", 10, speed="30%"), step("b", 10))
    assert list(Timeline(p, WAND).changes()) == [
        Change(0.0, Levels(3, 0, 0), 0),
        Change(10.0, REST, 1),
    ]


def test_ramps_are_sampled_on_the_steps_grid() -> None:
    p = program(step("a", 10, speed="10%"), step("b", 10, speed="90%", ramp=2))
    tl = Timeline(p, WAND)
    ramp = [c for c in tl.changes() if c.segment == 1]
    assert [c.levels.speed for c in ramp] == list(range(2, 10))
    for c in ramp:
        k = (c.t - 10) / 0.04
        assert k == pytest.approx(round(k), abs=1e-6)
        assert c.levels == tl.levels_at(c.t)


def test_with_duration_lengthens_a_hold() -> None:
    p = program(
        step("a", 10, speed="30%"),
        step("h", 10, speed="70%", hold=True, max_duration=30),
        step("b", 10, speed="30%"),
        step("h2", 5, speed="70%", hold=True, max_duration=30),
    )
    tl = Timeline(p, WAND)
    longer = tl.with_duration(1, 25)
    assert longer.duration == tl.duration + 15
    assert [s.start for s in longer.segments] == [0, 10, 35, 45]
    assert longer.levels_at(30) == Levels(7, 0, 0)
    assert longer.levels_at(36) == Levels(3, 0, 0)
    assert tl.duration == 35  # the original is untouched
    both = longer.with_duration(3, 12)
    assert [s.duration for s in both.segments] == [10, 25, 10, 12]
    assert both.duration == 57


# --- properties over random programs and devices ------------------------------------------------

_durations = st.floats(min_value=0.05, max_value=40.0, allow_nan=False, allow_infinity=False)
_fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
_speeds = st.one_of(
    st.builds(lambda f: Speed(fraction=f), _fractions),
    st.builds(lambda n: Speed(level=n), st.integers(0, 25)),
)
_heats = st.one_of(
    st.sampled_from(["off", "low", "medium", "high"]).map(Heat.model_validate),
    st.integers(0, 8).map(lambda n: Heat(level=n)),
)


@st.composite
def _steps(draw: st.DrawFn, name: str) -> Step:
    duration = draw(_durations)
    fields: dict[str, Any] = {"name": name, "duration": duration, "heat": draw(_heats)}
    fields["ramp"] = draw(st.one_of(st.just(0.0), st.floats(0.0, duration)))
    kind = draw(st.sampled_from(["steady", "steady-off", "pulse", "wave", "device"]))
    if kind == "steady":
        fields["speed"] = draw(_speeds)
    elif kind == "pulse":
        fields["speed"] = draw(_speeds)
        on = draw(st.floats(0.05, 3.0))
        off = draw(st.floats(0.05, 3.0))
        fields["pattern"] = Pulse(on=on, off=off)
    elif kind == "wave":
        low, high = sorted((draw(_fractions), draw(_fractions)))
        # Wave's low and high accept only percentage text, from Python as from YAML.
        fields["pattern"] = Wave.model_validate(
            {"period": draw(st.floats(0.3, 20.0)), "low": f"{low:.8%}", "high": f"{high:.8%}"}
        )
    elif kind == "device":
        fields["device_program"] = draw(st.integers(1, 9))
    if draw(st.booleans()):
        fields["hold"] = True
        fields["max_duration"] = duration + draw(st.floats(0.0, 30.0))
    return Step.model_validate(fields)


@st.composite
def programs(draw: st.DrawFn) -> Program:
    """Random valid programs: steps, repeat blocks (nested), and uses of earlier steps."""
    names: list[str] = []

    def new_step() -> Step:
        s = draw(_steps(f"s{len(names)}"))
        names.append(s.name)
        return s

    def items(depth: int) -> list[Step | Repeat | Use]:
        out: list[Step | Repeat | Use] = []
        for _ in range(draw(st.integers(1, 4 if depth == 0 else 2))):
            kind = draw(st.sampled_from(["step", "step", "repeat", "use"]))
            if kind == "use" and names:
                out.append(Use(use=draw(st.sampled_from(names))))
            elif kind == "repeat" and depth < 2:
                out.append(Repeat(repeat=draw(st.integers(1, 3)), steps=items(depth + 1)))
            else:
                out.append(new_step())
        return out

    return Program(name="random", title="Random", steps=items(0))


devices = st.builds(
    DeviceRange,
    speed_levels=st.integers(0, 20),
    heat_levels=st.integers(0, 6),
    program_count=st.integers(0, 7),
)
intensities = st.floats(min_value=0.0, max_value=MAX_INTENSITY, allow_nan=False)

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _in_range(levels: Levels, device: DeviceRange) -> bool:
    return (
        0 <= levels.speed <= device.speed_levels
        and 0 <= levels.heat <= device.heat_levels
        and 0 <= levels.program <= device.program_count
        and (levels.program == 0 or levels.speed == 0)
    )


def _sample_times(tl: Timeline, extra: list[float]) -> list[float]:
    times = [0.0, tl.duration, tl.duration + 1.0, *extra]
    for s in tl.segments:
        ramp_end = s.start + s.step.ramp
        for t in (s.start, s.end, ramp_end, (s.start + s.end) / 2):
            times += [t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)]
        times += [s.start + s.duration * k / 17 for k in range(17)]
    return [t for t in times if t >= 0]


@PROPERTY
@given(
    p=programs(),
    device=devices,
    intensity=intensities,
    extra=st.lists(st.floats(0.0, 2000.0), max_size=20),
)
def test_no_setpoint_leaves_the_devices_range(
    p: Program, device: DeviceRange, intensity: float, extra: list[float]
) -> None:
    tl = Timeline(p, device)
    fade = Fade(tl.duration / 3, 3.0)
    for t in _sample_times(tl, extra):
        for f in (None, fade):
            setpoint = tl.setpoint(t, intensity, f)
            assert 0.0 <= setpoint.speed <= 1.0
            assert 0.0 <= setpoint.heat <= 1.0
            assert _in_range(tl.levels(setpoint), device), (t, setpoint)


@PROPERTY
@given(p=programs(), device=devices)
def test_duration_is_what_the_steps_add_up_to(p: Program, device: DeviceRange) -> None:
    tl = Timeline(p, device)
    steps = run_order(p)
    assert tl.duration == pytest.approx(sum(s.duration for s in steps), rel=1e-12)
    assert [s.step for s in tl.segments] == steps
    for before, after in zip(tl.segments, tl.segments[1:], strict=False):
        assert after.start == before.end


@PROPERTY
@given(
    p=programs(),
    device=devices,
    intensity=intensities,
    start_at=st.floats(0.0, 1.0),
    faded=st.booleans(),
)
def test_changes_are_strictly_ordered_real_changes(
    p: Program, device: DeviceRange, intensity: float, start_at: float, faded: bool
) -> None:
    tl = Timeline(p, device)
    start = tl.duration * start_at
    fade = Fade(start, 3.0) if faded else None
    changes = list(tl.changes(start=start, intensity=intensity, fade=fade))

    assert changes[0].t == pytest.approx(min(start, tl.duration))
    assert changes[-1].levels == REST
    assert all(c.t <= tl.duration for c in changes)
    last = changes[-1]
    if last.t == tl.duration and len(changes) > 1:
        assert last == Change(tl.duration, REST, len(tl.segments))
    for before, after in itertools.pairwise(changes):
        assert after.t > before.t
        assert after.levels != before.levels
    for c in changes[:-1]:
        assert _in_range(c.levels, device)
        assert c.levels == tl.levels_at(c.t, intensity, fade)
        assert c.segment == tl.segment_at(c.t).index

    # Between changes the plan holds: at every step start (exact onsets), and in steady and
    # pulse steps everywhere once a ramp or a fade is over (they are sampled on a grid, so
    # from one sample after their end).
    def planned(t: float) -> Levels:
        last = [c for c in changes if c.t <= t]
        return last[-1].levels if last else REST

    for s in tl.segments:
        if s.start >= start:
            assert planned(s.start) == tl.levels_at(s.start, intensity, fade), s.label
        settled = max(start, s.start)
        if s.step.device_program is None:
            if isinstance(s.step.pattern, Wave):
                continue
            if s.step.ramp > 0:
                settled = max(settled, s.start + s.step.ramp + DEFAULT_SAMPLE_S)
            if fade is not None and fade.start + fade.duration > s.start:
                settled = max(settled, fade.start + fade.duration + DEFAULT_SAMPLE_S)
        for k in range(1, 40):
            t = s.start + s.duration * k / 40
            if t < settled or _near_pulse_edge(s.step, t - s.start):
                continue
            assert planned(t) == tl.levels_at(t, intensity, fade), (s.label, t)


def _near_pulse_edge(step: Step, offset: float) -> bool:
    pattern = step.pattern
    if not isinstance(pattern, Pulse):
        return False
    cycle = pattern.on + pattern.off
    phase = offset % cycle
    return min(phase, abs(phase - pattern.on), cycle - phase) < 1e-6


def test_wave_crest_is_sent_even_off_the_sampling_grid() -> None:
    # A 5 s wave from 25 % to 45 % on 10 levels peaks at level 5 (45 % rounds up), but its
    # crests (2.5 s, 7.5 s, ...) fall between the 40 ms samples' grid points.
    from massagectl.programs.model import Program as P

    program = P.model_validate(
        {
            "name": "crest",
            "title": "Crest",
            "steps": [
                {
                    "name": "w",
                    "duration": 20,
                    "pattern": {"wave": {"period": 5, "low": "25%", "high": "45%"}},
                }
            ],
        }
    )
    speeds = [c.levels.speed for c in Timeline(program, DeviceRange(10, 0)).changes()]
    assert max(speeds) == 5


def test_wave_built_in_python_takes_fractions() -> None:
    assert Wave(period=6, low=0.4, high=0.8).high == 0.8
