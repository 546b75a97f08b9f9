"""The simulated Lovense Domi: text in and out at explicit times, patterns, AutoSwith, link loss."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.profiles import get_profile
from massagectl.protocols import lovense as lv
from massagesim import LovenseFirmware, SimFault, SimulatedDevice

from .helpers import ManualClock

WAVE = [2, 6, 10, 14, 18, 14, 10, 6]  # the profile's pattern 1, digits 13579753 doubled


def test_vibrate_sets_the_level_and_answers_ok() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(b"Vibrate:10;", 1.0) == b"OK;"
    assert fw.state.speed == 10
    last = fw.timeline.states()[-1]
    assert (last.t, last.speed, last.cause) == (1.0, 10, "SET_SPEED")
    assert fw.receive(b"Vibrate:0;", 2.0) == b"OK;"
    assert fw.state.speed == 0


@pytest.mark.parametrize(
    "command",
    [
        b"Vibrate:21;",
        b"Vibrate:-1;",
        b"Vibrate:x;",
        b"Vibrate;",
        b"Vibrate2:5;",
        b"Nope;",
        b"Battery:1;",
    ],
)
def test_bad_or_unknown_commands_answer_err(command: bytes) -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Vibrate:4;", 0.0)
    assert fw.receive(command, 0.1) == b"ERR;"
    assert fw.state.speed == 4


def test_queries_answer_in_their_own_context() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(b"DeviceType;", 0.0) == b"W:11:0082059AD3BD;"
    assert fw.receive(b"Battery;", 0.0) == b"100;"
    fw.set_battery(84.2, 0.0)
    assert fw.receive(b"Battery;", 0.0) == b"85;"
    assert fw.receive(b"GetPatten;", 0.0) == b"P:0123;"
    assert fw.receive(b"Status:1;", 0.0) == b"2;"
    assert fw.receive(b"GetAS;", 0.0) == b"AutoSwith:0:0;"
    assert [c.type for c in fw.timeline.commands()] == [
        "DeviceType",
        "Battery",
        "Battery",
        "GetPatten",
        "Status",
        "GetAS",
    ]


def test_commands_split_and_joined_are_answered_in_order() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(b"Vibr", 0.0) == b""
    assert fw.receive(b"ate:5;Batt", 0.0) == b"OK;"
    assert fw.receive(b"ery;Status:1;", 0.0) == b"100;2;"


def test_garbage_without_a_terminator_is_dropped_and_the_next_command_works() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(b"x" * 500, 0.0) == b""
    assert fw.receive(b"more;Vibrate:3;", 0.1) == b"OK;"
    assert fw.state.speed == 3


@given(st.binary(max_size=200))
def test_garbage_never_breaks_the_device(data: bytes) -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    answers = lv.MessageSplitter().feed(fw.receive(data, 0.0))
    assert all(isinstance(a, str) for a in answers)
    fw.new_link()
    assert fw.receive(b"Status:1;", 0.1) == b"2;"


def test_a_preset_steps_every_half_second_on_a_loop() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(b"Preset:1;", 10.0) == b"OK;"
    assert (fw.state.program, fw.state.speed) == (1, WAVE[0])
    fw.tick(10.0 + 0.5 * 20)  # two and a half passes of the 8-step pattern
    snaps = [s for s in fw.timeline.states() if s.t >= 10.0]
    assert [s.t - 10.0 for s in snaps] == pytest.approx([0.5 * i for i in range(21)])
    assert [s.speed for s in snaps] == [WAVE[i % 8] for i in range(21)]
    assert all(s.program == 1 for s in snaps)
    assert {s.cause for s in snaps[1:]} == {"program step"}
    assert snaps[0].cause == "RUN_PROGRAM"


def test_vibrate_or_preset_zero_end_the_pattern() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Preset:2;", 0.0)
    fw.receive(b"Vibrate:7;", 0.7)
    assert (fw.state.program, fw.state.speed) == (0, 7)
    fw.receive(b"Preset:2;", 1.0)
    assert fw.receive(b"Preset:0;", 1.2) == b"OK;"
    assert (fw.state.program, fw.state.speed) == (0, 0)
    fw.tick(5.0)
    assert fw.timeline.states()[-1].t == 1.2


def test_a_preset_the_device_has_not_answers_err() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    count = len(get_profile("lovense-domi").capabilities.programs)
    assert fw.receive(f"Preset:{count + 1};".encode(), 0.0) == b"ERR;"
    assert fw.receive(b"Preset:0;", 0.0) == b"OK;"  # nothing running: accepted, no change
    assert fw.state.program == 0


def test_power_off_stops_and_ends_the_link_once() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Preset:1;", 0.0)
    assert fw.receive(b"PowerOff;", 1.0) == b"OK;"
    assert (fw.state.speed, fw.state.program) == (0, 0)
    assert fw.timeline.states()[-1].cause == "PowerOff"
    assert fw.take_hangup()
    assert not fw.take_hangup()


def test_auto_switch_makes_an_accidental_link_loss_stop_the_device() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Vibrate:12;", 0.0)
    fw.link_lost(1.0)  # off by default: keeps going
    assert fw.state.speed == 12
    assert fw.receive(b"AutoSwith:On:Off;", 2.0) == b"OK;"
    assert fw.receive(b"GetAS;", 2.0) == b"AutoSwith:1:0;"
    fw.link_lost(3.0)
    assert fw.state.speed == 0
    last = fw.timeline.states()[-1]
    assert (last.t, last.cause) == (3.0, "link lost")


@pytest.mark.parametrize("args", [b"AutoSwith:On;", b"AutoSwith:Yes:No;", b"AutoSwith;"])
def test_bad_auto_switch_arguments_answer_err(args: bytes) -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    assert fw.receive(args, 0.0) == b"ERR;"
    assert fw.auto_switch == lv.AutoSwitch(False, False)


def test_a_stalled_motor_refuses_vibration_and_patterns() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Preset:1;", 0.0)
    fw.inject_motor_fault(0.2)
    assert (fw.state.speed, fw.state.program, fw.state.faults) == (0, 0, SimFault.MOTOR)
    assert fw.receive(b"Vibrate:3;Preset:1;Vibrate:0;", 0.3) == b"ERR;ERR;OK;"


def test_there_is_no_watchdog_and_no_unsolicited_message() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    fw.receive(b"Vibrate:20;", 0.0)
    assert fw.tick(1800.0) == b""
    assert fw.state.speed == 20
    assert fw.state.battery_pct is not None
    assert fw.state.battery_pct == pytest.approx(100 - (1.0 + 45.0) / 2)


def test_the_host_codec_pairs_the_firmwares_answers() -> None:
    fw = LovenseFirmware("lovense-domi", 0.0)
    host = lv.LovenseHost()
    sent = [lv.device_type(), lv.battery(), lv.vibrate(9), lv.get_patterns(), lv.vibrate2(1)]
    wire = b"".join(host.send(c) for c in sent)
    replies = host.receive(fw.receive(wire, 0.0))
    assert [r.answer for r in replies if isinstance(r, lv.Reply)] == [
        lv.DeviceType("W", "11", "0082059AD3BD"),
        lv.BatteryLevel(100),
        lv.Ok(),
        lv.PatternList((0, 1, 2, 3)),
        lv.Err(),
    ]


async def test_simulated_device_power_off_closes_the_link() -> None:
    device = SimulatedDevice("lovense-domi", ManualClock())
    assert isinstance(device.firmware, LovenseFirmware)
    received, closed = bytearray(), []
    link = device.connect(received.extend, on_close=lambda: closed.append(True))
    link.feed(b"Vibrate:5;PowerOff;")
    assert bytes(received) == b"OK;OK;"
    assert link.closed
    assert closed == [True]
    assert device.link is None
    # The device can be reached again, as if switched back on.
    again = device.connect(received.extend)
    again.feed(b"Status:1;")
    assert bytes(received).endswith(b"2;")


async def test_drop_link_is_an_accidental_loss_but_closing_is_not() -> None:
    device = SimulatedDevice("lovense-domi", ManualClock())
    link = device.connect(lambda _: None)
    link.feed(b"AutoSwith:On:Off;Vibrate:8;")
    link.close()  # the host hung up on purpose
    assert device.state.speed == 8
    device.connect(lambda _: None)
    device.drop_link()
    assert device.state.speed == 0
