"""Clocks, injected wherever time matters, so that the same code runs in real or scaled time.

Nothing in massagectl or massagesim calls ``time.monotonic`` or ``asyncio.sleep`` for a timed
behaviour directly: it asks its clock. A :class:`ScaledClock` runs everything N times faster
(``--speedup``), which is also how tests run long programs in little wall time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """A source of time in seconds and a way to wait for it."""

    def now(self) -> float:
        """Seconds on this clock; only differences matter."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (immediately if it already is)."""
        ...

    @property
    def speedup(self) -> float:
        """How many clock seconds pass per wall second."""
        ...


class MonotonicClock:
    """Real time, from the event loop's monotonic clock."""

    speedup: float = 1.0

    def now(self) -> float:
        """Seconds of the monotonic clock."""
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the deadline, on the event loop's own timer."""
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep(self, seconds: float) -> None:
        """Sleep for a number of clock seconds."""
        await self.sleep_until(self.now() + seconds)


class ScaledClock:
    """Time that runs ``speedup`` times faster than the wall clock, from the moment it is made."""

    def __init__(self, speedup: float) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self._speedup = float(speedup)
        self._origin = time.monotonic()

    @property
    def speedup(self) -> float:
        """Clock seconds per wall second."""
        return self._speedup

    def now(self) -> float:
        """Seconds since the clock was made, scaled."""
        return (time.monotonic() - self._origin) * self._speedup

    async def sleep_until(self, deadline: float) -> None:
        """Sleep the wall time that corresponds to the remaining clock time."""
        delay = (deadline - self.now()) / self._speedup
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep(self, seconds: float) -> None:
        """Sleep for a number of clock seconds."""
        await self.sleep_until(self.now() + seconds)
