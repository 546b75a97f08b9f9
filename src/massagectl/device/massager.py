"""The device: the one place that knows both what a massager can do and how to say it.

:class:`Massager` drives any supported massager through its protocol's
:class:`~massagectl.drivers.Driver` over any :class:`~massagectl.transports.Transport`. Above it,
everything talks in fractions, levels and seconds; below it, the driver and its codec talk bytes.
Nothing above it reaches the driver or the transport: what the scheduler and the fault watch
need of them, it offers itself (:attr:`Massager.min_gap_s`, :attr:`Massager.retries`,
:attr:`Massager.link_up`, :meth:`Massager.stop_unanswered`).

What it guarantees, whatever the protocol:

* it connects by the protocol's greeting and takes the device's capabilities (OMP/1's INFO, or
  the profile where a device cannot tell);
* it refuses an out-of-range value before anything is sent, and checks every state the device
  reports against its range and physical bounds (:mod:`massagectl.drivers.checks`): a device
  that reported what cannot be is stopped on the way out, even if this host did not start it;
* it paces writes as the protocol or profile asks, coalescing so that only the newest setpoint
  goes out, and STOP overtakes every setpoint still waiting (:mod:`.command_queue`);
* it keeps the device fed while it is active where the protocol has a watchdog or keepalive;
* it keeps the device within its safety limits (:mod:`.safety_guard`);
* it sends STOP on every way out of its ``async with`` block, unless told to leave the device
  running (``release()``), and even then on an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..device_types import CommandKind, DeviceInfo, DeviceState
from ..drivers.base import Driver, StateSink, driver_for
from ..drivers.checks import BadDeviceReport, marked
from ..errors import DeviceError, LinkLost
from ..profiles import Profile
from ..safety.envelope import Cut, SafetyEnvelope
from ..safety.limits import SafetyLimits, limits_for
from ..safety.memory import SafetyMemory
from ..transports.base import Transport
from .command_queue import CommandQueue
from .listeners import Listeners
from .range_checks import check_range, heat_level, speed_level
from .safety_guard import SafetyGuard

__all__ = ["STOP_ON_EXIT_TIMEOUT_S", "DriverFactory", "Massager"]

_log = logging.getLogger(__name__)

#: Makes the driver for a transport and profile (``driver_for`` picks it by protocol).
DriverFactory = Callable[[Transport, Profile, Clock, str, StateSink], Driver]

#: How long the device layer waits on exit for its STOP to be acknowledged.
STOP_ON_EXIT_TIMEOUT_S = 2.0


class Massager:
    """A massager behind a transport. Use as ``async with Massager(...) as m:``.

    It keeps time on the transport's clock (a transport is given its clock when it is made);
    ``clock``, if given, must be that same clock.
    """

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
        if clock is not None and clock is not transport.clock:
            # Two clocks would let reconnect backoff and the device's timers drift apart (a
            # virtual clock's leap would not reach the backoff): one clock, the transport's.
            raise ValueError(
                f"{transport.description}: the transport keeps another clock; "
                "give the clock to the transport when making it"
            )
        #: The link to the device: the device layer's own (tests reach a simulator through it).
        self.transport = transport
        self.profile = profile
        self.clock: Clock = transport.clock
        self.name = name or transport.description
        # The profile's protocol says which driver, unless the link decides (a device behind a
        # gateway speaks the gateway's language, whatever its own protocol).
        make_driver = driver_factory or driver_for
        #: The protocol's driver: the device layer's own, like the transport.
        self.driver: Driver = make_driver(transport, profile, self.clock, self.name, self._on_state)
        self._info: DeviceInfo | None = None
        self._state = DeviceState(connected=False)
        self._listeners: Listeners[DeviceState] = Listeners(self.name, "state")
        self._safety_listeners: Listeners[Cut] = Listeners(self.name, "safety")
        #: Set once the link is gone (closed, dropped, or the device stopped answering).
        self.link_lost = asyncio.Event()
        self._queue = CommandQueue(
            self.driver, self.clock, self.name, self.link_lost, self._on_link_lost
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._made_active = False
        #: Set once the device reported what cannot be: it is stopped on the way out, even if
        #: this host did not start it (nothing it says about itself can be trusted).
        self._reported_bad = False
        #: The STOP sent when a state turned bad (kept so that the task is not collected).
        self._bad_stop: asyncio.Task[None] | None = None
        self._leave_running = False
        #: Set when the driver's feed raised: this connection's bytes are not fed any more.
        self._deaf = False
        self._limits = limits
        #: What the envelope counts into; handed in by whoever keeps the device for longer.
        self._safety_memory = safety_memory
        self._guard: SafetyGuard | None = None

    # --- what the layers above need of the driver and the link ------------------------------

    @property
    def bad_frames(self) -> int:
        """Broken frames received and dropped so far."""
        return self.driver.bad_frames

    @property
    def retries(self) -> int:
        """Requests sent again so far (their answers were late or lost)."""
        return self.driver.retries

    @property
    def min_gap_s(self) -> float:
        """The shortest time the device takes between two commands (its protocol's pacing)."""
        return self.driver.min_gap_s

    @property
    def link_up(self) -> bool:
        """Whether the link itself is up (the device may have stopped answering over it)."""
        return not self.transport.is_lost

    async def stop_unanswered(self) -> bool:
        """Write the protocol's STOP straight to the link without waiting for an answer, for a
        device that stopped answering; whether anything was sent."""
        wire = self.driver.unanswered_stop()
        if not wire:
            return False
        await self.transport.write(wire)
        return True

    @property
    def lost_reason(self) -> LinkLost | None:
        """Why the link was lost, once it is."""
        return self._queue.lost

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
            self._start_reader()
            info = await self._greet()
            limits = self._limits if self._limits is not None else limits_for(self.profile)
            self._guard = SafetyGuard(
                SafetyEnvelope(limits, info, self._safety_memory),
                self.clock,
                self.name,
                report=self._safety_listeners.emit,
                actions={"stop": self.stop, "heat-off": self._heat_off},
            )
            self._set_state(self.driver.state)
            self._start_writer_and_guard()
            self._queue.running = True
        except BaseException:
            await self._shutdown_tasks()
            await self.transport.close()
            raise

    async def reconnect(self, *, attempts: int | None = None) -> None:
        """Bring a lost link back (with the transport's backoff), greet the device again and
        carry on; raises :class:`~massagectl.errors.LinkError` if it cannot."""
        if self._queue.lost is None:
            return
        await self._shutdown_tasks()
        # Not marked busy: the backoff waits on the clock, which must be free to move.
        await self.transport.reconnect(attempts=attempts)
        self._queue.restart()
        self._listen()
        try:
            self._start_reader()
            await self._greet()
            self._set_state(self.driver.state)
            self._start_writer_and_guard()
        except BaseException:
            await self._shutdown_tasks()
            raise
        _log.info("%s: reconnected", self.name)

    def _start_reader(self) -> None:
        self._tasks.append(asyncio.create_task(self._watch_for_loss(), name=f"{self.name} reader"))

    async def _greet(self) -> DeviceInfo:
        self._info = info = await self.driver.start()
        self._queue.info = info
        return info

    def _start_writer_and_guard(self) -> None:
        assert self._guard is not None
        self._tasks.append(asyncio.create_task(self._queue.run(), name=f"{self.name} writer"))
        self._tasks.append(asyncio.create_task(self._guard.run(), name=f"{self.name} guard"))

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
            if stop and must_stop and self._queue.lost is None and self._info is not None:
                try:
                    async with asyncio.timeout(STOP_ON_EXIT_TIMEOUT_S):
                        await self.stop()
                except (TimeoutError, DeviceError) as exc:
                    _log.warning("%s: could not confirm STOP on exit: %s", self.name, exc)
        finally:
            self._queue.running = False
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
        return self._listeners.subscribe(listener)

    @property
    def envelope(self) -> SafetyEnvelope:
        """The safety limits in force (after connecting)."""
        if self._guard is None:
            raise LinkLost(f"{self.name}: not connected")
        return self._guard.envelope

    def subscribe_safety(self, listener: Callable[[Cut], None]) -> Callable[[], None]:
        """Call ``listener`` with everything the safety envelope holds back or ends."""
        return self._safety_listeners.subscribe(listener)

    async def status(self) -> DeviceState:
        """Ask the device for its state now; :class:`~massagectl.drivers.checks.BadDeviceReport`
        if it reports a value that cannot be."""
        await self._queue.submit(CommandKind.STATUS, 0)
        if self._state.bad_values:
            raise BadDeviceReport(self.name, self._state.bad_values)
        return self._state

    # --- commands ----------------------------------------------------------------------

    async def set_speed(self, fraction: float) -> int:
        """Set the speed as a fraction of the device's range (0 is off); returns the level."""
        return await self.set_speed_level(speed_level(self.name, self.info, fraction))

    async def set_speed_level(self, level: int) -> int:
        """Set the speed level, 0 (off) to the device's top level; returns the level sent
        (lower if the safety envelope caps it)."""
        check_range(self.name, "speed level", level, self.info.speed_levels, "motor")
        return await self._command(CommandKind.SPEED, level)

    async def set_heat(self, heat: str | int) -> int:
        """Set heat by name (off, low, medium, high) or by level; returns the level."""
        return await self._command(CommandKind.HEAT, heat_level(self.name, self.info, heat))

    async def run_program(self, index: int) -> None:
        """Start the device's built-in program ``index`` (1-based); 0 ends the running one."""
        check_range(self.name, "program", index, self.info.program_count, "built-in programs")
        await self._command(CommandKind.PROGRAM, index)

    async def stop(self) -> None:
        """Stop everything at once: it overtakes every setpoint still waiting to be sent."""
        await self._queue.stop()

    async def _stop_quietly(self) -> None:
        with contextlib.suppress(DeviceError, TimeoutError):
            async with asyncio.timeout(STOP_ON_EXIT_TIMEOUT_S):
                await self.stop()

    async def _heat_off(self) -> None:
        await self._queue.submit(CommandKind.HEAT, 0)

    async def ping(self) -> None:
        """Feed the watchdog (or the protocol's keepalive)."""
        await self._queue.submit(CommandKind.PING, 0)

    async def _command(self, kind: CommandKind, value: int) -> int:
        if value > 0 and self._state.bad_values:
            # A device that reports what cannot be is not to be started again until what it
            # says makes sense: whatever surface asks (a run, the bridge, the API).
            raise BadDeviceReport(self.name, self._state.bad_values)
        if self._guard is None:
            raise LinkLost(f"{self.name}: not connected")
        allowed = self._guard.admit(kind, value)
        if allowed > 0:
            self._made_active = True
        await self._queue.submit(kind, allowed)
        return allowed

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

    async def _watch_for_loss(self) -> None:
        # Received bytes are pushed to the driver as they come (see _listen); this task only
        # waits for the link to go, and every byte is in before the loss is marked.
        exc = await self.transport.wait_lost()
        self.driver.link_lost(exc)
        self._queue.fail_all(exc)

    def _on_link_lost(self) -> None:
        self._set_state(self._state, connected=False)

    def _on_state(self, state: DeviceState) -> None:
        self._set_state(state)

    def _set_state(self, state: DeviceState, *, connected: bool = True) -> None:
        if state.connected != connected:
            state = dataclasses.replace(state, connected=connected)
        if connected and self._info is not None:
            state = marked(state, self._info)
            self._reported_bad = self._reported_bad or bool(state.bad_values)
            if state.bad_values and not self._state.bad_values and self._queue.running:
                # Stopped by the device layer itself, so that no surface can leave it running
                # (a run also ends on it; a gateway or a script may have no run at all).
                _log.info("%s", BadDeviceReport(self.name, state.bad_values))
                self._bad_stop = asyncio.ensure_future(self._stop_quietly())
        if self._guard is not None and state.connected:
            self._guard.observe(state)
        if state == self._state:
            return
        # The writer may be idling without a keepalive timer: it starts feeding the device as
        # soon as the device says it is active.
        self._queue.set_active(state.active)
        self._state = state
        self._listeners.emit(state)
