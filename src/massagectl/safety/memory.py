"""What the safety envelope remembers of one device: the heat and the session it has had.

The memory is kept apart from the envelope so that it can outlive it. An envelope belongs to
one connected :class:`~massagectl.device.Massager`; the heat on a body and the length of a
session do not end when the device switches itself off, its watchdog stops it, the link drops,
or the bridge connects again (a new ``Massager``). Whoever keeps the device for longer (the
bridge's device host; :mod:`.store` across massagectl runs) hands the same memory to each new
envelope.

Times are on the clock of the device layer that uses the memory; :meth:`SafetyMemory.shifted`
moves them to another clock (the store keeps wall-clock times).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class SafetyMemory:
    """The heat exposure and the session of one device, as the envelope has seen them."""

    #: Heat-on time since the heat last rested for ``heat_rest`` (not counting the stretch now on).
    heat_on_s: float = 0.0
    #: When the heat went on, while it is on.
    heat_on_since: float | None = None
    #: When the heat went off, while it is off (None: never on).
    heat_off_since: float | None = None
    #: Heat is refused until then (the rest after its longest run).
    heat_rest_until: float = -math.inf
    #: When the session began (None: no session since the last rest).
    session_since: float | None = None
    #: When the device was last seen going inactive, while it is inactive.
    idle_since: float | None = None
    #: When the session reached its longest (None: it has not).
    session_over_at: float | None = None
    #: The last moment the device was seen (a state it reported).
    seen_at: float | None = None
    #: Called after every change, so that a store can keep it (not part of the memory itself).
    on_change: Callable[[SafetyMemory], None] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    def changed(self) -> None:
        """Tell the keeper (if any) that the memory changed."""
        if self.on_change is not None:
            self.on_change(self)

    def reset_session(self) -> None:
        """Forget the session (the person's explicit reset): the next activity starts a new one.

        The heat's own rest is not shortened: it is short, and it is about the skin under the
        heater rather than about how long a session may last.
        """
        self.session_since = None
        self.session_over_at = None
        self.idle_since = None
        self.changed()

    def shifted(self, offset: float) -> SafetyMemory:
        """The same memory with every time moved by ``offset`` seconds (to another clock)."""

        def move(t: float | None) -> float | None:
            return None if t is None else t + offset

        return SafetyMemory(
            heat_on_s=self.heat_on_s,
            heat_on_since=move(self.heat_on_since),
            heat_off_since=move(self.heat_off_since),
            heat_rest_until=self.heat_rest_until + offset,
            session_since=move(self.session_since),
            idle_since=move(self.idle_since),
            session_over_at=move(self.session_over_at),
            seen_at=move(self.seen_at),
        )

    def ended_unseen(self) -> None:
        """The process that kept this memory ended without a word (it was killed): the heat and
        the activity it last saw are taken to have ended when it last saw the device.

        The device's own watchdog stops it within seconds of its host going silent; counting
        the time since as heat would cut the next run's heat at once after hours of rest.
        """
        seen = self.seen_at
        if seen is None:
            return
        if self.heat_on_since is not None:
            self.heat_on_s += max(0.0, seen - self.heat_on_since)
            self.heat_on_since, self.heat_off_since = None, seen
        if self.session_since is not None and self.idle_since is None:
            self.idle_since = seen
