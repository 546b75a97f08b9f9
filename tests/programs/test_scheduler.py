"""The scheduler on simulated devices in virtual time: what the device did, when, and why.

Each test runs a program on in-process simulated devices sharing a :class:`VirtualClock`, drives
the live controls at chosen virtual times from a helper task, and reads the simulator's own
record of what it was told (:meth:`SimulatedDevice.timeline`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.errors import LinkLost
from massagectl.programs.controls import HOLD_EXTEND_S, RESUME_RAMP_S
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.model import Program
from massagectl.programs.scheduler import (
    Outcome,
    Scheduler,
    device_range,
)
from massagectl.programs.timeline import Change, Levels, Timeline
from massagectl.transports.inprocess import InProcessTransport
from massagesim import NO_FAULTS, SimulatedDevice
from massagesim.recording import CommandRecord, StateSnapshot

from .compare import compare

WAND = "omp-wand-heat"  # 10 speeds, 2 heat levels, 3 programs
PERCUSSION = "omp-percussion-pro"  # 13 speeds, no heat, 7 programs
#: Virtual time is exact; this allows only float noise.
EXACT = 1e-6
#: A frame is 20 ms of clock time (50 frames/s); a speed and a heat due together land 1 apart.
FRAME = 0.02


def program(*steps: dict[str, Any]) -> Program:
    return Program.model_validate({"name": "t", "title": "T", "steps": list(steps)})


def step(name: str, duration: float, **fields: Any) -> dict[str, Any]:
    return {"name": name, "duration": duration, **fields}


def sim(m: Massager) -> SimulatedDevice:
    """The simulated device behind an in-process massager."""
    assert isinstance(m.transport, InProcessTransport)
    return m.transport.device


def levels_at(m: Massager, t: float) -> Levels:
    """What the simulated device was doing at clock time ``t``."""
    s = sim(m).timeline.state_at(t)
    return Levels(s.speed, s.heat, s.program)


def commands(m: Massager, kind: str, since: float = -1.0) -> list[CommandRecord]:
    """The commands of one kind the device applied (not retries), oldest first."""
    return [
        c for c in sim(m).timeline.commands() if c.type == kind and not c.retry and c.t >= since
    ]


@asynccontextmanager
async def devices(*profiles: str) -> AsyncIterator[tuple[VirtualClock, list[Massager]]]:
    """Simulated devices on one virtual clock, connected."""
    clock = VirtualClock()
    async with clock.running(), AsyncExitStack() as stack:
        ms = [await stack.enter_async_context(connect(f"sim:{p}", clock=clock)) for p in profiles]
        yield clock, ms


@dataclass
class Run:
    """A finished (or stopped) run and what was seen on the way."""

    scheduler: Scheduler
    outcome: Outcome
    origin: float
    end: float
    events: list[tuple[float, RunEvent]] = field(default_factory=list)
    #: Each control by name: the program-clock time it ran at (seconds after the start), and
    #: what it returned.
    controls: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def kinds(self, kind: str) -> list[tuple[float, RunEvent]]:
        return [(t, e) for t, e in self.events if event_name(e) == kind]


Control = tuple[float, str, Callable[[Scheduler], Any]]


async def run(
    clock: VirtualClock,
    ms: list[Massager],
    p: Program,
    controls: Sequence[Control] = (),
    **kwargs: Any,
) -> Run:
    """Run ``p``, calling each control at its program-clock time (seconds after the start)."""
    s = Scheduler(p, ms, clock=clock, **kwargs)
    events: list[tuple[float, RunEvent]] = []
    s.subscribe(lambda e: events.append((clock.now(), e)))
    origin = clock.now()  # run() anchors the program here: nothing awaits in between
    seen: dict[str, tuple[float, Any]] = {}

    async def at(t: float, name: str, control: Callable[[Scheduler], Any]) -> None:
        await clock.sleep_until(origin + t)
        seen[name] = (clock.now() - origin, control(s))

    tasks = [asyncio.create_task(at(t, name, c)) for t, name, c in controls]
    outcome = await s.run()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return Run(s, outcome, origin, clock.now(), events, seen)


def plan(p: Program, m: Massager) -> list[Change]:
    return list(Timeline(p, device_range(m)).changes())


MIXED = program(
    step("warm", 20, speed="30%", heat="medium", ramp="5s"),
    step("knead", 30, ramp="4s", pattern={"wave": {"period": "6s", "low": "45%", "high": "80%"}}),
    step("same speed", 10, speed="50%"),
    step("same again", 10, speed="50%"),  # no level changes at its start
    step("tap", 6, speed="45%", ramp="1s", pattern={"pulse": {"on": "0.3s", "off": "0.3s"}}),
    step("hold", 10, speed="70%", ramp="2s", hold=True, max_duration="30s"),
    step("out", 20, speed="30%", heat="low", ramp="3s"),
)


# --- the comparator itself ---------------------------------------------------------------------


def snap(t: float, speed: int, heat: int = 0, cause: str = "SET_SPEED") -> StateSnapshot:
    return StateSnapshot(t, speed, heat, 0, NO_FAULTS, 22.0, None, cause)


PLANNED = [
    Change(0.0, Levels(3, 1), 0),
    Change(10.0, Levels(5, 0), 1),
    Change(20.0, Levels(0, 0), 2),
]
FOLLOWED = [
    snap(-5.0, 0, cause="power on"),
    snap(100.0, 3),
    snap(100.02, 3, 1, "SET_HEAT"),
    snap(110.0, 5, 1),
    snap(110.02, 5, 0, "SET_HEAT"),
    snap(120.0, 0, 0, "STOP"),
]


def test_comparator_accepts_a_device_that_followed_the_plan() -> None:
    result = compare(PLANNED, FOLLOWED, origin=100.0)
    assert result.ok, result.report()
    assert result.matched == 3
    assert result.max_error == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("states", "problem"),
    [
        ([*FOLLOWED[:3], snap(110.15, 5, 1), snap(110.17, 5, 0, "SET_HEAT"), FOLLOWED[5]], "late"),
        ([*FOLLOWED[:3], snap(110, 6, 1), snap(110.02, 6, 0, "SET_HEAT"), FOLLOWED[5]], "wrong"),
        ([*FOLLOWED[:5], snap(115.0, 7, 0), FOLLOWED[5]], "unplanned"),
        ([*FOLLOWED[:3], snap(109.9, 5, 1), *FOLLOWED[4:]], "early"),
    ],
    ids=["late", "wrong level", "unplanned", "early"],
)
def test_comparator_catches_a_device_off_plan(states: list[StateSnapshot], problem: str) -> None:
    states = sorted(states, key=lambda s: s.t)
    result = compare(PLANNED, states, origin=100.0)
    assert not result.ok
    unreached = [p for p in result.problems if "not reached" in p]
    unplanned = [p for p in result.problems if "device went to" in p]
    # late or wrong: the planned state is missing and what came instead was not planned;
    # unplanned or early: the device did something the plan did not ask for (then, or yet)
    assert bool(unreached) == (problem in ("late", "wrong"))
    assert unplanned, result.report()


# --- following the plan ----------------------------------------------------------------------


async def test_run_follows_the_program_timeline() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], MIXED)
        assert r.outcome == "finished"
        result = compare(plan(MIXED, m), sim(m).timeline.states(), r.origin)
        assert result.ok, result.report()
        assert result.matched > 50
        assert result.max_error <= FRAME + EXACT
        assert r.end - r.origin == pytest.approx(Timeline(MIXED, device_range(m)).duration, abs=0.1)
        assert levels_at(m, clock.now()) == Levels(0, 0, 0)


async def test_step_onsets_come_at_their_absolute_deadlines() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], MIXED)
    segments = r.scheduler.timeline.segments
    onsets = r.kinds("step")
    # Every step is announced, the ones that change no level at their start included.
    assert [e.segment.index for _, e in onsets if e.segment] == [s.index for s in segments]
    for (t, _), segment in zip(onsets, segments, strict=True):
        assert t - r.origin == pytest.approx(segment.start, abs=EXACT)
    assert len(r.scheduler.onset_lateness) == len(segments)
    assert max(r.scheduler.onset_lateness) < EXACT


async def test_only_changes_are_sent() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], MIXED)
        planned = plan(MIXED, m)
    levels = [Levels(0, 0, 0)] + [c.levels for c in planned]
    speed_changes = sum(a.speed != b.speed for a, b in itertools.pairwise(levels))
    heat_changes = sum(a.heat != b.heat for a, b in itertools.pairwise(levels))
    during = [c for c in commands(m, "SET_SPEED", r.origin) if c.t <= r.end]
    assert len(during) == speed_changes
    assert len([c for c in commands(m, "SET_HEAT", r.origin) if c.t <= r.end]) == heat_changes
    # and each one is the next planned level, in order
    planned_speeds = [b.speed for a, b in itertools.pairwise(levels) if a.speed != b.speed]
    assert [c.value for c in during] == planned_speeds


async def test_a_last_step_at_rest_still_takes_its_time() -> None:
    p = program(
        step("tap", 3, speed="50%", pattern={"pulse": {"on": "0.5s", "off": "0.5s"}}),
        step("rest", 20, cue="Lie still and breathe."),  # motor and heat off
    )
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], p)
    assert r.outcome == "finished"
    assert r.end - r.origin == pytest.approx(23, abs=0.1)
    steps = [(round(t - r.origin, 6), e.segment.label) for t, e in r.kinds("step") if e.segment]
    assert steps == [(0, "tap"), (3, "rest")]
    assert r.kinds("finished")[0][0] - r.origin == pytest.approx(23, abs=0.1)


# --- pause and resume ------------------------------------------------------------------------


async def test_pause_rests_the_device_and_stops_program_time() -> None:
    p = program(step("a", 60, speed="80%", heat="high"), step("b", 10, speed="30%"))
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            p,
            [
                (10, "pause", lambda s: s.pause()),
                (15, "position at 15", lambda s: (s.position(), s.paused)),
                (29.99, "position at 30", lambda s: s.position()),
                (30, "resume", lambda s: s.resume()),
            ],
        )
        o = r.origin
        assert levels_at(m, o + 9.9) == Levels(8, 2, 0)
        assert levels_at(m, o + 10 + 2 * FRAME) == Levels(0, 0, 0)
        assert levels_at(m, o + 29.9) == Levels(0, 0, 0)
        assert r.controls["position at 15"][1] == (pytest.approx(10), True)
        assert r.controls["position at 30"][1] == pytest.approx(10)
        # Program time went on from where it stood: the 70 s program took 90 s.
        assert r.outcome == "finished"
        assert r.end - o == pytest.approx(90, abs=0.1)
        assert levels_at(m, o + 79.9) == Levels(8, 2, 0)
        assert levels_at(m, o + 80.1) == Levels(3, 0, 0)
        assert [event_name(e) for _, e in r.events if event_name(e) in ("paused", "resumed")] == [
            "paused",
            "resumed",
        ]


async def test_resume_ramps_speed_back_in_from_zero() -> None:
    p = program(step("a", 60, speed="80%", heat="high"))
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            p,
            [(10, "pause", lambda s: s.pause()), (30, "resume", lambda s: s.resume())],
        )
        o = r.origin
        # Heat comes back at once; the speed climbs from zero one level at a time over ~3 s.
        assert levels_at(m, o + 30 + 2 * FRAME).heat == 2
        rising = [
            c for c in commands(m, "SET_SPEED", o + 30) if c.t <= o + 30 + RESUME_RAMP_S + 0.1
        ]
        speeds = [c.value for c in rising]
        assert speeds == list(range(1, 9))
        assert rising[0].t - (o + 30) < 0.5
        # 8 of 10 is reached at 75 % of 80 %, 2.8 s into the 3 s fade
        assert rising[-1].t - (o + 30) == pytest.approx(0.75 / 0.8 * RESUME_RAMP_S, abs=0.1)
        for state in sim(m).timeline.states():
            if o + 30 <= state.t < o + 30 + RESUME_RAMP_S - 0.2:
                assert state.speed < 8


async def test_pause_and_resume_twice_is_harmless() -> None:
    p = program(step("a", 20, speed="50%"))
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            p,
            [
                (5, "pause", lambda s: s.pause()),
                (6, "pause again", lambda s: s.pause()),
                (8, "toggle", lambda s: s.toggle_pause()),
                (8.5, "resume again", lambda s: s.resume()),
            ],
        )
        assert r.outcome == "finished"
        assert r.end - r.origin == pytest.approx(23, abs=0.1)
        assert len(r.kinds("paused")) == len(r.kinds("resumed")) == 1


async def test_controls_while_paused_wait_for_the_resume() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            FOUR,
            [
                (5, "pause", lambda s: s.pause()),
                (6, "next", then_where(Scheduler.next_step)),
                (7, "half", lambda s: s.set_intensity(0.5)),
                (10, "resume", lambda s: s.resume()),
            ],
        )
        o = r.origin
        assert r.controls["next"][1] == (1, 20.0)
        assert [c.value for c in commands(m, "SET_SPEED", o + 5.1) if c.t < o + 10] == []
        assert levels_at(m, o + 9.9) == Levels(0, 0, 0)
        # b (30 %) at half intensity: 15 % of 10 is 1.5, rounded up to 2
        assert levels_at(m, o + 10 + RESUME_RAMP_S + 0.1) == Levels(2, 0, 0)
        assert r.end - o == pytest.approx(10 + 60, abs=0.1)


# --- moving between steps --------------------------------------------------------------------

FOUR = program(
    step("a", 20, speed="10%"),
    step("b", 20, speed="30%"),
    step("c", 20, speed="50%"),
    step("d", 20, speed="70%"),
)


def where(s: Scheduler) -> tuple[int, float]:
    return s.progress().segment.index, round(s.position(), 6)


def then_where(*actions: Callable[[Scheduler], None]) -> Callable[[Scheduler], tuple[int, float]]:
    """A control doing ``actions`` one after the other, then saying where the run is."""

    def control(s: Scheduler) -> tuple[int, float]:
        for action in actions:
            action(s)
        return where(s)

    return control


async def test_next_and_previous_step_move_to_the_right_segment() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            FOUR,
            [
                (5, "next", then_where(Scheduler.next_step)),  # a -> b
                (9, "previous (restart)", then_where(Scheduler.previous_step)),
                (10, "previous (back)", then_where(Scheduler.previous_step)),
                (12, "next twice", then_where(Scheduler.next_step, Scheduler.next_step)),
            ],
        )
        o = r.origin
        assert r.controls["next"] == (5, (1, 20.0))
        assert r.controls["previous (restart)"] == (9, (1, 20.0))  # 4 s into b: back to its start
        assert r.controls["previous (back)"] == (10, (0, 0.0))  # 1 s into b: back to a
        assert r.controls["next twice"] == (12, (2, 40.0))  # 2 s into a: over b, to c
        assert levels_at(m, o + 5 + FRAME).speed == 3
        assert levels_at(m, o + 10 + FRAME).speed == 1
        assert levels_at(m, o + 12 + FRAME).speed == 5
        assert levels_at(m, o + 12 + 20 + FRAME).speed == 7
        # c from 12 s, d 20 s later, the end 20 s after that
        assert r.end - o == pytest.approx(52, abs=0.1)
        announced = [(round(t - o, 6), e.segment.label) for t, e in r.kinds("step") if e.segment]
        assert announced == [
            (0, "a"),
            (5, "b"),
            (9, "b"),
            (10, "a"),
            (12, "c"),
            (32, "d"),
        ]


async def test_next_step_from_the_last_step_ends_the_run() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], FOUR, [(65, "next", lambda s: s.next_step())])
        assert r.outcome == "finished"
        assert r.end - r.origin == pytest.approx(65, abs=0.1)
        # Straight to rest, without re-sending the last step's level first.
        last = commands(m, "SET_SPEED", r.origin + 64)
        assert [c.value for c in last][:1] == [0]


# --- holds -----------------------------------------------------------------------------------

HOLDING = program(
    step("before", 10, speed="30%"),
    step("hold", 10, speed="70%", hold=True, max_duration="25s"),
    step("after", 10, speed="40%"),
)


async def test_extend_hold_lengthens_it_up_to_max_duration_only() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            HOLDING,
            [
                (5, "outside a hold", lambda s: s.extend_hold()),
                (12, "extend", lambda s: (s.extend_hold(), s.duration)),
                (13, "extend to max", lambda s: (s.extend_hold(), s.duration)),
                (14, "beyond max", lambda s: (s.extend_hold(), s.duration)),
            ],
        )
        o = r.origin
        assert r.controls["outside a hold"][1] is False
        assert r.controls["extend"][1] == (True, 30 + HOLD_EXTEND_S)
        assert r.controls["extend to max"][1] == (True, 45)  # capped at 25 s
        assert r.controls["beyond max"][1] == (False, 45)
        assert levels_at(m, o + 34.9).speed == 7
        assert levels_at(m, o + 35 + FRAME).speed == 4
        assert r.end - o == pytest.approx(45, abs=0.1)
        # Changing the hold's length in place does not announce the step again.
        assert [e.segment.label for _, e in r.kinds("step") if e.segment] == [
            "before",
            "hold",
            "after",
        ]


async def test_end_hold_jumps_to_the_next_step() -> None:
    async with devices(WAND) as (clock, (m,)):
        r = await run(
            clock,
            [m],
            HOLDING,
            [
                (5, "outside a hold", lambda s: s.end_hold()),
                (12, "end", lambda s: (s.end_hold(), where(s))),
            ],
        )
        o = r.origin
        assert r.controls["outside a hold"][1] is False
        assert r.controls["end"][1] == (True, (2, 20.0))
        assert levels_at(m, o + 11.9).speed == 7
        assert levels_at(m, o + 12 + FRAME).speed == 4
        assert r.end - o == pytest.approx(22, abs=0.1)


# --- intensity ---------------------------------------------------------------------------------


async def test_intensity_above_full_never_exceeds_the_range() -> None:
    p = program(
        step("steady", 10, speed="80%"),
        step("wave", 12, pattern={"wave": {"period": "6s", "low": "45%", "high": "80%"}}),
        step("levels", 5, speed={"level": 9}),
    )
    async with devices(WAND, PERCUSSION) as (clock, ms):
        r = await run(clock, ms, p, [(2, "full+", lambda s: s.set_intensity(1.5))])
        assert r.scheduler.intensity == 1.5
        assert not r.kinds("refused")
        for m in ms:
            top = m.info.speed_levels
            speeds = [c.value for c in commands(m, "SET_SPEED")]
            assert speeds
            assert all(v is not None and 0 <= v <= top for v in speeds)
            assert levels_at(m, r.origin + 5).speed == top  # 80 % x 1.5, clamped
            assert max(s.speed for s in sim(m).timeline.states()) == top


async def test_lower_intensity_lowers_levels() -> None:
    p = program(step("a", 20, speed="80%", heat="high"))
    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], p, [(5, "half", lambda s: s.set_intensity(0.5))])
        o = r.origin
        assert levels_at(m, o + 4.9) == Levels(8, 2, 0)
        assert levels_at(m, o + 5 + FRAME) == Levels(4, 2, 0)  # heat is not scaled
        assert r.end - o == pytest.approx(20, abs=0.1)


async def test_intensity_is_clamped_to_its_scale() -> None:
    async with devices(WAND) as (clock, (m,)):
        s = Scheduler(FOUR, [m], clock=clock, intensity=3.0)
        assert s.intensity == 1.5
        s.set_intensity(-1)
        assert s.intensity == 0.0
        s.adjust_intensity(0.1)
        assert s.intensity == pytest.approx(0.1)


# --- stop ---------------------------------------------------------------------------------------


async def test_stop_overtakes_everything() -> None:
    async with devices(WAND, PERCUSSION) as (clock, ms):
        r = await run(clock, ms, MIXED, [(25, "stop", lambda s: s.stop())])
        assert r.outcome == "stopped"
        assert r.kinds("stopped")
        assert not r.kinds("finished")
        assert r.end - r.origin < 25.5
        for m in ms:
            stops = commands(m, "STOP", r.origin)
            assert stops
            assert stops[0].t - (r.origin + 25) <= FRAME + EXACT
            assert levels_at(m, stops[0].t) == Levels(0, 0, 0)
            # nothing but STOP after it
            later = [c.type for c in sim(m).timeline.commands() if c.t >= stops[0].t]
            assert set(later) <= {"STOP", "PING", "GET_STATUS"}


async def test_stop_before_run_returns_at_once() -> None:
    async with devices(WAND) as (clock, (m,)):
        s = Scheduler(FOUR, [m], clock=clock)
        s.stop()
        assert await s.run() == "stopped"
        assert not commands(m, "SET_SPEED")


# --- several devices ---------------------------------------------------------------------------


async def test_two_devices_with_different_ranges_run_in_step() -> None:
    async with devices(WAND, PERCUSSION) as (clock, ms):
        wand, percussion = ms
        r = await run(clock, ms, MIXED)
        assert r.outcome == "finished"
        for m in ms:
            result = compare(plan(MIXED, m), sim(m).timeline.states(), r.origin)
            assert result.ok, f"{m.name}:\n{result.report()}"
            assert result.max_error <= FRAME + EXACT
        # each in its own levels: 50 % is 5 of 10 and 7 of 13 (6.5 rounds up)
        assert levels_at(wand, r.origin + 55) == Levels(5, 0, 0)
        assert levels_at(percussion, r.origin + 55) == Levels(7, 0, 0)
        # heat only where there is a heater
        assert commands(wand, "SET_HEAT", r.origin)
        assert not commands(percussion, "SET_HEAT")
        # the same onsets: every step that changes speed on both changes it at the same moment
        for segment in r.scheduler.timeline.segments:
            firsts = []
            for m in ms:
                due = r.origin + segment.start
                sent = [c for c in commands(m, "SET_SPEED", due - EXACT) if c.t < due + 0.1]
                firsts.append(sent[0].t if sent else None)
            if None not in firsts:
                assert firsts[0] == pytest.approx(firsts[1], abs=EXACT), segment.label


# --- every way out stops every device ------------------------------------------------------------


async def test_a_failing_listener_does_not_break_the_run() -> None:
    def broken(event: RunEvent) -> None:
        raise RuntimeError(f"view bug on {event_name(event)}")

    async with devices(WAND) as (clock, (m,)):
        r = await run(clock, [m], MIXED, on_event=broken)
        assert r.outcome == "finished"
        result = compare(plan(MIXED, m), sim(m).timeline.states(), r.origin)
        assert result.ok, result.report()
        assert levels_at(m, clock.now()) == Levels(0, 0, 0)


async def test_cancelling_the_run_stops_every_device() -> None:
    async with devices(WAND, PERCUSSION) as (clock, ms):
        s = Scheduler(MIXED, ms, clock=clock)
        origin = clock.now()
        task = asyncio.create_task(s.run())
        await clock.sleep_until(origin + 25)
        assert all(levels_at(m, clock.now()).speed > 0 for m in ms)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for m in ms:
            stop = commands(m, "STOP", origin)
            assert stop
            assert stop[0].t - (origin + 25) <= FRAME + EXACT
            assert m.state.speed == m.state.heat == 0
            assert levels_at(m, clock.now()) == Levels(0, 0, 0)


async def test_a_lost_device_ends_the_run_and_the_other_is_stopped() -> None:
    async with devices(WAND, PERCUSSION) as (clock, ms):
        wand, percussion = ms
        s = Scheduler(MIXED, ms, clock=clock)
        origin = clock.now()

        async def drop() -> None:
            await clock.sleep_until(origin + 25)
            sim(percussion).drop_link()

        dropper = asyncio.create_task(drop())
        with pytest.raises(LinkLost) as info:
            await s.run()
        await dropper
        assert "no answer" in str(info.value)
        stop = commands(wand, "STOP", origin + 25)
        assert stop
        assert levels_at(wand, clock.now()) == Levels(0, 0, 0)
