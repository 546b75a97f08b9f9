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
from enum import Enum
from typing import ClassVar, TypeVar

from ..clock import Clock
from ..errors import LinkLost
from ..profiles import Profile
from ..transports.base import Transport

T = TypeVar("T")

#: The fault name a driver reports when a device that does not report faults of its own stops
#: while the host left it running (its own button, a stalled motor, a flat battery: the protocol
#: does not say which). It clears with the host's next command.
STOPPED_BY_DEVICE = "STOPPED_BY_DEVICE"
#: Likewise for the heat alone: the device switched it off by itself (a heater cut-out, its own
#: button) while the host left it on. It clears with the host's next command.
HEAT_OFF_BY_DEVICE = "HEAT_OFF_BY_DEVICE"
#: The fault the device layer adds when a device reports a value that cannot be (outside its
#: range or a physical bound, see :mod:`massagectl.drivers.checks`); the state's
#: :attr:`DeviceState.bad_values` say which.
BAD_REPORT = "BAD_REPORT"


class CommandKind(Enum):
    """What the device layer can ask of any device."""

    SPEED = "speed"
    HEAT = "heat"
    PROGRAM = "program"
    STOP = "stop"
    STATUS = "status"
    PING = "ping"


@dataclass(frozen=True, slots=True)
class Command:
    """One command, its value already checked against the device's range."""

    kind: CommandKind
    value: int = 0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the connected device can do (from the device where it says, else its profile)."""

    speed_levels: int
    heat_levels: int
    program_count: int
    max_temp_c: int
    watchdog_s: float
    battery_powered: bool
    temperature_sensor: bool
    program_names: tuple[str, ...] = ()
    #: What a speed level means physically (``rpm``, ``percussions/min``), if known.
    speed_unit: str = ""

    def program_name(self, index: int) -> str:
        """The name of a built-in program (1-based), or ``#N`` when the profile has none."""
        if 1 <= index <= len(self.program_names):
            return self.program_names[index - 1]
        return f"#{index}"

    @classmethod
    def from_profile(cls, profile: Profile) -> DeviceInfo:
        """Capabilities as the profile states them (devices that cannot tell)."""
        caps = profile.capabilities
        return cls(
            speed_levels=profile.speed_levels,
            heat_levels=profile.heat_levels,
            program_count=len(caps.programs),
            max_temp_c=profile.limits.max_temp_c,
            watchdog_s=profile.limits.watchdog_s,
            battery_powered=caps.battery,
            temperature_sensor=caps.temperature_sensor,
            program_names=tuple(p.name for p in caps.programs),
            speed_unit=caps.speed.unit if caps.speed else "",
        )


@dataclass(frozen=True, slots=True)
class BadValue:
    """One value a device reported that cannot be: which, what it said, and what it may say."""

    #: The state field as the person knows it: ``speed``, ``heat``, ``program``,
    #: ``temperature``, ``battery``.
    field: str
    value: object
    low: float
    high: float
    #: Shown after the numbers (`` °C``, `` %``), empty for levels.
    unit: str = ""

    @property
    def message(self) -> str:
        """``speed 255 is outside 0..10``."""
        value = self.value
        if isinstance(value, float) and math.isfinite(value):
            shown = f"{value:.1f}"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            shown = str(value)
        else:
            return f"{self.field} {value!r} is not a number"
        return f"{self.field} {shown}{self.unit} is outside {self.low:g}..{self.high:g}{self.unit}"


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the device reported last (or, for a device that never says, was last told)."""

    speed: int = 0
    heat: int = 0
    program: int = 0
    temperature_c: float | None = None
    battery: int | None = None
    #: Fault names: OMP/1's STATUS bits (OVERHEAT, WATCHDOG_STOP, LOW_BATTERY, MOTOR, AUTO_OFF,
    #: and ``FAULT_BIT5`` .. ``FAULT_BIT7`` for bits the protocol does not define), what a driver
    #: infers for a device that reports none (AUTO_OFF, STOPPED_BY_DEVICE, HEAT_OFF_BY_DEVICE),
    #: or BAD_REPORT from the device layer.
    faults: tuple[str, ...] = ()
    remaining_s: int = 0
    connected: bool = True
    #: What the device reported that cannot be; set by the device layer, with the fault
    #: :data:`BAD_REPORT`. The fields above keep the values as reported.
    bad_values: tuple[BadValue, ...] = ()

    @property
    def active(self) -> bool:
        """Whether the motor runs, the heater heats or a program runs."""
        return self.speed > 0 or self.heat > 0 or self.program > 0


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
