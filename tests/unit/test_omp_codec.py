"""OMP/1 codec: the spec's test vectors are golden, and the decoder survives anything."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massagectl.protocols import omp

# Section 7 of the spec, byte for byte.
VECTORS = [
    (omp.Frame(omp.MsgType.HELLO, 1, b"\x01"), "06 01 01 01 d8 bc 00"),
    (omp.Frame(omp.MsgType.SET_SPEED, 2, b"\x03"), "06 02 02 03 f4 fd 00"),
    (omp.Frame(omp.MsgType.SET_HEAT, 3, b"\x00"), "03 03 03 03 c0 9f 00"),
    (omp.Frame(omp.MsgType.STOP, 4), "05 05 04 a2 7e 00"),
    (omp.Frame(omp.MsgType.ACK, 2, b"\x00"), "03 80 02 03 91 a4 00"),
    (
        omp.Info(1, 1, 13, 2, 7, 60, 30, 0b11).to_frame(),
        "0c 81 01 01 0d 02 07 3c 1e 03 48 67 00",
    ),
    (
        omp.Status(0, 3, 1, 0, 360, 80, omp.Fault(0), 900).to_frame(),
        "02 82 03 03 01 04 01 68 50 05 03 84 38 b4 00",
    ),
]


def test_crc_check_value() -> None:
    assert omp.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(("frame", "wire"), VECTORS)
def test_encoding_matches_spec_vector(frame: omp.Frame, wire: str) -> None:
    assert frame.encode() == bytes.fromhex(wire)


@pytest.mark.parametrize(("frame", "wire"), VECTORS)
def test_decoding_spec_vector_gives_the_frame(frame: omp.Frame, wire: str) -> None:
    assert omp.FrameDecoder().feed(bytes.fromhex(wire)) == [frame]


def test_host_requests_match_spec_vectors() -> None:
    host = omp.OmpHost()
    assert host.hello().wire == bytes.fromhex("06 01 01 01 d8 bc 00")
    assert host.set_speed(3).wire == bytes.fromhex("06 02 02 03 f4 fd 00")
    assert host.set_heat(0).wire == bytes.fromhex("03 03 03 03 c0 9f 00")
    assert host.stop().wire == bytes.fromhex("05 05 04 a2 7e 00")


def test_host_parses_spec_info_and_status() -> None:
    host = omp.OmpHost()
    info, status = host.receive(
        bytes.fromhex("0c 81 01 01 0d 02 07 3c 1e 03 48 67 00")
        + bytes.fromhex("02 82 03 03 01 04 01 68 50 05 03 84 38 b4 00")
    )
    assert isinstance(info, omp.Info)
    assert (info.speed_levels, info.heat_levels, info.program_count) == (13, 2, 7)
    assert info.watchdog_s == 3.0
    assert info.battery_powered
    assert info.has_temperature_sensor
    assert isinstance(status, omp.Status)
    assert status.temperature_c == 36.0
    assert status.battery_percent == 80
    assert status.remaining_s == 900
    assert not status.faults


def test_host_sequence_numbers_wrap_from_255_to_1_never_0() -> None:
    host = omp.OmpHost()
    seqs = [host.ping().seq for _ in range(600)]
    assert 0 not in seqs
    assert seqs[:3] == [1, 2, 3]
    assert seqs[254:257] == [255, 1, 2]


def test_a_retry_is_the_same_bytes() -> None:
    request = omp.OmpHost().set_speed(5)
    assert request.wire == omp.Frame(omp.MsgType.SET_SPEED, request.seq, b"\x05").encode()


def test_wrong_crc_is_dropped_and_next_frame_survives() -> None:
    good = omp.Frame(omp.MsgType.ACK, 7, b"\x00").encode()
    corrupted = bytearray(good)
    corrupted[2] ^= 0x01
    out = omp.FrameDecoder().feed(bytes(corrupted) + good)
    assert isinstance(out[0], omp.BadFrame)
    assert out[0].reason == "CRC mismatch"
    assert out[1] == omp.Frame(omp.MsgType.ACK, 7, b"\x00")


def test_long_undelimited_run_is_dropped_until_next_delimiter() -> None:
    good = omp.Frame(omp.MsgType.PING, 9).encode()
    out = omp.FrameDecoder().feed(b"\x11" * 40 + b"\x22\x00" + good)
    assert isinstance(out[0], omp.BadFrame)
    assert out[-1] == omp.Frame(omp.MsgType.PING, 9)


def test_frame_split_across_chunks_is_reassembled() -> None:
    wire = bytes.fromhex("02 82 03 03 01 04 01 68 50 05 03 84 38 b4 00")
    decoder = omp.FrameDecoder()
    got = [item for b in wire for item in decoder.feed(bytes([b]))]
    assert len(got) == 1
    assert isinstance(got[0], omp.Frame)


def test_longest_frame_is_fifteen_bytes() -> None:
    assert len(omp.Frame(0x82, 0, b"\xff" * 9).encode()) == 15


def test_device_frame_with_wrong_payload_length_is_reported_not_raised() -> None:
    odd = omp.Frame(omp.MsgType.INFO, 1, b"\x01\x02").encode()
    (item,) = omp.OmpHost().receive(odd)
    assert isinstance(item, omp.BadFrame)


frames = st.builds(
    omp.Frame,
    type=st.integers(0, 255),
    seq=st.integers(0, 255),
    payload=st.binary(max_size=omp.MAX_PAYLOAD),
)


@given(frames)
def test_any_frame_round_trips(frame: omp.Frame) -> None:
    wire = frame.encode()
    assert wire.endswith(b"\x00")
    assert b"\x00" not in wire[:-1]
    assert len(wire) <= 15
    assert omp.FrameDecoder().feed(wire) == [frame]


@settings(max_examples=500)
@given(garbage=st.binary(max_size=200), frame=frames)
def test_garbage_never_raises_and_never_swallows_the_next_frame(
    garbage: bytes, frame: omp.Frame
) -> None:
    decoder = omp.FrameDecoder()
    # A delimiter ends whatever the garbage left half-done, as the host's resync byte does.
    out = decoder.feed(garbage + b"\x00" + frame.encode())
    assert out[-1] == frame
    assert all(isinstance(item, omp.Frame | omp.BadFrame) for item in out)


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=40), max_size=10))
def test_host_receive_raises_nothing_on_any_bytes(chunks: list[bytes]) -> None:
    host = omp.OmpHost()
    for chunk in chunks:
        for item in host.receive(chunk):
            assert isinstance(item, omp.Ack | omp.Info | omp.Status | omp.BadFrame)
