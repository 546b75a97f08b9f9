"""A first-order model of a massager's heater, solved exactly so that any time step is fine.

The heater pulls the temperature towards a target with time constant ``tau``::

    dT/dt = (T_target - T) / tau

whose solution over a step ``dt`` is ``T_target + (T - T_target) * exp(-dt / tau)``. Using the
solution rather than an Euler step means a test may jump an hour ahead in one call and still get
the right temperature, and the firmware can compute *when* a threshold (the cut-out temperature)
is crossed instead of discovering it one tick late.
"""

from __future__ import annotations

import math

from massagectl.profiles import HeatCapability, Profile

#: The time constant used when the device has no heater: it still cools after a test heats it.
DEFAULT_TIME_CONSTANT_S = 120.0


class ThermalModel:
    """Temperature of a heater element that settles exponentially at the level's temperature.

    The target is the ambient temperature with the heat off, and the profile's
    ``capabilities.heat.celsius[level - 1]`` on a level. Two test-facing overrides provoke an
    overheat: :meth:`set_temperature` moves the temperature at once, and :attr:`runaway_c` makes
    the heater aim for another temperature while it is on (a failed thermostat).
    """

    def __init__(
        self,
        heat: HeatCapability | None,
        ambient_c: float = 22.0,
        temperature_c: float | None = None,
    ) -> None:
        self._celsius: tuple[float, ...] = tuple(heat.celsius) if heat else ()
        self._tau = heat.time_constant_s if heat else DEFAULT_TIME_CONSTANT_S
        self._ambient = float(ambient_c)
        self._temperature = float(ambient_c if temperature_c is None else temperature_c)
        self._level = 0
        #: While set, a heater that is on aims for this temperature instead of its level's.
        self.runaway_c: float | None = None

    @classmethod
    def from_profile(cls, profile: Profile) -> ThermalModel:
        """The model of a profile's heater, starting at the ambient temperature."""
        return cls(profile.capabilities.heat, profile.simulation.ambient_c)

    @property
    def ambient_c(self) -> float:
        """The temperature the element settles at with the heat off, °C."""
        return self._ambient

    @property
    def time_constant_s(self) -> float:
        """The heater's time constant, seconds."""
        return self._tau

    @property
    def levels(self) -> int:
        """How many heat levels the heater has (0 when there is no heater)."""
        return len(self._celsius)

    @property
    def level(self) -> int:
        """The heat level the heater is driven at now (0 is off)."""
        return self._level

    def set_level(self, level: int) -> None:
        """Drive the heater at a level (0 is off)."""
        if not 0 <= level <= len(self._celsius):
            raise ValueError(f"heat level {level} is outside 0..{len(self._celsius)}")
        self._level = level

    @property
    def temperature_c(self) -> float:
        """The temperature now, °C."""
        return self._temperature

    def set_temperature(self, celsius: float) -> None:
        """Put the element at a temperature at once (a test-facing override)."""
        self._temperature = float(celsius)

    @property
    def target_c(self) -> float:
        """The temperature the element is heading for."""
        if self._level == 0:
            return self._ambient
        if self.runaway_c is not None:
            return self.runaway_c
        return self._celsius[self._level - 1]

    def temperature_after(self, dt: float) -> float:
        """The temperature ``dt`` seconds from now if nothing changes; does not advance."""
        if dt <= 0:
            return self._temperature
        target = self.target_c
        return target + (self._temperature - target) * math.exp(-dt / self._tau)

    def advance(self, dt: float) -> float:
        """Let ``dt`` seconds pass; return the new temperature."""
        self._temperature = self.temperature_after(dt)
        return self._temperature

    def time_until_above(self, celsius: float) -> float | None:
        """Seconds until the temperature is at least ``celsius``; None if it never gets there."""
        now, target = self._temperature, self.target_c
        if now >= celsius:
            return 0.0
        if target <= celsius:
            return None
        return self._tau * math.log((target - now) / (target - celsius))

    def time_until_below(self, celsius: float) -> float | None:
        """Seconds until the temperature is at most ``celsius``; None if it never gets there."""
        now, target = self._temperature, self.target_c
        if now <= celsius:
            return 0.0
        if target >= celsius:
            return None
        return self._tau * math.log((now - target) / (celsius - target))
