"""The envelope every command passes through on its way to a device.

It sits in the device layer, so the scheduler, the CLI, the Python API and the MQTT bridge all
go through it: it caps speed and heat levels, switches the heat off after the longest continuous
heat (and keeps it off for a rest), and stops the device when the session has lasted its
longest. What it holds back is reported as a :class:`Cut`, so the person is told.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..drivers.base import CommandKind, DeviceInfo, DeviceState
from ..durations import format_duration
from .limits import SafetyLimits

CutKind = Literal["speed", "heat", "heat-time", "heat-rest", "session"]


@dataclass(frozen=True, slots=True)
class Cut:
    """Something the envelope held back or ended."""

    kind: CutKind
    asked: int
    allowed: int
    message: str


Action = Literal["heat-off", "stop"]


class SafetyEnvelope:
    """The limits for one connected device, and the clock-driven part of enforcing them."""

    def __init__(self, limits: SafetyLimits, info: DeviceInfo) -> None:
        self.limits = limits
        self.max_speed = limits.max_speed_level(info.speed_levels)
        self.max_heat = limits.max_heat_level(info.heat_levels)
        self._heat_since: float | None = None
        self._rest_until = -math.inf
        self._session_since: float | None = None
        self._session_over = False

    # --- commands on their way to the device -----------------------------------------------

    def admit(self, kind: CommandKind, value: int, now: float) -> tuple[int, Cut | None]:
        """The value that may be sent for a command asking for ``value``, and any cut."""
        if value <= 0 or kind not in (CommandKind.SPEED, CommandKind.HEAT, CommandKind.PROGRAM):
            return value, None
        if self._session_over:
            return 0, Cut(
                "session",
                value,
                0,
                f"the session has lasted its longest ({format_duration(self.limits.max_session_s)})"
                "; nothing more is started",
            )
        if kind is CommandKind.SPEED and value > self.max_speed:
            return self.max_speed, Cut(
                "speed",
                value,
                self.max_speed,
                f"speed level {value} capped at {self.max_speed} "
                f"(max intensity {self.limits.max_intensity:.0%})",
            )
        if kind is CommandKind.HEAT:
            if now < self._rest_until:
                return 0, Cut(
                    "heat-rest",
                    value,
                    0,
                    f"heat stays off for {format_duration(self._rest_until - now)} more "
                    "after its longest continuous run",
                )
            if value > self.max_heat:
                return self.max_heat, Cut(
                    "heat",
                    value,
                    self.max_heat,
                    f"heat level {value} capped at {self.max_heat} (max heat)",
                )
        return value, None

    # --- what the device does, and what falls due ----------------------------------------------

    def observe(self, state: DeviceState, now: float) -> None:
        """Follow the device's reported state: when heat went on, when the session began."""
        if state.heat > 0:
            if self._heat_since is None:
                self._heat_since = now
        else:
            self._heat_since = None
        if state.active and self._session_since is None:
            self._session_since = now

    def next_deadline(self) -> float | None:
        """When the envelope next has to act by itself (None: nothing pending)."""
        deadlines = []
        if self._heat_since is not None:
            deadlines.append(self._heat_since + self.limits.max_continuous_heat_s)
        if self._session_since is not None and not self._session_over:
            deadlines.append(self._session_since + self.limits.max_session_s)
        return min(deadlines) if deadlines else None

    def due(self, now: float) -> list[tuple[Action, Cut]]:
        """What must be done now, with what to tell the person."""
        actions: list[tuple[Action, Cut]] = []
        limits = self.limits
        session_end = (
            self._session_since + limits.max_session_s
            if self._session_since is not None and not self._session_over
            else math.inf
        )
        if now >= session_end:
            self._session_over = True
            longest = format_duration(limits.max_session_s)
            message = f"the session reached its longest ({longest}): device stopped"
            return [("stop", Cut("session", 0, 0, message))]
        if self._heat_since is not None and now >= self._heat_since + limits.max_continuous_heat_s:
            self._heat_since = None
            self._rest_until = now + limits.heat_rest_s
            actions.append(
                (
                    "heat-off",
                    Cut(
                        "heat-time",
                        0,
                        0,
                        f"heat was on for {format_duration(limits.max_continuous_heat_s)} without a"
                        f" break: off for at least {format_duration(limits.heat_rest_s)}",
                    ),
                )
            )
        return actions
