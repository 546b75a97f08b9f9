"""Clocks, injected wherever time matters, so that the same code runs in real, scaled or
virtual time.

Nothing in massagectl or massagesim calls ``time.monotonic`` or ``asyncio.sleep`` for a timed
behaviour directly: it asks its clock. A :class:`ScaledClock` runs everything N times faster
(``--speedup``); a :class:`VirtualClock` jumps straight to the next thing anyone waits for, so an
hour-long program runs in well under a second, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol


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
        """How many clock seconds pass per wall second (infinite for virtual time)."""
        ...

    def busy(self) -> AbstractContextManager[None]:
        """Mark work in flight (a request awaiting its answer) that time must not jump over."""
        ...

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """A future that completes when the clock reaches ``deadline``; cancel it to drop it.

        Racing a timer against another future (``asyncio.wait``) costs no task, unlike racing
        ``sleep_until`` against an event.
        """
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

    def busy(self) -> AbstractContextManager[None]:
        """Real time passes anyway: nothing to mark."""
        return contextlib.nullcontext()

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """A future completing at ``deadline`` on the event loop's own timer."""
        return _loop_timer(deadline - time.monotonic())


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

    def busy(self) -> AbstractContextManager[None]:
        """Scaled real time passes anyway: nothing to mark."""
        return contextlib.nullcontext()

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """A future completing when the scaled clock reaches ``deadline``."""
        return _loop_timer((deadline - self.now()) / self._speedup)


def _loop_timer(delay: float) -> asyncio.Future[None]:
    return _LoopTimer(asyncio.get_running_loop(), delay)


class _LoopTimer(asyncio.Future[None]):
    """A future completed by the loop's own timer; cancelling it cancels that timer at once.

    A future and a timer handle, nothing else: every scheduler step and every command's
    keepalive makes one, so it costs no task, and (unlike a done-callback that cancels the
    handle) no extra loop turn when it is dropped.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        super().__init__(loop=loop)
        self._handle = loop.call_at(loop.time() + max(0.0, delay), self._fire)

    def _fire(self) -> None:
        if not self.done():
            self.set_result(None)

    def cancel(self, msg: Any | None = None) -> bool:
        """Drop the timer (a no-op once it has fired)."""
        self._handle.cancel()
        return super().cancel(msg)


def _resolve(future: asyncio.Future[Any], _: object = None) -> None:
    if not future.done():
        future.set_result(None)


class VirtualClock:
    """Virtual time: it stands still while anything can run, then jumps to the next deadline.

    Start its driver with ``async with clock.running():``. Whenever the event loop has nothing
    ready to run and no work is marked :meth:`busy` (a request on a real pty awaiting its
    answer), the driver moves time to the earliest :meth:`sleep_until` deadline and wakes that
    sleeper. Everything sharing the clock sees the same, consistent time: events happen in
    deadline order, and a device's records carry the exact virtual times.
    """

    speedup: float = math.inf

    #: Loop turns with nothing ready before time may jump (lets callbacks and I/O settle).
    #: One is enough where the loop's ready queue can be seen; more where it cannot.
    SETTLE_TURNS = 1
    BLIND_SETTLE_TURNS = 8

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._busy = 0
        self._kick: asyncio.Event | None = None

    def now(self) -> float:
        """The virtual time."""
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        """Wait until virtual time reaches ``deadline``."""
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future = self.timer(deadline)
        try:
            await future
        finally:
            future.cancel()  # a cancelled sleeper is skipped when its turn comes

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """A future completing when virtual time reaches ``deadline``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if deadline <= self._now:
            future.set_result(None)
            return future
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        if self._kick is not None:
            self._kick.set()
        return future

    async def sleep(self, seconds: float) -> None:
        """Sleep for a number of virtual seconds."""
        await self.sleep_until(self._now + seconds)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Hold time still while the block runs (e.g. awaiting an answer over a real pty)."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if self._kick is not None:
                self._kick.set()

    def advance_to(self, t: float) -> None:
        """Move time to ``t`` at once, waking every sleeper due by then (for hand-driven tests)."""
        while self._sleepers and self._sleepers[0][0] <= t:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
        self._now = max(self._now, t)

    def _wake_next(self) -> bool:
        while self._sleepers:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self._now = max(self._now, deadline)
            future.set_result(None)
            # Everyone else due at the same moment wakes with it.
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, other = heapq.heappop(self._sleepers)
                if not other.done():
                    other.set_result(None)
            return True
        return False

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        turns = self.SETTLE_TURNS if hasattr(loop, "_ready") else self.BLIND_SETTLE_TURNS
        while True:
            idle_turns = 0
            while idle_turns < turns:
                await asyncio.sleep(0)
                idle_turns = idle_turns + 1 if _loop_idle(loop) and not self._busy else 0
            if not self._wake_next():
                # Nobody is waiting on the clock: wait until somebody does, or work ends.
                self._kick.clear()
                await self._kick.wait()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[VirtualClock]:
        """Run the driver that makes time pass for the duration of the block."""
        task = asyncio.create_task(self._drive(), name="virtual clock")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._kick = None


def _loop_idle(loop: asyncio.AbstractEventLoop) -> bool:
    # asyncio has no public "is anything ready?"; its base loop keeps the ready queue in
    # ``_ready``. (The driver's own wake-up was taken off it before the driver runs.) A loop
    # without one falls back on the settle turns alone.
    ready = getattr(loop, "_ready", None)
    return ready is None or len(ready) == 0


async def first_of(timer: asyncio.Future[None], signal: asyncio.Future[Any]) -> bool:
    """Wait for a timer or a signal, whichever comes first; True if the signal came.

    The timer is dropped either way. Neither future costs a task.
    """
    # Not asyncio.wait: it builds a set, a waiter and callbacks on every call, and this runs
    # for every step of every program and every command's keepalive.
    try:
        if timer.done() or signal.done():
            # Still a turn of the loop, as asyncio.wait gave: a caller looping on a deadline
            # already past must not starve everything else.
            await asyncio.sleep(0)
        elif isinstance(timer, asyncio.Task):
            # Someone else's task: it cannot be completed from here, so wait on a go-between.
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            wake = functools.partial(_resolve, waiter)
            timer.add_done_callback(wake)
            signal.add_done_callback(wake)
            try:
                await waiter
            finally:
                timer.remove_done_callback(wake)
                signal.remove_done_callback(wake)
        else:
            # The timer is this wait's own future: the signal completes it, and the task waits
            # on the timer alone (one loop turn fewer than a go-between).
            relay = functools.partial(_resolve, timer)
            signal.add_done_callback(relay)
            try:
                await timer
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling() or not timer.cancelled():
                    raise
                # The timer was cancelled by its owner, not this task: like asyncio.wait,
                # that counts as done.
            finally:
                signal.remove_done_callback(relay)
    finally:
        timer.cancel()
    return signal.done()


class Signal:
    """A settable flag whose setting can be awaited as a future (racing it costs no task)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None
        self._set = False

    def set(self) -> None:
        """Raise the flag and wake whoever waits on it."""
        self._set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    def clear(self) -> None:
        """Lower the flag."""
        self._set = False
        if self._future is not None and self._future.done():
            self._future = None

    def is_set(self) -> bool:
        """Whether the flag is raised."""
        return self._set

    def future(self) -> asyncio.Future[None]:
        """A future that completes when the flag is (or already was) raised."""
        if self._future is None or (self._future.done() and not self._set):
            self._future = asyncio.get_running_loop().create_future()
        if self._set and not self._future.done():
            self._future.set_result(None)
        return self._future

    async def wait(self) -> None:
        """Wait until the flag is raised."""
        if not self._set:
            await asyncio.shield(self.future())
