"""The device's side of OMP/1, as a massager's firmware would run it, without any I/O.

:class:`OmpFirmware` is sans-I/O like the host's codec: it is handed bytes and the time, and
hands back the bytes the device sends. Time, state, physics, the timeline and the test handle
come from :class:`~massagesim.firmware_base.BaseFirmware` (see there how time walks from event
to event); this module is OMP/1's frames and rules, and how OMP/1 says the simulator's faults
(:class:`~massagesim.sim_faults.SimFault`): each is a STATUS fault bit of the same name.

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
- An injected refusal (``refuse_next``) answers SET_SPEED, SET_HEAT or RUN_PROGRAM above 0 with
  REFUSED_FAULT (or the ACK code a test picks with :meth:`OmpFirmware.refuse_next`) and changes
  nothing; it is checked before the value's range.
  ``remaining_s`` counts down to the auto-off in force, an injected one included.
"""

from __future__ import annotations

import logging
import math
from typing import Final

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

from .firmware_base import (
    OVERHEAT_HYSTERESIS_C,
    BaseFirmware,
    simulatable_profile,
)
from .recording import CommandRecord
from .sim_faults import CLEARED_BY_COMMAND, NO_FAULTS, SimFault

__all__ = [
    "OVERHEAT_HYSTERESIS_C",
    "STATUS_PERIOD_S",
    "OmpFirmware",
    "omp_fault_bits",
    "simulatable_profile",
]

_LOG = logging.getLogger(__name__)

#: Period of the unsolicited STATUS while active. A little under the spec's one second so that,
#: driven by a 50 ms tick with some jitter, the gap between two STATUS frames stays under 1 s.
STATUS_PERIOD_S: Final = 0.9

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
# Dispatch tables by the TYPE byte: an enum call or an enum's hash costs more than the rest of
# a SET_SPEED's handling, and every frame of every device comes through here.
_MSG_TYPES: Final[dict[int, MsgType]] = {int(t): t for t in MsgType}
_TYPE_NAMES: Final[dict[int, str]] = {int(t): t.name for t in MsgType}
_PAYLOAD_LEN_BY_TYPE: Final[dict[int, int]] = {int(t): n for t, n in _PAYLOAD_LEN.items()}
_CONTROL_TYPES: Final = frozenset(int(t) for t in _CONTROL)
_ACK_CODES: Final[dict[int, AckCode]] = {int(c): c for c in AckCode}
#: ACK frames and their bytes by (SEQ, code): the same few hundred, again and again.
_ACKS: dict[tuple[int, int], tuple[Frame, bytes]] = {}
#: The STATUS fault bit that says each of the simulator's faults.
_OMP_BIT: Final[dict[SimFault, Fault]] = {
    SimFault.OVERHEAT: Fault.OVERHEAT,
    SimFault.WATCHDOG_STOP: Fault.WATCHDOG_STOP,
    SimFault.LOW_BATTERY: Fault.LOW_BATTERY,
    SimFault.MOTOR: Fault.MOTOR,
    SimFault.AUTO_OFF: Fault.AUTO_OFF,
}


def _bits_of(faults: SimFault) -> Fault:
    # A fault without a bit of its own would not be reported: OMP/1 has no word for it.
    return Fault(sum(int(bit) for fault, bit in _OMP_BIT.items() if fault in faults))


# Every combination worked out once: a STATUS goes out every 0.9 s from every active device.
_OMP_BITS: Final[dict[SimFault, Fault]] = {
    SimFault(c): _bits_of(SimFault(c)) for c in range(1 << len(SimFault))
}


_NO_BITS: Final = Fault(0)


def omp_fault_bits(faults: SimFault) -> Fault:
    """The STATUS ``faults`` byte that says ``faults`` in OMP/1's terms."""
    # An enum's hash is a Python call: the identity test saves it for the usual "no fault"
    # (and is only a shortcut: an equal object that is not the same falls through to the table).
    if faults is NO_FAULTS:
        return _NO_BITS
    return _OMP_BITS[faults]


class OmpFirmware(BaseFirmware):
    """The firmware of one simulated OMP/1 massager: state, rules and the device's protocol side.

    ``receive``/``handle_frame`` answer the host; ``tick`` lets time pass. Both return the bytes
    the device sends, in order: first unsolicited frames for anything that fell due before
    ``now``, then the answer, then the unsolicited STATUS for the change the command caused.
    """

    protocol = "omp"
    status_period_s = STATUS_PERIOD_S

    decoder = FrameDecoder
    # Broken frames are dropped without an answer, as the spec requires.
    dropped = (BadFrame,)

    def _setup(self) -> None:
        self._last_key: tuple[int, int] | None = None
        self._last_answer: Frame | None = None
        self._refusal_code = AckCode.REFUSED_FAULT

    def refuse_next(self, count: int = 1, code: AckCode = AckCode.REFUSED_FAULT) -> None:
        """Refuse the next ``count`` commands that would start or raise something, answering
        each with the ACK ``code`` (REFUSED_FAULT unless a test wants another; never OK)."""
        if code is AckCode.OK:
            raise ValueError("a refusal needs an ACK code other than OK")
        super().refuse_next(count)
        self._refusal_code = code

    # --- what the device says about itself ----------------------------------------------------

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
        status = Status(
            seq=seq,
            speed=s.speed,
            heat=s.heat,
            program=s.program,
            temp_dc=temp_dc,
            battery=battery,
            faults=omp_fault_bits(s.faults),
            remaining_s=self._remaining_s(),
        )
        return self.lies.omp(status)

    def _remaining_s(self) -> int:
        due = self._auto_off_at()
        if due is None:
            return 0
        # The epsilon keeps 900.0000000001 (float noise) from reading as 901 s.
        left = math.ceil(due - self._t - 1e-9)
        return max(0, min(0xFFFF, left))

    # --- the protocol side --------------------------------------------------------------------

    def _handle(self, item: Frame) -> bytes:
        return self.handle_frame(item, self._t)

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
            self._out.append(_wire(self._last_answer))
            ack, answer_name = _describe_answer(self._last_answer)
            self.timeline.record_command(
                CommandRecord(t, name, frame.seq, value, ack, answer_name, retry=True)
            )
            return self._flush()

        answer = self._dispatch(frame)
        self._last_key = (frame.type, frame.seq)
        self._last_answer = answer
        self._out.append(_wire(answer))
        ack, answer_name = _describe_answer(answer)
        _LOG.debug("%s seq %d value %s -> %s", name, frame.seq, value, answer_name)
        self.timeline.record_command(CommandRecord(t, name, frame.seq, value, ack, answer_name))
        self._commit(name)
        self._settle()
        return self._flush()

    def _on_new_link(self) -> None:
        # Forget the last frame too: otherwise a new host's first frame could be taken for a
        # retry of the old host's last.
        self._last_key = None
        self._last_answer = None

    # --- commands ----------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> Frame:
        mtype = _MSG_TYPES.get(frame.type)
        if mtype is None:
            return self._ack(frame, AckCode.UNSUPPORTED)
        expected = _PAYLOAD_LEN_BY_TYPE.get(frame.type)
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
        return self._ack(frame, self._control(frame, mtype, value))

    def _control(self, frame: Frame, mtype: MsgType, value: int) -> AckCode:
        """A command that changes something (or STOP): the ACK code it gets."""
        control = frame.type in _CONTROL_TYPES
        if control and value > 0 and self._take_refusal():
            return self._refusal_code
        if mtype is MsgType.SET_SPEED:
            code = self._set_speed(value)
        elif mtype is MsgType.SET_HEAT:
            code = self._set_heat(value)
        elif mtype is MsgType.RUN_PROGRAM:
            code = self._run_program(value)
        else:
            code = self._stop()
        # (No faults, nothing to clear: skips two flag operations on nearly every command.)
        if control and code is AckCode.OK and self.state.faults is not NO_FAULTS:
            self.state.faults &= ~CLEARED_BY_COMMAND
        return code

    @staticmethod
    def _ack(frame: Frame, code: AckCode) -> Frame:
        return _ack_frame(frame.seq, code)[0]

    def _set_speed(self, level: int) -> AckCode:
        if not 0 <= level <= self.profile.speed_levels:
            return AckCode.BAD_VALUE
        if level > 0 and self._motor_blocked():
            return AckCode.REFUSED_FAULT
        # Manual override: setting a speed ends a running program.
        self._end_program()
        self.state.speed = level
        return AckCode.OK

    def _set_heat(self, level: int) -> AckCode:
        if not 0 <= level <= self.profile.heat_levels:
            return AckCode.BAD_VALUE
        if level > 0 and (SimFault.OVERHEAT in self.state.faults or self._battery_empty()):
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
        if self._motor_blocked():
            return AckCode.REFUSED_FAULT
        self._start_program(index)
        return AckCode.OK

    def _stop(self) -> AckCode:
        self._stop_all()
        return AckCode.OK

    # --- output ------------------------------------------------------------------------------

    def _status_bytes(self) -> bytes:
        return self.status(0).to_frame().encode()


def _type_name(type_: int) -> str:
    name = _TYPE_NAMES.get(type_)
    return name if name is not None else f"0x{type_:02x}"


def _ack_frame(seq: int, code: AckCode) -> tuple[Frame, bytes]:
    key = (seq, int(code))
    ack = _ACKS.get(key)
    if ack is None:
        frame = Frame(MsgType.ACK, seq, bytes((code,)))
        ack = _ACKS[key] = (frame, frame.encode())
    return ack


def _wire(frame: Frame) -> bytes:
    """A frame's bytes (an ACK's from the table)."""
    if frame.type == MsgType.ACK and len(frame.payload) == 1:
        code = _ACK_CODES.get(frame.payload[0])
        if code is not None:
            return _ack_frame(frame.seq, code)[1]
    return frame.encode()


def _describe_answer(frame: Frame) -> tuple[AckCode | None, str]:
    """The ACK code (None for INFO and STATUS) and a name for one of the firmware's answers."""
    if frame.type == MsgType.ACK:
        code = _ACK_CODES.get(frame.payload[0])
        if code is None:
            code = AckCode(frame.payload[0])
        return code, code.name
    return None, MsgType(frame.type).name
