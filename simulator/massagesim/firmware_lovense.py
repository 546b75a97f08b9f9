"""The device's side of the Lovense text protocol, as the simulator runs it (sans-I/O).

Documented (docs/real-devices.md): ``Vibrate:N;`` (0..20), ``Vibrate2:N;``, ``Battery;``,
``DeviceType;``, ``Preset:N;`` (a stored pattern on a loop, 0 stops), ``GetPatten;``,
``PowerOff;``, ``Status:1;`` → ``2;``, ``AutoSwith:On:Off;``; answers ``OK;`` / ``ERR;``. The
rest is the simulator's choice, checked on no hardware:

- The state's speed is the vibration level 0..20. ``Vibrate:N;`` ends a running pattern.
- The stored patterns are the profile's built-in programs. The source gives patterns as one
  digit 0..9 per half second; the profile stores them already mapped to the 0..20 range (digit
  × 2), with ``step_s: 0.5``, so that the state's speed is always a vibration level. A pattern
  loops until ``Preset:0;``, ``Vibrate:N;``, ``PowerOff;`` or a stop; its ``duration_s`` is the
  length of one pass, not an end.
- ``GetPatten;`` lists the stored patterns' indices 0..k-1 (as the source's example does);
  ``Preset:N;`` runs the profile's program N (1..k), so listed index i is ``Preset:i+1;``. The
  source does not say how its listed indices and ``Preset`` numbers relate.
- ``DeviceType;`` answers the profile's ``model_code`` (``W`` for the Domi), firmware
  :data:`FIRMWARE` and address :data:`ADDRESS` (both from the source's example).
- The simulated Domi has one motor: ``Vibrate2:N;`` answers ``ERR;``. So do a level out of
  range, an unknown pattern, an unknown command, wrong arguments, and starting the motor while
  it is stalled (MOTOR) or the battery is empty.
- ``Battery;`` answers the charge rounded up (0 only once empty); the battery drains as the
  profile's ``simulation`` says.
- ``PowerOff;`` answers ``OK;``, stops everything and ends the link (:meth:`take_hangup`); the
  device can be connected again afterwards (as if switched on again).
- ``AutoSwith:A:B;`` takes ``On``/``Off`` in any case; ``GetAS;`` reads them back as
  ``AutoSwith:a:b;``. Both are off at power-on (the source's example read-back is ``0:1``; the
  default is not documented). With the first on, an accidental link loss (:meth:`link_lost`,
  not a host closing the link) stops the device. The second ("last level on reconnect") is kept
  and reported but not modelled.
- No keepalive is documented: there is no watchdog and no auto-off (the shipped profile sets
  none) and no unsolicited message.
- Recording causes: ``SET_SPEED`` (Vibrate), ``RUN_PROGRAM`` (Preset, 0 included), ``PowerOff``,
  ``link lost``, ``program step``.
- An injected refusal (``refuse_next``) answers ``Vibrate:N;`` or ``Preset:N;`` above 0 with
  ``ERR;`` and changes nothing.
"""

from __future__ import annotations

import logging
import math
from typing import Final

from massagectl.protocols.lovense import (
    MAX_LEVEL,
    STATUS_NORMAL,
    AutoSwitch,
    BadMessage,
    BatteryLevel,
    DeviceAnswer,
    DeviceType,
    Err,
    MessageSplitter,
    Ok,
    ParsedCommand,
    PatternList,
    StatusCode,
    parse_command,
)

from .firmware_base import BaseFirmware
from .sim_faults import CLEARED_BY_COMMAND

_LOG = logging.getLogger(__name__)

#: Firmware and Bluetooth address in the ``DeviceType;`` answer (the source's example values).
FIRMWARE: Final = "11"
ADDRESS: Final = "0082059AD3BD"
#: ``GetPatten;`` can list single-digit indices only.
_MAX_PATTERNS: Final = 10


class LovenseFirmware(BaseFirmware):
    """A simulated Lovense device (the Domi): text commands, one motor, stored patterns."""

    protocol = "lovense"

    decoder = MessageSplitter
    dropped = (BadMessage,)

    def _setup(self) -> None:
        #: The ``AutoSwith`` flags.
        self.auto_switch: AutoSwitch = AutoSwitch(False, False)

    # --- the protocol side --------------------------------------------------------------------

    def _handle(self, text: str) -> bytes:
        self.state.last_frame_at = self._t
        command = parse_command(text)
        answer, cause = self._dispatch(command)
        wire = answer.encode()
        self._out.append(wire)
        value = command.int_arg(0, 0xFFFF)
        self._record(command.word, value, wire.decode("ascii"))
        _LOG.debug("%s -> %s", text, wire)
        if cause is not None and not isinstance(answer, Err):
            self.state.faults &= ~CLEARED_BY_COMMAND
        self._commit(cause or command.word)
        self._settle()
        return self._flush()

    def _dispatch(self, cmd: ParsedCommand) -> tuple[DeviceAnswer, str | None]:
        """The answer, and the timeline cause when the command controls the device."""
        word, args = cmd.word, cmd.args
        if word == "Vibrate":
            return self._vibrate(cmd.int_arg(0, MAX_LEVEL)), "SET_SPEED"
        if word == "Preset":
            return self._preset(cmd.int_arg(0, _MAX_PATTERNS)), "RUN_PROGRAM"
        if word == "PowerOff" and not args:
            self._stop_all()
            self._hangup = True
            return Ok(), "PowerOff"
        if word == "AutoSwith":
            return self._set_auto_switch(args), None
        if args and word != "Status":
            return Err(), None
        if word == "Battery" and self.state.battery_pct is not None:
            charge = min(100, math.ceil(self.state.battery_pct))
            return BatteryLevel(self.lies.lovense_battery(charge)), None
        if word == "DeviceType" and self.profile.model_code:
            return DeviceType(self.profile.model_code, FIRMWARE, ADDRESS), None
        if word == "GetPatten":
            count = min(len(self.profile.capabilities.programs), _MAX_PATTERNS)
            return PatternList(tuple(range(count))), None
        if word == "Status" and args == ("1",):
            return StatusCode(STATUS_NORMAL), None
        if word == "GetAS":
            return self.auto_switch, None
        # Vibrate2 lands here too: the simulated device has one motor.
        return Err(), None

    def _vibrate(self, level: int | None) -> DeviceAnswer:
        if level is None or (level > 0 and self._motor_blocked()):
            return Err()
        if level > 0 and self._take_refusal():
            return Err()
        self._end_program()
        self.state.speed = level
        return Ok()

    def _preset(self, index: int | None) -> DeviceAnswer:
        if index is None or index > len(self.profile.capabilities.programs):
            return Err()
        if index == 0:
            if self.state.program:
                self._end_program()
                self.state.speed = 0
            return Ok()
        if self._motor_blocked() or self._take_refusal():
            return Err()
        self._start_program(index)
        return Ok()

    def _set_auto_switch(self, args: tuple[str, ...]) -> DeviceAnswer:
        flags = [a.lower() for a in args]
        if len(flags) != 2 or any(f not in ("on", "off") for f in flags):
            return Err()
        self.auto_switch = AutoSwitch(flags[0] == "on", flags[1] == "on")
        return Ok()

    # --- rules -------------------------------------------------------------------------------

    def _program_end_at(self) -> float | None:
        return None  # a pattern loops until stopped

    def _on_link_lost(self) -> None:
        if self.auto_switch.off_on_disconnect and self.state.active:
            _LOG.info("%s: link lost, stopping (AutoSwith)", self.profile.name)
            self._stop_all()
