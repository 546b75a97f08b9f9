"""The core of every simulated firmware: its own time, state, physics, events and output.

:class:`~massagesim.firmware_base.BaseFirmware` adds the protocol surface and the test-facing
handle on top; the module notes there say how time and the shared rules work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import ClassVar, Final, Protocol

from massagectl.errors import ProfileError
from massagectl.profiles import BuiltinProgram, Profile, all_profiles, get_profile

from .firmware_state import FirmwareState
from .lies import Lies
from .recording import CommandRecord, Recording
from .sim_faults import NO_FAULTS, SimFault
from .thermal import ThermalModel

_LOG = logging.getLogger(__name__)

#: OVERHEAT clears once the temperature has fallen this far below ``max_temp_c``.
OVERHEAT_HYSTERESIS_C: Final = 5.0
#: More events than this at one instant means two events keep re-arming each other: a bug.
_MAX_EVENTS_AT_ONE_TIME: Final = 10_000

_Event = tuple[float, int, str, Callable[[], None]]


class Decoder(Protocol):
    """A protocol's sans-I/O decoder of what the host sends: bytes in, whole messages out."""

    def feed(self, data: bytes) -> Sequence[object]:
        """The commands (and broken input) ``data`` completes."""
        ...


def _event_order(event: _Event) -> tuple[float, int]:
    return event[0], event[1]


def simulatable_profile(profile: Profile | str) -> Profile:
    """Resolve a profile (or its name) and check that the simulator can stand in for it."""
    resolved = get_profile(profile) if isinstance(profile, str) else profile
    if not resolved.simulatable:
        concrete = ", ".join(p.name for p in all_profiles() if p.simulatable)
        raise ProfileError(
            f"device profile {resolved.name!r} takes its capabilities from the device's INFO, "
            f"so there is no model to simulate; pick a concrete model: {concrete}"
        )
    return resolved


class FirmwareCore:
    """State, time, physics and bookkeeping of one simulated device (see :class:`BaseFirmware`).

    The protocol surface every firmware offers: :meth:`receive` (bytes from the host),
    :meth:`tick` (let time pass), :meth:`next_due`, :meth:`new_link`, :meth:`link_lost` and
    :meth:`take_hangup`; each call returns the bytes the device sends, in order. The test-facing
    handle (:meth:`set_temperature`, :meth:`set_battery`, :meth:`inject_motor_fault`, ...) is
    the same for every protocol.
    """

    #: The ``protocol`` of the profiles this firmware serves.
    protocol: ClassVar[str] = ""
    #: Period of the unsolicited status while :meth:`_status_wanted`; None: no periodic status.
    status_period_s: ClassVar[float | None] = None
    #: The protocol's decoder (host to device); each link gets a fresh one.
    decoder: ClassVar[type[Decoder]]
    #: The decoder's "broken input" types: dropped without an answer (logged for debugging).
    dropped: ClassVar[tuple[type, ...]] = ()

    def __init__(
        self,
        profile: Profile | str,
        now: float = 0.0,
        *,
        state: FirmwareState | None = None,
        timeline: Recording | None = None,
        thermal: ThermalModel | None = None,
    ) -> None:
        self.profile: Profile = simulatable_profile(profile)
        if self.profile.protocol != self.protocol:
            raise ProfileError(
                f"device profile {self.profile.name!r} speaks {self.profile.protocol}, "
                f"not {self.protocol}: {type(self).__name__} cannot simulate it"
            )
        self._decoder: Decoder = self.decoder()
        self._setup()
        self.thermal: ThermalModel = (
            thermal if thermal is not None else ThermalModel.from_profile(self.profile)
        )
        self.state: FirmwareState = state if state is not None else FirmwareState()
        self.timeline: Recording = timeline if timeline is not None else Recording()
        self._t = float(now)
        self._out: list[bytes] = []
        self._last_status_at: float | None = None
        self._hangup = False
        #: Seconds of continuous activity before the device stops itself; None: no auto-off.
        self.auto_off_s: float | None = self.profile.limits.auto_off_s
        # auto_off_in(): when the running activity period ends, ahead of its normal auto-off.
        self._auto_off_due: float | None = None
        self._refusals = 0
        #: What the device reports instead of the truth (see :mod:`.lies`).
        self.lies = Lies()

        s = self.state
        s.temperature_c = self.thermal.temperature_c
        s.battery_pct = 100.0 if self.profile.capabilities.battery else None
        s.updated_at = self._t
        self._published = self._core_key()
        self._announced = self._announce_key()
        self.timeline.record_state(self._t, s, "power on")

    @property
    def now(self) -> float:
        """The clock time the firmware has been brought up to."""
        return self._t

    def _setup(self) -> None:
        """The protocol's own state, before the device powers on (the profile is known)."""

    # --- rules subclasses use and may refine --------------------------------------------------

    def _battery_empty(self) -> bool:
        return self.state.battery_pct is not None and self.state.battery_pct <= 0.0

    def _motor_blocked(self) -> bool:
        """Whether the motor may not start now (stalled, or the battery is empty)."""
        faults = self.state.faults
        # (A flag test costs more than the rest: most of the time there is no fault at all, and
        # the identity test is only a shortcut, an equal empty set falls through to the test.)
        return (faults is not NO_FAULTS and SimFault.MOTOR in faults) or self._battery_empty()

    def _program(self, index: int) -> BuiltinProgram:
        return self.profile.capabilities.programs[index - 1]

    def _start_program(self, index: int) -> None:
        s = self.state
        s.program = index
        s.program_started_at = self._t
        s.program_step = 0
        s.speed = self._program(index).levels[0]

    def _end_program(self) -> None:
        s = self.state
        s.program = 0
        s.program_started_at = None
        s.program_step = 0

    def _stop_all(self) -> None:
        self.state.speed = 0
        self.state.heat = 0
        self._end_program()

    def _record(self, name: str, value: int | None, answer: str) -> None:
        """Note a command received now (protocols without sequence numbers use SEQ 0)."""
        self.timeline.record_command(CommandRecord(self._t, name, 0, value, None, answer))

    def _status_wanted(self) -> bool:
        """Whether the periodic status runs now."""
        return self.state.active

    def _status_bytes(self) -> bytes | None:
        """The unsolicited status notification, None for a protocol that has none."""
        return None

    def _announce_key(self) -> Hashable:
        """What the status says besides the countdown: a change of it sends a status."""
        return self._core_key()

    def _on_link_lost(self) -> None:
        """What the device does when its link drops by accident (by default: nothing)."""

    def _on_motor_fault(self) -> None:
        self.state.speed = 0
        self._end_program()

    # --- time --------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Walk forward to ``now``, applying every event that falls due on the way."""
        if now < self._t:
            # A clock read a moment earlier by another caller; time inside never goes back.
            now = self._t
        same_time = 0
        while (event := self._next_event()) is not None and event[0] <= now:
            due, _prio, cause, apply = event
            due = max(due, self._t)
            same_time = same_time + 1 if due == self._t else 0
            if same_time > _MAX_EVENTS_AT_ONE_TIME:
                raise RuntimeError(f"simulator events keep re-arming at t={due} ({cause})")
            self._integrate(due)
            apply()
            self._commit(cause)
        self._integrate(now)

    def _settle(self) -> None:
        """Apply whatever a change made due at once (an overheat after set_temperature, ...)."""
        self._advance(self._t)

    def _integrate(self, t: float) -> None:
        """The continuous part (heater, battery) from the firmware's time to ``t``."""
        dt = t - self._t
        if dt <= 0:
            return
        s = self.state
        if s.battery_pct is not None:
            s.battery_pct = max(0.0, s.battery_pct - self._drain_per_s() * dt)
        s.temperature_c = self.thermal.advance(dt)
        self._t = t
        s.updated_at = t

    def _drain_per_s(self) -> float:
        sim, s = self.profile.simulation, self.state
        speed_levels, heat_levels = self.profile.speed_levels, self.profile.heat_levels
        per_hour = sim.drain_idle_pct_h
        if speed_levels:
            per_hour += s.speed / speed_levels * sim.drain_speed_pct_h
        if heat_levels:
            per_hour += s.heat / heat_levels * sim.drain_heat_pct_h
        return per_hour / 3600.0

    def _program_end_at(self) -> float | None:
        """When the running program ends by itself (None: it loops until stopped)."""
        s = self.state
        if not s.program or s.program_started_at is None:
            return None
        return s.program_started_at + self._program(s.program).duration_s

    def _program_steps_until(self) -> float | None:
        """For a program without an end of its own: when its steps stop (None: never)."""
        return None

    def _auto_off_at(self) -> float | None:
        """When the device stops itself (by default after :attr:`auto_off_s` of activity)."""
        s, auto_off = self.state, self.auto_off_s
        if not s.active or auto_off is None or s.active_since is None:
            return None
        due = s.active_since + auto_off
        return due if self._auto_off_due is None else min(due, self._auto_off_due)

    def _extra_events(self) -> list[_Event]:
        """Events of the protocol's own (priority 10 and up)."""
        return []

    def _next_event(self) -> _Event | None:
        """The earliest event that the current state makes due, if any."""
        s, limits = self.state, self.profile.limits
        events: list[_Event] = self._extra_events()
        if s.program and s.program_started_at is not None:
            self._program_events(s.program_started_at, events)
        if s.active and limits.watchdog_s > 0 and s.last_frame_at is not None:
            events.append((s.last_frame_at + limits.watchdog_s, 2, "watchdog", self._on_watchdog))
        auto_off = self._auto_off_at()
        if auto_off is not None:
            events.append((auto_off, 3, "auto-off", self._on_auto_off))
        if limits.max_temp_c > 0:
            self._heater_events(events)
        if s.battery_pct is not None:
            self._battery_events(s.battery_pct, events)
        if not events:
            return None
        if len(events) == 1:
            return events[0]
        return min(events, key=_event_order)

    def _program_events(self, started_at: float, events: list[_Event]) -> None:
        s = self.state
        prog = self._program(s.program)
        end = self._program_end_at()
        if end is not None:
            events.append((end, 0, "program end", self._on_program_end))
        horizon = end if end is not None else self._program_steps_until()
        step_at = started_at + (s.program_step + 1) * prog.step_s
        if horizon is None or step_at < horizon:
            events.append((step_at, 1, "program step", self._on_program_step))

    def _heater_events(self, events: list[_Event]) -> None:
        faults = self.state.faults
        if faults is not NO_FAULTS and SimFault.OVERHEAT in faults:
            dt = self.thermal.time_until_below(self._overheat_clear_c())
            if dt is not None:
                events.append((self._t + dt, 5, "cooled down", self._on_cooled))
        else:
            dt = self.thermal.time_until_above(self.profile.limits.max_temp_c)
            if dt is not None:
                events.append((self._t + dt, 4, "overheat", self._on_overheat))

    def _battery_events(self, battery_pct: float, events: list[_Event]) -> None:
        s, faults = self.state, self.state.faults
        rate = self._drain_per_s()
        low = float(self.profile.simulation.low_battery_pct)
        not_low_yet = faults is NO_FAULTS or SimFault.LOW_BATTERY not in faults
        if not_low_yet and (battery_pct <= low or rate > 0):
            dt = max(0.0, (battery_pct - low) / rate) if battery_pct > low else 0.0
            events.append((self._t + dt, 6, "low battery", self._on_low_battery))
        if s.active and (battery_pct <= 0.0 or rate > 0):
            dt = battery_pct / rate if battery_pct > 0 else 0.0
            events.append((self._t + dt, 7, "battery empty", self._on_battery_empty))

    def _overheat_clear_c(self) -> float:
        return self.profile.limits.max_temp_c - OVERHEAT_HYSTERESIS_C

    def _on_program_end(self) -> None:
        _LOG.debug("%s: program %d ended", self.profile.name, self.state.program)
        self._end_program()
        self.state.speed = 0

    def _on_program_step(self) -> None:
        s = self.state
        levels = self._program(s.program).levels
        s.program_step += 1
        s.speed = levels[s.program_step % len(levels)]

    def _on_watchdog(self) -> None:
        _LOG.info("%s: watchdog ran out, stopping", self.profile.name)
        self._stop_all()
        self.state.faults |= SimFault.WATCHDOG_STOP

    def _on_auto_off(self) -> None:
        _LOG.info("%s: auto-off after continuous activity, stopping", self.profile.name)
        self._stop_all()
        self.state.faults |= SimFault.AUTO_OFF
        self._auto_off_due = None

    def _on_overheat(self) -> None:
        limit = float(self.profile.limits.max_temp_c)
        # The event was computed to land on the limit; float noise may leave it a hair short.
        if self.thermal.temperature_c < limit:
            self.thermal.set_temperature(limit)
            self.state.temperature_c = limit
        _LOG.warning("%s: heater reached %.1f °C, cutting heat", self.profile.name, limit)
        self.state.heat = 0
        self.state.faults |= SimFault.OVERHEAT

    def _on_cooled(self) -> None:
        clear = self._overheat_clear_c()
        if self.thermal.temperature_c > clear:
            self.thermal.set_temperature(clear)
            self.state.temperature_c = clear
        _LOG.info("%s: heater cooled to %.1f °C, OVERHEAT cleared", self.profile.name, clear)
        self.state.faults &= ~SimFault.OVERHEAT

    def _on_low_battery(self) -> None:
        s = self.state
        low = float(self.profile.simulation.low_battery_pct)
        if s.battery_pct is not None and s.battery_pct > low:
            s.battery_pct = low
        _LOG.info("%s: battery low", self.profile.name)
        s.faults |= SimFault.LOW_BATTERY

    def _on_battery_empty(self) -> None:
        _LOG.warning("%s: battery empty, stopping", self.profile.name)
        self.state.battery_pct = 0.0
        self._stop_all()

    # --- output ------------------------------------------------------------------------------

    def _core_key(self) -> tuple[int, int, int, SimFault]:
        s = self.state
        return (s.speed, s.heat, s.program, s.faults)

    def _commit(self, cause: str) -> None:
        """Bookkeeping after a change: activity, heater drive, timeline and unsolicited status."""
        s = self.state
        self.thermal.set_level(s.heat)
        if not s.active:
            s.active_since = None
            # An auto_off_in() belongs to the activity period that has just ended.
            self._auto_off_due = None
        elif s.active_since is None:
            s.active_since = self._t
        key = self._core_key()
        if key != self._published:
            self._published = key
            self.timeline.record_state(self._t, s, cause)
        announce = self._announce_key()
        if announce != self._announced:
            self._announced = announce
            self._emit_status()

    def _emit_status(self) -> None:
        status = self._status_bytes()
        if status is not None:
            self._out.append(status)
            self._last_status_at = self._t

    def _flush(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out
