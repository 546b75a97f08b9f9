"""What every protocol driver offers the device layer.

The :class:`~massagectl.device.Massager` above a driver validates values against the device's
range, coalesces setpoints, keeps the device fed and stops it on every way out; it hands the
driver one :class:`Command` at a time. The driver knows its protocol: how to greet the device,
what a command looks like on the wire, whether and how the device answers, and how to read its
state. Codecs stay sans-I/O in :mod:`massagectl.protocols`; a driver is the thin layer that does
the I/O for one of them.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from ..clock import Clock
from ..device_types import Command, DeviceInfo, DeviceState
from ..errors import LinkLost
from ..profiles import Profile
from ..transports.base import Transport

T = TypeVar("T")

StateSink = Callable[[DeviceState], None]


@dataclass
class Driver(ABC):
    """The host side of one protocol over one transport."""

    transport: Transport
    profile: Profile
    clock: Clock
    name: str
    #: Called with every new state the driver learns.
    on_state: StateSink
    #: Broken frames or answers received and dropped (told in a link error if it dies of them).
    bad_frames: int = 0
    #: Requests sent again for want of an answer in time (a late or lost answer).
    retries: int = 0
    #: Clock time of the last write, for the device layer's pacing and keepalive.
    last_write: float = -math.inf
    _state: DeviceState = field(default_factory=DeviceState)

    #: Whether :meth:`feed` may be called while this driver's own write to the transport is
    #: still running (an in-process device answers before ``write`` returns). Only for a driver
    #: that sets up, before writing, everything an answer is matched against, and that does
    #: nothing after the write that an earlier answer would get wrong.
    feed_while_writing: ClassVar[bool] = False
    #: Whether :meth:`execute` may run in the caller's own task rather than the device layer's
    #: writer: it must stay sound when cancelled part-way (no answer matched to the wrong
    #: command afterwards), since the caller's cancellation then reaches into it.
    direct_execute: ClassVar[bool] = False

    @property
    def min_gap_s(self) -> float:
        """The shortest gap between two writes (the protocol's or the profile's pacing)."""
        return self.profile.link.min_write_gap_s

    def keepalive_s(self, info: DeviceInfo) -> float | None:
        """How often to send something while the device is active (None: no need)."""
        return self.profile.link.keepalive_s

    @abstractmethod
    async def start(self) -> DeviceInfo:
        """Greet the device (the reader is already running); return what it can do."""

    @abstractmethod
    async def execute(self, command: Command) -> None:
        """Carry out one command; raise DeviceRefused if the device says no, LinkLost if it is
        gone or silent."""

    @abstractmethod
    def feed(self, data: bytes) -> None:
        """Bytes the device sent."""

    def link_lost(self, exc: LinkLost) -> None:  # noqa: B027 - optional hook
        """The link is gone: fail whatever waits on an answer."""

    def unanswered_stop(self) -> bytes | None:
        """The protocol's stop as bytes to write without waiting for an answer: the last word
        to a device that stopped answering but may still hear (None: none known)."""
        return None

    @property
    def state(self) -> DeviceState:
        """The state as the driver knows it."""
        return self._state

    def publish(self, state: DeviceState) -> None:
        """Record and announce a new state."""
        self._state = state
        self.on_state(state)

    async def wait_answer(self, waiter: asyncio.Future[T], what: str, timeout_s: float) -> T:
        """Wait for an answer the reader will deliver; LinkLost if none comes in time.

        Wall time, since it is the link's latency; virtual time stands still meanwhile.
        """
        with self.clock.busy():
            try:
                async with asyncio.timeout(timeout_s):
                    return await asyncio.shield(waiter)
            except TimeoutError:
                raise LinkLost(f"{self.name}: no answer to {what} within {timeout_s:g} s") from None

    async def write(self, data: bytes) -> None:
        """Write to the transport, keeping to the pacing on the injected clock."""
        await self.clock.sleep_until(self.last_write + self.min_gap_s)
        await self.transport.write(data)
        self.last_write = self.clock.now()


#: protocol name -> (module in this package, driver class)
_DRIVERS: dict[str, tuple[str, str]] = {
    "omp": ("omp", "OmpDriver"),
    "theragun": ("theragun", "TheragunDriver"),
    "lovense": ("lovense", "LovenseDriver"),
    "rongtai": ("rongtai", "RongTaiDriver"),
}


def driver_for(
    transport: Transport, profile: Profile, clock: Clock, name: str, on_state: StateSink
) -> Driver:
    """The driver for the profile's protocol (imported on first use)."""
    module_name, class_name = _DRIVERS[profile.protocol]
    module = importlib.import_module(f".{module_name}", __package__)
    driver_class: type[Driver] = getattr(module, class_name)
    return driver_class(transport, profile, clock, name, on_state)
