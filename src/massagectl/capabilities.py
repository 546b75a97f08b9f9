"""What a device offers, described once: its features.

A feature is one thing a person can watch or set on a device (the motor's speed, the heat, the
device's own programs, the temperature, the battery, the time left, the link). The MQTT state
document, Home Assistant's discovery and the CLI's status table are each generated from the
same features, so they cannot disagree on what a device has or in which unit it counts: a gun
whose speed is set in rpm shows rpm everywhere, and only a battery device has a battery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum, StrEnum, auto
from functools import lru_cache
from typing import Any, Final

from .device_types import DeviceInfo, DeviceState
from .mapping import HEAT_NAMES, heat_name_to_level

#: What a feature reads from a state: a level, a measurement, a name, a flag, or unknown.
Value = int | float | str | bool | None


class Category(StrEnum):
    """Whether a person sets a feature or only watches it."""

    CONTROL = "control"
    SENSOR = "sensor"
    DIAGNOSTIC = "diagnostic"


class FeatureKind(Enum):
    """The kinds of feature a device can have (each surface renders a kind its own way)."""

    SPEED = auto()
    HEAT = auto()
    DEVICE_PROGRAM = auto()
    TEMPERATURE = auto()
    BATTERY = auto()
    TIME_LEFT = auto()
    CONNECTED = auto()


@dataclass(frozen=True, slots=True)
class Feature:
    """One thing a device offers: what it is called, its unit and range, how to read and set it."""

    kind: FeatureKind
    #: The feature's key in the MQTT state document (``speed_level``, ``temperature_c``).
    id: str
    #: What a person calls it (``speed``, ``time left``).
    name: str
    category: Category
    #: How it reads back from a state (the state's raw value, or a name for a level).
    reader: Callable[[DeviceState], Value]
    #: The physical unit (``rpm``, ``°C``, ``%``, ``s``); empty for plain levels and names.
    unit: str = ""
    minimum: int = 0
    maximum: int = 0
    #: The values a person picks from (heat names, the device's program names).
    options: tuple[str, ...] = ()
    #: The key of the MQTT ``set`` command that sets it; None for what is only watched.
    setting: str | None = None

    def read(self, state: DeviceState) -> Value:
        """The feature's value in ``state``."""
        return self.reader(state)


# Both are cached: pure, small, and asked at every state document.
@lru_cache(maxsize=1024)
def heat_options(levels: int) -> tuple[str, ...]:
    """What a person can pick for heat: names for up to three levels, else level numbers."""
    if levels <= 0:
        return ("off",)
    if levels > 3:
        return ("off", *(str(n) for n in range(1, levels + 1)))
    by_level: dict[int, str] = {}
    for name in HEAT_NAMES:
        # The top level is always "high"; otherwise the first name that reaches a level.
        level = heat_name_to_level(name, levels)
        if name == "high" or level not in by_level:
            by_level[level] = name
    return tuple(by_level[level] for level in sorted(by_level))


@lru_cache(maxsize=1024)
def heat_label(level: int, levels: int) -> str:
    """The option of :func:`heat_options` that stands for ``level``."""
    if levels > 3:
        return "off" if level == 0 else str(level)
    for name in heat_options(levels):
        if heat_name_to_level(name, levels) == level:
            return name
    return str(level)


def _control(
    kind: FeatureKind,
    key: str,
    name: str,
    reader: Callable[[DeviceState], Value],
    maximum: int,
    **extra: Any,
) -> Feature:
    # What a person sets is set under the same key the state document reads it from.
    return Feature(kind, key, name, Category.CONTROL, reader, maximum=maximum, setting=key, **extra)


def speed_feature(info: DeviceInfo) -> Feature:
    """The motor: a level 0..levels, in the profile's unit where a level is physical (rpm)."""
    speed = _control(
        FeatureKind.SPEED, "speed_level", "speed", lambda s: s.speed, info.speed_levels
    )
    return replace(speed, unit=level_unit(info))


def level_unit(info: DeviceInfo) -> str:
    """The unit a speed level counts in: the profile's unit where a level is a number of it
    (rpm), none where levels are steps (``level``, or steps with a speed each)."""
    if info.speed_values or info.speed_unit == "level":
        return ""
    return info.speed_unit


def heat_feature(info: DeviceInfo) -> Feature:
    """The heater: a level, shown and picked by name (``low``) or number."""
    levels = info.heat_levels
    options = heat_options(levels)
    return _control(
        FeatureKind.HEAT,
        "heat",
        "heat",
        lambda s: heat_label(s.heat, levels),
        levels,
        options=options,
    )


def device_program_feature(info: DeviceInfo) -> Feature:
    """The device's own programs, by name (None while none runs)."""

    def name(state: DeviceState) -> str | None:
        return info.program_name(state.program) if state.program else None

    return _control(
        FeatureKind.DEVICE_PROGRAM,
        "device_program",
        "program",
        name,
        info.program_count,
        options=info.program_names,
    )


def _sensor(
    kind: FeatureKind, key: str, name: str, reader: Callable[[DeviceState], Value], unit: str = ""
) -> Feature:
    return Feature(kind, key, name, Category.SENSOR, reader, unit=unit)


# The sensors every device of a kind shares: nothing about them depends on the device.
TEMPERATURE: Final = _sensor(
    FeatureKind.TEMPERATURE, "temperature_c", "temperature", lambda s: s.temperature_c, "°C"
)
BATTERY: Final = replace(
    _sensor(FeatureKind.BATTERY, "battery", "battery", lambda s: s.battery, "%"), maximum=100
)
#: Time left of the device's own timer: its program, else its auto-off.
TIME_LEFT: Final = _sensor(
    FeatureKind.TIME_LEFT, "time_left_s", "time left", lambda s: s.remaining_s, "s"
)
#: The link to the device: a diagnostic, since nobody sets it.
CONNECTED: Final = Feature(
    FeatureKind.CONNECTED, "connected", "connected", Category.DIAGNOSTIC, lambda s: s.connected
)


# Cached: the gateway makes a state document at every change, and a device's features change
# only with its (frozen, hashable) info.
@lru_cache(maxsize=256)
def device_features(info: DeviceInfo) -> tuple[Feature, ...]:
    """Every feature of a device that can do what ``info`` says, in the order people read them."""
    features: list[Feature] = []
    if info.speed_levels > 0:
        features.append(speed_feature(info))
    if info.heat_levels > 0:
        features.append(heat_feature(info))
    if info.program_count > 0:
        features.append(device_program_feature(info))
    # A heater is watched through its temperature even when the profile lists no sensor: the
    # device may still say, and an unknown temperature shows as unknown.
    if info.temperature_sensor or info.heat_levels > 0:
        features.append(TEMPERATURE)
    if info.battery_powered:
        features.append(BATTERY)
    features += [TIME_LEFT, CONNECTED]
    return tuple(features)


def find(features: tuple[Feature, ...], kind: FeatureKind) -> Feature | None:
    """The feature of that kind, if the device has it."""
    return next((f for f in features if f.kind is kind), None)
