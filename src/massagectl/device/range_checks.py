"""The values a device takes, checked against what it can do before anything is sent."""

from __future__ import annotations

import operator

from ..device_types import DeviceInfo
from ..errors import ValueOutOfRange
from ..mapping import fraction_to_level, heat_name_to_level

__all__ = ["check_range", "heat_level", "speed_level"]


def check_range(name: str, what: str, value: int, top: int, lacking: str) -> None:
    """Refuse ``value`` unless it is a whole number in 0..``top``; a device whose ``top`` is 0
    has no ``lacking`` at all, and takes only 0. ``name`` is the device, for the message."""
    try:
        if isinstance(value, bool):
            raise TypeError
        operator.index(value)
    except TypeError:
        raise ValueOutOfRange(f"{name}: {what} {value!r} is not a whole number") from None
    if top == 0 and value != 0:
        raise ValueOutOfRange(f"{name}: this device has no {lacking}")
    if not 0 <= value <= top:
        raise ValueOutOfRange(f"{name}: {what} {value} is outside 0..{top}")


def speed_level(name: str, info: DeviceInfo, fraction: float) -> int:
    """The speed level for ``fraction`` of the device's range (0 is off)."""
    try:
        level = fraction_to_level(fraction, info.speed_levels)
    except ValueOutOfRange as exc:
        raise ValueOutOfRange(f"{name}: speed {exc}") from None
    if fraction > 0 and info.speed_levels == 0:
        raise ValueOutOfRange(f"{name}: this device has no motor")
    return level


def heat_level(name: str, info: DeviceInfo, heat: str | int) -> int:
    """The heat level for a name (off, low, medium, high) or a level, checked either way."""
    if isinstance(heat, str):
        if heat.lower() != "off" and info.heat_levels == 0:
            raise ValueOutOfRange(f"{name}: this device has no heater")
        try:
            level = heat_name_to_level(heat, info.heat_levels)
        except ValueOutOfRange as exc:
            raise ValueOutOfRange(f"{name}: {exc}") from None
    else:
        level = heat
    check_range(name, "heat level", level, info.heat_levels, "heater")
    return level
