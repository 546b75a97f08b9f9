"""Theragun codec: the documented packets byte for byte, and decoders that survive anything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.profiles import get_profile
from massagectl.protocols import theragun as tg


def test_checksum_is_the_low_byte_of_the_sum_of_bytes_two_to_end() -> None:
    assert (
        tg.checksum(bytes((0xAA, 0x00, 0x01, 0x03, 0xFF, 0xFF, 0x03)))
        == (1 + 3 + 255 + 255 + 3) & 0xFF
    )


def test_set_speed_2100_rpm_matches_the_documented_layout() -> None:
    # 2100 rpm = 0x0834; ck = low byte of 01 + 03 + 08 + 34 + 03 = 0x43.
    ck = (0x01 + 0x03 + 0x08 + 0x34 + 0x03) & 0xFF
    assert ck == 0x43
    assert tg.set_speed(2100) == bytes((0xAA, ck, 0x01, 0x03, 0x08, 0x34, 0x03))


@pytest.mark.parametrize(
    ("rpm", "wire"),
    [
        (0, "aa 07 01 03 00 00 03"),  # 01 + 03 + 03 = 07: stops the motor
        (1750, "aa e3 01 03 06 d6 03"),  # 0x06d6; 01 + 03 + 06 + d6 + 03 = 0xe3
        (3616, "aa 35 01 03 0e 20 03"),  # 0x0e20; 01 + 03 + 0e + 20 + 03 = 0x35
        (3584, "aa 15 01 03 0e 00 03"),  # 0x0e00; 01 + 03 + 0e + 00 + 03 = 0x15
    ],
)
def test_set_speed_golden_vectors(rpm: int, wire: str) -> None:
    expected = bytes.fromhex(wire)
    assert tg.set_speed(rpm) == expected
    assert int.from_bytes(expected[4:6], "big") == rpm


def test_requests_match_the_documented_bytes() -> None:
    assert tg.request_status() == bytes.fromhex("aa 10 10 00")
    assert tg.request_version() == bytes.fromhex("aa 20 20 00")


def test_set_speed_refuses_values_outside_sixteen_bits() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        tg.set_speed(-1)
    with pytest.raises(ValueError, match="16-bit"):
        tg.set_speed(0x10000)


def test_uuids_are_the_full_forms_of_the_documented_short_ones() -> None:
    assert tg.SERVICE_UUID == "0000ffe0-0000-1000-8000-00805f9b34fb"
    assert tg.WRITE_CHAR == "0000ffe2-0000-1000-8000-00805f9b34fb"
    assert tg.NOTIFY_CHAR == "0000ffe1-0000-1000-8000-00805f9b34fb"
    assert tg.MAX_RPM == {"Pro": 3616, "Elite": 3616, "Prime": 3584}


def _hand_status(running: int, rpm: int, length: int = 15) -> bytes:
    packet = bytearray(length)
    packet[0] = 0xBB
    packet[2] = 0x10
    packet[4] = running
    packet[13], packet[14] = rpm >> 8, rpm & 0xFF
    packet[1] = sum(packet[2:]) & 0xFF
    return bytes(packet)


def test_status_notification_decodes_running_and_speed() -> None:
    # BB 4d 10 00 01 00*8 08 34: ck = 10 + 01 + 08 + 34 = 0x4d.
    packet = bytes.fromhex("bb 4d 10 00 01 00 00 00 00 00 00 00 00 08 34")
    assert packet == _hand_status(1, 2100)
    assert tg.decode_notification(packet) == tg.TheragunStatus(running=True, rpm=2100)


def test_status_notification_of_any_length_with_the_documented_bytes_decodes() -> None:
    assert tg.decode_notification(_hand_status(0, 0, 20)) == tg.TheragunStatus(False, 0)
    assert tg.decode_notification(_hand_status(1, 3616, 32)) == tg.TheragunStatus(True, 3616)


def test_version_notification_decodes_major_minor_patch() -> None:
    packet = bytearray(14)
    packet[0], packet[2] = 0xBB, 0x20
    packet[12], packet[13] = 0x00, 241  # v = 241: 2.4.1
    packet[1] = sum(packet[2:]) & 0xFF
    version = tg.decode_notification(bytes(packet))
    assert version == tg.TheragunVersion(2, 4, 1)
    assert isinstance(version, tg.TheragunVersion)
    assert (version.number, str(version)) == (241, "2.4.1")
    assert tg.TheragunVersion.from_number(1234) == tg.TheragunVersion(12, 3, 4)


def test_simulated_notifications_are_twenty_bytes_with_zeros_where_unknown() -> None:
    wire = tg.TheragunStatus(running=True, rpm=2100).encode()
    assert len(wire) == tg.NOTIFICATION_LEN == 20
    assert wire == _hand_status(1, 2100, 20)
    version = tg.TheragunVersion(2, 4, 1).encode()
    assert version[:3] == bytes((0xBB, (0x20 + 241) & 0xFF, 0x20))
    assert version[12:14] == bytes((0, 241))
    assert set(version[3:12] + version[14:]) == {0}


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"", "shorter"),
        (bytes.fromhex("aa 10 10 00"), "not 0xbb"),
        (bytes.fromhex("bb 00 10 00 01"), "checksum"),
        (_hand_status(1, 2100)[:-1] + b"\x00", "checksum"),
    ],
)
def test_broken_notifications_come_back_as_bad_packets(packet: bytes, reason: str) -> None:
    result = tg.decode_notification(packet)
    assert isinstance(result, tg.BadPacket)
    assert reason in result.reason


def test_a_short_status_is_a_bad_packet_and_an_unknown_kind_is_other() -> None:
    short = bytearray(_hand_status(1, 5)[:10])
    short[1] = sum(short[2:]) & 0xFF
    assert isinstance(tg.decode_notification(bytes(short)), tg.BadPacket)
    other = bytes((0xBB, 0x31, 0x30, 0x01))
    assert tg.decode_notification(other) == tg.OtherNotification(0x30, other)


def test_joined_simulator_notifications_are_split_and_a_single_one_is_kept_whole() -> None:
    a = tg.TheragunStatus(True, 2000).encode()
    b = tg.TheragunVersion(2, 4, 1).encode()
    assert tg.decode_notifications(a + b) == [
        tg.TheragunStatus(True, 2000),
        tg.TheragunVersion(2, 4, 1),
    ]
    real = _hand_status(1, 1750, 40)  # one longer notification from a real gun stays whole
    assert tg.split_notifications(real) == [real]


def test_command_decoder_reads_the_documented_commands() -> None:
    decoder = tg.CommandDecoder()
    wire = tg.set_speed(2100) + tg.request_status() + tg.request_version()
    assert decoder.feed(wire) == [tg.SetSpeed(2100), tg.StatusRequest(), tg.VersionRequest()]


def test_command_decoder_takes_commands_split_byte_by_byte() -> None:
    decoder = tg.CommandDecoder()
    out = [item for b in tg.set_speed(1900) for item in decoder.feed(bytes((b,)))]
    assert out == [tg.SetSpeed(1900)]
    assert decoder.pending == 0


def test_command_decoder_drops_bad_checksums_and_resyncs() -> None:
    bad = bytearray(tg.set_speed(2100))
    bad[1] ^= 0xFF
    items = tg.CommandDecoder().feed(b"\x01\x02" + bytes(bad) + tg.set_speed(2200))
    assert items[-1] == tg.SetSpeed(2200)
    assert all(isinstance(i, tg.BadPacket) for i in items[:-1])


@given(st.binary(max_size=64))
def test_decode_notification_never_raises(data: bytes) -> None:
    for item in tg.decode_notifications(data):
        assert isinstance(
            item, (tg.TheragunStatus, tg.TheragunVersion, tg.OtherNotification, tg.BadPacket)
        )


@given(st.lists(st.binary(max_size=16), max_size=8))
def test_command_decoder_never_raises_and_still_reads_a_good_command(chunks: list[bytes]) -> None:
    decoder = tg.CommandDecoder()
    for chunk in chunks:
        decoder.feed(chunk)
    assert decoder.pending < 7
    assert decoder.feed(tg.set_speed(2100))[-1:] == [tg.SetSpeed(2100)]


@given(st.integers(0, 0xFFFF))
def test_set_speed_round_trips_through_the_device_decoder(rpm: int) -> None:
    assert tg.CommandDecoder().feed(tg.set_speed(rpm)) == [tg.SetSpeed(rpm)]


@given(st.booleans(), st.integers(0, 0xFFFF))
def test_status_round_trips_device_to_host(running: bool, rpm: int) -> None:
    status = tg.TheragunStatus(running, rpm)
    assert tg.decode_notification(status.encode()) == status


@given(st.integers(0, 655), st.integers(0, 9), st.integers(0, 9))
def test_version_round_trips_device_to_host(major: int, minor: int, patch: int) -> None:
    version = tg.TheragunVersion(major, minor, patch)
    if version.number > 0xFFFF:
        with pytest.raises(ValueError, match="version"):
            version.encode()
        return
    assert tg.decode_notification(version.encode()) == version


@pytest.mark.parametrize(
    ("name", "advertised"),
    [("theragun-pro", "Pro"), ("theragun-elite", "Elite"), ("theragun-prime", "Prime")],
)
def test_profiles_carry_the_documented_identity_and_speed_range(name: str, advertised: str) -> None:
    p = get_profile(name)
    assert p.protocol == "theragun"
    assert p.ble.names == [advertised]
    assert p.ble.service_uuids == [tg.SERVICE_UUID]
    assert (p.ble.write_char, p.ble.notify_char) == (tg.WRITE_CHAR, tg.NOTIFY_CHAR)
    assert p.ble.write_with_response
    assert p.speed_levels == tg.MAX_RPM[advertised]
    assert p.capabilities.speed is not None
    assert p.capabilities.speed.unit == "rpm"
    assert (p.heat_levels, p.capabilities.programs, p.capabilities.battery) == (0, [], True)
    assert p.transports == ["ble"]
    assert p.link.keepalive_s is None
    assert p.limits.watchdog_s == 0
    assert p.provenance.kind == "reverse-engineered"
    assert not p.provenance.checked_on_hardware
