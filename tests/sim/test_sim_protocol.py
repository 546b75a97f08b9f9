"""The firmware's protocol side, tested through bytes with the host's codec."""

from __future__ import annotations

import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st

from massagectl.errors import ProfileError
from massagectl.profiles import all_profiles, get_profile
from massagectl.protocols.omp import (
    MAINS,
    NO_SENSOR,
    Ack,
    AckCode,
    Fault,
    Frame,
    Info,
    MsgType,
    Status,
    crc16,
)
from massagesim import OmpFirmware, SimulatedDevice

from .helpers import Bench, ack_code, answer, make_profile, statuses

SIMULATABLE = [p.name for p in all_profiles() if p.simulatable and p.protocol == "omp"]


def test_hello_answers_info_for_percussion_pro_in_spec_layout() -> None:
    fw = OmpFirmware("omp-percussion-pro")
    wire = fw.receive(bytes.fromhex("06 01 01 01 d8 bc 00"), 0.0)  # the spec's HELLO vector
    # version 1, 13 speeds, no heat, 7 programs, no cut-out, watchdog 3.0 s, mains, no sensor
    assert wire == Frame(MsgType.INFO, 1, bytes((1, 13, 0, 7, 0, 30, 0))).encode()
    # COBS code bytes 05, 02, 02, 03 stand for the zeros of "no heat", "0 °C" and "flags 0".
    assert wire == bytes.fromhex("05 81 01 01 0d 02 07 02 1e 03 8c 43 00")


def test_info_matches_the_spec_vector_byte_for_byte() -> None:
    bench = Bench(make_profile())
    wire = bench.fw.receive(bench.host.hello().wire, 0.0)
    assert wire == bytes.fromhex("0c 81 01 01 0d 02 07 3c 1e 03 48 67 00")


def test_status_matches_the_spec_vector_byte_for_byte() -> None:
    bench = Bench(make_profile(), t0=10.0)
    bench.send(bench.host.set_speed(3))
    bench.send(bench.host.set_heat(1))
    bench.fw.set_temperature(36.0, 10.0)
    bench.fw.set_battery(80, 10.0)
    wire = bench.fw.status(0).to_frame().encode()
    assert wire == bytes.fromhex("02 82 03 03 01 04 01 68 50 05 03 84 38 b4 00")


@pytest.mark.parametrize("name", SIMULATABLE)
def test_every_omp_profile_describes_itself_in_info(name: str) -> None:
    profile = get_profile(name)
    bench = Bench(profile)
    info = answer(bench.send(bench.host.hello()))
    assert isinstance(info, Info)
    assert info.speed_levels == profile.speed_levels
    assert info.heat_levels == profile.heat_levels
    assert info.program_count == len(profile.capabilities.programs)
    assert info.max_temp_c == profile.limits.max_temp_c
    assert info.watchdog_s == pytest.approx(profile.limits.watchdog_s)
    assert info.battery_powered == profile.capabilities.battery
    assert info.has_temperature_sensor == profile.capabilities.temperature_sensor
    status = answer(bench.send(bench.host.get_status()))
    assert isinstance(status, Status)
    assert (status.battery == MAINS) == (not profile.capabilities.battery)
    assert (status.temp_dc == NO_SENSOR) == (not profile.capabilities.temperature_sensor)


def test_generic_omp_profile_is_refused_with_a_hint() -> None:
    with pytest.raises(ProfileError, match=r"pick a concrete model: .*omp-wand-heat"):
        SimulatedDevice("omp")
    with pytest.raises(ProfileError, match="concrete model"):
        OmpFirmware(get_profile("omp"))


def test_hello_with_another_version_gets_bad_version() -> None:
    bench = Bench("omp-wand-heat")
    msgs = bench.send(Frame(MsgType.HELLO, 1, b"\x02").encode())
    assert msgs == [Ack(1, AckCode.BAD_VERSION)]


def test_out_of_range_speed_is_refused_and_changes_nothing() -> None:
    bench = Bench("omp-percussion-pro")
    assert ack_code(bench.send(bench.host.set_speed(4))) == AckCode.OK
    before = len(bench.fw.timeline.states())
    msgs = bench.send(bench.host.set_speed(14), 0.5)
    assert msgs == [Ack(2, AckCode.BAD_VALUE)]  # no STATUS either: nothing changed
    assert bench.fw.state.speed == 4
    assert len(bench.fw.timeline.states()) == before


@pytest.mark.parametrize(
    ("profile", "request_name", "value", "code"),
    [
        ("omp-percussion-pro", "set_heat", 1, AckCode.BAD_VALUE),  # no heater: only 0
        ("omp-percussion-pro", "set_heat", 0, AckCode.OK),
        ("omp-heat-pad", "set_speed", 1, AckCode.BAD_VALUE),  # no motor: only 0
        ("omp-heat-pad", "run_program", 1, AckCode.BAD_VALUE),  # no programs: only 0
        ("omp-heat-pad", "set_heat", 7, AckCode.BAD_VALUE),
        ("omp-heat-pad", "set_heat", 6, AckCode.OK),
        ("omp-wand-heat", "run_program", 4, AckCode.BAD_VALUE),
        ("omp-wand-heat", "run_program", 3, AckCode.OK),
    ],
)
def test_levels_are_checked_against_the_profile(
    profile: str, request_name: str, value: int, code: AckCode
) -> None:
    bench = Bench(profile)
    request = getattr(bench.host, request_name)(value)
    assert ack_code(bench.send(request)) == code


def test_unknown_type_gets_unsupported() -> None:
    bench = Bench("omp-wand-heat")
    assert bench.send(Frame(0x42, 7, b"").encode()) == [Ack(7, AckCode.UNSUPPORTED)]
    # A device-to-host TYPE is not a command either.
    assert bench.send(Frame(MsgType.STATUS, 8, b"").encode()) == [Ack(8, AckCode.UNSUPPORTED)]


@pytest.mark.parametrize(
    "frame",
    [
        Frame(MsgType.SET_SPEED, 3, b""),
        Frame(MsgType.SET_SPEED, 3, b"\x01\x02"),
        Frame(MsgType.STOP, 3, b"\x00"),
        Frame(MsgType.HELLO, 3, b""),
    ],
)
def test_wrong_payload_length_gets_bad_value(frame: Frame) -> None:
    bench = Bench("omp-wand-heat")
    assert bench.send(frame.encode()) == [Ack(3, AckCode.BAD_VALUE)]
    assert not bench.fw.state.active


def test_command_answer_comes_before_the_status_it_causes() -> None:
    bench = Bench("omp-wand-heat")
    msgs = bench.send(bench.host.set_speed(5))
    assert msgs[0] == Ack(1, AckCode.OK)
    assert [s.speed for s in statuses(msgs)] == [5]
    assert msgs[1].seq == 0


def test_get_status_answers_with_the_same_seq() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.set_heat(2))
    status = answer(bench.send(bench.host.get_status(), 1.0))
    assert isinstance(status, Status)
    assert (status.seq, status.heat, status.speed) == (2, 2, 0)


def test_ping_changes_nothing() -> None:
    bench = Bench("omp-wand-heat")
    assert bench.send(bench.host.ping()) == [Ack(1, AckCode.OK)]
    assert len(bench.fw.timeline.states()) == 1


def test_stop_turns_everything_off() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.run_program(2))
    bench.send(bench.host.set_heat(1))
    msgs = bench.send(bench.host.stop(), 1.0)
    assert ack_code(msgs) == AckCode.OK
    s = bench.fw.state
    assert (s.speed, s.heat, s.program) == (0, 0, 0)
    assert not s.active


def test_retry_is_answered_again_but_not_applied_again() -> None:
    bench = Bench("omp-wand-heat")
    first = bench.fw.receive(Frame(MsgType.SET_SPEED, 9, b"\x03").encode(), 0.0)
    # Same TYPE and SEQ: a retry, even with another value; the last answer comes back as is.
    again = bench.fw.receive(Frame(MsgType.SET_SPEED, 9, b"\x07").encode(), 0.2)
    assert again == Frame(MsgType.ACK, 9, b"\x00").encode()
    assert first.startswith(again)
    assert bench.fw.state.speed == 3
    records = bench.fw.timeline.commands()
    assert [(r.seq, r.value, r.retry) for r in records] == [(9, 3, False), (9, 7, True)]
    # Another SEQ is a new command.
    bench.fw.receive(Frame(MsgType.SET_SPEED, 10, b"\x07").encode(), 0.3)
    assert bench.fw.state.speed == 7


def test_retry_of_a_program_start_does_not_restart_it() -> None:
    bench = Bench("omp-wand-heat")
    request = bench.host.run_program(1)
    bench.send(request, 0.0)
    bench.send(request, 0.5)
    assert bench.fw.state.program_started_at == 0.0


def test_retry_feeds_the_watchdog() -> None:
    bench = Bench("omp-wand-heat")
    request = bench.host.set_speed(2)
    bench.send(request, 0.0)
    bench.send(request, 2.5)
    bench.tick(4.0)  # 3 s watchdog counted from the retry, not from the first frame
    assert bench.fw.state.speed == 2


def test_broken_frames_are_never_answered() -> None:
    bench = Bench("omp-wand-heat")
    good = Frame(MsgType.SET_SPEED, 1, b"\x03").encode()
    corrupted = good[:3] + bytes((good[3] ^ 0x40,)) + good[4:]
    assert bench.fw.receive(corrupted, 0.0) == b""
    assert bench.fw.receive(bytes(40) + b"\x01" * 40 + b"\x00", 0.0) == b""  # no delimiter
    assert bench.fw.receive(b"\x02\x05\x00", 0.0) == b""  # too short
    assert bench.fw.state.speed == 0
    assert bench.fw.timeline.commands() == []
    # The line is usable again right after.
    assert bench.fw.receive(good, 0.1).startswith(Frame(MsgType.ACK, 1, b"\x00").encode())


@given(
    type_=st.integers(0, 255),
    seq=st.integers(0, 255),
    payload=st.binary(max_size=9),
    bad_crc=st.integers(0, 0xFFFF),
)
def test_frames_with_a_wrong_crc_are_never_answered(
    type_: int, seq: int, payload: bytes, bad_crc: int
) -> None:
    body = bytes((type_, seq)) + payload
    if bad_crc == crc16(body):
        bad_crc ^= 1
    wire = bytes(cobs.encode(body + bad_crc.to_bytes(2, "big"))) + b"\x00"
    fw = OmpFirmware("omp-percussion-pro")
    assert fw.receive(wire, 0.0) == b""
    assert fw.timeline.commands() == []


@given(st.binary(max_size=200))
def test_garbage_never_breaks_the_firmware(data: bytes) -> None:
    bench = Bench("omp-neck-rest")
    bench.send(data, 0.0)  # every byte the device sends decodes cleanly (checked by Bench)
    # And the device still answers a good frame afterwards, once the line is resynced.
    assert ack_code(bench.send(b"\x00" + bench.host.ping().wire, 0.1)) == AckCode.OK


def test_new_link_forgets_the_last_frame() -> None:
    fw = OmpFirmware("omp-wand-heat")
    hello = Frame(MsgType.SET_SPEED, 1, b"\x02").encode()
    fw.receive(hello, 0.0)
    fw.new_link()
    fw.receive(Frame(MsgType.SET_SPEED, 1, b"\x04").encode(), 0.1)
    assert fw.state.speed == 4


def test_faults_are_reported_in_status() -> None:
    bench = Bench("omp-wand-heat")
    bench.fw.inject_motor_fault(0.0)
    status = answer(bench.send(bench.host.get_status()))
    assert isinstance(status, Status)
    assert status.faults == Fault.MOTOR
