"""The host's side of faults: what the drivers read from devices that report none, what a run
does with every device when one fails, and the last word to a device whose link is lost."""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.device_types import (
    HEAT_OFF_BY_DEVICE,
    STOPPED_BY_DEVICE,
    Command,
    CommandKind,
    DeviceState,
)
from massagectl.drivers.rongtai import RongTaiDriver
from massagectl.drivers.theragun import TheragunDriver
from massagectl.errors import LinkLost
from massagectl.profiles import get_profile
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.faults import DeviceFault
from massagectl.programs.scheduler import Scheduler
from massagectl.protocols import rongtai as rt
from massagectl.protocols import theragun as tg
from massagectl.protocols.omp import OmpHost
from massagectl.transports.base import Transport
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimBleTransport

from ..sim.helpers import ManualClock
from .harness import PROGRAM, run_with_fault


class Recorder(Transport):
    """A transport that keeps what is written (the drivers' state logic needs no device)."""

    def __init__(self) -> None:
        super().__init__("recorder")
        self.sent: list[bytes] = []

    async def open(self) -> None:
        """Nothing to open."""

    async def write(self, data: bytes) -> None:
        """Keep the bytes."""
        self.sent.append(data)

    async def close(self) -> None:
        """Nothing to close."""
        self._mark_lost("closed")


def gun_status(rpm: int) -> bytes:
    return tg.TheragunStatus(running=rpm > 0, rpm=rpm).encode()


def chair_status(*, running: bool, speed: int = 0, heat: bool = False, left: int = 600) -> bytes:
    return rt.RongTaiStatus(
        running=running,
        technique=rt.Technique.KNEAD if speed else rt.Technique.STOP,
        speed=speed,
        roller=False,
        heat=heat,
        remaining_s=left if running else 0,
        preset_minutes=20,
        auto_program=rt.MANUAL_PROGRAM if speed else 0,
    ).encode()


async def test_a_gun_that_stops_after_confirming_its_start_stopped_by_itself() -> None:
    states: list[DeviceState] = []
    driver = TheragunDriver(
        Recorder(), get_profile("theragun-pro"), ManualClock(), "gun", states.append
    )
    await driver.execute(Command(CommandKind.SPEED, 2000))
    driver.feed(gun_status(0))  # from before the gun took the start: not a stop
    assert driver.state.faults == ()
    driver.feed(gun_status(2000))
    await driver.execute(Command(CommandKind.SPEED, 2400))  # still running: still confirmed
    driver.feed(gun_status(0))
    assert driver.state.faults == (STOPPED_BY_DEVICE,)
    driver.feed(gun_status(0))  # told once; it stays until the host's next command
    assert driver.state.faults == (STOPPED_BY_DEVICE,)
    await driver.execute(Command(CommandKind.SPEED, 1800))
    assert driver.state.faults == ()
    await driver.execute(Command(CommandKind.STOP))
    driver.feed(gun_status(0))  # the host's own stop
    assert driver.state.faults == ()


async def test_a_chair_tells_its_auto_off_from_other_stops_and_a_cut_heat() -> None:
    driver = RongTaiDriver(
        Recorder(), get_profile("rongtai-rt8600s"), ManualClock(), "chair", lambda _: None
    )
    await driver.execute(Command(CommandKind.SPEED, 3))
    await driver.execute(Command(CommandKind.HEAT, 1))
    driver.feed(chair_status(running=True, speed=3, heat=True))
    driver.feed(chair_status(running=True, speed=3, heat=False))
    assert driver.state.faults == (HEAT_OFF_BY_DEVICE,)
    driver.feed(chair_status(running=True, speed=3, left=1))
    driver.feed(chair_status(running=False))
    assert driver.state.faults == (HEAT_OFF_BY_DEVICE, "AUTO_OFF")

    await driver.execute(Command(CommandKind.SPEED, 2))  # the host's command clears them
    assert driver.state.faults == ()
    driver.feed(chair_status(running=False))  # before the chair took the key: not a stop
    assert driver.state.faults == ()
    driver.feed(chair_status(running=True, speed=2))
    driver.feed(chair_status(running=True, speed=0, heat=True))  # massage gone, chair on
    assert driver.state.faults == (STOPPED_BY_DEVICE,)


async def test_a_fault_on_one_device_stops_every_device_and_names_the_one() -> None:
    clock = VirtualClock()
    events: list[RunEvent] = []
    async with (
        clock.running(),
        connect("sim:lovense-domi", clock=clock) as wand,
        connect("sim:omp-wand-heat", clock=clock) as heat,
    ):
        lovense: SimulatedDevice = wand.transport.device  # type: ignore[attr-defined]
        omp: SimulatedDevice = heat.transport.device  # type: ignore[attr-defined]
        scheduler = Scheduler(PROGRAM, [wand, heat], clock=clock, on_event=events.append)

        async def stall() -> None:
            await clock.sleep_until(clock.now() + 70)
            omp.faults.motor_fault()

        staller = asyncio.ensure_future(stall())
        with pytest.raises(DeviceFault, match=r"sim:omp-wand-heat: MOTOR") as raised:
            await scheduler.run()
        await staller
        assert (lovense.state.speed, omp.state.speed, omp.state.heat) == (0, 0, 0)
        assert lovense.timeline.states()[-1].t == pytest.approx(omp.timeline.states()[-1].t)
    assert raised.value.fault == "MOTOR"
    assert raised.value.device == "sim:omp-wand-heat"
    faults = [e for e in events if event_name(e) == "fault"]
    assert [(e.device, e.position) for e in faults] == [("sim:omp-wand-heat", pytest.approx(70))]
    assert not [e for e in events if event_name(e) in ("finished", "stopped")]


async def test_a_watchdog_stop_left_from_before_does_not_end_the_run() -> None:
    clock = VirtualClock()
    async with clock.running(), SimulatedDevice("omp-wand-heat", clock) as device:
        # An earlier host set a speed and went away: the watchdog stopped the device.
        earlier = device.connect(lambda _: None)
        earlier.feed(OmpHost().set_speed(3).wire)
        await clock.sleep_until(clock.now() + 5)
        earlier.close()
        events: list[RunEvent] = []
        async with Massager(InProcessTransport(device, clock=clock), device.profile) as m:
            assert m.state.faults == ("WATCHDOG_STOP",)
            outcome = await Scheduler(PROGRAM, [m], clock=clock, on_event=events.append).run()
    assert outcome == "finished"
    assert not [e for e in events if event_name(e) in ("fault", "warning")]


async def test_a_device_without_watchdog_out_of_reach_is_said_to_maybe_be_running() -> None:
    clock = VirtualClock()
    radio = SimBleRadio()
    events: list[RunEvent] = []
    async with clock.running(), SimulatedDevice("theragun-pro", clock) as device:
        peripheral = radio.add(device)
        # A short scan, so that each failed reconnect costs little wall time.
        transport = SimBleTransport(peripheral, clock=clock, scan_timeout=0.1)
        async with Massager(transport, device.profile, clock=clock, name="gun") as m:
            scheduler = Scheduler(PROGRAM, [m], clock=clock, on_event=events.append)

            async def walk_away() -> None:
                await clock.sleep_until(clock.now() + 90)
                radio.remove(peripheral.address)

            walker = asyncio.ensure_future(walk_away())
            with pytest.raises(LinkLost):
                await scheduler.run()
            await walker
        # Nobody could tell it anything after it went. (How long it then ran is not looked at:
        # a failed scan takes wall time, in which virtual time may run far ahead.)
        gone_at = scheduler.timeline.duration / 2
        assert device.timeline.state_at(gone_at).active
        assert [c for c in device.timeline.commands() if c.t > gone_at] == []
    warnings = [e for e in events if event_name(e) == "warning"]
    assert [e.device for e in warnings] == ["gun"]
    assert "it may still be running; switch it off on the device" in warnings[0].message


async def test_with_the_resume_policy_a_dropped_gun_comes_back_and_ends_at_rest() -> None:
    run = await run_with_fault(
        "theragun-pro", "ble", lambda d: d.faults.drop_link(), on_disconnect="resume"
    )
    assert run.error is None
    assert run.outcome == "finished"
    kinds = [
        event_name(e)
        for e in run.events
        if event_name(e) in ("lost", "paused", "reconnected", "resumed")
    ]
    assert kinds == ["lost", "paused", "reconnected", "resumed"]
    assert not run.final.active
    # It rested while the link was down, and ran again after.
    after_drop = [s for s in run.states if s.t - run.origin > 90]
    assert not after_drop[0].active
    assert any(s.active for s in after_drop)


async def test_a_watchdog_stop_the_host_lives_to_read_is_told_once_and_the_device_restarted() -> (
    None
):
    clock = VirtualClock()
    events: list[RunEvent] = []
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        device: SimulatedDevice = m.transport.device  # type: ignore[attr-defined]
        scheduler = Scheduler(PROGRAM, [m], clock=clock, on_event=events.append)
        origin = clock.now()
        feed = m.driver.keepalive_s

        async def fall_behind() -> None:
            # A host that stops feeding the watchdog for a while (a busy machine), then recovers.
            await clock.sleep_until(origin + 70)
            m.driver.keepalive_s = lambda info: None  # type: ignore[method-assign]
            await clock.sleep_until(origin + 80)
            m.driver.keepalive_s = feed  # type: ignore[method-assign]

        stall = asyncio.ensure_future(fall_behind())
        outcome = await scheduler.run()
        await stall
        states = device.timeline.states()
    assert outcome == "finished"
    stops = [s for s in states if s.cause == "watchdog"]
    assert stops
    first = stops[0]
    assert 70 < first.t - origin < 75
    after = next(s for s in states if s.t >= first.t and s.cause == "SET_SPEED")
    assert after.t == pytest.approx(first.t)  # started again at once
    assert after.speed == 7
    warnings = [e.message for e in events if event_name(e) == "warning"]
    assert len([w for w in warnings if "WATCHDOG_STOP" in w]) == 1
    assert not [e for e in events if event_name(e) == "fault"]
    assert not states[-1].active
