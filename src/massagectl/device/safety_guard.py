"""The safety envelope put to work on a connected device: what it admits, and its deadlines.

:class:`SafetyGuard` caps each command by the envelope before it is sent, tells the device's
safety listeners what was held back, and acts on the envelope's deadlines (the longest heat,
the longest session) in a task of its own, whether or not anything else is sent meanwhile.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping

from ..clock import Clock, Signal, first_of
from ..device_types import CommandKind, DeviceState
from ..errors import DeviceError
from ..safety.envelope import Action, Cut, SafetyEnvelope

__all__ = ["SafetyGuard"]

_log = logging.getLogger(__name__)


class SafetyGuard:
    """Keeps one device within ``envelope``.

    ``report`` hears of every cut; ``actions`` carry out what a deadline falling due asks for
    (``"stop"``: stop the device, ``"heat-off"``: turn its heat off).
    """

    def __init__(
        self,
        envelope: SafetyEnvelope,
        clock: Clock,
        name: str,
        *,
        report: Callable[[Cut], None],
        actions: Mapping[Action, Callable[[], Awaitable[None]]],
    ) -> None:
        self.envelope = envelope
        self._clock = clock
        self._name = name
        # Told of every cut, and how each deadline's action is carried out: by the device.
        self._report_to, self._actions = report, actions
        self._wake = Signal()
        #: The envelope deadline the guard waits for (NaN: not known, so any change wakes it).
        self._deadline: float | None = math.nan

    def admit(self, kind: CommandKind, value: int) -> int:
        """The value of ``kind`` the envelope lets through now (``value`` or less)."""
        allowed, cut = self.envelope.admit(kind, value, self._clock.now())
        if cut is not None:
            self.report(cut)
        return allowed

    def report(self, cut: Cut) -> None:
        """Log ``cut`` and hand it to whoever listens."""
        _log.warning("%s: safety: %s", self._name, cut.message)
        self._report_to(cut)

    def observe(self, state: DeviceState) -> None:
        """Count a state the connected device reported; wake the guard if a deadline moved."""
        envelope = self.envelope
        envelope.observe(state, self._clock.now())
        # Only when the guard's deadline moved: every STATUS comes here, and waking the
        # guard to find the same deadline again cost a timer and two loop turns each time.
        if envelope.next_deadline() != self._deadline:
            self._wake.set()

    async def run(self) -> None:
        """Act on the envelope's deadlines until cancelled."""
        envelope = self.envelope
        while True:
            self._wake.clear()
            deadline = envelope.next_deadline()
            self._deadline = deadline
            if deadline is None:
                await self._wake.wait()
                continue
            if await first_of(self._clock.timer(deadline), self._wake.future()):
                continue
            self._deadline = math.nan  # acting: whatever changes meanwhile wakes it again
            for action, cut in envelope.due(self._clock.now()):
                self.report(cut)
                try:
                    await self._actions[action]()
                except DeviceError as exc:
                    _log.warning("%s: safety %s failed: %s", self._name, action, exc)
