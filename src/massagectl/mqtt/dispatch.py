"""From a device's ``set`` topic to the device: check, queue, carry out one at a time, answer.

A payload is checked as it arrives (:func:`~.commands.parse_command`); a bad one is refused at
once. A good one waits in the device's :class:`~.intake.Intake` (bounded, the newest setting
wins) until the worker (:meth:`Dispatcher.work`) carries it out, each command in a task of its
own so that a stop can cut it short. A stop without ``if_owner`` queues behind nothing: it drops
everything waiting, cancels the command being carried out, and goes to the device at once, so
that nothing accepted before it can run after it.

Whatever goes wrong while one command is handled (a bug included) is answered on the error
topic and ends only that command: the next one is handled as usual.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ..errors import MassagectlError, SafetyHold, UsageError
from .answers import Answers
from .commands import CommandError, SetCommand, parse_command
from .intake import DropReason, Intake

_log = logging.getLogger(__name__)


class CommandTarget(Protocol):
    """What the dispatcher hands commands to (the device host)."""

    @property
    def name(self) -> str:
        """The device's name on the broker."""
        ...

    def not_ready_because(self) -> str | None:
        """Why commands cannot be carried out now (None: they can)."""
        ...

    async def apply(self, command: SetCommand) -> None:
        """Carry out one command (raises :class:`~massagectl.errors.MassagectlError`)."""
        ...


class Dispatcher:
    """One device's commands, from payload to answer."""

    def __init__(self, target: CommandTarget, answers: Answers, intake: Intake | None = None):
        self.target = target
        self.answers = answers
        self.intake = intake or Intake()
        #: The command being carried out, in its own task (None: none).
        self._current: asyncio.Task[None] | None = None
        #: Stops carried out beside the worker, kept so that none is garbage-collected.
        self._stops: set[asyncio.Task[None]] = set()

    # --- intake --------------------------------------------------------------------------

    def take(self, payload: bytes, *, retained: bool = False) -> None:
        """A payload from the ``set`` topic: refused, queued, or (a stop) carried out now."""
        try:
            self._take(payload, retained=retained)
        except Exception as exc:  # one payload must never end the gateway
            _log.warning("%s: could not handle a command: %r", self.target.name, exc)
            _log.debug("the failure", exc_info=True)
            self.answers.error(f"could not handle this command: {_named(exc)}", payload=payload)

    def _take(self, payload: bytes, *, retained: bool) -> None:
        if retained:
            # A retained command would run again on every reconnect: a device that starts by
            # itself days later. Refused, and said so.
            self.answers.error(
                "retained commands are ignored: publish commands without the retain flag",
                payload=payload,
            )
            return
        try:
            command = parse_command(payload)
        except CommandError as exc:
            self.answers.error(str(exc), request_id=exc.request_id, payload=payload)
            self.answers.reply_error(exc.request_id, str(exc), "usage")
            return
        why = self.target.not_ready_because()
        if why is not None:
            self.answers.refuse(
                command.id, f"{self.target.name} is not connected ({why})", "device"
            )
            return
        if command.stop and command.if_owner is None:
            self.overtake()
            self._stop_beside(command)
            return
        for drop in self.intake.add(command):
            self.answers.dropped(drop)

    def overtake(self) -> None:
        """Drop every command waiting, and cut short the one being carried out (a stop comes:
        nothing accepted before it may reach the device after it)."""
        for drop in self.intake.clear(DropReason.STOPPED):
            self.answers.dropped(drop)
        current = self._current
        if current is not None and not current.done():
            current.cancel()

    def _stop_beside(self, command: SetCommand) -> None:
        task = asyncio.get_running_loop().create_task(
            self.carry_out(command), name=f"{self.target.name} stop"
        )
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    def refuse_waiting(self, why: str) -> None:
        """The device went away: every command still waiting is answered, not kept."""
        for drop in self.intake.clear(DropReason.OFFLINE):
            self.answers.refuse(
                drop.command.id, f"{self.target.name} is not connected: {why}", "device"
            )

    # --- carrying out ----------------------------------------------------------------------

    async def work(self) -> None:
        """Carry out the waiting commands one at a time, for as long as the device is served."""
        try:
            while True:
                await self.intake.wake.future()
                command = self.intake.next()
                if command is None:
                    continue
                current = asyncio.get_running_loop().create_task(
                    self.carry_out(command), name=f"{self.target.name} command"
                )
                self._current = current
                # asyncio.wait, not await: a stop cancels the command, not this loop.
                await asyncio.wait({current})
                self._current = None
        finally:
            if self._current is not None:
                self._current.cancel()
                self._current = None

    async def carry_out(self, command: SetCommand) -> None:
        """Carry out one command and answer it; nothing it raises goes further."""
        try:
            await self.target.apply(command)
        except asyncio.CancelledError:
            if command.stop:
                raise
            # Cut short by a stop (or the device going away): the sender learns it did not
            # happen, and the stop decides where the device ends.
            self.answers.reply_error(command.id, f"dropped: {DropReason.STOPPED.value}", "dropped")
            raise
        except MassagectlError as exc:
            kind = "usage" if isinstance(exc, UsageError) else "device"
            if isinstance(exc, SafetyHold):
                kind = "safety"  # a session past its longest: nothing started, and why
            self.answers.refuse(command.id, str(exc), kind)
        except TimeoutError:
            # A device that does not confirm in time must not end the worker: later commands
            # (a second stop among them) still need carrying out.
            self.answers.refuse(
                command.id, f"{self.target.name}: the device did not confirm in time", "device"
            )
        except Exception as exc:  # a bug in one command must not end the worker
            _log.warning("%s: a command failed: %r", self.target.name, exc)
            _log.debug("the failure", exc_info=True)
            self.answers.refuse(
                command.id, f"could not carry out this command: {_named(exc)}", "internal"
            )
        else:
            self.answers.done(command.id)

    async def settle(self) -> None:
        """Wait for the stops still under way (the device is going away)."""
        if self._stops:
            await asyncio.gather(*self._stops, return_exceptions=True)


def _named(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
