"""The device's side of the RongTai chair protocol, as the simulator runs it (sans-I/O).

Documented (docs/real-devices.md): the key commands and the 17-byte status layout. How the chair
reacts to each key is not, so the simulator models a chair of its own, checked on no hardware:

- The chair is in standby or on. Being on runs a session timer of the preset length (10, 20 or
  30 minutes; at power-on the profile's ``limits.auto_off_s`` if it is one of those, else 20).
  When the session runs out the chair goes to standby with AUTO_OFF set (the chair's auto-off).
  Whenever nothing runs any more (no massage, no heat) the chair goes to standby too.
- ``POWER`` toggles: from standby it switches on with a manual knead at speed
  :data:`DEFAULT_SPEED`; when on it goes to standby.
- A manual technique key selects the technique (ending an auto program, keeping the speed);
  from standby, or with only the heat on, it starts that technique at :data:`DEFAULT_SPEED`.
- A speed key sets speed 1..6 (ending an auto program, keeping the technique); from standby, or
  with only the heat on, it starts a manual knead at that speed.
- An auto program key starts program N (the profile's built-in program N) and restarts the
  session timer at the preset length; it switches the chair on from standby. The program steps
  through its ``levels`` (speeds 1..6) every ``step_s`` on a loop until the session ends (its
  ``duration_s`` is not an end of its own), and the technique moves on with each step through
  :data:`PROGRAM_TECHNIQUES`, starting at the program's own place in that list.
- ``HEAT`` toggles the back heat (the chair's one level); on from standby it switches the chair
  on with the heat only. The heater follows the profile's thermal model and cut-out.
- A timer key sets the preset length and, when the chair is on, restarts the session at it.
- Airbag keys are taken while on and kept (:attr:`RongTaiFirmware.airbag`); the status layout
  has no airbag field, and the state has none either.
- ``RESET`` stops everything: standby, speed 0, heat off, no program. The host's stop.
- A stalled motor (MOTOR) stops the massage and ignores massage keys; an unknown key, or a key
  the state does not allow, is ignored (and logged). The chair never answers a command: it
  sends its status on every change and every :data:`STATUS_PERIOD_S` while on.
- Status bytes the source does not give are the simulator's (see
  :mod:`massagectl.protocols.rongtai`); the roller bit is always 0.
- Injected faults: a refusal (``refuse_next``) makes the chair ignore a key, except those that
  stop something (reset, power while on, heat while the heat is on). ``auto_off_in(s)`` ends the
  running session ``s`` seconds from now; ``set_auto_off(s)`` makes later sessions ``s`` long
  until a timer key chooses a length again (the status still shows the preset minutes).
- State, in the same terms as every simulated device: speed 0..6 (0 when no massage runs),
  heat 0/1, program 0..6. Recording causes: ``SET_SPEED``, ``SET_HEAT``, ``RUN_PROGRAM``,
  ``STOP`` (reset), ``POWER``, ``TECHNIQUE``, ``TIMER``, ``AIRBAG``, ``auto-off``,
  ``program step``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from typing import Final

from massagectl.profiles import Profile
from massagectl.protocols.rongtai import (
    MANUAL_PROGRAM,
    TECHNIQUE_KEYS,
    TIMER_MINUTES,
    BadPacket,
    CommandDecoder,
    Key,
    KeyPress,
    RongTaiStatus,
    Technique,
)

from .firmware_base import BaseFirmware
from .sim_faults import CLEARED_BY_COMMAND, SimFault

_LOG = logging.getLogger(__name__)

#: How often a chair that is on sends its status by itself (a simulator choice).
STATUS_PERIOD_S: Final = 1.0
#: The speed a massage starts at when no speed was chosen (a simulator choice).
DEFAULT_SPEED: Final = 3
#: The session length when the profile's auto-off is not 10, 20 or 30 minutes.
DEFAULT_SESSION_MIN: Final = 20
#: The techniques an auto program moves through, one per step (a simulator choice).
PROGRAM_TECHNIQUES: Final = (
    Technique.KNEAD,
    Technique.KNOCK,
    Technique.SHIATSU,
    Technique.TAPPING,
    Technique.KNEAD_KNOCK,
    Technique.RHYTHM,
)
#: The largest remaining time the status can carry (5 + 7 bits).
_MAX_REMAINING_S: Final = 31 * 128 + 127
_AIRBAG_KEYS: Final = {
    Key.AIRBAG_1: 1,
    Key.AIRBAG_2: 2,
    Key.AIRBAG_3: 3,
    Key.AIRBAG_4: 4,
    Key.AIRBAG_5: 5,
    Key.AIRBAG_OFF: 0,
}


def _default_session_min(profile: Profile) -> int:
    auto_off = profile.limits.auto_off_s
    minutes = round(auto_off / 60) if auto_off is not None else 0
    return minutes if minutes in TIMER_MINUTES.values() else DEFAULT_SESSION_MIN


class RongTaiFirmware(BaseFirmware):
    """A simulated RongTai chair: key presses in, a 17-byte status out."""

    protocol = "rongtai"
    status_period_s = STATUS_PERIOD_S

    decoder = CommandDecoder
    dropped = (BadPacket,)

    def _setup(self) -> None:
        self._on = False
        self._technique = Technique.STOP
        self._session_end: float | None = None
        self._preset_min = _default_session_min(self.profile)
        # set_auto_off(): a session length of a test's choosing, until a timer key is pressed.
        self._session_s: float | None = None
        #: Airbag strength 0..5 (0 = off); kept, not reported.
        self.airbag: int = 0

    # --- what the chair reports ---------------------------------------------------------------

    @property
    def powered(self) -> bool:
        """Whether the chair is on (a session runs), as opposed to standby."""
        return self._on

    @property
    def technique(self) -> Technique:
        """The technique selected (STOP in standby or with only the heat on)."""
        return self._technique

    @property
    def preset_minutes(self) -> int:
        """The session length the timer keys chose."""
        return self._preset_min

    @property
    def remaining_s(self) -> int:
        """Whole seconds left of the session (0 in standby)."""
        if not self._on or self._session_end is None:
            return 0
        # The epsilon keeps float noise from adding a second.
        left = math.ceil(self._session_end - self._t - 1e-9)
        return max(0, min(_MAX_REMAINING_S, left))

    def status(self) -> RongTaiStatus:
        """The status notification for the state as of :attr:`now`."""
        s = self.state
        massage = s.speed > 0
        status = RongTaiStatus(
            running=self._on,
            technique=self._technique if massage else Technique.STOP,
            speed=s.speed,
            roller=False,
            heat=s.heat > 0,
            remaining_s=self.remaining_s,
            preset_minutes=self._preset_min,
            auto_program=s.program or (MANUAL_PROGRAM if massage else 0),
        )
        return self.lies.rongtai(status)

    # --- the protocol side --------------------------------------------------------------------

    def _handle(self, press: KeyPress) -> bytes:
        self.state.last_frame_at = self._t
        k = press.known
        name = k.name if k is not None else f"0x{press.key:02x}"
        refused = k is not None and not self._stops(k) and self._take_refusal()
        cause = self._press(k) if k is not None and not refused else None
        if cause is None:
            _LOG.info("%s: key %s ignored", self.profile.name, name)
            self._record(name, press.key, "ignored")
        else:
            self.state.faults &= ~CLEARED_BY_COMMAND
            self._record(name, press.key, "none")
        self._commit(cause or name)
        self._settle()
        return self._flush()

    def _stops(self, k: Key) -> bool:
        """Whether a key stops something (an injected refusal never applies to those)."""
        return (
            k is Key.RESET
            or (k is Key.POWER and self._on)
            or (k is Key.HEAT and self.state.heat > 0)
        )

    def _press(self, k: Key) -> str | None:
        """Apply one key; the timeline cause, or None when the key is ignored."""
        if k is Key.RESET:
            self._standby()
            return "STOP"
        if k is Key.POWER:
            if self._on:
                self._standby()
                return "POWER"
            if self._motor_blocked():
                return None
            self._power_on()
            self._massage(Technique.KNEAD, DEFAULT_SPEED)
            return "POWER"
        if k in TECHNIQUE_KEYS:
            return self._technique_key(TECHNIQUE_KEYS[k])
        if Key.SPEED_1 <= k <= Key.SPEED_6:
            return self._speed_key(k - Key.SPEED_1 + 1)
        if Key.AUTO_RECOVERY <= k <= Key.AUTO_WAIST_SPINE:
            return self._program_key(k - Key.AUTO_RECOVERY + 1)
        if k is Key.HEAT:
            return self._heat_key()
        if k in TIMER_MINUTES:
            self._preset_min = TIMER_MINUTES[k]
            self._session_s = None
            if self._on:
                self._session_end = self._t + self._preset_min * 60
            return "TIMER"
        if k in _AIRBAG_KEYS and self._on:
            self.airbag = _AIRBAG_KEYS[k]
            return "AIRBAG"
        return None

    def _technique_key(self, technique: Technique) -> str | None:
        if self._motor_blocked():
            return None
        if not self._on:
            self._power_on()
        if self.state.speed == 0:
            self._massage(technique, DEFAULT_SPEED)
        else:
            self._end_program()
            self._technique = technique
        return "TECHNIQUE"

    def _speed_key(self, speed: int) -> str | None:
        if self._motor_blocked():
            return None
        if not self._on:
            self._power_on()
        if self.state.speed == 0:
            self._massage(Technique.KNEAD, speed)
        else:
            self._end_program()
            self.state.speed = speed
        return "SET_SPEED"

    def _program_key(self, index: int) -> str | None:
        if index > len(self.profile.capabilities.programs) or self._motor_blocked():
            return None
        self._power_on()
        self._start_program(index)
        self._technique = _program_technique(index, 0)
        return "RUN_PROGRAM"

    def _heat_key(self) -> str | None:
        s = self.state
        if self.profile.heat_levels == 0:
            return None
        if s.heat:
            s.heat = 0
            return "SET_HEAT"
        if SimFault.OVERHEAT in s.faults:
            return None
        if not self._on:
            self._power_on()
        s.heat = 1
        return "SET_HEAT"

    # --- the chair model ---------------------------------------------------------------------

    def _power_on(self) -> None:
        """Switch on, or restart the session if already on."""
        self._on = True
        length = self._session_s if self._session_s is not None else self._preset_min * 60
        self._session_end = self._t + length

    # --- injected faults ---------------------------------------------------------------------

    def set_auto_off(self, seconds: float, now: float) -> bytes:
        """Make sessions started from now on ``seconds`` long (until a timer key is pressed)."""
        self._check_auto_off(seconds)
        self._advance(now)
        self._session_s = float(seconds)
        self._settle()
        return self._flush()

    def auto_off_in(self, seconds: float, now: float) -> bytes:
        """End the running session ``seconds`` from now (the chair must be on)."""
        self._check_auto_off(seconds)
        self._advance(now)
        if not self._on:
            raise ValueError(f"{self.profile.name} is in standby: there is no session to end")
        self._session_end = self._t + seconds
        self._commit("session shortened")
        self._settle()
        return self._flush()

    def _massage(self, technique: Technique, speed: int) -> None:
        self._end_program()
        self._technique = technique
        self.state.speed = speed

    def _standby(self) -> None:
        self._on = False
        self._session_end = None
        self._technique = Technique.STOP
        self.airbag = 0
        self._stop_all()

    def _program_end_at(self) -> float | None:
        return None  # an auto program runs until the session ends

    def _program_steps_until(self) -> float | None:
        # A step due at the very end of the session would be undone at once by the auto-off.
        return self._session_end

    def _on_program_step(self) -> None:
        super()._on_program_step()
        self._technique = _program_technique(self.state.program, self.state.program_step)

    def _auto_off_at(self) -> float | None:
        return self._session_end if self._on else None

    def _on_auto_off(self) -> None:
        _LOG.info("%s: session over, standby", self.profile.name)
        self._standby()
        self.state.faults |= SimFault.AUTO_OFF

    def _on_motor_fault(self) -> None:
        super()._on_motor_fault()
        self._technique = Technique.STOP

    def _commit(self, cause: str) -> None:
        if self._on and not self.state.active:
            # Nothing runs any more (heat switched off, overheat, stalled motor): standby.
            self._standby()
        super()._commit(cause)

    # --- status ------------------------------------------------------------------------------

    def _status_wanted(self) -> bool:
        return self._on

    def _announce_key(self) -> Hashable:
        return (self.status().without_clock(), self._session_end)

    def _status_bytes(self) -> bytes:
        return self.status().encode()


def _program_technique(program: int, step: int) -> Technique:
    return PROGRAM_TECHNIQUES[(program - 1 + step) % len(PROGRAM_TECHNIQUES)]
