"""Test-only parts for the device-layer tests: a link that loses or spoils chosen frames.

:class:`FaultyLink` is a real :class:`~massagectl.transports.base.Transport` wired to a real
:class:`~massagesim.SimulatedDevice`, like :class:`~massagectl.transports.inprocess.
InProcessTransport`, but it behaves like a bad wire: it can lose host frames before the device
sees them, lose the device's answers on the way back, stay silent altogether, or inject bytes of
line noise. It does not imitate the device; the simulator's firmware answers everything.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from massagectl.clock import Clock
from massagectl.device import Massager
from massagectl.protocols.omp import Frame, FrameDecoder, MsgType
from massagectl.transports.base import Transport
from massagesim import SimLink, SimulatedDevice


@dataclass(frozen=True, slots=True)
class Sent:
    """One frame the host wrote, when (wall time), and whether the wire lost it."""

    t: float
    frame: Frame
    wire: bytes
    dropped: bool


def _decode_one(data: bytes) -> Frame | None:
    frames = [f for f in FrameDecoder().feed(data) if isinstance(f, Frame)]
    return frames[0] if len(frames) == 1 else None


class FaultyLink(Transport):
    """A link to a simulated device that loses, or adds, bytes on request."""

    def __init__(self, device: SimulatedDevice) -> None:
        super().__init__(f"faulty:{device.profile.name}")
        self.device = device
        #: Every frame the host wrote, in order (dropped ones included).
        self.sent: list[Sent] = []
        #: When true, nothing the device says reaches the host.
        self.silent = False
        self._drop_sends: dict[int, int | None] = {}
        self._drop_answers: dict[int, int | None] = {}
        self._answer_seqs: dict[int, int] = {}  # host SEQ -> TYPE whose answers to drop
        self._link: SimLink | None = None

    # --- faults ----------------------------------------------------------------------------

    def drop_sends(self, type_: MsgType, times: int | None = None) -> None:
        """Lose the next ``times`` host frames of this TYPE (all of them with None)."""
        self._drop_sends[type_] = times

    def drop_answers_to(self, type_: MsgType, times: int | None = None) -> None:
        """Lose the device's answers to the next ``times`` frames of this TYPE."""
        self._drop_answers[type_] = times

    def inject(self, data: bytes) -> None:
        """Bytes from nowhere, as line noise would deliver them to the host."""
        self._deliver(data)

    @staticmethod
    def _take(budget: dict[int, int | None], type_: int) -> bool:
        if type_ not in budget:
            return False
        left = budget[type_]
        if left is None:
            return True
        if left <= 0:
            return False
        budget[type_] = left - 1
        return True

    # --- the Transport interface -----------------------------------------------------------

    async def open(self) -> None:
        """Attach to the device as its live host link."""
        self._link = self.device.connect(self._from_device)

    async def write(self, data: bytes) -> None:
        """Pass a host frame to the device, unless this frame is to be lost."""
        self._check_open()
        assert self._link is not None, "write before open"
        frame = _decode_one(data)
        if frame is None:  # the resync byte, or something that is not one frame
            self._link.feed(data)
            return
        dropped = self._take(self._drop_sends, frame.type)
        self.sent.append(Sent(time.monotonic(), frame, data, dropped))
        if dropped:
            return
        if frame.seq not in self._answer_seqs and self._take(self._drop_answers, frame.type):
            self._answer_seqs[frame.seq] = frame.type
        self._link.feed(data)

    def _from_device(self, data: bytes) -> None:
        if self.silent:
            return
        kept = bytearray()
        for piece in data.split(b"\x00"):
            if not piece:
                continue
            wire = piece + b"\x00"
            frame = _decode_one(wire)
            if frame is not None and frame.seq != 0 and frame.seq in self._answer_seqs:
                # One answer lost per frame marked; a retry's answer gets through.
                del self._answer_seqs[frame.seq]
                continue
            kept += wire
        self._deliver(bytes(kept))

    async def close(self) -> None:
        """Detach from the device."""
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._mark_lost("closed")

    def frames_of(self, type_: MsgType) -> list[Sent]:
        """The frames of one TYPE the host wrote."""
        return [s for s in self.sent if s.frame.type == type_]


def sim(m: Massager) -> SimulatedDevice:
    """The simulated device behind a ``sim:`` massager."""
    device = getattr(m.transport, "device", None)
    assert isinstance(device, SimulatedDevice)
    return device


class CountingClock:
    """A clock that counts how often it is read: a busy loop shows up as thousands of reads."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner
        self.reads = 0

    @property
    def speedup(self) -> float:
        """The wrapped clock's speedup."""
        return self.inner.speedup

    def now(self) -> float:
        """The wrapped clock's time, counted."""
        self.reads += 1
        return self.inner.now()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep on the wrapped clock."""
        await self.inner.sleep_until(deadline)

    def busy(self) -> AbstractContextManager[None]:
        """The wrapped clock's busy marker."""
        return self.inner.busy()

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """The wrapped clock's timer."""
        return self.inner.timer(deadline)


async def wait_until(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Poll ``condition`` until it holds; fail the test if it does not ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
