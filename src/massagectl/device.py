"""The device: the one place that knows both what a massager can do and how to say it.

:class:`Massager` speaks OMP/1 over any :class:`~massagectl.transports.Transport`. Above it,
everything talks in fractions, levels and seconds; below it, the protocol codec talks in bytes.

What it guarantees, per the OMP/1 host obligations:

* it connects with HELLO and takes the device's INFO as its capabilities;
* it sends at most 50 frames a second, coalescing so that only the newest setpoint goes out;
* it resends an unanswered frame after 500 ms, twice, and then calls the link lost;
* it feeds the device's watchdog while the device is active;
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
from .errors import DeviceError, DeviceRefused, LinkLost, ProtocolError, ValueOutOfRange
from .mapping import fraction_to_level, heat_name_to_level
from .profiles import Profile
from .protocols import omp
from .transports.base import Transport

_log = logging.getLogger(__name__)

#: How long the device layer waits on exit for its STOP to be acknowledged.
STOP_ON_EXIT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the connected device can do (from its INFO, named from its profile)."""

    speed_levels: int
    heat_levels: int
    program_count: int
    max_temp_c: int
    watchdog_s: float
    battery_powered: bool
    temperature_sensor: bool
    program_names: tuple[str, ...] = ()

    def program_name(self, index: int) -> str:
        """The name of a built-in program (1-based), or ``#N`` when the profile has none."""
        if 1 <= index <= len(self.program_names):
            return self.program_names[index - 1]
        return f"#{index}"


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the device reported last."""

    speed: int = 0
    heat: int = 0
    program: int = 0
    temperature_c: float | None = None
    battery: int | None = None
    faults: tuple[str, ...] = ()
    remaining_s: int = 0
    connected: bool = True

    @property
    def active(self) -> bool:
        """Whether the motor runs, the heater heats or a program runs."""
        return self.speed > 0 or self.heat > 0 or self.program > 0


@dataclass(slots=True)
class _Slot:
    """One kind of command waiting to be sent; a newer value replaces an older one."""

    type: omp.MsgType
    payload: bytes
    waiters: list[asyncio.Future[omp.Message]] = field(default_factory=list)


class Massager:
    """An OMP/1 massager behind a transport. Use as ``async with Massager(...) as m:``."""

    def __init__(
        self,
        transport: Transport,
        profile: Profile,
        *,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.clock: Clock = clock or MonotonicClock()
        self.name = name or transport.description
        self._host = omp.OmpHost()
        self._info: DeviceInfo | None = None
        self._state = DeviceState(connected=False)
        self._listeners: list[Callable[[DeviceState], None]] = []
        self._slots: dict[omp.MsgType, _Slot] = {}
        self._wake = Signal()
        self._inflight: omp.Request | None = None
        self._answer: asyncio.Future[omp.Message] | None = None
        #: The slot the writer is exchanging now: its callers must hear of a close or a loss.
        self._current: _Slot | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: True from a successful connect until close: commands are taken only then.
        self._running = False
        self._last_sent_clock = -math.inf
        self._made_active = False
        self._leave_running = False
        self._lost: LinkLost | None = None
        #: Set once the link is gone (closed, dropped, or the device stopped answering).
        self.link_lost = asyncio.Event()
        self.bad_frames = 0

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Massager:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: Any) -> None:
        await self.close(stop=exc_type is not None or not self._leave_running)

    async def connect(self) -> None:
        """Open the link, greet the device and read its capabilities and state."""
        # Opening a serial port happens in a worker thread the virtual clock cannot see: without
        # this, virtual time could leap seconds ahead (past a device's watchdog) meanwhile.
        with self.clock.busy():
            await self.transport.open()
        try:
            if self.transport.carries_stale_bytes:
                await self.transport.write(omp.RESYNC)
            self._tasks.append(asyncio.create_task(self._read_loop(), name=f"{self.name} reader"))
            answer = await self._exchange(self._host.hello(), "HELLO")
            if isinstance(answer, omp.Ack):
                raise ProtocolError(
                    f"{self.name}: the device refused OMP/1 version {omp.VERSION} "
                    f"({answer.code.name})"
                )
            assert isinstance(answer, omp.Info)
            self._info = self._info_from(answer)
            status = await self._exchange(self._host.get_status(), "GET_STATUS")
            if isinstance(status, omp.Status):
                self._apply_status(status)
            self._tasks.append(asyncio.create_task(self._write_loop(), name=f"{self.name} writer"))
            self._running = True
        except BaseException:
            await self._shutdown_tasks()
            await self.transport.close()
            raise

    def release(self) -> None:
        """Leave the device running when the ``async with`` block ends normally.

        The device's own watchdog still stops it once nothing feeds it; an error or a signal
        still stops it at once.
        """
        self._leave_running = True

    async def close(self, *, stop: bool = True) -> None:
        """Stop the device (if this host made it active) and close the link."""
        try:
            if stop and self._made_active and self._lost is None and self._info is not None:
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

    async def status(self) -> DeviceState:
        """Ask the device for its state now."""
        answer = await self._submit(omp.MsgType.GET_STATUS, b"")
        if isinstance(answer, omp.Status):
            self._apply_status(answer)
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
        await self.set_speed_level(level)
        return level

    async def set_speed_level(self, level: int) -> None:
        """Set the speed level, 0 (off) to the device's top level."""
        self._check_range("speed level", level, self.info.speed_levels, "motor")
        await self._command(omp.MsgType.SET_SPEED, level)

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
        await self._command(omp.MsgType.SET_HEAT, level)
        return level

    async def run_program(self, index: int) -> None:
        """Start the device's built-in program ``index`` (1-based); 0 ends the running one."""
        self._check_range("program", index, self.info.program_count, "built-in programs")
        await self._command(omp.MsgType.RUN_PROGRAM, index)

    async def stop(self) -> None:
        """Stop everything at once: it overtakes every setpoint still waiting to be sent."""
        for kind in (omp.MsgType.SET_SPEED, omp.MsgType.SET_HEAT, omp.MsgType.RUN_PROGRAM):
            slot = self._slots.pop(kind, None)
            if slot is not None:
                # Those setpoints are superseded by the STOP: their callers learn the outcome
                # of the STOP rather than an error.
                self._slots.setdefault(omp.MsgType.STOP, _Slot(omp.MsgType.STOP, b""))
                self._slots[omp.MsgType.STOP].waiters.extend(slot.waiters)
        await self._submit(omp.MsgType.STOP, b"")

    async def ping(self) -> None:
        """Feed the watchdog."""
        await self._submit(omp.MsgType.PING, b"")

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

    async def _command(self, kind: omp.MsgType, value: int) -> None:
        if value > 0:
            self._made_active = True
        answer = await self._submit(kind, bytes((value,)))
        if isinstance(answer, omp.Ack) and answer.code != omp.AckCode.OK:
            raise DeviceRefused(
                f"{self.name}: the device refused {kind.name} {value}: {answer.code.name}"
                + (f" (faults: {', '.join(self._state.faults)})" if self._state.faults else "")
            )

    # --- the writer: coalescing, rate limit, retries, keepalive -------------------------

    async def _submit(self, kind: omp.MsgType, payload: bytes) -> omp.Message:
        if self._lost is not None:
            raise self._lost
        if not self._running:
            # Without a writer nobody would ever answer: fail now rather than wait forever.
            raise LinkLost(f"{self.name}: not connected")
        # The newest value wins, and it goes to the back of the queue: a SET_SPEED queued
        # before a RUN_PROGRAM but replaced after it must still go out after it (SET_SPEED
        # ends a running program), so that the device ends in the state asked for last.
        slot = self._slots.pop(kind, None) or _Slot(kind, payload)
        slot.payload = payload
        self._slots[kind] = slot
        waiter: asyncio.Future[omp.Message] = asyncio.get_running_loop().create_future()
        slot.waiters.append(waiter)
        self._wake.set()
        return await waiter

    def _next_slot(self) -> _Slot | None:
        if omp.MsgType.STOP in self._slots:
            return self._slots.pop(omp.MsgType.STOP)
        for kind in list(self._slots):
            return self._slots.pop(kind)
        return None

    def _next_frame_at(self) -> float:
        """Clock time at which the next frame may go out (the 50 frames/s cap)."""
        # On the injected clock: under virtual or scaled time the simulated device counts its
        # frames on that same clock, and a real device is only ever driven in real time.
        return self._last_sent_clock + 1.0 / omp.MAX_FRAMES_PER_S

    async def _write_loop(self) -> None:
        try:
            while True:
                if not self._slots:
                    await self._idle_until_work_or_keepalive()
                    continue
                ready_at = self._next_frame_at()
                if ready_at > self.clock.now():
                    # Wait out the rate limit, then take whatever is newest by then.
                    await self.clock.sleep_until(ready_at)
                    continue
                slot = self._next_slot()
                assert slot is not None
                self._current = slot
                request = self._build(slot)
                try:
                    answer = await self._exchange(request, slot.type.name)
                except LinkLost as exc:
                    self._current = None
                    self._fail_all(exc, slot)
                    return
                self._current = None
                for waiter in slot.waiters:
                    if not waiter.done():
                        waiter.set_result(answer)
        except asyncio.CancelledError:
            # Closed with a frame still in flight: its callers hear of it too, not only the
            # ones still queued (otherwise they would wait forever).
            self._fail_all(LinkLost(f"{self.name}: connection closed"), self._current)
            self._current = None
            raise

    def _build(self, slot: _Slot) -> omp.Request:
        return self._host.request(slot.type, slot.payload)

    async def _idle_until_work_or_keepalive(self) -> None:
        self._wake.clear()
        if self._slots:
            return
        watchdog = self._info.watchdog_s if self._info else 0.0
        # Only while the device says it is active: keying this on "this host once made it
        # active" as well made the timer fall due at once, again and again, once the device
        # had stopped (a busy loop). A device that turns active wakes this wait up instead
        # (see _set_state), so the feed starts without delay.
        if not (watchdog > 0 and self._state.active):
            await self._wake.wait()
            return
        # Feed at a bit under the spec's watchdog/3 so that loop jitter never starves it.
        due = self._last_sent_clock + watchdog / 3 * 0.8
        woken = await first_of(self.clock.timer(due), self._wake.future())
        if not woken and self._state.active:
            self._slots.setdefault(omp.MsgType.PING, _Slot(omp.MsgType.PING, b""))

    @property
    def lost_reason(self) -> LinkLost | None:
        """Why the link was lost, once it is."""
        return self._lost

    def _fail_all(self, exc: LinkLost, current: _Slot | None) -> None:
        if self._lost is None:
            self._lost = exc
        self.link_lost.set()
        slots = list(self._slots.values()) + ([current] if current else [])
        self._slots.clear()
        for slot in slots:
            for waiter in slot.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
        self._set_state(self._state, connected=False)

    async def _exchange(self, request: omp.Request, what: str) -> omp.Message:
        """Send a request and wait for its answer, resending as the spec says."""
        loop = asyncio.get_running_loop()
        self._inflight = request
        self._answer = loop.create_future()
        try:
            for _attempt in range(1 + omp.RETRIES):
                # Every frame keeps to the 50 frames/s cap, HELLO and GET_STATUS at connect
                # (sent before the writer runs) and retries included.
                await self.clock.sleep_until(self._next_frame_at())
                # Time must not jump past the answer timeout while the answer is on its way.
                with self.clock.busy():
                    await self.transport.write(request.wire)
                    self._last_sent_clock = self.clock.now()
                    try:
                        async with asyncio.timeout(omp.ANSWER_TIMEOUT_S):
                            return await asyncio.shield(self._answer)
                    except TimeoutError:
                        _log.debug("%s: no answer to %s seq %d", self.name, what, request.seq)
                        continue
            garbled = (
                f"; {self.bad_frames} broken frames came instead: is it an OMP/1 device, "
                "at the right baud rate?"
                if self.bad_frames
                else ""
            )
            raise LinkLost(
                f"{self.name}: no answer to {what} after {1 + omp.RETRIES} tries "
                f"({omp.ANSWER_TIMEOUT_S * 1000:.0f} ms each){garbled}"
            )
        finally:
            self._inflight = None
            self._answer = None

    # --- the reader ----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while True:
                chunk = await self.transport.read()
                for item in self._host.receive(chunk):
                    self._on_message(item)
        except LinkLost as exc:
            if self._answer is not None and not self._answer.done():
                self._answer.set_exception(exc)
            self._fail_all(exc, None)

    def _on_message(self, item: omp.Message | omp.BadFrame) -> None:
        if isinstance(item, omp.BadFrame):
            # Counted and told in the error that follows if the link dies of it; one line per
            # broken frame would drown the person in noise.
            self.bad_frames += 1
            _log.debug("%s: dropped a broken frame (%s)", self.name, item.reason)
            return
        if isinstance(item, omp.Status):
            self._apply_status(item)
        request, answer = self._inflight, self._answer
        if (
            request is not None
            and answer is not None
            and not answer.done()
            and request.answered_by(item)
        ):
            answer.set_result(item)

    def _apply_status(self, status: omp.Status) -> None:
        self._set_state(
            DeviceState(
                speed=status.speed,
                heat=status.heat,
                program=status.program,
                temperature_c=status.temperature_c,
                battery=status.battery_percent,
                faults=tuple(omp.fault_names(status.faults)),
                remaining_s=status.remaining_s,
            )
        )

    def _set_state(self, state: DeviceState, *, connected: bool = True) -> None:
        if state.connected != connected:
            state = dataclasses.replace(state, connected=connected)
        if state == self._state:
            return
        if state.active and not self._state.active:
            # The writer may be idling without a keepalive timer: let it start feeding the
            # watchdog now that the device is active.
            self._wake.set()
        self._state = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not take the device down
                _log.exception("%s: state listener failed", self.name)

    def _info_from(self, info: omp.Info) -> DeviceInfo:
        names: tuple[str, ...] = ()
        if not self.profile.capabilities_from_device:
            caps = self.profile.capabilities
            names = tuple(p.name for p in caps.programs)
            if (info.speed_levels, info.heat_levels, info.program_count) != (
                self.profile.speed_levels,
                self.profile.heat_levels,
                len(caps.programs),
            ):
                _log.warning(
                    "%s: the device reports %d speeds, %d heat levels, %d programs; profile "
                    "%s says otherwise. Using the device's own figures.",
                    self.name,
                    info.speed_levels,
                    info.heat_levels,
                    info.program_count,
                    self.profile.name,
                )
                names = names if len(names) == info.program_count else ()
        return DeviceInfo(
            speed_levels=info.speed_levels,
            heat_levels=info.heat_levels,
            program_count=info.program_count,
            max_temp_c=info.max_temp_c,
            watchdog_s=info.watchdog_s,
            battery_powered=info.battery_powered,
            temperature_sensor=info.has_temperature_sensor,
            program_names=names,
        )
