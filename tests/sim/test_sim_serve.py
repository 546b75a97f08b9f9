"""Serving a simulated device on a pseudo-terminal and on a TCP port."""

from __future__ import annotations

import asyncio

import pytest
import serial

from massagectl.clock import ScaledClock
from massagectl.protocols.omp import Ack, AckCode, Frame, Info, Message, MsgType, OmpHost
from massagesim import SimulatedDevice, serve_pty, serve_tcp

from .helpers import messages


def _serial_session(path: str, frames: list[bytes]) -> list[Message]:
    """A blocking host on a serial port: resync, send each frame, read its answer."""
    host = OmpHost()
    out: list[Message] = []
    with serial.Serial(path, 115200, timeout=1) as port:
        port.reset_input_buffer()
        port.write(b"\x00")
        for frame in frames:
            port.write(frame)
            answer = port.read_until(b"\x00")
            assert answer.endswith(b"\x00"), f"no answer to {frame.hex(' ')}"
            out += messages(host.receive(answer))
    return out


async def test_pty_round_trip_with_pyserial() -> None:
    async with SimulatedDevice("omp-percussion-pro") as dev, serve_pty(dev) as path:
        msgs = await asyncio.to_thread(_serial_session, path, [OmpHost().hello().wire])
    assert len(msgs) == 1
    assert isinstance(msgs[0], Info)
    assert (msgs[0].seq, msgs[0].speed_levels, msgs[0].watchdog_ds) == (1, 13, 30)


async def test_pty_passes_control_characters_unchanged_and_survives_reopening() -> None:
    # SEQ bytes a cooked tty would eat or rewrite: ^C, ^D, CR, LF, XON, XOFF, ^U, ^Z, ^\, DEL.
    seqs = [0x03, 0x04, 0x0D, 0x0A, 0x11, 0x13, 0x15, 0x1A, 0x1C, 0x7F]
    pings = [Frame(MsgType.PING, s).encode() for s in seqs]
    async with SimulatedDevice("omp-wand-heat") as dev, serve_pty(dev) as path:
        first = await asyncio.to_thread(_serial_session, path, pings)
        again = await asyncio.to_thread(_serial_session, path, [OmpHost().hello().wire])
    assert first == [Ack(s, AckCode.OK) for s in seqs]
    assert isinstance(again[0], Info)


async def _read_frame(reader: asyncio.StreamReader) -> list[Message]:
    data = await asyncio.wait_for(reader.readuntil(b"\x00"), timeout=2.0)
    return messages(OmpHost().receive(data))


async def test_tcp_round_trip() -> None:
    async with SimulatedDevice("omp-neck-rest") as dev, serve_tcp(dev) as (host, port):
        assert port != 0
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(OmpHost().hello().wire)
        (info,) = await _read_frame(reader)
        writer.close()
        await writer.wait_closed()
    assert isinstance(info, Info)
    assert info.battery_powered


async def test_tcp_disconnect_leaves_the_device_to_its_watchdog() -> None:
    clock = ScaledClock(20.0)
    async with SimulatedDevice("omp-percussion-pro", clock) as dev, serve_tcp(dev) as addr:
        stopped = asyncio.Event()
        dev.on_change(lambda snap: stopped.set() if snap.cause == "watchdog" else None)
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(OmpHost().set_speed(7).wire)
        assert (await _read_frame(reader))[0] == Ack(1, AckCode.OK)
        last_frame_at = dev.state.last_frame_at
        writer.close()
        await writer.wait_closed()
        await asyncio.wait_for(stopped.wait(), timeout=2.0)
        assert dev.link is None
    # The device did not stop when the host went away, but 3 clock seconds after its last frame.
    assert last_frame_at is not None
    speeds = [(s.speed, s.cause) for s in dev.timeline.states()]
    assert speeds[-2:] == [(7, "SET_SPEED"), (0, "watchdog")]
    assert dev.timeline.states()[-1].t == pytest.approx(last_frame_at + 3.0)


async def test_a_new_tcp_connection_replaces_the_old_one() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev, serve_tcp(dev) as addr:
        old_reader, old_writer = await asyncio.open_connection(*addr)
        old_writer.write(OmpHost().ping().wire)
        await _read_frame(old_reader)
        new_reader, new_writer = await asyncio.open_connection(*addr)
        new_writer.write(OmpHost().hello().wire)
        (info,) = await _read_frame(new_reader)
        assert isinstance(info, Info)
        assert await asyncio.wait_for(old_reader.read(), timeout=2.0) == b""  # closed by us
        old_writer.close()
        new_writer.close()
        await new_writer.wait_closed()
