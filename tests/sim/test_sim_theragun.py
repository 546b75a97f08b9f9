"""The simulated Theragun: packets in and out at explicit times, state and timeline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.errors import ProfileError
from massagectl.protocols import theragun as tg
from massagesim import NO_FAULTS, OmpFirmware, SimFault, SimulatedDevice, TheragunFirmware
from massagesim.firmware_theragun import FIRMWARE_VERSION

from .helpers import ManualClock


def notes(wire: bytes) -> list[tg.Notification]:
    """Decode what the gun sent, asserting that every packet was well formed."""
    items = tg.decode_notifications(wire)
    assert not [i for i in items if isinstance(i, tg.BadPacket)], items
    return [i for i in items if not isinstance(i, tg.BadPacket)]


def test_set_speed_runs_the_motor_and_notifies_the_new_status() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    wire = fw.receive(tg.set_speed(2100), 1.0)
    assert len(wire) == tg.NOTIFICATION_LEN
    assert notes(wire) == [tg.TheragunStatus(running=True, rpm=2100)]
    assert fw.state.speed == 2100
    last = fw.timeline.states()[-1]
    assert (last.t, last.speed, last.heat, last.program, last.cause) == (
        1.0,
        2100,
        0,
        0,
        "SET_SPEED",
    )


def test_set_speed_zero_stops_and_says_so() -> None:
    fw = TheragunFirmware("theragun-elite", 0.0)
    fw.receive(tg.set_speed(1750), 0.0)
    assert notes(fw.receive(tg.set_speed(0), 2.0)) == [tg.TheragunStatus(False, 0)]
    assert fw.state.speed == 0
    assert [s.speed for s in fw.timeline.states()] == [0, 1750, 0]


def test_the_same_speed_again_changes_nothing_and_sends_nothing() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    fw.receive(tg.set_speed(2000), 0.0)
    assert fw.receive(tg.set_speed(2000), 0.5) == b""
    assert len(fw.timeline.states()) == 2
    assert [c.type for c in fw.timeline.commands()] == ["SET_SPEED", "SET_SPEED"]


def test_a_running_gun_sends_its_status_every_second() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    fw.receive(tg.set_speed(2400), 10.0)
    assert fw.next_due() == pytest.approx(11.0)
    assert fw.tick(10.9) == b""
    assert notes(fw.tick(11.0)) == [tg.TheragunStatus(True, 2400)]
    assert notes(fw.tick(12.0)) == [tg.TheragunStatus(True, 2400)]
    fw.receive(tg.set_speed(0), 12.5)
    due = fw.next_due()  # only the idle battery running low, days away
    assert due is not None
    assert due > 3600.0
    assert fw.tick(20.0) == b""


def test_status_and_version_requests_are_answered() -> None:
    fw = TheragunFirmware("theragun-prime", 0.0)
    assert notes(fw.receive(tg.request_status(), 0.0)) == [tg.TheragunStatus(False, 0)]
    assert notes(fw.receive(tg.request_version(), 0.1)) == [FIRMWARE_VERSION]
    assert tg.TheragunVersion(2, 4, 1) == FIRMWARE_VERSION
    assert [(c.type, c.answer) for c in fw.timeline.commands()] == [
        ("STATUS_REQUEST", "STATUS"),
        ("VERSION_REQUEST", "VERSION"),
    ]


@pytest.mark.parametrize(
    ("name", "top"), [("theragun-pro", 3616), ("theragun-elite", 3616), ("theragun-prime", 3584)]
)
def test_a_speed_above_the_model_top_is_ignored(name: str, top: int) -> None:
    fw = TheragunFirmware(name, 0.0)
    assert fw.max_rpm == top
    assert notes(fw.receive(tg.set_speed(top), 0.0)) == [tg.TheragunStatus(True, top)]
    assert fw.receive(tg.set_speed(top + 1), 1.0) == b""
    assert fw.state.speed == top
    assert fw.timeline.commands()[-1].answer == "ignored"


def test_prime_ignores_what_pro_takes() -> None:
    assert TheragunFirmware("theragun-prime").receive(tg.set_speed(3600), 0.0) == b""
    assert TheragunFirmware("theragun-pro").receive(tg.set_speed(3600), 0.0) != b""


def test_commands_split_or_joined_or_behind_garbage_are_still_taken() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    wire = tg.set_speed(1900)
    assert fw.receive(wire[:3], 0.0) == b""
    assert notes(fw.receive(wire[3:] + tg.request_status(), 0.0)) == [
        tg.TheragunStatus(True, 1900),
        tg.TheragunStatus(True, 1900),
    ]
    assert notes(fw.receive(b"\x00\xff\xaa\x99" + tg.set_speed(2200), 0.1)) == [
        tg.TheragunStatus(True, 2200)
    ]


def test_garbage_and_bad_checksums_are_ignored() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    bad = bytearray(tg.set_speed(2000))
    bad[1] ^= 0x01
    assert fw.receive(bytes(bad) + b"hello", 0.0) == b""
    assert fw.state.speed == 0
    assert fw.timeline.commands() == []


@given(st.binary(max_size=100))
def test_garbage_never_breaks_the_gun(data: bytes) -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    notes(fw.receive(data, 0.0))  # whatever it sends decodes cleanly
    fw.new_link()
    assert notes(fw.receive(tg.request_status(), 0.1))


def test_a_stalled_motor_stops_and_refuses_to_start_until_repaired() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    fw.receive(tg.set_speed(2000), 0.0)
    assert notes(fw.inject_motor_fault(1.0)) == [tg.TheragunStatus(False, 0)]
    assert fw.state.faults == SimFault.MOTOR
    assert fw.receive(tg.set_speed(2000), 2.0) == b""
    fw.clear_motor_fault(3.0)
    assert notes(fw.receive(tg.set_speed(2000), 4.0)) == [tg.TheragunStatus(True, 2000)]


def test_the_battery_drains_and_an_empty_gun_stops() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    fw.receive(tg.set_speed(3616), 0.0)
    fw.tick(3600.0)
    assert fw.state.battery_pct is not None
    assert fw.state.battery_pct == pytest.approx(100 - 1.0 - 40.0)
    fw.set_battery(1.0, 3600.0)
    fw.tick(4000.0)
    assert fw.state.speed == 0
    assert fw.state.battery_pct == 0.0
    assert fw.timeline.states()[-1].cause == "battery empty"
    assert fw.receive(tg.set_speed(2000), 4001.0) == b""


def test_there_is_no_watchdog() -> None:
    fw = TheragunFirmware("theragun-pro", 0.0)
    fw.receive(tg.set_speed(2000), 0.0)
    fw.tick(600.0)
    assert fw.state.speed == 2000
    assert fw.state.faults & ~SimFault.LOW_BATTERY == NO_FAULTS


def test_firmwares_refuse_profiles_of_other_protocols() -> None:
    with pytest.raises(ProfileError, match="theragun"):
        OmpFirmware("theragun-pro")
    with pytest.raises(ProfileError, match="omp"):
        TheragunFirmware("omp-wand-heat")


async def test_simulated_device_picks_the_theragun_firmware_and_serves_it() -> None:
    clock = ManualClock(100.0)
    device = SimulatedDevice("theragun-prime", clock)
    assert isinstance(device.firmware, TheragunFirmware)
    received = bytearray()
    link = device.connect(received.extend)
    link.feed(tg.set_speed(2100))
    assert notes(bytes(received)) == [tg.TheragunStatus(True, 2100)]
    received.clear()
    clock.advance(1.0)
    device.tick()
    assert notes(bytes(received)) == [tg.TheragunStatus(True, 2100)]
    assert device.state.speed == 2100
