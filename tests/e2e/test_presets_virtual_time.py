"""Every preset, run whole in virtual time on a simulated device over a real pseudo-terminal.

The device is served on a pty (:func:`massagesim.serve.serve_pty`) and reached through the
ordinary ``serial:`` address, so every frame goes through the kernel's tty layer, pyserial and
the real OMP/1 codec on both sides. The simulator and the host share one
:class:`~massagectl.clock.VirtualClock`, so the simulator's record carries exact virtual times,
and a 54-minute program runs in about a second.

The simulator's record is checked against the program's timeline level by level and time by
time (:mod:`tests.programs.compare`).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.profiles import Profile, get_profile
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.loader import all_programs
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler, device_range
from massagectl.programs.timeline import Levels, Timeline
from massagesim import SimulatedDevice
from massagesim.serve import serve_pty

from ..programs.compare import DEFAULT_TOLERANCE_S, compare

#: 10 speeds and 2 heat levels: speed and heat, everything a preset may ask for.
PROFILE = "omp-wand-heat"
#: Wall seconds one preset may take (they take about one); only a hang or a regression trips it.
WALL_LIMIT_S = 20.0


def can_run(profile: Profile, program: Program) -> bool:
    """Whether the device has what the program needs."""
    has = {"speed": profile.speed_levels > 0, "heat": profile.heat_levels > 0}
    return all(has[need] for need in program.needs)


@pytest.mark.parametrize("program", all_programs(), ids=lambda p: p.name)
async def test_preset_runs_to_plan_over_a_pty(program: Program) -> None:
    profile = get_profile(PROFILE)
    assert can_run(profile, program)
    clock = VirtualClock()
    started = time.perf_counter()
    async with asyncio.timeout(WALL_LIMIT_S), clock.running():
        async with (
            SimulatedDevice(profile, clock) as device,
            serve_pty(device) as path,
            connect(f"serial:{path}?profile={PROFILE}", clock=clock) as m,
        ):
            steps: list[float] = []

            def on_event(event: RunEvent) -> None:
                if event_name(event) == "step":
                    steps.append(clock.now())

            scheduler = Scheduler(program, [m], clock=clock, on_event=on_event)
            origin = clock.now()  # run() anchors program time 0 here
            outcome = await scheduler.run()
            end = clock.now()
        states = device.timeline.states()
    wall = time.perf_counter() - started

    timeline = Timeline(program, device_range(m))
    planned = list(timeline.changes())
    result = compare(planned, states, origin)
    print(
        f"\n{program.name}: {timeline.duration:.0f} s of program in {wall:.2f} s wall over "
        f"{path}; {len(planned)} planned changes, {result.matched} matched, "
        f"max time error {result.max_error * 1000:.0f} ms"
    )
    assert outcome == "finished"
    assert result.ok, f"{program.name}:\n{result.report()}"
    assert result.max_error <= DEFAULT_TOLERANCE_S
    # The first step starts at the origin and every step is announced on time.
    assert steps[0] == origin
    assert len(steps) == len(timeline.segments)
    for at, segment in zip(steps, timeline.segments, strict=True):
        assert at - origin == pytest.approx(segment.start, abs=1e-6)
    # The whole program in program time, ending at rest.
    assert end - origin == pytest.approx(timeline.duration, abs=DEFAULT_TOLERANCE_S)
    last = states[-1]
    assert Levels(last.speed, last.heat, last.program) == Levels(0, 0, 0)
    assert last.t - origin <= timeline.duration + DEFAULT_TOLERANCE_S
    # Nothing went wrong on the wire.
    assert m.bad_frames == 0
    assert not [c for c in device.timeline.commands() if c.retry]
