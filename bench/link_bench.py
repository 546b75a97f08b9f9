"""A command's round trip over a serial line: set speed until the device's acknowledgement.

A simulated OMP/1 device (``massagectl sim --pty``, a process of its own, as a real device is
not part of the host) is served on a pseudo-terminal. The value is the time from just before
``await massager.set_speed_level(n)`` to that call returning, i.e. until the device's ACK is in:
massagectl's whole stack over its serial transport (the device layer's queue and pacing check,
the OMP/1 driver and codec, pyserial-asyncio-fast, and the hand-offs between the caller, the
writer and the reader tasks). The baseline, on the same pty in the same run, is plain blocking
pyserial: it writes the very same frame (built by massagectl's own codec before the clock
starts) and reads until it has the whole ACK frame the device answers with.

Both want the port to themselves (massagectl opens it exclusively, and two readers on one pty
would steal each other's bytes), so they take turns in blocks: one side opens the port, sends a
few commands that are not counted (the first after an opening pays for cold paths), then
``BLOCK`` counted ones, and closes it; then the other side. Which side goes first alternates
from round to round, so that a busy moment of the shared machine lands on both. Every command
sets a level other than the one before (so the device always changes and always answers a new
command, never a retry), and each is followed by a pause longer than OMP/1's 20 ms gap between
frames, so that no command waits on the pacing.

The device answers a speed change with its ACK and, in the same write, an unsolicited STATUS.
massagectl's reader takes both in one read and decodes both before the caller resumes; the
baseline reads just the ACK's bytes, and throws the STATUS away, unread, before its next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
from collections.abc import Iterator

import serial

from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.errors import DeviceError, LinkError
from massagectl.protocols.omp import RESYNC, SERIAL_BAUD, AckCode, Frame, MsgType, OmpHost

from .result import Result, latency_ms
from .support import BenchError, helper_process

PROFILE = "omp-percussion-pro"
#: Two levels in turn, so that every command changes the device.
LEVELS = (4, 9)
#: Quiet time after each command: longer than OMP/1's 20 ms frame gap, so that no command
#: waits for the previous one.
PAUSE_S = 0.025
#: Counted commands per block; a block is one opening of the port by one side.
BLOCK = 20
#: Commands not counted at the start of each block.
BLOCK_WARMUP = 3
#: How long one command may take before the bench gives up.
SAMPLE_TIMEOUT_S = 2.0


@contextlib.contextmanager
def simulated_device() -> Iterator[str]:
    """The simulator serving :data:`PROFILE` on a new pty, in a process of its own; yields the
    pty's path."""
    argv = [sys.executable, "-m", "massagectl", "sim", "--pty", "--quiet", PROFILE]
    # Its first line is the path; anything else it might print (a warning) does not look like
    # an absolute path.
    with helper_process(argv, ready=r"^(/\S+)$", what="link bench: the simulator") as found:
        yield found.group(1)


class RawPort:
    """Plain blocking pyserial: write a frame, read until its ACK is in."""

    def __init__(self, path: str) -> None:
        self.path = path
        # massagectl's codec numbers the frames; the bench only ever sends what it built.
        self.host = OmpHost()

    @contextlib.contextmanager
    def opened(self) -> Iterator[serial.Serial]:
        """The port, open exclusively (so a port still held by the other side fails loudly)."""
        with serial.Serial(
            self.path, SERIAL_BAUD, timeout=SAMPLE_TIMEOUT_S, exclusive=True
        ) as port:
            # As any host does on opening a line: end a half frame left in the device's buffer.
            port.write(RESYNC)
            # A GET_STATUS first, uncounted: the device takes a frame with the TYPE and SEQ of
            # the one just before it (massagectl's last, say) for a retry and would not apply it.
            self._exchange(port, self.host.get_status().wire, None)
            yield port

    def sample(self, port: serial.Serial, level: int) -> float:
        """Seconds from writing SET_SPEED to having its whole ACK."""
        request = self.host.set_speed(level)
        ack = Frame(MsgType.ACK, request.seq, bytes((AckCode.OK,))).encode()
        return self._exchange(port, request.wire, ack)

    def _exchange(self, port: serial.Serial, wire: bytes, answer: bytes | None) -> float:
        # Untimed: drop what came in since (the STATUS behind the last ACK, a periodic one).
        port.reset_input_buffer()
        started = time.perf_counter()
        port.write(wire)
        if answer is None:  # any one frame will do
            got = port.read_until(b"\x00")
        else:
            # The ACK comes first in the device's answer: one read of its length is the usual
            # case. A STATUS that fell due just before it makes the loop read on.
            got = port.read(len(answer))
            while not _holds_frame(got, answer):
                more = port.read(max(1, port.in_waiting))
                if not more:
                    break
                got += more
        took = time.perf_counter() - started
        if not got.endswith(b"\x00") or (answer is not None and not _holds_frame(got, answer)):
            raise BenchError(
                f"link bench: pyserial: no answer {'' if answer is None else answer.hex(' ')} "
                f"within {SAMPLE_TIMEOUT_S:g} s (got {got.hex(' ') or 'nothing'})"
            )
        return took


def _holds_frame(data: bytes, frame: bytes) -> bool:
    """Whether ``frame`` (delimiter included) is one of the frames in ``data``, not only bytes
    that happen to end another frame."""
    at = data.find(frame)
    while at >= 0:
        if at == 0 or data[at - 1] == 0:
            return True
        at = data.find(frame, at + 1)
    return False


async def _ours(massager: Massager, level: int) -> float:
    started = time.perf_counter()
    async with asyncio.timeout(SAMPLE_TIMEOUT_S):
        sent = await massager.set_speed_level(level)
    took = time.perf_counter() - started
    if sent != level:
        raise BenchError(f"link bench: the safety limits held speed {level} back to {sent}")
    return took


async def _massagectl_block(path: str, n: int, counted: list[float]) -> None:
    async with connect(f"serial:{path}?profile={PROFILE}") as massager:
        for i in range(BLOCK_WARMUP + n):
            took = await _ours(massager, LEVELS[i % 2])
            if i >= BLOCK_WARMUP:
                counted.append(took)
            await asyncio.sleep(PAUSE_S)


def _raw_block(raw: RawPort, n: int, counted: list[float]) -> None:
    # Blocking, on purpose: this is what a plain pyserial host is. Nothing else runs on the
    # event loop meanwhile (massagectl's side is closed).
    with raw.opened() as port:
        for i in range(BLOCK_WARMUP + n):
            took = raw.sample(port, LEVELS[i % 2])
            if i >= BLOCK_WARMUP:
                counted.append(took)
            time.sleep(PAUSE_S)


async def _measure(samples: int) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    bare: list[float] = []
    with simulated_device() as path:
        raw = RawPort(path)
        # One uncounted round first: imports, caches and the simulator's own warm-up.
        await _massagectl_block(path, BLOCK, [])
        _raw_block(raw, BLOCK, [])
        rounds = -(-samples // BLOCK)
        for r in range(rounds):
            n = min(BLOCK, samples - r * BLOCK)
            if r % 2:
                _raw_block(raw, n, bare)
                await _massagectl_block(path, n, ours)
            else:
                await _massagectl_block(path, n, ours)
                _raw_block(raw, n, bare)
    return ours, bare


@functools.cache
def measure(quick: bool) -> tuple[list[float], list[float]]:
    """Both round-trip lists (massagectl, pyserial) in seconds; measured once for both
    entries."""
    samples = 160 if quick else 1000
    try:
        return asyncio.run(_measure(samples))
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    except (LinkError, DeviceError, serial.SerialException) as exc:
        raise SystemExit(f"link bench: {exc}") from None
    except TimeoutError:
        raise SystemExit(
            f"link bench: massagectl: a command was not acknowledged within {SAMPLE_TIMEOUT_S:g} s"
        ) from None


def _entry(name: str, p: float, quick: bool) -> Result:
    ours, bare = measure(quick)
    return latency_ms(
        name,
        ours,
        bare,
        p,
        goal="ratio <= 1.5",
        baseline_is=f"plain pyserial p{p:g}: the same SET_SPEED frame written and its ACK read "
        "on the same pty, in blocks taking turns with massagectl's in the same run",
    )


def command_rtt_p50(quick: bool) -> Result:
    """Median set-speed-to-ACK round trip over a pty."""
    return _entry("command_rtt_p50", 50, quick)


def command_rtt_p99(quick: bool) -> Result:
    """p99 set-speed-to-ACK round trip over a pty."""
    return _entry("command_rtt_p99", 99, quick)
