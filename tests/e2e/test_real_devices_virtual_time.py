"""Every preset on every simulated real-device profile, over the real bleak API.

``sim:`` addresses of BLE models run the real :class:`bleak.BleakClient` against massagesim's
bleak backend, and the simulator emulates each family's firmware (Theragun, Lovense, RongTai).
The programs are written for no device in particular: a speed fraction becomes rpm on a gun,
0–20 on a Lovense and 1–6 on a chair; heat runs where there is a heater and is skipped where
there is none. The simulator's record must match the program's plan for that device level by
level and time by time.
"""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.programs.loader import all_programs
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler, device_range, sample_period
from massagectl.programs.timeline import Levels, Timeline

from ..programs.compare import compare

REAL_DEVICES = [
    "theragun-pro",
    "theragun-elite",
    "theragun-prime",
    "lovense-domi",
    "rongtai-rt8600s",
]


@pytest.mark.parametrize("profile", REAL_DEVICES)
@pytest.mark.parametrize("program", all_programs(), ids=lambda p: p.name)
async def test_preset_runs_to_plan_on_real_device_model(profile: str, program: Program) -> None:
    clock = VirtualClock()
    async with asyncio.timeout(30), clock.running(), connect(f"sim:{profile}", clock=clock) as m:
        device = m.transport.device  # type: ignore[attr-defined]
        scheduler = Scheduler(program, [m], clock=clock)
        origin = clock.now()
        outcome = await scheduler.run()
        states = device.timeline.states()
        sample_s = sample_period(m)
        gap = m.min_gap_s
    assert outcome == "finished"
    timeline = Timeline(program, device_range(m))
    planned = list(timeline.changes(sample_s=sample_s))
    # A speed and a heat change due together land one write gap apart (two on a chair, which
    # may need reset + heat to stop a massage and keep the heat).
    result = compare(planned, states, origin, tolerance=3 * gap + 1e-9)
    assert result.ok, f"{program.name} on {profile}:\n{result.report()}"
    last = states[-1]
    assert Levels(last.speed, last.heat, last.program) == Levels(0, 0, 0)
    if m.info.heat_levels == 0:
        assert all(s.heat == 0 for s in states)  # heat skipped, not sent


async def test_speed_fraction_becomes_rpm_on_a_gun() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:theragun-prime", clock=clock) as m:
        assert await m.set_speed(0.5) == 1792  # half of the Prime's 3584 rpm
        assert m.transport.device.state.speed == 1792  # type: ignore[attr-defined]
