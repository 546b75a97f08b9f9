"""Is what a device reports possible? Its range (from its INFO or profile) and physical bounds.

Every state a driver learns passes :func:`check_state` on its way up (the
:class:`~massagectl.device.Massager` calls it), whatever the protocol: a device that says it
runs speed 255 of 10, or reads 900 °C, is broken or not the device its profile describes, and
nothing it says can be trusted any more. The device layer marks such a state with the fault
:data:`~massagectl.device_types.BAD_REPORT` and the :class:`~massagectl.device_types.BadValue`
findings; a run then ends with every device stopped, and ``Massager.status()`` raises
:class:`BadDeviceReport`.

The bounds, and why:

- speed, heat and program: ``0`` to the device's own top level, program count (its INFO for
  OMP/1, else its profile). A level above is one the device cannot be at.
- temperature: :data:`TEMPERATURE_C`, the measuring range of the sensors such devices carry
  (thermistors and digital sensors alike read from -40 to 125 °C). A reading outside is no
  measurement; a reading inside, however hot, is the safety envelope's business, not this one.
- battery: :data:`BATTERY_PCT`, 0 to 100 %: a charge cannot be more than full.

The time left to a device's auto-off is not checked: any length is possible, and none harms
(how long a session may last is the safety envelope's limit).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

from ..device_types import BAD_REPORT, BadValue, DeviceInfo, DeviceState
from ..errors import DeviceError

#: What a temperature sensor of a massager can read, °C (see the module notes).
TEMPERATURE_C: Final = (-40.0, 125.0)
#: What a battery can hold, %.
BATTERY_PCT: Final = (0, 100)


class BadDeviceReport(DeviceError):
    """The device reported a value that cannot be (outside its range or a physical bound)."""

    def __init__(self, device: str, bad: tuple[BadValue, ...]) -> None:
        super().__init__(f"{device}: the device reported what cannot be: {describe(bad)}")
        #: The device's name and what it reported.
        self.device = device
        self.bad_values = bad


def describe(bad: tuple[BadValue, ...]) -> str:
    """The findings on one line: ``speed 255 is outside 0..10, battery 250 % is outside ...``."""
    return ", ".join(b.message for b in bad)


def check_state(state: DeviceState, info: DeviceInfo) -> tuple[BadValue, ...]:
    """What in ``state`` cannot be, for a device that can do ``info``; empty when all can."""
    # Every status of every device comes here: the common case (all in range) costs a handful
    # of comparisons and makes nothing.
    if (
        _level_ok(state.speed, info.speed_levels)
        and _level_ok(state.heat, info.heat_levels)
        and _level_ok(state.program, info.program_count)
        and _temperature_ok(state.temperature_c)
        and _battery_ok(state.battery)
    ):
        return ()
    bad: list[BadValue] = []
    for field, value, top in (
        ("speed", state.speed, info.speed_levels),
        ("heat", state.heat, info.heat_levels),
        ("program", state.program, info.program_count),
    ):
        if not _level_ok(value, top):
            bad.append(BadValue(field, value, 0, top))
    if not _temperature_ok(state.temperature_c):
        low, high = TEMPERATURE_C
        bad.append(BadValue("temperature", state.temperature_c, low, high, " °C"))
    if not _battery_ok(state.battery):
        low_pct, high_pct = BATTERY_PCT
        bad.append(BadValue("battery", state.battery, low_pct, high_pct, " %"))
    return tuple(bad)


def marked(state: DeviceState, info: DeviceInfo) -> DeviceState:
    """``state`` with what cannot be in it marked: the fault BAD_REPORT, and its bad values."""
    bad = check_state(state, info)
    if bad == state.bad_values:
        return state
    faults = tuple(f for f in state.faults if f != BAD_REPORT)
    return dataclasses.replace(
        state, faults=(*faults, BAD_REPORT) if bad else faults, bad_values=bad
    )


def _level_ok(value: object, top: int) -> bool:
    # A bool is an int to Python, but no level: a state built from a document (a gateway's)
    # could carry one.
    return type(value) is int and 0 <= value <= top


def _temperature_ok(value: object) -> bool:
    if value is None:
        return True  # no sensor
    if type(value) not in (int, float):
        return False
    assert isinstance(value, int | float)
    return math.isfinite(value) and TEMPERATURE_C[0] <= value <= TEMPERATURE_C[1]


def _battery_ok(value: object) -> bool:
    if value is None:
        return True  # mains powered
    return type(value) is int and BATTERY_PCT[0] <= value <= BATTERY_PCT[1]


__all__ = [
    "BATTERY_PCT",
    "TEMPERATURE_C",
    "BadDeviceReport",
    "check_state",
    "describe",
    "marked",
]
