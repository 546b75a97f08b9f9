"""The commands on their way to a device: coalesced, paced, STOP first, and kept fed.

:class:`CommandQueue` holds, per kind of command, only the newest value still waiting: a
setpoint replaced before it went out is never sent. STOP overtakes every setpoint waiting, and
the setpoints it overtook are answered with the STOP's outcome. A writer task (:meth:`run`)
sends what waits as fast as the driver's pacing allows and, while the device is active and its
protocol asks for it, feeds its watchdog. When nothing waits and no pacing is due, the caller
carries its command out itself (the direct path): the writer task is skipped altogether.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import Clock, Signal, first_of
from ..device_types import Command, CommandKind, DeviceInfo
from ..drivers.base import Driver
from ..errors import DeviceError, LinkLost

__all__ = ["CommandQueue"]

#: The setpoints a STOP overtakes (and answers for) when they are still waiting.
_OVERTAKEN_BY_STOP = (CommandKind.SPEED, CommandKind.HEAT, CommandKind.PROGRAM)


@dataclass(slots=True)
class _Slot:
    """One kind of command waiting to be sent; a newer value replaces an older one."""

    kind: CommandKind
    value: int
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class CommandQueue:
    """What waits to be sent to one device through its ``driver``, and the task that sends it.

    ``link_lost`` is set, and ``on_lost`` called, once the link is found gone; from then on
    every command fails with :attr:`lost` until :meth:`restart`.
    """

    def __init__(
        self,
        driver: Driver,
        clock: Clock,
        name: str,
        link_lost: asyncio.Event,
        on_lost: Callable[[], None],
    ) -> None:
        self._driver = driver
        self._clock = clock
        self._name = name
        self._link_lost = link_lost
        self._on_lost = on_lost
        #: Why the link was lost, once it is: every command from then on fails with it.
        self.lost: LinkLost | None = None
        #: True from a successful connect until close: commands are taken only then.
        self.running = False
        #: What the device can do (for its keepalive interval); None until connected.
        self.info: DeviceInfo | None = None
        #: Whether the device says it is active: only then is it kept fed.
        self.active = False
        self._slots: dict[CommandKind, _Slot] = {}
        self._wake = Signal()
        #: The slot the writer is carrying out now: its callers must hear of a close or a loss.
        self._current: _Slot | None = None
        #: The command a caller is carrying out itself, in its own task (see submit).
        self._direct: _Slot | None = None
        #: Whether the writer waits for that command to end (it must then be woken).
        self._writer_held = False

    def restart(self) -> None:
        """Take commands again after the link came back."""
        self.lost = None
        self._link_lost.clear()

    def set_active(self, active: bool) -> None:
        """Whether the device says it is active: it is kept fed only then."""
        if active and not self.active:
            # The writer may be idling without a keepalive timer: let it arm one now.
            self._wake.set()
        self.active = active

    async def submit(self, kind: CommandKind, value: int) -> None:
        """Send ``kind`` with ``value`` (the newest value of a kind wins); returns once sent."""
        if self.lost is not None:
            raise self.lost
        if not self.running:
            # Without a writer nobody would ever answer: fail now rather than wait forever.
            raise LinkLost(f"{self._name}: not connected")
        driver = self._driver
        if (
            not self._slots
            and self._current is None
            and self._direct is None
            and driver.direct_execute
            and driver.last_write + driver.min_gap_s <= self._clock.now()
        ):
            # Nothing to coalesce with, nothing to queue behind, no pacing to wait out: the
            # caller carries the command out itself. Handing it to the writer task and back
            # cost two hand-offs and a wake-up per command, the bulk of a command's time here.
            await self._execute_direct(_Slot(kind, value))
            return
        # The newest value wins, and it goes to the back of the queue: a speed queued before a
        # program but replaced after it must still go out after it (a speed ends a running
        # program), so that the device ends in the state asked for last.
        slot = self._slots.pop(kind, None) or _Slot(kind, value)
        slot.value = value
        self._slots[kind] = slot
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slot.waiters.append(waiter)
        self._wake.set()
        await waiter

    async def stop(self) -> None:
        """Send STOP ahead of every setpoint still waiting, which it replaces."""
        superseded: list[asyncio.Future[None]] = []
        for kind in _OVERTAKEN_BY_STOP:
            slot = self._slots.pop(kind, None)
            if slot is not None:
                superseded.extend(slot.waiters)
        if superseded:
            # Those setpoints are superseded by the STOP: their callers learn the outcome of
            # the STOP rather than an error.
            self._slots.setdefault(CommandKind.STOP, _Slot(CommandKind.STOP, 0))
            self._slots[CommandKind.STOP].waiters.extend(superseded)
        await self.submit(CommandKind.STOP, 0)

    async def _execute_direct(self, slot: _Slot) -> None:
        # In flight as the writer's current command would be: the writer and every other
        # caller queue behind it (a STOP too, which then goes next), and a close or a loss
        # fails it (see fail_all).
        self._direct = slot
        try:
            await self._driver.execute(Command(slot.kind, slot.value))
        except LinkLost as exc:
            self._direct = None
            self.fail_all(exc)
            raise
        except asyncio.CancelledError:
            # The caller gave up, not the device: whether the command got there is unknown,
            # so the writer carries it out again (setting the same value twice is harmless).
            self._direct = None
            self._requeue(slot)
            raise
        finally:
            self._direct = None
            if self._writer_held or self._slots:
                self._wake.set()

    def _requeue(self, slot: _Slot) -> None:
        """Queue a command that was in flight, ahead of what was queued after it."""
        if self.lost is not None or not self.running:
            return
        if slot.kind in self._slots:
            return  # a newer value of the same kind is queued after it, and wins
        if CommandKind.STOP in self._slots and slot.kind is not CommandKind.STOP:
            return  # a STOP queued after it overtakes it anyway, as it overtakes setpoints
        self._slots = {slot.kind: slot, **self._slots}

    def _next_slot(self) -> _Slot | None:
        if CommandKind.STOP in self._slots:
            return self._slots.pop(CommandKind.STOP)
        for kind in list(self._slots):
            return self._slots.pop(kind)
        return None

    async def run(self) -> None:
        """The writer: send what waits, paced, until the link is lost or this is cancelled."""
        try:
            while self.lost is None:  # once lost, every caller has heard; nothing more goes out
                if self._direct is not None:
                    await self._wait_for_direct()
                elif not self._slots:
                    await self._idle_until_work_or_keepalive()
                else:
                    ready_at = self._driver.last_write + self._driver.min_gap_s
                    if ready_at > self._clock.now():
                        # Wait out the pacing, then take whatever is newest by then.
                        await self._clock.sleep_until(ready_at)
                    elif not await self._send_next():
                        return
        except asyncio.CancelledError:
            # Closed with a command still in flight: its callers hear of it too, not only the
            # ones still queued (otherwise they would wait forever).
            self.fail_all(LinkLost(f"{self._name}: connection closed"), self._current)
            self._current = None
            raise

    async def _wait_for_direct(self) -> None:
        # A caller's own command is in flight: wait until it ends (it wakes us).
        self._writer_held = True
        self._wake.clear()
        try:
            await self._wake.wait()
        finally:
            self._writer_held = False

    async def _send_next(self) -> bool:
        """Carry out the next command and answer its callers; False once the link is lost."""
        slot = self._next_slot()
        assert slot is not None
        self._current = slot
        try:
            await self._driver.execute(Command(slot.kind, slot.value))
        except LinkLost as exc:
            self._current = None
            self.fail_all(exc, slot)
            return False
        except DeviceError as exc:
            self._current = None
            for waiter in slot.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return True
        self._current = None
        for waiter in slot.waiters:
            if not waiter.done():
                waiter.set_result(None)
        return True

    async def _idle_until_work_or_keepalive(self) -> None:
        self._wake.clear()
        if self._slots:
            return
        driver = self._driver
        interval = driver.keepalive_s(self.info) if self.info else None
        # Only while the device says it is active: keying this on "this host once made it
        # active" as well made the timer fall due at once, again and again, once the device
        # had stopped (a busy loop). A device that turns active wakes this wait up instead
        # (see set_active), so the feed starts without delay.
        if interval is None or not self.active:
            await self._wake.wait()
            return
        due = driver.last_write + interval
        woken = await first_of(self._clock.timer(due), self._wake.future())
        # A caller's own command (see submit) may have gone out meanwhile, or be going out:
        # then the device was fed, and the timer is armed again from that write instead.
        fed = driver.last_write + interval > due or self._direct is not None
        if not woken and not fed and self.active:
            self._slots.setdefault(CommandKind.PING, _Slot(CommandKind.PING, 0))

    def fail_all(self, exc: LinkLost, current: _Slot | None = None) -> None:
        """The link is gone: fail every command waiting or in flight with ``exc``."""
        if self.lost is None:
            self.lost = exc
        self._link_lost.set()
        if self._direct is not None:
            # A caller's own command in flight: failing what its driver waits on ends it
            # with this error at once (the writer's would have been cancelled).
            self._driver.link_lost(exc)
        slots = list(self._slots.values()) + ([current] if current else [])
        self._slots.clear()
        for slot in slots:
            for waiter in slot.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
        self._on_lost()
