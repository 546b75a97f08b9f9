"""SimulatedDevice: links, its own time loop and the test-facing handle."""

from __future__ import annotations

import asyncio

import pytest

from massagectl.clock import ScaledClock
from massagectl.protocols.omp import Ack, AckCode, Fault, Info, OmpHost, Status
from massagesim import SimFault, SimulatedDevice, StateSnapshot

from .helpers import ManualClock, messages, statuses


def test_link_answers_synchronously_through_send() -> None:
    dev = SimulatedDevice("omp-percussion-pro", ManualClock())
    host, received = OmpHost(), bytearray()
    link = dev.connect(received.extend)
    hello = host.hello().wire
    link.feed(hello[:3])  # a frame may arrive in pieces
    assert received == b""
    link.feed(hello[3:])
    (info,) = messages(host.receive(bytes(received)))
    assert isinstance(info, Info)
    assert info.speed_levels == 13


def test_commands_are_applied_at_the_clocks_now() -> None:
    clock = ManualClock(500.0)
    dev = SimulatedDevice("omp-wand-heat", clock)
    host = OmpHost()
    link = dev.connect(lambda _: None)
    clock.advance(2.5)
    link.feed(host.set_speed(3).wire)
    assert dev.timeline.states()[-1].t == 502.5
    assert dev.state.speed == 3


def test_new_connection_replaces_the_old_one() -> None:
    dev = SimulatedDevice("omp-wand-heat", ManualClock())
    host = OmpHost()
    old_received, new_received, closed = bytearray(), bytearray(), []
    old = dev.connect(old_received.extend, on_close=lambda: closed.append("old"))
    new = dev.connect(new_received.extend)
    assert old.closed
    assert closed == ["old"]
    assert dev.link is new
    old.feed(host.set_speed(2).wire)  # a stale host's bytes go nowhere
    assert dev.state.speed == 0
    new.feed(host.set_speed(4).wire)
    dev.inject_motor_fault()
    assert old_received == b""
    msgs = messages(host.receive(bytes(new_received)))
    assert msgs[0] == Ack(2, AckCode.OK)
    assert statuses(msgs)[-1].faults == Fault.MOTOR


def test_a_failing_send_closes_the_link_but_not_the_device() -> None:
    dev = SimulatedDevice("omp-wand-heat", ManualClock())

    def broken(_: bytes) -> None:
        raise OSError("gone")

    link = dev.connect(broken)
    link.feed(OmpHost().set_speed(2).wire)
    assert link.closed
    assert dev.link is None
    assert dev.state.speed == 2


def test_on_change_reports_each_change_until_unsubscribed() -> None:
    clock = ManualClock(0.0)
    dev = SimulatedDevice("omp-wand-heat", clock)
    seen: list[StateSnapshot] = []
    unsubscribe = dev.on_change(seen.append)
    link = dev.connect(lambda _: None)
    host = OmpHost()
    link.feed(host.set_heat(1).wire)
    clock.advance(10.0)
    dev.tick()  # watchdog (3 s) has stopped it at t=3
    assert [(s.t, s.heat, s.cause) for s in seen] == [(0.0, 1, "SET_HEAT"), (3.0, 0, "watchdog")]
    unsubscribe()
    link.feed(host.set_heat(2).wire)
    assert len(seen) == 2


def test_handle_changes_reach_the_host() -> None:
    dev = SimulatedDevice("omp-wand-heat", ManualClock())
    host, received = OmpHost(), bytearray()
    link = dev.connect(received.extend)
    link.feed(host.set_heat(2).wire)
    dev.set_temperature(65.0)
    overheat = statuses(messages(host.receive(bytes(received))))[-1]
    assert overheat.faults == Fault.OVERHEAT
    assert overheat.temperature_c == 65.0
    assert dev.state.heat == 0


def test_battery_handle_is_for_battery_devices() -> None:
    dev = SimulatedDevice("omp-neck-rest", ManualClock())
    dev.set_battery(10)
    assert SimFault.LOW_BATTERY in dev.state.faults
    with pytest.raises(ValueError, match="not battery powered"):
        SimulatedDevice("omp-heat-pad", ManualClock()).set_battery(10)


async def test_run_loop_enforces_the_watchdog_in_scaled_time() -> None:
    clock = ScaledClock(100.0)
    async with SimulatedDevice("omp-percussion-pro", clock) as dev:
        host, received = OmpHost(), bytearray()
        link = dev.connect(received.extend)
        link.feed(host.set_speed(5).wire)
        started = dev.timeline.states()[-1].t
        await asyncio.sleep(0.1)  # 10 s of clock time
        msgs = messages(host.receive(bytes(received)))
    assert dev.state.speed == 0
    stop = dev.timeline.states()[-1]
    assert stop.cause == "watchdog"
    assert stop.t == pytest.approx(started + 3.0)
    unsolicited = statuses(msgs)
    assert unsolicited[-1].faults == Fault.WATCHDOG_STOP
    assert len(unsolicited) >= 4  # the change, periodic ones for ~3 s, the stop


async def test_run_loop_sends_periodic_status_in_real_time() -> None:
    async with SimulatedDevice("omp-heat-pad", ScaledClock(10.0)) as dev:
        host, received = OmpHost(), bytearray()
        link = dev.connect(received.extend)
        link.feed(host.set_heat(1).wire)
        await asyncio.sleep(0.35)  # 3.5 s of clock time, within the 5 s watchdog
    periodic = [m for m in messages(host.receive(bytes(received))) if isinstance(m, Status)]
    assert len(periodic) >= 3
