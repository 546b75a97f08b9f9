"""The device: the one place that knows both what a massager can do and how to say it.

:class:`Massager` drives any supported massager through its protocol's
:class:`~massagectl.drivers.Driver` over any :class:`~massagectl.transports.Transport`. Above it,
everything talks in fractions, levels and seconds; below it, the driver and its codec talk bytes.

What it guarantees, whatever the protocol:

* it connects by the protocol's greeting and takes the device's capabilities (OMP/1's INFO, or
  the profile where a device cannot tell);
* it refuses an out-of-range value before anything is sent, and checks every state the device
  reports against its range and physical bounds (:mod:`massagectl.drivers.checks`): a device
  that reported what cannot be is stopped on the way out, even if this host did not start it;
* it paces writes as the protocol or profile asks, coalescing so that only the newest setpoint
  goes out, and STOP overtakes every setpoint still waiting;
* it keeps the device fed while it is active where the protocol has a watchdog or keepalive;
* it sends STOP on every way out of its ``async with`` block, unless told to leave the device
  running (``release()``), and even then on an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock, MonotonicClock, Signal, first_of
from .device_types import Command, CommandKind, DeviceInfo, DeviceState
from .drivers.base import Driver, StateSink, driver_for
from .drivers.checks import BadDeviceReport, marked
from .errors import DeviceError, LinkLost, ValueOutOfRange
from .mapping import fraction_to_level, heat_name_to_level
from .profiles import Profile
from .safety.envelope import Cut, SafetyEnvelope
from .safety.limits import SafetyLimits, limits_for
from .safety.memory import SafetyMemory
from .transports.base import Transport

__all__ = ["DeviceInfo", "DeviceState", "Massager"]

_log = logging.getLogger(__name__)

#: Makes the driver for a transport and profile (``driver_for`` picks it by protocol).
DriverFactory = Callable[[Transport, Profile, Clock, str, StateSink], Driver]

#: How long the device layer waits on exit for its STOP to be acknowledged.
STOP_ON_EXIT_TIMEOUT_S = 2.0


@dataclass(slots=True)
class _Slot:
    """One kind of command waiting to be sent; a newer value replaces an older one."""

    kind: CommandKind
    value: int
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class Massager:
    """A massager behind a transport. Use as ``async with Massager(...) as m:``."""

    def __init__(
        self,
        transport: Transport,
        profile: Profile,
        *,
        clock: Clock | None = None,
        name: str | None = None,
        limits: SafetyLimits | None = None,
        driver_factory: DriverFactory | None = None,
        safety_memory: SafetyMemory | None = None,
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.clock: Clock = clock or MonotonicClock()
        # Reconnect backoff waits on the same clock as everything else here.
        transport.clock = self.clock
        self.name = name or transport.description
        # The profile's protocol says which driver, unless the link decides (a device behind a
        # gateway speaks the gateway's language, whatever its own protocol).
        make_driver = driver_factory or driver_for
        self.driver: Driver = make_driver(transport, profile, self.clock, self.name, self._on_state)
        self._info: DeviceInfo | None = None
        self._state = DeviceState(connected=False)
        self._listeners: list[Callable[[DeviceState], None]] = []
        self._slots: dict[CommandKind, _Slot] = {}
        self._wake = Signal()
        #: The slot the writer is carrying out now: its callers must hear of a close or a loss.
        self._current: _Slot | None = None
        #: The command a caller is carrying out itself, in its own task (see _submit).
        self._direct: _Slot | None = None
        #: Whether the writer waits for that command to end (it must then be woken).
        self._writer_held = False
        self._tasks: list[asyncio.Task[None]] = []
        #: True from a successful connect until close: commands are taken only then.
        self._running = False
        self._made_active = False
        #: Set once the device reported what cannot be: it is stopped on the way out, even if
        #: this host did not start it (nothing it says about itself can be trusted).
        self._reported_bad = False
        #: The STOP sent when a state turned bad (kept so that the task is not collected).
        self._bad_stop: asyncio.Task[None] | None = None
        self._leave_running = False
        self._lost: LinkLost | None = None
        #: Set when the driver's feed raised: this connection's bytes are not fed any more.
        self._deaf = False
        #: Set once the link is gone (closed, dropped, or the device stopped answering).
        self.link_lost = asyncio.Event()
        self._limits = limits
        #: What the envelope counts into; handed in by whoever keeps the device for longer.
        self._safety_memory = safety_memory
        self._envelope: SafetyEnvelope | None = None
        self._guard_wake = Signal()
        #: The envelope deadline the guard waits for (NaN: not known, so any change wakes it).
        self._guard_deadline: float | None = math.nan
        self._safety_listeners: list[Callable[[Cut], None]] = []

    @property
    def bad_frames(self) -> int:
        """Broken frames received and dropped so far."""
        return self.driver.bad_frames

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Massager:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        await self.close(stop=exc_type is not None or not self._leave_running)

    async def connect(self) -> None:
        """Open the link, greet the device and read its capabilities and state."""
        self._listen()
        # Opening a serial port happens in a worker thread the virtual clock cannot see: without
        # this, virtual time could leap seconds ahead (past a device's watchdog) meanwhile.
        with self.clock.busy():
            await self.transport.open()
        try:
            self._tasks.append(asyncio.create_task(self._read_loop(), name=f"{self.name} reader"))
            self._info = await self.driver.start()
            limits = self._limits if self._limits is not None else limits_for(self.profile)
            self._envelope = SafetyEnvelope(limits, self._info, self._safety_memory)
            self._set_state(self.driver.state)
            self._tasks.append(asyncio.create_task(self._write_loop(), name=f"{self.name} writer"))
            self._tasks.append(asyncio.create_task(self._guard_loop(), name=f"{self.name} guard"))
            self._running = True
        except BaseException:
            await self._shutdown_tasks()
            await self.transport.close()
            raise

    async def reconnect(self, *, attempts: int | None = None) -> None:
        """Bring a lost link back (with the transport's backoff), greet the device again and
        carry on; raises :class:`~massagectl.errors.LinkError` if it cannot."""
        if self._lost is None:
            return
        await self._shutdown_tasks()
        # Not marked busy: the backoff waits on the clock, which must be free to move.
        await self.transport.reconnect(attempts=attempts)
        self._lost = None
        self.link_lost.clear()
        self._listen()
        try:
            self._tasks.append(asyncio.create_task(self._read_loop(), name=f"{self.name} reader"))
            self._info = await self.driver.start()
            self._set_state(self.driver.state)
            self._tasks.append(asyncio.create_task(self._write_loop(), name=f"{self.name} writer"))
            self._tasks.append(asyncio.create_task(self._guard_loop(), name=f"{self.name} guard"))
        except BaseException:
            await self._shutdown_tasks()
            raise
        _log.info("%s: reconnected", self.name)

    def release(self) -> None:
        """Leave the device running when the ``async with`` block ends normally.

        The device's own watchdog still stops it once nothing feeds it; an error or a signal
        still stops it at once.
        """
        self._leave_running = True

    async def close(self, *, stop: bool = True) -> None:
        """Stop the device (if this host made it active) and close the link."""
        try:
            must_stop = self._made_active or self._reported_bad
            if stop and must_stop and self._lost is None and self._info is not None:
                try:
                    async with asyncio.timeout(STOP_ON_EXIT_TIMEOUT_S):
                        await self.stop()
                except (TimeoutError, DeviceError) as exc:
                    _log.warning("%s: could not confirm STOP on exit: %s", self.name, exc)
        finally:
            self._running = False
            await self._shutdown_tasks()
            await self.transport.close()
            self._set_state(self._state, connected=False)

    async def _shutdown_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- what the device is and does ---------------------------------------------------

    @property
    def info(self) -> DeviceInfo:
        """The device's capabilities (after connecting)."""
        if self._info is None:
            raise LinkLost(f"{self.name}: not connected")
        return self._info

    @property
    def state(self) -> DeviceState:
        """The last state the device reported."""
        return self._state

    def subscribe(self, listener: Callable[[DeviceState], None]) -> Callable[[], None]:
        """Call ``listener`` with every new state; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            # Safe to call twice (a cleanup path and a finally block often both do).
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    @property
    def envelope(self) -> SafetyEnvelope:
        """The safety limits in force (after connecting)."""
        if self._envelope is None:
            raise LinkLost(f"{self.name}: not connected")
        return self._envelope

    def subscribe_safety(self, listener: Callable[[Cut], None]) -> Callable[[], None]:
        """Call ``listener`` with everything the safety envelope holds back or ends."""
        self._safety_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._safety_listeners:
                self._safety_listeners.remove(listener)

        return unsubscribe

    async def status(self) -> DeviceState:
        """Ask the device for its state now; :class:`~massagectl.drivers.checks.BadDeviceReport`
        if it reports a value that cannot be."""
        await self._submit(CommandKind.STATUS, 0)
        if self._state.bad_values:
            raise BadDeviceReport(self.name, self._state.bad_values)
        return self._state

    # --- commands ----------------------------------------------------------------------

    async def set_speed(self, fraction: float) -> int:
        """Set the speed as a fraction of the device's range (0 is off); returns the level."""
        try:
            level = fraction_to_level(fraction, self.info.speed_levels)
        except ValueOutOfRange as exc:
            raise ValueOutOfRange(f"{self.name}: speed {exc}") from None
        if fraction > 0 and self.info.speed_levels == 0:
            raise ValueOutOfRange(f"{self.name}: this device has no motor")
        return await self.set_speed_level(level)

    async def set_speed_level(self, level: int) -> int:
        """Set the speed level, 0 (off) to the device's top level; returns the level sent
        (lower if the safety envelope caps it)."""
        self._check_range("speed level", level, self.info.speed_levels, "motor")
        return await self._command(CommandKind.SPEED, level)

    async def set_heat(self, heat: str | int) -> int:
        """Set heat by name (off, low, medium, high) or by level; returns the level."""
        if isinstance(heat, str):
            if heat.lower() != "off" and self.info.heat_levels == 0:
                raise ValueOutOfRange(f"{self.name}: this device has no heater")
            try:
                level = heat_name_to_level(heat, self.info.heat_levels)
            except ValueOutOfRange as exc:
                raise ValueOutOfRange(f"{self.name}: {exc}") from None
        else:
            level = heat
        self._check_range("heat level", level, self.info.heat_levels, "heater")
        return await self._command(CommandKind.HEAT, level)

    async def run_program(self, index: int) -> None:
        """Start the device's built-in program ``index`` (1-based); 0 ends the running one."""
        self._check_range("program", index, self.info.program_count, "built-in programs")
        await self._command(CommandKind.PROGRAM, index)

    async def stop(self) -> None:
        """Stop everything at once: it overtakes every setpoint still waiting to be sent."""
        superseded: list[asyncio.Future[None]] = []
        for kind in (CommandKind.SPEED, CommandKind.HEAT, CommandKind.PROGRAM):
            slot = self._slots.pop(kind, None)
            if slot is not None:
                superseded.extend(slot.waiters)
        if superseded:
            # Those setpoints are superseded by the STOP: their callers learn the outcome of
            # the STOP rather than an error.
            self._slots.setdefault(CommandKind.STOP, _Slot(CommandKind.STOP, 0))
            self._slots[CommandKind.STOP].waiters.extend(superseded)
        await self._submit(CommandKind.STOP, 0)

    async def _stop_quietly(self) -> None:
        with contextlib.suppress(DeviceError, TimeoutError):
            async with asyncio.timeout(STOP_ON_EXIT_TIMEOUT_S):
                await self.stop()

    async def ping(self) -> None:
        """Feed the watchdog (or the protocol's keepalive)."""
        await self._submit(CommandKind.PING, 0)

    def _check_range(self, what: str, value: int, top: int, lacking: str) -> None:
        try:
            if isinstance(value, bool):
                raise TypeError
            operator.index(value)
        except TypeError:
            raise ValueOutOfRange(f"{self.name}: {what} {value!r} is not a whole number") from None
        if top == 0 and value != 0:
            raise ValueOutOfRange(f"{self.name}: this device has no {lacking}")
        if not 0 <= value <= top:
            raise ValueOutOfRange(f"{self.name}: {what} {value} is outside 0..{top}")

    async def _command(self, kind: CommandKind, value: int) -> int:
        if value > 0 and self._state.bad_values:
            # A device that reports what cannot be is not to be started again until what it
            # says makes sense: whatever surface asks (a run, the bridge, the API).
            raise BadDeviceReport(self.name, self._state.bad_values)
        allowed, cut = self.envelope.admit(kind, value, self.clock.now())
        if cut is not None:
            self._report(cut)
        if allowed > 0:
            self._made_active = True
        await self._submit(kind, allowed)
        return allowed

    def _report(self, cut: Cut) -> None:
        _log.warning("%s: safety: %s", self.name, cut.message)
        for listener in list(self._safety_listeners):
            try:
                listener(cut)
            except Exception:  # a listener's bug must not take the device down
                _log.exception("%s: safety listener failed", self.name)

    async def _guard_loop(self) -> None:
        """Act on the envelope's deadlines: the longest heat, the longest session."""
        envelope = self.envelope
        while True:
            self._guard_wake.clear()
            deadline = envelope.next_deadline()
            self._guard_deadline = deadline
            if deadline is None:
                await self._guard_wake.wait()
                continue
            if await first_of(self.clock.timer(deadline), self._guard_wake.future()):
                continue
            self._guard_deadline = math.nan  # acting: whatever changes meanwhile wakes it again
            for action, cut in envelope.due(self.clock.now()):
                self._report(cut)
                try:
                    if action == "stop":
                        await self.stop()
                    else:
                        await self._submit(CommandKind.HEAT, 0)
                except DeviceError as exc:
                    _log.warning("%s: safety %s failed: %s", self.name, action, exc)

    # --- the writer: coalescing, pacing, keepalive ---------------------------------------

    async def _submit(self, kind: CommandKind, value: int) -> None:
        if self._lost is not None:
            raise self._lost
        if not self._running:
            # Without a writer nobody would ever answer: fail now rather than wait forever.
            raise LinkLost(f"{self.name}: not connected")
        if (
            not self._slots
            and self._current is None
            and self._direct is None
            and self.driver.direct_execute
            and self.driver.last_write + self.driver.min_gap_s <= self.clock.now()
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

    async def _execute_direct(self, slot: _Slot) -> None:
        # In flight as the writer's current command would be: the writer and every other
        # caller queue behind it (a STOP too, which then goes next), and a close or a loss
        # fails it (see _fail_all).
        self._direct = slot
        try:
            await self.driver.execute(Command(slot.kind, slot.value))
        except LinkLost as exc:
            self._direct = None
            self._fail_all(exc, None)
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
        if self._lost is not None or not self._running:
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

    async def _write_loop(self) -> None:
        try:
            while True:
                if self._lost is not None:
                    return  # every caller has heard of the loss; nothing more goes out
                if self._direct is not None:
                    # A caller's own command is in flight: wait until it ends (it wakes us).
                    self._writer_held = True
                    self._wake.clear()
                    try:
                        await self._wake.wait()
                    finally:
                        self._writer_held = False
                    continue
                if not self._slots:
                    await self._idle_until_work_or_keepalive()
                    continue
                ready_at = self.driver.last_write + self.driver.min_gap_s
                if ready_at > self.clock.now():
                    # Wait out the pacing, then take whatever is newest by then.
                    await self.clock.sleep_until(ready_at)
                    continue
                slot = self._next_slot()
                assert slot is not None
                self._current = slot
                try:
                    await self.driver.execute(Command(slot.kind, slot.value))
                except LinkLost as exc:
                    self._current = None
                    self._fail_all(exc, slot)
                    return
                except DeviceError as exc:
                    self._current = None
                    for waiter in slot.waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                self._current = None
                for waiter in slot.waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        except asyncio.CancelledError:
            # Closed with a command still in flight: its callers hear of it too, not only the
            # ones still queued (otherwise they would wait forever).
            self._fail_all(LinkLost(f"{self.name}: connection closed"), self._current)
            self._current = None
            raise

    async def _idle_until_work_or_keepalive(self) -> None:
        self._wake.clear()
        if self._slots:
            return
        interval = self.driver.keepalive_s(self._info) if self._info else None
        # Only while the device says it is active: keying this on "this host once made it
        # active" as well made the timer fall due at once, again and again, once the device
        # had stopped (a busy loop). A device that turns active wakes this wait up instead
        # (see _set_state), so the feed starts without delay.
        if interval is None or not self._state.active:
            await self._wake.wait()
            return
        due = self.driver.last_write + interval
        woken = await first_of(self.clock.timer(due), self._wake.future())
        # A caller's own command (see _submit) may have gone out meanwhile, or be going out:
        # then the device was fed, and the timer is armed again from that write instead.
        fed = self.driver.last_write + interval > due or self._direct is not None
        if not woken and not fed and self._state.active:
            self._slots.setdefault(CommandKind.PING, _Slot(CommandKind.PING, 0))

    @property
    def lost_reason(self) -> LinkLost | None:
        """Why the link was lost, once it is."""
        return self._lost

    def _fail_all(self, exc: LinkLost, current: _Slot | None) -> None:
        if self._lost is None:
            self._lost = exc
        self.link_lost.set()
        if self._direct is not None:
            # A caller's own command in flight: failing what its driver waits on ends it
            # with this error at once (the writer's would have been cancelled).
            self.driver.link_lost(exc)
        slots = list(self._slots.values()) + ([current] if current else [])
        self._slots.clear()
        for slot in slots:
            for waiter in slot.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
        self._set_state(self._state, connected=False)

    # --- the reader ----------------------------------------------------------------------

    def _listen(self) -> None:
        # Received bytes go straight from the transport's callback to the driver: a queue and
        # a reader task in between cost two hand-offs per answer, on every command's path.
        self._deaf = False
        self.transport.set_receiver(self._receive, reentrant=self.driver.feed_while_writing)

    def _receive(self, data: bytes) -> None:
        if self._deaf:
            return
        try:
            self.driver.feed(data)
        except Exception:
            # As when a reader task fed the driver and died of this: the device is not heard
            # any more (its answers stop, so commands fail as a link loss), but the error must
            # not reach the transport's callback, which would drop the link on the spot.
            self._deaf = True
            _log.exception("%s: the driver failed on what the device sent", self.name)

    async def _read_loop(self) -> None:
        # The reader now only waits for the link to go: the bytes themselves are pushed (see
        # _listen), and all of them are in before the loss is marked.
        exc = await self.transport.wait_lost()
        self.driver.link_lost(exc)
        self._fail_all(exc, None)

    def _on_state(self, state: DeviceState) -> None:
        self._set_state(state)

    def _set_state(self, state: DeviceState, *, connected: bool = True) -> None:
        if state.connected != connected:
            state = dataclasses.replace(state, connected=connected)
        if connected and self._info is not None:
            state = marked(state, self._info)
            self._reported_bad = self._reported_bad or bool(state.bad_values)
            if state.bad_values and not self._state.bad_values and self._running:
                # Stopped by the device layer itself, so that no surface can leave it running
                # (a run also ends on it; a gateway or a script may have no run at all).
                _log.info("%s", BadDeviceReport(self.name, state.bad_values))
                self._bad_stop = asyncio.ensure_future(self._stop_quietly())
        if self._envelope is not None and state.connected:
            self._envelope.observe(state, self.clock.now())
            # Only when the guard's deadline moved: every STATUS comes here, and waking the
            # guard to find the same deadline again cost a timer and two loop turns each time.
            deadline = self._envelope.next_deadline()
            if deadline != self._guard_deadline:
                self._guard_wake.set()
        if state == self._state:
            return
        if state.active and not self._state.active:
            # The writer may be idling without a keepalive timer: let it start feeding the
            # device now that it is active.
            self._wake.set()
        self._state = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not take the device down
                _log.exception("%s: state listener failed", self.name)
