"""A BLE link that drops mid-program: the run stops everything, or reconnects and ramps back in."""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.errors import LinkLost
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler


def steady_program(minutes: int = 5) -> Program:
    return Program.model_validate(
        {
            "name": "steady",
            "title": "Steady",
            "steps": [{"name": "on", "duration": f"{minutes}m", "speed": "50%", "ramp": "2s"}],
        }
    )


async def drop_at(clock: VirtualClock, m: Massager, t: float) -> None:
    await clock.sleep_until(t)
    m.transport.device.drop_link()  # type: ignore[attr-defined]


async def test_drop_with_stop_policy_ends_the_run_and_stops_every_device() -> None:
    clock = VirtualClock()
    events: list[RunEvent] = []
    async with (
        clock.running(),
        connect("sim:lovense-domi", clock=clock) as wand,
        connect("sim:omp-percussion-pro", clock=clock) as gun,
    ):
        scheduler = Scheduler(steady_program(), [wand, gun], clock=clock, on_event=events.append)
        dropper = asyncio.ensure_future(drop_at(clock, wand, clock.now() + 60))
        with pytest.raises(LinkLost, match="link lost mid-program"):
            await scheduler.run()
        await dropper
        lovense = wand.transport.device  # type: ignore[attr-defined]
        percussion = gun.transport.device  # type: ignore[attr-defined]
        # The Lovense stopped itself (the driver switched on its stop-on-link-loss); the other
        # device got STOP from the scheduler.
        assert lovense.state.speed == 0
        assert percussion.state.speed == 0
        assert percussion.timeline.states()[-1].cause == "STOP"
    assert [event_name(e) for e in events if event_name(e) in ("lost", "reconnected")] == ["lost"]


async def test_drop_with_resume_policy_reconnects_and_ramps_back_in() -> None:
    clock = VirtualClock()
    events: list[RunEvent] = []
    async with clock.running(), connect("sim:lovense-domi", clock=clock) as wand:
        device = wand.transport.device  # type: ignore[attr-defined]
        scheduler = Scheduler(
            steady_program(),
            [wand],
            clock=clock,
            on_event=events.append,
            on_disconnect="resume",
        )
        origin = clock.now()
        dropper = asyncio.ensure_future(drop_at(clock, wand, origin + 60))
        outcome = await scheduler.run()
        await dropper
        states = device.timeline.states()
        end = clock.now()
    assert outcome == "finished"
    kinds = [
        event_name(e)
        for e in events
        if event_name(e) in ("lost", "reconnected", "paused", "resumed")
    ]
    assert kinds == ["lost", "paused", "reconnected", "resumed"]
    # Full speed (level 10 of 20) before the drop; the device stops itself at the drop.
    before = [s for s in states if s.t < origin + 60]
    assert before[-1].speed == 10
    at_drop = next(s for s in states if s.t >= origin + 60)
    assert at_drop.speed == 0
    # After the reconnect the speed climbs back through lower levels, never jumping to 10.
    after = [s.speed for s in states if s.t > at_drop.t and s.speed > 0]
    assert after[0] < 10
    assert after == sorted(after[: after.index(10) + 1]) + after[after.index(10) + 1 :]
    assert 10 in after
    # The outage did not eat into the massage: five minutes of program, plus the outage.
    assert end - origin > 300
    assert states[-1].speed == 0


async def test_reconnect_gives_up_after_the_grace_period() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:lovense-domi", clock=clock) as wand:
        radio = wand.transport.radio  # type: ignore[attr-defined]
        peripheral = wand.transport.peripheral  # type: ignore[attr-defined]
        scheduler = Scheduler(
            steady_program(),
            [wand],
            clock=clock,
            on_disconnect="resume",
            reconnect_grace_s=20,
        )

        async def vanish() -> None:
            await clock.sleep_until(clock.now() + 30)
            radio.remove(peripheral.address)

        vanisher = asyncio.ensure_future(vanish())
        with pytest.raises(LinkLost, match="gave up reconnecting after 20 s"):
            await scheduler.run()
        await vanisher
