"""Refusing what a device whose session is over would not do, with the reason.

The safety envelope holds back anything that would start a device whose session reached
``max_session`` and has not rested (see :mod:`massagectl.safety.envelope`); the command itself
does not fail there, so without this the bridge would answer ``ok`` while nothing starts. A
command the envelope held back that way is refused instead, with the envelope's reason (how long
the rest still lasts, and the reset), on the error topic and the reply topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..device import Massager
from ..errors import SafetyHold
from ..safety.envelope import Cut
from .commands import NO_PROGRAM, SetCommand


def refused_before(m: Massager, command: SetCommand) -> str | None:
    """Why a program may not start now (its settings go out later, in a task of its own, so it
    is refused before it starts); None for any other command, or when it may."""
    run = command.run
    if run is None or (isinstance(run, str) and run.lower() == NO_PROGRAM):
        return None
    cut = m.envelope.session_refusal(m.clock.now())
    return None if cut is None else f"safety: {cut.message}"


class HeldBack:
    """Watches the envelope while one command is carried out: did it hold the command back
    because the session is over?"""

    def __init__(self, m: Massager, command: SetCommand) -> None:
        #: The cut that held the command back, if one did.
        self.cut: Cut | None = None
        # A stop (or a reset) is never held back; and a stop runs beside the queued command, so
        # it must not take that command's cut for its own.
        self._unsubscribe = (
            None if command.stop or command.safety_reset else m.subscribe_safety(self._heard)
        )

    def _heard(self, cut: Cut) -> None:
        if cut.kind == "session" and cut.asked > 0 and self.cut is None:
            self.cut = cut

    def close(self) -> None:
        """Stop watching."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def reason(self) -> str | None:
        """What to tell the sender, if the command was held back."""
        return None if self.cut is None else f"safety: {self.cut.message}"


@asynccontextmanager
async def refused_if_held(m: Massager, command: SetCommand, name: str) -> AsyncIterator[None]:
    """Around carrying out ``command``: raises :class:`~massagectl.errors.SafetyHold` (which
    the dispatcher answers with kind ``safety``) before a program that may not start, and
    after a command that the envelope held back because the session is over."""
    if (why := refused_before(m, command)) is not None:
        raise SafetyHold(f"{name}: {why}")
    held = HeldBack(m, command)
    try:
        yield
    finally:
        held.close()
    if held.reason is not None:
        raise SafetyHold(f"{name}: {held.reason}")
