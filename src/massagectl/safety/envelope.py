"""The envelope every command passes through on its way to a device.

It sits in the device layer, so the scheduler, the CLI, the Python API and the MQTT bridge all
go through it: it caps speed and heat levels, switches the heat off after the longest continuous
heat (and keeps it off for a rest), and stops the device when the session has lasted its
longest (and starts nothing more until the session has rested, or the person resets it). What
it holds back is reported as a :class:`Cut`, so the person is told.

It counts what the device did, from the states it reports, into a :class:`SafetyMemory` that
may outlive it (see :mod:`.memory`). Two rules make the count survive the device's own stops:

* the heat's time adds up across breaks shorter than ``heat_rest``: a device that switched
  itself off (auto-off, a watchdog stop) and was started again, or a link that dropped and came
  back, has not let the skin rest. Only a break of at least ``heat_rest`` starts the count
  afresh. While the link is down nothing is reported, and the heat counts as still on;
* the session runs on across spells at rest shorter than ``session_rest``; one of at least
  ``session_rest`` ends it, and the next activity starts a new one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..device_types import CommandKind, DeviceInfo, DeviceState
from ..durations import format_duration
from .limits import SafetyLimits
from .memory import SafetyMemory

CutKind = Literal["speed", "heat", "heat-time", "heat-rest", "session"]


@dataclass(frozen=True, slots=True)
class Cut:
    """Something the envelope held back or ended."""

    kind: CutKind
    asked: int
    allowed: int
    message: str


Action = Literal["heat-off", "stop"]

#: How often the memory's keeper hears that the device was seen, when nothing else changed.
SEEN_KEPT_EVERY_S = 15.0


class SafetyEnvelope:
    """The limits for one connected device, and the clock-driven part of enforcing them."""

    def __init__(
        self, limits: SafetyLimits, info: DeviceInfo, memory: SafetyMemory | None = None
    ) -> None:
        self.limits = limits
        self.max_speed = limits.max_speed_level(info.speed_levels)
        self.max_heat = limits.max_heat_level(info.heat_levels)
        #: What it has seen of the device; shared with whoever keeps the device for longer.
        self.memory = memory if memory is not None else SafetyMemory()
        self._told_at = -math.inf

    # --- commands on their way to the device -----------------------------------------------

    def admit(self, kind: CommandKind, value: int, now: float) -> tuple[int, Cut | None]:
        """The value that may be sent for a command asking for ``value``, and any cut."""
        if value <= 0 or kind not in (CommandKind.SPEED, CommandKind.HEAT, CommandKind.PROGRAM):
            return value, None
        refusal = self.session_refusal(now, value)
        if refusal is not None:
            return 0, refusal
        if kind is CommandKind.SPEED and value > self.max_speed:
            return self.max_speed, Cut(
                "speed",
                value,
                self.max_speed,
                f"speed level {value} capped at {self.max_speed} "
                f"(max intensity {self.limits.max_intensity:.0%})",
            )
        if kind is CommandKind.HEAT:
            rest_until = self.memory.heat_rest_until
            if now < rest_until:
                return 0, Cut(
                    "heat-rest",
                    value,
                    0,
                    f"heat stays off for {format_duration(rest_until - now)} more "
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

    def session_refusal(self, now: float, asked: int = 1) -> Cut | None:
        """Why nothing may start now, if the session is over and has not rested yet."""
        memory = self.memory
        if memory.session_over_at is None:
            return None
        rest_end = self._session_rest_end(now)
        if now >= rest_end:
            # Rested long enough: the next activity starts a new session.
            memory.reset_session()
            return None
        return Cut(
            "session",
            asked,
            0,
            f"the session has lasted its longest ({format_duration(self.limits.max_session_s)})"
            f"; nothing starts for {format_duration(rest_end - now)} more at rest "
            "(or after `massagectl safety-reset`)",
        )

    def reset_session(self) -> None:
        """The person's explicit reset: the session is forgotten (the heat's rest is not)."""
        self.memory.reset_session()

    def _session_rest_end(self, now: float) -> float:
        memory = self.memory
        over_at = memory.session_over_at if memory.session_over_at is not None else now
        # The rest runs from the later of the cut and the last moment the device was active
        # (a device started by its own button after the cut has not rested).
        resting_since = memory.idle_since if memory.idle_since is not None else now
        return max(over_at, resting_since) + self.limits.session_rest_s

    # --- what the device does, and what falls due ----------------------------------------------

    def observe(self, state: DeviceState, now: float) -> None:
        """Follow the device's reported state: heat on and off, active and at rest."""
        memory = self.memory
        limits = self.limits
        changed = False
        if state.heat > 0:
            if memory.heat_on_since is None:
                rested = (
                    memory.heat_off_since is not None
                    and now - memory.heat_off_since >= limits.heat_rest_s
                )
                if rested:
                    memory.heat_on_s = 0.0
                memory.heat_on_since, memory.heat_off_since = now, None
                changed = True
        elif memory.heat_on_since is not None:
            memory.heat_on_s += now - memory.heat_on_since
            memory.heat_on_since, memory.heat_off_since = None, now
            changed = True
        if state.active:
            rested = (
                memory.idle_since is not None
                and now - memory.idle_since >= limits.session_rest_s
                and memory.session_over_at is None
            )
            if memory.session_since is None or rested:
                memory.session_since = now
                changed = True
            if memory.idle_since is not None:
                memory.idle_since = None
                changed = True
        elif memory.idle_since is None and memory.session_since is not None:
            memory.idle_since = now
            changed = True
        # Seen now: kept now and then even when nothing changed, so that the memory of a
        # process that is killed outright says until when it saw the device.
        last_seen = memory.seen_at
        memory.seen_at = now
        if changed or last_seen is None or now - self._told_at >= SEEN_KEPT_EVERY_S:
            self._told_at = now
            memory.changed()

    def next_deadline(self) -> float | None:
        """When the envelope next has to act by itself (None: nothing pending)."""
        memory = self.memory
        deadlines = []
        if memory.heat_on_since is not None:
            left = self.limits.max_continuous_heat_s - memory.heat_on_s
            deadlines.append(memory.heat_on_since + left)
        if memory.session_since is not None and memory.session_over_at is None:
            deadlines.append(memory.session_since + self.limits.max_session_s)
        return min(deadlines) if deadlines else None

    def due(self, now: float) -> list[tuple[Action, Cut]]:
        """What must be done now, with what to tell the person."""
        memory = self.memory
        limits = self.limits
        session_end = (
            memory.session_since + limits.max_session_s
            if memory.session_since is not None and memory.session_over_at is None
            else math.inf
        )
        if now >= session_end:
            memory.session_over_at = now
            memory.changed()
            longest = format_duration(limits.max_session_s)
            rest = format_duration(limits.session_rest_s)
            message = (
                f"the session reached its longest ({longest}): device stopped; nothing starts "
                f"until it has been at rest for {rest} (or after `massagectl safety-reset`)"
            )
            return [("stop", Cut("session", 0, 0, message))]
        actions: list[tuple[Action, Cut]] = []
        heat_on = memory.heat_on_since
        if heat_on is not None and now >= heat_on + limits.max_continuous_heat_s - memory.heat_on_s:
            # The count starts afresh after this rest, which is the full rest it asks for.
            memory.heat_on_s = 0.0
            memory.heat_on_since, memory.heat_off_since = None, now
            memory.heat_rest_until = now + limits.heat_rest_s
            memory.changed()
            actions.append(
                (
                    "heat-off",
                    Cut(
                        "heat-time",
                        0,
                        0,
                        f"heat was on for {format_duration(limits.max_continuous_heat_s)} without"
                        f" a break: off for at least {format_duration(limits.heat_rest_s)}",
                    ),
                )
            )
        return actions
