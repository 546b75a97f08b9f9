"""Where a program run is, and how it ended: what the views and records read of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .timeline import Levels, Segment

#: What a run does when a device's link drops: end (the other devices stop), or pause, reconnect
#: with backoff and resume ramping in from zero, giving up after a grace period.
OnDisconnect = Literal["stop", "resume"]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run is, for the live view."""

    position: float
    duration: float
    segment: Segment
    step_left: float
    paused: bool
    intensity: float
    levels: dict[str, Levels] = field(default_factory=dict)

    @property
    def total_left(self) -> float:
        """Program time left."""
        return max(0.0, self.duration - self.position)


Outcome = Literal["finished", "stopped"]
