"""The value types every layer shares: what a device can do, what it reported, what it is asked.

They sit below everything else (drivers, the device layer, safety, programs, mqtt, the CLI all
import them from here), so that no layer has to reach into another's module for a plain value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .profiles import Profile

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
    #: The physical speed of each level in :attr:`speed_unit`, where the profile gives them;
    #: empty when a level is itself a number of that unit (Theragun: level 1200 is 1200 rpm).
    speed_values: tuple[float, ...] = ()

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
            speed_values=tuple(caps.speed.values) if caps.speed else (),
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
