"""The simulator's fault handle (``device.faults``): each fault does what it says, and no more."""

from __future__ import annotations

import asyncio
import time

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.errors import UsageError
from massagectl.protocols import lovense as lv
from massagectl.protocols import rongtai as rt
from massagectl.protocols import theragun as tg
from massagectl.protocols.omp import (
    Ack,
    AckCode,
    BadFrame,
    Fault,
    MsgType,
    OmpHost,
    Status,
)
from massagesim import FaultSpec, OmpFirmware, SimFault, SimulatedDevice, parse_fault

from ..sim.helpers import ManualClock


def omp_device(profile: str = "omp-wand-heat") -> tuple[SimulatedDevice, OmpHost, bytearray]:
    device = SimulatedDevice(profile, ManualClock(0.0))
    received = bytearray()
    device.connect(received.extend)
    return device, OmpHost(), received


def feed(device: SimulatedDevice, data: bytes) -> None:
    assert device.link is not None
    device.link.feed(data)


def keep_fed(device: SimulatedDevice, clock: ManualClock, seconds: int) -> None:
    """Let ``seconds`` pass with a PING each second, as a host would (the watchdog is 3 s)."""
    host = OmpHost()
    for _ in range(seconds):
        clock.advance(1)
        feed(device, host.ping().wire)


# --- garbled bytes ---------------------------------------------------------------------------


def test_garbled_frames_fail_the_hosts_checks_and_never_gain_a_delimiter() -> None:
    device, host, received = omp_device()
    device.faults.garble()
    for _ in range(20):
        feed(device, host.ping().wire)
    # Every answer is still one frame with one delimiter, and every one is broken.
    assert received.count(0) == 20
    items = host.receive(bytes(received))
    assert len(items) == 20
    assert all(isinstance(i, BadFrame) for i in items)
    assert device.faults.link.garbled == 20


def test_garbling_is_the_same_for_the_same_seed_and_stops_after_count() -> None:
    outputs = []
    for _ in range(2):
        device, host, received = omp_device()
        device.faults.garble(0.5, count=3, seed=7)
        for _ in range(12):
            feed(device, host.ping().wire)
        outputs.append(bytes(received))
        assert device.faults.link.garbled == 3
        assert not device.faults.link.garbling
    assert outputs[0] == outputs[1]
    broken = [i for i in OmpHost().receive(outputs[0]) if isinstance(i, BadFrame)]
    assert len(broken) == 3


def test_a_garbled_lovense_answer_is_unprintable_so_the_host_drops_it() -> None:
    device = SimulatedDevice("lovense-domi", ManualClock())
    received = bytearray()
    device.connect(received.extend)
    device.faults.garble(count=1)
    feed(device, lv.vibrate(5).wire)
    feed(device, lv.battery().wire)
    items = lv.MessageSplitter().feed(bytes(received))
    assert isinstance(items[0], lv.BadMessage)
    assert items[1] == "100"
    assert device.state.speed == 5  # garbling is on the way out: the device obeyed


# --- no answer -------------------------------------------------------------------------------


def test_a_muted_device_obeys_but_says_nothing_until_unmuted() -> None:
    device, host, received = omp_device()
    device.faults.mute()
    feed(device, host.set_speed(4).wire)
    device.tick()
    assert received == b""
    assert device.state.speed == 4
    device.faults.unmute()
    feed(device, host.get_status().wire)
    (status,) = [m for m in host.receive(bytes(received)) if isinstance(m, Status)]
    assert status.speed == 4
    assert device.faults.link.swallowed == 1  # the ACK and the STATUS it caused, together


# --- late answers ------------------------------------------------------------------------------


async def test_late_answers_come_after_the_delay_in_order_and_on_time_again_after_count() -> None:
    device = SimulatedDevice("omp-wand-heat", ManualClock(0.0))
    host = OmpHost()
    arrivals: list[tuple[float, bytes]] = []
    device.connect(lambda b: arrivals.append((time.monotonic(), b)))
    device.faults.delay_answers(0.15, count=1)
    start = time.monotonic()
    feed(device, host.set_speed(2).wire)  # the answer is held back
    device.set_temperature(30.0)  # nothing to send, but time passes for the firmware
    device.inject_motor_fault()  # an unsolicited STATUS: it must not overtake the answer
    assert arrivals == []
    assert device.faults.link.in_flight == 2
    await asyncio.sleep(0.25)
    first, second = arrivals[0][1], arrivals[1][1]
    assert arrivals[0][0] - start >= 0.149
    assert isinstance(host.receive(first)[0], Ack)
    assert [m.faults for m in host.receive(second) if isinstance(m, Status)] == [Fault.MOTOR]
    arrivals.clear()
    feed(device, host.ping().wire)  # the count is used up: on time again
    assert len(arrivals) == 1


async def test_late_answers_for_a_closed_link_are_never_sent() -> None:
    device = SimulatedDevice("omp-wand-heat", ManualClock(0.0))
    received = bytearray()
    link = device.connect(received.extend)
    device.faults.delay_answers(0.05)
    link.feed(OmpHost().ping().wire)
    link.close()
    await asyncio.sleep(0.1)
    assert received == b""
    assert device.faults.link.in_flight == 0


def test_a_late_answer_needs_a_running_event_loop() -> None:
    device, host, _ = omp_device()
    device.faults.delay_answers(0.1)
    with pytest.raises(RuntimeError, match="running event loop"):
        feed(device, host.ping().wire)


# --- refused commands ------------------------------------------------------------------------


def test_omp_refuses_what_starts_something_with_the_chosen_code_but_never_a_stop() -> None:
    device, host, received = omp_device()
    firmware = device.firmware
    assert isinstance(firmware, OmpFirmware)
    firmware.refuse_next(2, AckCode.BAD_VALUE)  # OMP/1's own refusal: it picks the ACK code
    feed(device, host.set_speed(3).wire)
    feed(device, host.stop().wire)  # a stop is obeyed, and uses up no refusal
    feed(device, host.set_heat(1).wire)
    feed(device, host.set_heat(1).wire)
    acks = [m for m in host.receive(bytes(received)) if isinstance(m, Ack)]
    assert [a.code for a in acks] == [AckCode.BAD_VALUE, AckCode.OK, AckCode.BAD_VALUE, AckCode.OK]
    assert (device.state.speed, device.state.heat) == (0, 1)
    assert device.faults.link.garbled == 0
    assert device.refusals_left == 0


def test_each_family_refuses_in_its_own_way() -> None:
    lovense = SimulatedDevice("lovense-domi", ManualClock())
    answers = bytearray()
    lovense.connect(answers.extend)
    lovense.faults.refuse_next(1)
    feed(lovense, lv.vibrate(5).wire + lv.vibrate(0).wire + lv.vibrate(6).wire)
    assert bytes(answers) == b"ERR;OK;OK;"
    assert lovense.state.speed == 6

    gun = SimulatedDevice("theragun-pro", ManualClock())
    gun.connect(lambda _: None)
    gun.faults.refuse_next(1)
    feed(gun, tg.set_speed(2000))
    assert gun.state.speed == 0
    assert gun.timeline.commands()[-1].answer == "ignored"
    feed(gun, tg.set_speed(2000))
    assert gun.state.speed == 2000

    chair = SimulatedDevice("rongtai-rt8600s", ManualClock())
    chair.connect(lambda _: None)
    feed(chair, rt.key(rt.Key.HEAT))
    chair.faults.refuse_next(5)
    feed(chair, rt.key(rt.speed_key(4)))  # ignored
    assert chair.state.speed == 0
    feed(chair, rt.key(rt.Key.HEAT))  # heat off stops something: obeyed
    assert chair.state.heat == 0
    assert chair.refusals_left == 4


def test_a_refusal_needs_a_refusing_code() -> None:
    device, _, _ = omp_device()
    firmware = device.firmware
    assert isinstance(firmware, OmpFirmware)
    with pytest.raises(ValueError, match="other than OK"):
        firmware.refuse_next(1, AckCode.OK)


# --- the device's own faults -------------------------------------------------------------------


def test_overheat_cuts_the_heat_at_once() -> None:
    device, host, _ = omp_device()
    feed(device, host.set_heat(2).wire)
    device.faults.overheat()
    assert device.state.heat == 0
    assert SimFault.OVERHEAT in device.state.faults
    with pytest.raises(ValueError, match="no heater cut-out"):
        SimulatedDevice("theragun-pro").faults.overheat()


def test_auto_off_in_brings_the_auto_off_forward_for_this_activity_only() -> None:
    clock = ManualClock(0.0)
    device = SimulatedDevice("omp-wand-heat", clock)  # auto-off after 1200 s
    host = OmpHost()
    received = bytearray()
    device.connect(received.extend)
    with pytest.raises(ValueError, match="idle"):
        device.faults.auto_off_in(5)
    feed(device, host.set_speed(3).wire)
    keep_fed(device, clock, 100)
    device.faults.auto_off_in(20)
    assert device.firmware.status(0).remaining_s == 20  # STATUS counts down to it
    keep_fed(device, clock, 20)
    assert device.state.speed == 0
    assert device.timeline.states()[-1].cause == "auto-off"
    assert device.timeline.states()[-1].t == 120
    feed(device, host.set_speed(3).wire)  # a new activity: the normal auto-off again
    assert device.firmware.status(0).remaining_s == 1200


def test_set_auto_off_changes_the_limit_and_a_device_without_one_gets_none() -> None:
    clock = ManualClock(0.0)
    device = SimulatedDevice("omp-wand-heat", clock)
    device.connect(lambda _: None)
    device.faults.set_auto_off(30)
    feed(device, OmpHost().set_speed(3).wire)
    keep_fed(device, clock, 30)
    assert device.state.faults == SimFault.AUTO_OFF
    with pytest.raises(ValueError, match="no auto-off"):
        SimulatedDevice("lovense-domi").faults.set_auto_off(30)


def test_a_chairs_auto_off_ends_its_session() -> None:
    clock = ManualClock(0.0)
    chair = SimulatedDevice("rongtai-rt8600s", clock)
    chair.connect(lambda _: None)
    chair.faults.set_auto_off(45)  # sessions from now on last 45 s
    feed(chair, rt.key(rt.Key.POWER))
    assert chair.firmware.status().remaining_s == 45  # type: ignore[attr-defined]
    chair.faults.auto_off_in(10)
    clock.advance(10)
    chair.tick()
    assert not chair.state.active
    assert SimFault.AUTO_OFF in chair.state.faults


def test_low_battery_goes_to_the_profiles_level_and_mains_devices_have_none() -> None:
    device, _, _ = omp_device("omp-neck-rest")
    device.faults.low_battery()
    assert device.state.battery_pct == 15
    assert SimFault.LOW_BATTERY in device.state.faults
    with pytest.raises(ValueError, match="not battery powered"):
        SimulatedDevice("omp-wand-heat").faults.low_battery()


def test_clear_ends_link_faults_and_refusals_but_not_the_physical_ones() -> None:
    device, host, received = omp_device()
    device.faults.mute()
    device.faults.garble()
    device.faults.refuse_next(3)
    device.faults.motor_fault()
    device.faults.clear()
    feed(device, host.set_heat(1).wire)
    assert [m for m in host.receive(bytes(received)) if isinstance(m, Ack)] == [Ack(1, AckCode.OK)]
    assert SimFault.MOTOR in device.state.faults


# --- ``--fault NAME[=VALUE][@SECONDS]`` --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("garble", FaultSpec("garble")),
        ("garble=0.05", FaultSpec("garble", 0.05)),
        ("late=0.3@10", FaultSpec("late", 0.3, 10.0)),
        ("drop@30s", FaultSpec("drop", None, 30.0)),
        ("auto-off=120", FaultSpec("auto-off", 120.0)),
        ("refuse=2", FaultSpec("refuse", 2.0)),
    ],
)
def test_fault_specs_parse(text: str, spec: FaultSpec) -> None:
    assert parse_fault(text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("melt", "NAME one of garble, late"),
        ("late", "needs a value"),
        ("mute=1", "takes no value"),
        ("garble=2", "within 0..1"),
        ("refuse=1.5", "whole number"),
        ("drop", "needs a time"),
        ("late=soon", "not a number"),
        ("motor@-1", "must not be negative"),
    ],
)
def test_bad_fault_specs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_fault(text)


def test_a_fault_the_device_cannot_have_is_a_usage_error() -> None:
    device = SimulatedDevice("omp-wand-heat")
    with pytest.raises(UsageError, match="omp-wand-heat has no battery"):
        device.faults.check(parse_fault("battery=10"))


async def test_a_plan_injects_each_fault_at_its_time_on_the_devices_clock() -> None:
    clock = ManualClock(0.0)
    device = SimulatedDevice("omp-wand-heat", clock)
    device.connect(lambda _: None)
    applied: list[tuple[str, float]] = []
    plan = [parse_fault("motor@5"), parse_fault("mute"), parse_fault("refuse=2@2")]
    await device.faults.play(plan, lambda spec, t: applied.append((spec.text, t)))
    assert applied == [("mute", 0.0), ("refuse=2@2", 2.0), ("motor@5", 5.0)]
    assert device.faults.link.muted
    assert device.refusals_left == 2
    assert SimFault.MOTOR in device.state.faults


def test_omp_frames_sent_again_are_answered_again_not_applied() -> None:
    # A retry after a late answer: the device answers it without applying it a second time.
    device, host, _ = omp_device()
    request = host.set_speed(5)
    feed(device, request.wire)
    feed(device, request.wire)
    retries = [c for c in device.timeline.commands() if c.retry]
    assert [(c.type, c.seq) for c in retries] == [(MsgType.SET_SPEED.name, request.seq)]


async def test_a_radio_drop_is_an_accidental_loss_for_the_device_too() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:lovense-domi", clock=clock) as m:
        device: SimulatedDevice = m.transport.device  # type: ignore[attr-defined]
        await m.set_speed_level(12)
        # The host switched AutoSwith on when it connected: a lost link stops the Domi.
        m.transport.radio.drop(m.transport.peripheral.address)  # type: ignore[attr-defined]
        await asyncio.wait_for(m.link_lost.wait(), 1.0)
        assert device.state.speed == 0
        assert device.timeline.states()[-1].cause == "link lost"
