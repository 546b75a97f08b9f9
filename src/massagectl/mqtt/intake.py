"""The commands waiting for one device: bounded, the newest setting wins, a stop clears them.

Commands can arrive far faster than a device takes them (a script in a loop, a flood). Kept in
a plain queue they would be carried out for minutes after their senders stopped, and a stop
would wait behind them. The intake keeps, instead, only what still matters:

* a **setting** (``power``, ``speed``, ``speed_level``, ``heat``, ``device_program``) that is
  still waiting is merged with a newer one, per group of fields: the motor fields (``power``,
  ``speed``, ``speed_level``, ``device_program``) of the newer command replace the older
  command's motor fields, its ``heat`` replaces the older ``heat``, and what the newer one does
  not mention is kept. The device thus ends where carrying them out one by one would have
  left it, the combination is always one the schema allows, and the older command is dropped;
* a setting also drops the program commands (``run``, ``control``, ``intensity``) waiting
  before it, since it would end that program anyway; a ``run`` drops every setting and program
  command waiting before it, since the program sets the device itself;
* an ``intensity`` on its own replaces one on its own waiting just before it; ``control``
  commands (pause, next, ...) are kept in order;
* a command with ``if_owner`` is never merged: whether it applies depends on what was carried
  out before it, so it keeps its place and nothing after it merges across it;
* at most :data:`MAX_WAITING` commands wait; past that the oldest is dropped.

A stop (without ``if_owner``) does not queue at all: the device host clears the intake
(:meth:`Intake.clear`) and stops the device at once. Every dropped command is handed back to
the caller, so that a sender who gave an ``id`` hears that it was dropped.

The intake is plain data (no I/O, no tasks); :attr:`Intake.wake` is raised whenever something
is waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ..clock import Signal
from .commands import SetCommand

#: The most commands that wait for one device. Settings merge into one, so this is reached
#: only by program controls and ``if_owner`` commands; each command is at most
#: :data:`~.commands.MAX_PAYLOAD_BYTES` as received.
MAX_WAITING: Final = 16

#: Fields that drive the motor: a newer command naming any of them replaces all of them.
MOTOR_FIELDS: Final = ("power", "speed", "speed_level", "device_program")
HEAT_FIELDS: Final = ("heat",)


class DropReason(Enum):
    """Why a command that was accepted is not carried out."""

    #: A newer command took its place (merged into it, or made it pointless).
    REPLACED = "replaced by a newer command before it was carried out"
    #: A stop came after it.
    STOPPED = "overtaken by a stop"
    #: Too many commands were waiting; the oldest gave way.
    OVERFLOW = f"more than {MAX_WAITING} commands were waiting; the oldest gave way"
    #: The device went offline before it was carried out.
    OFFLINE = "the device went offline before it was carried out"


@dataclass(frozen=True, slots=True)
class Dropped:
    """A command that will not be carried out, and why."""

    command: SetCommand
    reason: DropReason


class _Kind(Enum):
    SETTING = "setting"
    RUN = "run"
    CONTROL = "control"
    INTENSITY = "intensity"
    CONDITIONAL = "conditional"


def _kind(command: SetCommand) -> _Kind:
    if command.if_owner is not None:
        return _Kind.CONDITIONAL
    if command.is_manual:
        return _Kind.SETTING
    if command.run is not None:
        return _Kind.RUN
    if command.control is None and command.intensity is not None:
        return _Kind.INTENSITY
    return _Kind.CONTROL


def merge_settings(older: SetCommand, newer: SetCommand) -> SetCommand:
    """``newer`` with the field groups it leaves out taken from ``older`` (see the module)."""
    update: dict[str, object] = {}
    for group in (MOTOR_FIELDS, HEAT_FIELDS):
        if all(getattr(newer, name) is None for name in group):
            update.update({name: getattr(older, name) for name in group})
    # Every group comes whole from one command that passed the schema, and heat combines with
    # any motor field, so the result needs no second check.
    return newer.model_copy(update=update)


class Intake:
    """The commands waiting for one device (see the module for the rules)."""

    def __init__(self, limit: int = MAX_WAITING) -> None:
        self.limit = limit
        self._waiting: deque[SetCommand] = deque()
        #: Raised while a command waits.
        self.wake = Signal()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, command: SetCommand) -> list[Dropped]:
        """Queue ``command`` (not a plain stop: see :meth:`clear`); what it made pointless
        is returned."""
        kind = _kind(command)
        dropped: list[Dropped] = []
        if kind is _Kind.SETTING:
            merged = command
            for older in self._since_barrier():
                older_kind = _kind(older)
                if older_kind is _Kind.SETTING:
                    merged = merge_settings(older, merged)
                self._waiting.remove(older)
                dropped.append(Dropped(older, DropReason.REPLACED))
            command = merged
        elif kind is _Kind.RUN:
            for older in self._since_barrier():
                self._waiting.remove(older)
                dropped.append(Dropped(older, DropReason.REPLACED))
        elif kind is _Kind.INTENSITY and self._waiting:
            last = self._waiting[-1]
            if _kind(last) is _Kind.INTENSITY:
                self._waiting.pop()
                dropped.append(Dropped(last, DropReason.REPLACED))
        self._waiting.append(command)
        while len(self._waiting) > self.limit:
            dropped.append(Dropped(self._waiting.popleft(), DropReason.OVERFLOW))
        self.wake.set()
        return dropped

    def _since_barrier(self) -> list[SetCommand]:
        """The waiting commands after the last ``if_owner`` one (those a newer one may drop:
        in this group only settings and program commands wait, see :meth:`add`)."""
        tail: list[SetCommand] = []
        for waiting in reversed(self._waiting):
            if _kind(waiting) is _Kind.CONDITIONAL:
                break
            tail.append(waiting)
        tail.reverse()
        return tail

    def next(self) -> SetCommand | None:
        """The command to carry out now, if one waits."""
        if not self._waiting:
            self.wake.clear()
            return None
        command = self._waiting.popleft()
        if not self._waiting:
            self.wake.clear()
        return command

    def clear(self, reason: DropReason) -> list[Dropped]:
        """Drop everything waiting (a stop came, or the device went away)."""
        dropped = [Dropped(c, reason) for c in self._waiting]
        self._waiting.clear()
        self.wake.clear()
        return dropped
