"""RongTai codec: key commands and the status layout byte for byte, and decoders that survive
anything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.profiles import get_profile
from massagectl.protocols import rongtai as rt


@pytest.mark.parametrize(
    ("key", "wire"),
    [
        # CK = ~(0x84 + KEY) & 0x7F, worked by hand:
        (0x01, "f0 84 01 7a f1"),  # 84 + 01 = 85; ~85 = 7a (low byte); & 7f = 7a
        (0x10, "f0 84 10 6b f1"),  # 84 + 10 = 94; ~94 = 6b; & 7f = 6b
        (0x20, "f0 84 20 5b f1"),  # 84 + 20 = a4; ~a4 = 5b; & 7f = 5b
        (0x27, "f0 84 27 54 f1"),  # 84 + 27 = ab; ~ab = 54; & 7f = 54
        (0x2E, "f0 84 2e 4d f1"),  # 84 + 2e = b2; ~b2 = 4d; & 7f = 4d
        (0x33, "f0 84 33 48 f1"),  # 84 + 33 = b7; ~b7 = 48; & 7f = 48
        (0x4A, "f0 84 4a 31 f1"),  # 84 + 4a = ce; ~ce = 31; & 7f = 31
        (0x51, "f0 84 51 2a f1"),  # 84 + 51 = d5; ~d5 = 2a; & 7f = 2a
        (0x7E, "f0 84 7e 7d f1"),  # 84 + 7e = 102; ~102 = ..fd; & 7f = 7d
    ],
)
def test_key_commands_match_the_documented_layout(key: int, wire: str) -> None:
    assert rt.key(key) == bytes.fromhex(wire)


def test_keys_are_the_documented_ones() -> None:
    assert rt.Key.POWER == 0x01
    assert [rt.auto_program_key(i) for i in range(1, 7)] == list(range(0x10, 0x16))
    assert list(range(0x20, 0x26)) == [
        rt.Key.KNEAD,
        rt.Key.KNOCK,
        rt.Key.SHIATSU,
        rt.Key.TAPPING,
        rt.Key.KNEAD_KNOCK,
        rt.Key.RHYTHM,
    ]
    assert rt.Key.HEAT == 0x27
    assert [rt.speed_key(i) for i in range(1, 7)] == list(range(0x2E, 0x34))
    assert [rt.Key.AIRBAG_1, rt.Key.AIRBAG_5, rt.Key.AIRBAG_OFF] == [0x45, 0x49, 0x4A]
    assert [rt.timer_key(m) for m in (10, 20, 30)] == [0x50, 0x51, 0x52]
    assert rt.Key.RESET == 0x7E
    assert rt.AUTO_PROGRAMS[0] == "Recovery"
    assert len(rt.AUTO_PROGRAMS) == 6


def test_key_helpers_refuse_what_the_chair_has_not() -> None:
    with pytest.raises(ValueError, match="speed"):
        rt.speed_key(7)
    with pytest.raises(ValueError, match="auto program"):
        rt.auto_program_key(0)
    with pytest.raises(ValueError, match="10, 20 or 30"):
        rt.timer_key(15)
    with pytest.raises(ValueError, match="one byte"):
        rt.key(256)


def test_uuids_are_the_documented_ones() -> None:
    assert rt.SERVICE_UUID == "0000fff0-0000-1000-8000-00805f9b34fb"
    assert rt.WRITE_CHAR == "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"
    assert rt.NOTIFY_CHAR == "0734594a-a8e7-4b1a-a6b1-cd5243059a57"


def _hand_status(head: int = 0x00, checksum: int = 0x00, tail: int = 0x00) -> bytes:
    a = bytearray(17)  # a[i] is address i
    a[0] = head
    a[1] = 0b0100_1000  # bit 6 running, bits 3..5 technique 1 (knead)
    a[2] = 0b0100_1100  # bits 2..4 speed 3, bit 5 roller off, bit 6 heat on
    a[4] = 7  # remaining 1000 s = 7 * 128 + 104
    a[5] = 104
    a[12] = 2  # preset 20 minutes
    a[13] = 7 << 2  # auto program 7: manual
    a[15] = checksum
    a[16] = tail
    return bytes(a)


EXPECTED = rt.RongTaiStatus(
    running=True,
    technique=rt.Technique.KNEAD,
    speed=3,
    roller=False,
    heat=True,
    remaining_s=1000,
    preset_minutes=20,
    auto_program=rt.MANUAL_PROGRAM,
)


def test_status_decodes_the_documented_bit_layout() -> None:
    status = rt.decode_status(_hand_status())
    assert status == EXPECTED
    assert isinstance(status, rt.RongTaiStatus)
    assert status.technique_name == "knead"


@pytest.mark.parametrize(("head", "checksum", "tail"), [(0xF0, 0x12, 0xF1), (0xAA, 0xFF, 0x55)])
def test_status_decoder_does_not_insist_on_head_checksum_or_tail(
    head: int, checksum: int, tail: int
) -> None:
    assert rt.decode_status(_hand_status(head, checksum, tail)) == EXPECTED


def test_status_other_bits_do_not_leak_into_fields() -> None:
    a = bytearray(b"\xff" * 17)
    status = rt.decode_status(bytes(a))
    assert status == rt.RongTaiStatus(True, 7, 7, True, True, 31 * 128 + 127, 30, 15)


@pytest.mark.parametrize("length", [0, 5, 16, 18])
def test_a_status_of_the_wrong_length_is_a_bad_packet(length: int) -> None:
    assert isinstance(rt.decode_status(bytes(length)), rt.BadPacket)


def test_simulated_status_uses_the_simulator_framing() -> None:
    wire = EXPECTED.encode()
    body = _hand_status()[1:15]
    assert wire == bytes((0xF0, *body, ~sum(body) & 0x7F, 0xF1))


def test_joined_statuses_are_split() -> None:
    a = EXPECTED.encode()
    b = rt.RongTaiStatus(False, 0, 0, False, False, 0, 20, 0).encode()
    assert rt.decode_statuses(a + b) == [EXPECTED, rt.decode_status(b)]
    assert isinstance(rt.decode_statuses(a + b"\x00")[0], rt.BadPacket)
    assert rt.decode_statuses(b"") == []


def test_command_decoder_takes_keys_split_and_joined_and_resyncs() -> None:
    decoder = rt.CommandDecoder()
    wire = rt.key(rt.Key.POWER) + rt.key(rt.Key.SPEED_4)
    out = [i for b in wire for i in decoder.feed(bytes((b,)))]
    assert out == [rt.KeyPress(rt.Key.POWER), rt.KeyPress(rt.Key.SPEED_4)]
    bad = bytearray(rt.key(rt.Key.HEAT))
    bad[3] ^= 1
    items = rt.CommandDecoder().feed(b"\x00\xf0" + bytes(bad) + rt.key(rt.Key.RESET))
    assert items[-1] == rt.KeyPress(rt.Key.RESET)
    assert all(isinstance(i, rt.BadPacket) for i in items[:-1])


def test_an_undocumented_key_decodes_but_is_not_known() -> None:
    (press,) = rt.CommandDecoder().feed(rt.key(0x66))
    assert press == rt.KeyPress(0x66)
    assert isinstance(press, rt.KeyPress)
    assert press.known is None
    assert rt.KeyPress(0x27).known is rt.Key.HEAT


def test_profile_matches_the_codec() -> None:
    p = get_profile("rongtai-rt8600s")
    assert p.protocol == "rongtai"
    assert p.kind == "chair"
    assert p.ble.service_uuids == [rt.SERVICE_UUID]
    assert (p.ble.write_char, p.ble.notify_char) == (rt.WRITE_CHAR, rt.NOTIFY_CHAR)
    assert not p.ble.write_with_response
    assert (p.speed_levels, p.heat_levels) == (rt.MAX_SPEED, 1)
    assert [prog.name.lower() for prog in p.capabilities.programs] == [
        n.lower() for n in rt.AUTO_PROGRAMS
    ]
    assert all(1 <= lvl <= 6 for prog in p.capabilities.programs for lvl in prog.levels)
    assert p.limits.auto_off_s == 20 * 60
    assert p.transports == ["ble"]
    assert p.provenance.kind == "reverse-engineered"
    assert not p.provenance.checked_on_hardware


@given(st.binary(max_size=40))
def test_status_decoder_never_raises(data: bytes) -> None:
    for item in rt.decode_statuses(data):
        assert isinstance(item, (rt.RongTaiStatus, rt.BadPacket))


@given(st.lists(st.binary(max_size=12), max_size=8))
def test_command_decoder_never_raises_and_still_reads_a_good_key(chunks: list[bytes]) -> None:
    decoder = rt.CommandDecoder()
    for chunk in chunks:
        decoder.feed(chunk)
    assert decoder.pending < rt.COMMAND_LEN
    assert decoder.feed(rt.key(rt.Key.RESET))[-1:] == [rt.KeyPress(rt.Key.RESET)]


@given(st.integers(0, 255))
def test_every_key_round_trips_host_to_device(k: int) -> None:
    assert rt.CommandDecoder().feed(rt.key(k)) == [rt.KeyPress(k)]


@given(
    st.builds(
        rt.RongTaiStatus,
        running=st.booleans(),
        technique=st.integers(0, 7),
        speed=st.integers(0, 6),
        roller=st.booleans(),
        heat=st.booleans(),
        remaining_s=st.integers(0, 31 * 128 + 127),
        preset_minutes=st.sampled_from([0, 10, 20, 30]),
        auto_program=st.integers(0, 7),
    )
)
def test_status_round_trips_device_to_host(status: rt.RongTaiStatus) -> None:
    assert rt.decode_status(status.encode()) == status
