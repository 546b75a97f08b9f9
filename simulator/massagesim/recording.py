"""The record of what a simulated device was told and what it did, with clock times.

Two lists: every host command with the answer it got, and a snapshot of the state at every
change of speed, heat, program or faults. A snapshot's time is the clock time at which the
firmware applied the change (for a program step, the step's own due time, not the tick that
noticed it), so a test can compare a program's planned timeline with what the device did,
level by level and time by time.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass

from massagectl.protocols.omp import AckCode

from .firmware_state import FirmwareState
from .sim_faults import SimFault

_LOG = logging.getLogger(__name__)

StateListener = Callable[["StateSnapshot"], None]


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One frame the device received from the host, and how it answered."""

    #: Clock time the frame was received.
    t: float
    #: The MsgType name (``"SET_SPEED"``), or ``"0x42"`` for a TYPE the device does not know.
    type: str
    seq: int
    #: The payload's single byte (a level, an index, a version), None for other payload sizes.
    value: int | None
    #: The ACK code sent back; None when the answer was INFO or STATUS.
    ack: AckCode | None
    #: What was sent back: an AckCode name, ``"INFO"`` or ``"STATUS"``.
    answer: str
    #: True when the frame was a retry: answered again but not applied again.
    retry: bool = False


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """The device's state just after a change of speed, heat, program or faults."""

    #: Clock time the change was applied.
    t: float
    speed: int
    heat: int
    program: int
    faults: SimFault
    temperature_c: float
    battery_pct: float | None
    #: What caused the change: a command name, ``"program step"``, ``"watchdog"``, ...
    cause: str

    @property
    def active(self) -> bool:
        """Whether the device was active in the OMP/1 sense."""
        return self.speed > 0 or self.heat > 0 or self.program > 0


class Recording:
    """Commands and state changes of one device, in the order they happened."""

    def __init__(self) -> None:
        self._commands: list[CommandRecord] = []
        self._states: list[StateSnapshot] = []
        self._times: list[float] = []
        self._listeners: list[StateListener] = []
        self._command_listeners: list[Callable[[CommandRecord], None]] = []

    def record_command(self, record: CommandRecord) -> None:
        """Append a received command (called by the firmware)."""
        self._commands.append(record)
        for listener in list(self._command_listeners):
            listener(record)

    def record_state(self, t: float, state: FirmwareState, cause: str) -> StateSnapshot:
        """Append a snapshot of ``state`` taken at clock time ``t`` (called by the firmware)."""
        if self._times and t < self._times[-1]:
            # The firmware never goes back in time; keeping the list sorted keeps state_at right.
            raise ValueError(f"snapshot at t={t} is earlier than the last one ({self._times[-1]})")
        snap = StateSnapshot(
            t=t,
            speed=state.speed,
            heat=state.heat,
            program=state.program,
            faults=state.faults,
            temperature_c=state.temperature_c,
            battery_pct=state.battery_pct,
            cause=cause,
        )
        self._states.append(snap)
        self._times.append(t)
        for listener in list(self._listeners):
            try:
                listener(snap)
            except Exception:
                # A test's callback must not be able to break the firmware mid-change.
                _LOG.exception("state listener %r failed", listener)
        return snap

    def on_state(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def on_command(self, listener: Callable[[CommandRecord], None]) -> Callable[[], None]:
        """Call ``listener`` with every command received; returns a function that unsubscribes."""
        self._command_listeners.append(listener)

        def remove() -> None:
            if listener in self._command_listeners:
                self._command_listeners.remove(listener)

        return remove

    def commands(self) -> list[CommandRecord]:
        """Every command received, oldest first."""
        return list(self._commands)

    def states(self) -> list[StateSnapshot]:
        """Every state snapshot, oldest first; the first is the state at power-on."""
        return list(self._states)

    def state_at(self, t: float) -> StateSnapshot:
        """The state in force at clock time ``t``.

        Changes applied at exactly ``t`` count (the last of them wins). A time before the
        first snapshot gets the power-on state: the device was off before it existed.
        """
        if not self._states:
            raise LookupError("the timeline has no snapshots yet")
        i = bisect.bisect_right(self._times, t)
        return self._states[max(i - 1, 0)]

    def clear(self) -> None:
        """Forget everything but the current state (kept as the new first snapshot)."""
        self._commands.clear()
        del self._states[:-1]
        del self._times[:-1]
