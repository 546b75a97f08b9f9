"""The device's side of OMP/1, as a massager's firmware would run it, without any I/O.

:class:`OmpFirmware` is sans-I/O like the host's codec: it is handed bytes and the time, and
hands back the bytes the device sends. It never reads a clock; whoever drives it (the
:class:`massagesim.SimulatedDevice`, or a test with explicit times) says what time it is.

Time inside the firmware is event-driven: on every call it walks forward from where it was to
``now`` through each due event in order (a program step, the watchdog, auto-off, the heater
crossing the cut-out temperature, the battery running low or empty), applying each at its own
due time. The thermal model and the battery drain are solved exactly between events. So the
timeline records a program step at the step's time, not at the tick that happened to notice
it, and a test may jump far ahead in one call and still see every change.

Behaviour beyond the letter of the spec (documented here so the host side can rely on it):

- "Accepted command", which clears WATCHDOG_STOP and AUTO_OFF, means SET_SPEED, SET_HEAT,
  RUN_PROGRAM or STOP answered with ACK OK. HELLO, GET_STATUS and PING leave the faults alone,
  so that a host reconnecting after a watchdog stop can still read why the device stopped.
- A frame with the wrong payload length for its TYPE gets ACK BAD_VALUE.
- RUN_PROGRAM 0 with a program running stops it and its motor (speed 0); with none running it
  is accepted and changes nothing.
- MOTOR (a stalled motor, injected by a test) stops the motor and any program; while it is set,
  SET_SPEED above 0 and RUN_PROGRAM above 0 get REFUSED_FAULT. Heat still works.
- LOW_BATTERY is set at or below ``simulation.low_battery_pct`` and clears only when the
  battery is set above it again. At 0 % the device stops, and refuses to start anything
  (REFUSED_FAULT) until the battery is set above 0.
- The heater element's temperature is modelled on every device with heat, with or without a
  sensor; the cut-out works either way (a thermal fuse), only STATUS hides it without a sensor.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Final

from massagectl.errors import ProfileError
from massagectl.profiles import Profile, all_profiles, get_profile
from massagectl.protocols.omp import (
    FLAG_BATTERY,
    FLAG_TEMP_SENSOR,
    MAINS,
    NO_SENSOR,
    VERSION,
    AckCode,
    BadFrame,
    Fault,
    Frame,
    FrameDecoder,
    Info,
    MsgType,
    Status,
)

from .state import DeviceState
from .thermal import ThermalModel
from .timeline import CommandRecord, Timeline

_LOG = logging.getLogger(__name__)

#: Period of the unsolicited STATUS while active. A little under the spec's one second so that,
#: driven by a 50 ms tick with some jitter, the gap between two STATUS frames stays under 1 s.
STATUS_PERIOD_S: Final = 0.9
#: OVERHEAT clears once the temperature has fallen this far below ``max_temp_c``.
OVERHEAT_HYSTERESIS_C: Final = 5.0

#: The payload length each host message must have.
_PAYLOAD_LEN: Final[dict[MsgType, int]] = {
    MsgType.HELLO: 1,
    MsgType.SET_SPEED: 1,
    MsgType.SET_HEAT: 1,
    MsgType.RUN_PROGRAM: 1,
    MsgType.STOP: 0,
    MsgType.GET_STATUS: 0,
    MsgType.PING: 0,
}
#: The commands whose acceptance clears WATCHDOG_STOP and AUTO_OFF.
_CONTROL: Final = frozenset(
    {MsgType.SET_SPEED, MsgType.SET_HEAT, MsgType.RUN_PROGRAM, MsgType.STOP}
)
_CLEARED_BY_COMMAND: Final = Fault.WATCHDOG_STOP | Fault.AUTO_OFF
#: More events than this at one instant means two events keep re-arming each other: a bug.
_MAX_EVENTS_AT_ONE_TIME: Final = 10_000

_Event = tuple[float, int, str, Callable[[], None]]


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


class OmpFirmware:
    """The firmware of one simulated OMP/1 massager: state, rules and the device's protocol side.

    ``receive``/``handle_frame`` answer the host; ``tick`` lets time pass. Both return the bytes
    the device sends, in order: first unsolicited frames for anything that fell due before
    ``now``, then the answer, then the unsolicited STATUS for the change the command caused.
    """

    def __init__(
        self,
        profile: Profile | str,
        now: float = 0.0,
        *,
        state: DeviceState | None = None,
        timeline: Timeline | None = None,
        thermal: ThermalModel | None = None,
    ) -> None:
        self.profile: Profile = simulatable_profile(profile)
        self.thermal: ThermalModel = (
            thermal if thermal is not None else ThermalModel.from_profile(self.profile)
        )
        self.state: DeviceState = state if state is not None else DeviceState()
        self.timeline: Timeline = timeline if timeline is not None else Timeline()
        self._decoder = FrameDecoder()
        self._t = float(now)
        self._out: list[bytes] = []
        self._last_key: tuple[int, int] | None = None
        self._last_answer: Frame | None = None
        self._last_status_at: float | None = None

        s = self.state
        s.temperature_c = self.thermal.temperature_c
        s.battery_pct = 100.0 if self.profile.capabilities.battery else None
        s.updated_at = self._t
        self._published = (s.speed, s.heat, s.program, s.faults)
        self.timeline.record_state(self._t, s, "power on")

    # --- what the device says about itself ----------------------------------------------------

    @property
    def now(self) -> float:
        """The clock time the firmware has been brought up to."""
        return self._t

    def info(self, seq: int) -> Info:
        """The INFO message this device answers HELLO with."""
        caps, limits = self.profile.capabilities, self.profile.limits
        flags = (FLAG_BATTERY if caps.battery else 0) | (
            FLAG_TEMP_SENSOR if caps.temperature_sensor else 0
        )
        return Info(
            seq=seq,
            version=VERSION,
            speed_levels=self.profile.speed_levels,
            heat_levels=self.profile.heat_levels,
            program_count=len(caps.programs),
            max_temp_c=limits.max_temp_c,
            watchdog_ds=round(limits.watchdog_s * 10),
            flags=flags,
        )

    def status(self, seq: int) -> Status:
        """The STATUS message for the state as of :attr:`now`."""
        s = self.state
        if self.profile.capabilities.temperature_sensor:
            # Clamped below NO_SENSOR so that a runaway test value never reads as "no sensor".
            temp_dc = max(-0x8000, min(NO_SENSOR - 1, round(s.temperature_c * 10)))
        else:
            temp_dc = NO_SENSOR
        # Rounding the charge up makes the reported value <= low_battery_pct exactly when the
        # LOW_BATTERY fault is set, and 0 only once the device has actually run empty.
        battery = MAINS if s.battery_pct is None else min(100, math.ceil(s.battery_pct))
        return Status(
            seq=seq,
            speed=s.speed,
            heat=s.heat,
            program=s.program,
            temp_dc=temp_dc,
            battery=battery,
            faults=s.faults,
            remaining_s=self._remaining_s(),
        )

    def _remaining_s(self) -> int:
        auto_off = self.profile.limits.auto_off_s
        since = self.state.active_since
        if auto_off is None or since is None or not self.state.active:
            return 0
        # The epsilon keeps 900.0000000001 (float noise) from reading as 901 s.
        left = math.ceil(since + auto_off - self._t - 1e-9)
        return max(0, min(0xFFFF, left))

    # --- the protocol side --------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> bytes:
        """Bytes from the host, received at ``now``; returns the bytes the device sends back.

        Broken frames are dropped without an answer, as the spec requires.
        """
        self._advance(now)
        chunks = [self._flush()]
        for item in self._decoder.feed(data):
            if isinstance(item, BadFrame):
                _LOG.debug("dropped a broken frame (%s): %s", item.reason, item.data.hex(" "))
                continue
            chunks.append(self.handle_frame(item, now))
        return b"".join(chunks)

    def handle_frame(self, frame: Frame, now: float) -> bytes:
        """One decoded host frame, received at ``now``; returns the bytes the device sends."""
        self._advance(now)
        t = self._t
        # Advance first, then feed the watchdog: a watchdog that ran out before this frame
        # arrived has already stopped the device.
        self.state.last_frame_at = t
        name = _type_name(frame.type)
        value = frame.payload[0] if len(frame.payload) == 1 else None

        if (frame.type, frame.seq) == self._last_key and self._last_answer is not None:
            _LOG.debug("retry of %s seq %d: answering again, not applying", name, frame.seq)
            self._out.append(self._last_answer.encode())
            ack, answer_name = _describe_answer(self._last_answer)
            self.timeline.record_command(
                CommandRecord(t, name, frame.seq, value, ack, answer_name, retry=True)
            )
            return self._flush()

        answer = self._dispatch(frame)
        self._last_key = (frame.type, frame.seq)
        self._last_answer = answer
        self._out.append(answer.encode())
        ack, answer_name = _describe_answer(answer)
        _LOG.debug("%s seq %d value %s -> %s", name, frame.seq, value, answer_name)
        self.timeline.record_command(CommandRecord(t, name, frame.seq, value, ack, answer_name))
        self._commit(name)
        self._settle()
        return self._flush()

    def tick(self, now: float) -> bytes:
        """Let time pass up to ``now``; returns the unsolicited frames the device sends."""
        self._advance(now)
        # Compared as "now has reached last + period", the very sum next_due() reports, so
        # that waking exactly at that due time always emits (a difference could fall a
        # rounding error short and leave the STATUS due forever).
        if self.state.active and (
            self._last_status_at is None or self._t >= self._last_status_at + STATUS_PERIOD_S
        ):
            self._emit_status()
        return self._flush()

    def next_due(self) -> float | None:
        """When the device next has something to do by itself (an event or a periodic STATUS)."""
        event = self._next_event()
        due = event[0] if event is not None else None
        if self.state.active:
            last = self._last_status_at if self._last_status_at is not None else self._t
            status_at = last + STATUS_PERIOD_S
            due = status_at if due is None else min(due, status_at)
        return due

    def new_link(self) -> None:
        """A new host connection: forget the last frame and any half frame in the buffer.

        Otherwise a new host's first frame could be taken for a retry of the old host's last.
        """
        self._last_key = None
        self._last_answer = None
        self._decoder = FrameDecoder()

    # --- test-facing handle (each returns the bytes the device sends as a result) ------------

    def set_temperature(self, celsius: float, now: float) -> bytes:
        """Put the heater element at a temperature at once (to provoke or end an overheat)."""
        self._advance(now)
        self.thermal.set_temperature(celsius)
        self.state.temperature_c = self.thermal.temperature_c
        self._settle()
        return self._flush()

    def set_runaway(self, celsius: float | None, now: float) -> bytes:
        """Make the heater aim for ``celsius`` while it is on (a failed thermostat); None heals."""
        self._advance(now)
        self.thermal.runaway_c = celsius
        self._settle()
        return self._flush()

    def set_battery(self, percent: float, now: float) -> bytes:
        """Set the battery charge (a battery-powered device only)."""
        if self.state.battery_pct is None:
            raise ValueError(f"{self.profile.name} is not battery powered")
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"battery charge {percent} % is outside 0..100")
        self._advance(now)
        self.state.battery_pct = float(percent)
        if percent > self.profile.simulation.low_battery_pct:
            self.state.faults &= ~Fault.LOW_BATTERY
        self._commit("battery set")
        self._settle()
        return self._flush()

    def inject_motor_fault(self, now: float) -> bytes:
        """Stall the motor: MOTOR is set, the motor and any program stop."""
        self._advance(now)
        _LOG.info("%s: motor fault injected", self.profile.name)
        self.state.faults |= Fault.MOTOR
        self.state.speed = 0
        self._end_program()
        self._commit("motor fault")
        self._settle()
        return self._flush()

    def clear_motor_fault(self, now: float) -> bytes:
        """Repair the motor: MOTOR clears."""
        self._advance(now)
        self.state.faults &= ~Fault.MOTOR
        self._commit("motor repaired")
        self._settle()
        return self._flush()

    # --- commands ----------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> Frame:
        try:
            mtype = MsgType(frame.type)
        except ValueError:
            return self._ack(frame, AckCode.UNSUPPORTED)
        expected = _PAYLOAD_LEN.get(mtype)
        if expected is None:  # a device-to-host TYPE sent to the device
            return self._ack(frame, AckCode.UNSUPPORTED)
        if len(frame.payload) != expected:
            return self._ack(frame, AckCode.BAD_VALUE)
        value = frame.payload[0] if expected else 0

        if mtype is MsgType.HELLO:
            if value != VERSION:
                return self._ack(frame, AckCode.BAD_VERSION)
            return self.info(frame.seq).to_frame()
        if mtype is MsgType.GET_STATUS:
            return self.status(frame.seq).to_frame()
        if mtype is MsgType.PING:
            return self._ack(frame, AckCode.OK)
        if mtype is MsgType.SET_SPEED:
            code = self._set_speed(value)
        elif mtype is MsgType.SET_HEAT:
            code = self._set_heat(value)
        elif mtype is MsgType.RUN_PROGRAM:
            code = self._run_program(value)
        else:
            code = self._stop()
        if mtype in _CONTROL and code is AckCode.OK:
            self.state.faults &= ~_CLEARED_BY_COMMAND
        return self._ack(frame, code)

    @staticmethod
    def _ack(frame: Frame, code: AckCode) -> Frame:
        return Frame(MsgType.ACK, frame.seq, bytes((code,)))

    def _battery_empty(self) -> bool:
        return self.state.battery_pct is not None and self.state.battery_pct <= 0.0

    def _set_speed(self, level: int) -> AckCode:
        if not 0 <= level <= self.profile.speed_levels:
            return AckCode.BAD_VALUE
        if level > 0 and (Fault.MOTOR in self.state.faults or self._battery_empty()):
            return AckCode.REFUSED_FAULT
        # Manual override: setting a speed ends a running program.
        self._end_program()
        self.state.speed = level
        return AckCode.OK

    def _set_heat(self, level: int) -> AckCode:
        if not 0 <= level <= self.profile.heat_levels:
            return AckCode.BAD_VALUE
        if level > 0 and (Fault.OVERHEAT in self.state.faults or self._battery_empty()):
            return AckCode.REFUSED_FAULT
        self.state.heat = level
        return AckCode.OK

    def _run_program(self, index: int) -> AckCode:
        programs = self.profile.capabilities.programs
        if not 0 <= index <= len(programs):
            return AckCode.BAD_VALUE
        s = self.state
        if index == 0:
            if s.program:
                self._end_program()
                s.speed = 0
            return AckCode.OK
        if Fault.MOTOR in s.faults or self._battery_empty():
            return AckCode.REFUSED_FAULT
        s.program = index
        s.program_started_at = self._t
        s.program_step = 0
        s.speed = programs[index - 1].levels[0]
        return AckCode.OK

    def _stop(self) -> AckCode:
        self._stop_all()
        return AckCode.OK

    def _stop_all(self) -> None:
        self.state.speed = 0
        self.state.heat = 0
        self._end_program()

    def _end_program(self) -> None:
        s = self.state
        s.program = 0
        s.program_started_at = None
        s.program_step = 0

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

    def _next_event(self) -> _Event | None:
        """The earliest event that the current state makes due, if any."""
        s, limits = self.state, self.profile.limits
        events: list[_Event] = []

        if s.program and s.program_started_at is not None:
            prog = self.profile.capabilities.programs[s.program - 1]
            end = s.program_started_at + prog.duration_s
            events.append((end, 0, "program end", self._on_program_end))
            step_at = s.program_started_at + (s.program_step + 1) * prog.step_s
            if step_at < end:
                events.append((step_at, 1, "program step", self._on_program_step))

        if s.active and limits.watchdog_s > 0 and s.last_frame_at is not None:
            events.append((s.last_frame_at + limits.watchdog_s, 2, "watchdog", self._on_watchdog))
        if s.active and limits.auto_off_s is not None and s.active_since is not None:
            events.append((s.active_since + limits.auto_off_s, 3, "auto-off", self._on_auto_off))

        if limits.max_temp_c > 0:
            if Fault.OVERHEAT in s.faults:
                dt = self.thermal.time_until_below(self._overheat_clear_c())
                if dt is not None:
                    events.append((self._t + dt, 5, "cooled down", self._on_cooled))
            else:
                dt = self.thermal.time_until_above(limits.max_temp_c)
                if dt is not None:
                    events.append((self._t + dt, 4, "overheat", self._on_overheat))

        if s.battery_pct is not None:
            rate = self._drain_per_s()
            low = float(self.profile.simulation.low_battery_pct)
            if Fault.LOW_BATTERY not in s.faults and (s.battery_pct <= low or rate > 0):
                dt = max(0.0, (s.battery_pct - low) / rate) if s.battery_pct > low else 0.0
                events.append((self._t + dt, 6, "low battery", self._on_low_battery))
            if s.active and (s.battery_pct <= 0.0 or rate > 0):
                dt = s.battery_pct / rate if s.battery_pct > 0 else 0.0
                events.append((self._t + dt, 7, "battery empty", self._on_battery_empty))

        return min(events, key=lambda e: (e[0], e[1])) if events else None

    def _overheat_clear_c(self) -> float:
        return self.profile.limits.max_temp_c - OVERHEAT_HYSTERESIS_C

    def _on_program_end(self) -> None:
        _LOG.debug("%s: program %d ended", self.profile.name, self.state.program)
        self._end_program()
        self.state.speed = 0

    def _on_program_step(self) -> None:
        s = self.state
        levels = self.profile.capabilities.programs[s.program - 1].levels
        s.program_step += 1
        s.speed = levels[s.program_step % len(levels)]

    def _on_watchdog(self) -> None:
        _LOG.info("%s: watchdog ran out, stopping", self.profile.name)
        self._stop_all()
        self.state.faults |= Fault.WATCHDOG_STOP

    def _on_auto_off(self) -> None:
        _LOG.info("%s: auto-off after continuous activity, stopping", self.profile.name)
        self._stop_all()
        self.state.faults |= Fault.AUTO_OFF

    def _on_overheat(self) -> None:
        limit = float(self.profile.limits.max_temp_c)
        # The event was computed to land on the limit; float noise may leave it a hair short.
        if self.thermal.temperature_c < limit:
            self.thermal.set_temperature(limit)
            self.state.temperature_c = limit
        _LOG.warning("%s: heater reached %.1f °C, cutting heat", self.profile.name, limit)
        self.state.heat = 0
        self.state.faults |= Fault.OVERHEAT

    def _on_cooled(self) -> None:
        clear = self._overheat_clear_c()
        if self.thermal.temperature_c > clear:
            self.thermal.set_temperature(clear)
            self.state.temperature_c = clear
        _LOG.info("%s: heater cooled to %.1f °C, OVERHEAT cleared", self.profile.name, clear)
        self.state.faults &= ~Fault.OVERHEAT

    def _on_low_battery(self) -> None:
        s = self.state
        low = float(self.profile.simulation.low_battery_pct)
        if s.battery_pct is not None and s.battery_pct > low:
            s.battery_pct = low
        _LOG.info("%s: battery low", self.profile.name)
        s.faults |= Fault.LOW_BATTERY

    def _on_battery_empty(self) -> None:
        _LOG.warning("%s: battery empty, stopping", self.profile.name)
        self.state.battery_pct = 0.0
        self._stop_all()

    # --- output ------------------------------------------------------------------------------

    def _commit(self, cause: str) -> None:
        """Bookkeeping after a change: activity, heater drive, timeline and unsolicited STATUS."""
        s = self.state
        self.thermal.set_level(s.heat)
        if not s.active:
            s.active_since = None
        elif s.active_since is None:
            s.active_since = self._t
        key = (s.speed, s.heat, s.program, s.faults)
        if key == self._published:
            return
        self._published = key
        self.timeline.record_state(self._t, s, cause)
        self._emit_status()

    def _emit_status(self) -> None:
        self._out.append(self.status(0).to_frame().encode())
        self._last_status_at = self._t

    def _flush(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out


def _type_name(type_: int) -> str:
    try:
        return MsgType(type_).name
    except ValueError:
        return f"0x{type_:02x}"


def _describe_answer(frame: Frame) -> tuple[AckCode | None, str]:
    """The ACK code (None for INFO and STATUS) and a name for one of the firmware's answers."""
    if frame.type == MsgType.ACK:
        code = AckCode(frame.payload[0])
        return code, code.name
    return None, MsgType(frame.type).name
