"""OMP/1 over any transport: numbered requests, answers matched by SEQ, retries per the spec."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..device_types import Command, CommandKind, DeviceInfo, DeviceState
from ..errors import DeviceRefused, LinkLost, ProtocolError
from ..protocols import omp
from .base import Driver

_log = logging.getLogger(__name__)

_TYPES = {
    CommandKind.SPEED: omp.MsgType.SET_SPEED,
    CommandKind.HEAT: omp.MsgType.SET_HEAT,
    CommandKind.PROGRAM: omp.MsgType.RUN_PROGRAM,
    CommandKind.STOP: omp.MsgType.STOP,
    CommandKind.STATUS: omp.MsgType.GET_STATUS,
    CommandKind.PING: omp.MsgType.PING,
}
_WITH_VALUE = {CommandKind.SPEED, CommandKind.HEAT, CommandKind.PROGRAM}


@dataclass
class OmpDriver(Driver):
    """The host's side of OMP/1."""

    # The request in flight and its answer's future are in place before the frame is written,
    # and an answer is matched by its SEQ: one that comes inside the write, or after the
    # request was given up (cancelled), can only complete its own request.
    feed_while_writing = True
    direct_execute = True

    _host: omp.OmpHost = field(default_factory=omp.OmpHost)
    _inflight: omp.Request | None = None
    #: The answer to the request in flight; None in it means its timeout ran out.
    _answer: asyncio.Future[omp.Message | None] | None = None
    _watchdog_s: float = 0.0
    #: The answer the timeout timer watches, when it runs out (loop time), and the timer.
    _expiring: asyncio.Future[omp.Message | None] | None = None
    _expire_at: float = 0.0
    _expiry: asyncio.TimerHandle | None = None

    @property
    def min_gap_s(self) -> float:
        """The spec's 50 frames a second."""
        return 1.0 / omp.MAX_FRAMES_PER_S

    def keepalive_s(self, info: DeviceInfo) -> float | None:
        """A bit under the spec's watchdog/3, so that loop jitter never starves the watchdog."""
        return info.watchdog_s / 3 * 0.8 if info.watchdog_s > 0 else None

    async def start(self) -> DeviceInfo:
        """HELLO, INFO, then the state."""
        if self.transport.carries_stale_bytes:
            await self.transport.write(omp.RESYNC)
        answer = await self._exchange(self._host.hello(), "HELLO")
        if isinstance(answer, omp.Ack):
            raise ProtocolError(
                f"{self.name}: the device refused OMP/1 version {omp.VERSION} ({answer.code.name})"
            )
        assert isinstance(answer, omp.Info)
        info = self._info_from(answer)
        status = await self._exchange(self._host.get_status(), "GET_STATUS")
        if isinstance(status, omp.Status):
            self._apply_status(status)
        return info

    async def execute(self, command: Command) -> None:
        """One request, answered or retried."""
        kind = _TYPES[command.kind]
        payload = bytes((command.value,)) if command.kind in _WITH_VALUE else b""
        answer = await self._exchange(self._host.request(kind, payload), kind.name)
        if isinstance(answer, omp.Ack) and answer.code != omp.AckCode.OK:
            faults = self.state.faults
            raise DeviceRefused(
                f"{self.name}: the device refused {kind.name}"
                + (f" {command.value}" if command.kind in _WITH_VALUE else "")
                + f": {answer.code.name}"
                + (f" (faults: {', '.join(faults)})" if faults else "")
            )

    def feed(self, data: bytes) -> None:
        """Decode what the device sent; match answers to the request in flight."""
        for item in self._host.receive(data):
            if isinstance(item, omp.BadFrame):
                # Counted and told in the error that follows if the link dies of it; one line
                # per broken frame would drown the person in noise.
                self.bad_frames += 1
                _log.debug("%s: dropped a broken frame (%s)", self.name, item.reason)
                continue
            if isinstance(item, omp.Status):
                self._apply_status(item)
            request, answer = self._inflight, self._answer
            if request is None or answer is None or not request.answered_by(item):
                continue
            if not answer.done():
                answer.set_result(item)
            elif not answer.cancelled() and answer.exception() is None and answer.result() is None:
                # The timeout ran out a moment ago and the request has not seen it yet: this
                # answer is for its retry, which then returns at once (as it did when the
                # request's one future outlived its timeouts).
                kept: asyncio.Future[omp.Message | None] = answer.get_loop().create_future()
                kept.set_result(item)
                self._answer = kept

    def link_lost(self, exc: LinkLost) -> None:
        """Fail the request in flight."""
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    def unanswered_stop(self) -> bytes:
        """A STOP frame with a sequence number of its own."""
        return self._host.stop().wire

    async def _exchange(self, request: omp.Request, what: str) -> omp.Message:
        """Send a request and wait for its answer, resending as the spec says."""
        loop = asyncio.get_running_loop()
        self._inflight = request
        answer: asyncio.Future[omp.Message | None] = loop.create_future()
        self._answer = answer
        try:
            for attempt in range(1 + omp.RETRIES):
                if attempt:
                    self.retries += 1
                await self.clock.sleep_until(self.last_write + self.min_gap_s)
                # Time must not jump past the answer timeout while the answer is on its way.
                with self.clock.busy():
                    await self.transport.write(request.wire)
                    self.last_write = self.clock.now()
                    # The timeout completes the answer with None rather than cancelling this
                    # task (asyncio.timeout) around a shield: no extra futures on the path every
                    # command takes. Wall time, on the loop's clock, as before.
                    self._expire_at = loop.time() + omp.ANSWER_TIMEOUT_S
                    self._expiring = answer
                    if self._expiry is None:
                        self._expiry = loop.call_at(self._expire_at, self._check_expiry)
                    message = await answer
                    self._expiring = None
                    if message is not None:
                        return message
                    _log.debug("%s: no answer to %s seq %d", self.name, what, request.seq)
                    # A fresh future for the retry, at once: an answer that comes late, while
                    # the retry waits out the pacing, still counts (feed() may already have
                    # kept one that came between the timeout and this line).
                    if self._answer is answer:
                        self._answer = loop.create_future()
                    answer = self._answer
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
            self._expiring = None

    def _check_expiry(self) -> None:
        """The answer timer: expire the answer awaited, or wait on for a later one.

        One timer at a time, moved on lazily: most answers come long before their timeout,
        and a timer made and cancelled for every request crowded the loop's timer heap.
        """
        self._expiry = None
        answer = self._expiring
        if answer is None or answer.done():
            return
        loop = answer.get_loop()
        if loop.time() >= self._expire_at:
            answer.set_result(None)
        else:
            self._expiry = loop.call_at(self._expire_at, self._check_expiry)

    def _apply_status(self, status: omp.Status) -> None:
        self.publish(
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

    def _info_from(self, info: omp.Info) -> DeviceInfo:
        names: tuple[str, ...] = ()
        profile = self.profile
        if not profile.capabilities_from_device:
            caps = profile.capabilities
            names = tuple(p.name for p in caps.programs)
            if (info.speed_levels, info.heat_levels, info.program_count) != (
                profile.speed_levels,
                profile.heat_levels,
                len(caps.programs),
            ):
                _log.warning(
                    "%s: the device reports %d speeds, %d heat levels, %d programs; profile "
                    "%s says otherwise. Using the device's own figures.",
                    self.name,
                    info.speed_levels,
                    info.heat_levels,
                    info.program_count,
                    profile.name,
                )
                names = names if len(names) == info.program_count else ()
        caps = profile.capabilities
        return DeviceInfo(
            speed_levels=info.speed_levels,
            heat_levels=info.heat_levels,
            program_count=info.program_count,
            max_temp_c=info.max_temp_c,
            watchdog_s=info.watchdog_s,
            battery_powered=info.battery_powered,
            temperature_sensor=info.has_temperature_sensor,
            program_names=names,
            speed_unit=caps.speed.unit if caps.speed and names else "",
            speed_values=tuple(caps.speed.values) if caps.speed and names else (),
        )
