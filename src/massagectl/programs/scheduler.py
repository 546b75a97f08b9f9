"""The scheduler: runs a program on one device or several in step, in real, scaled or virtual time.

It walks the :class:`~massagectl.programs.timeline.Timeline` at absolute deadlines (no drift:
each deadline is computed from the program's origin, never from the last wake-up), sends each
device only what changes, and takes live controls: pause and resume (devices rest while paused
and ramp back in on resume), next and previous step, extend or end a hold, an intensity scale
from 0 to 150 %, and stop, which overtakes everything. Every way out of :meth:`run` stops every
device.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Final

from ..clock import Clock, Signal, first_of
from ..device import Massager
from ..errors import DeviceRefused, LinkLost, SafetyHold
from ..safety.envelope import Cut
from .controls import (
    Controls,
    Track,
    clamp_intensity,
    stop_quietly,
)
from .events import (
    DeviceWarning,
    Fault,
    Finished,
    LevelsSent,
    LinkDropped,
    Reconnected,
    Refused,
    RunEvent,
    SafetyCut,
    StepStarted,
    Stopped,
)
from .faults import FaultWatch, Notice
from .model import Program
from .progress import OnDisconnect, Outcome, Progress
from .timeline import (
    DEFAULT_SAMPLE_S,
    Change,
    DeviceRange,
    Fade,
    Levels,
    Segment,
    Timeline,
)

_log = logging.getLogger(__name__)

#: What a run is and how it ended are read with the scheduler (their home is .progress).
__all__ = ["OnDisconnect", "Outcome", "Progress", "Scheduler", "device_range", "sample_period"]

#: How long "resume" keeps trying to reconnect before it gives up and stops everything.
RECONNECT_GRACE_S: Final = 60.0


def sample_period(m: Massager, wanted: float = DEFAULT_SAMPLE_S) -> float:
    """How often ramps and patterns are sampled for a device: never faster than half its pacing
    allows, so that a speed and a heat change both fit between two samples."""
    return max(wanted, 2 * m.min_gap_s)


def device_range(m: Massager) -> DeviceRange:
    """The range a connected device offers."""
    info = m.info
    return DeviceRange(info.speed_levels, info.heat_levels, info.program_count)


class Scheduler(Controls):
    """Runs ``program`` on ``devices``. Call :meth:`run`; call the controls from anywhere in
    the same event loop while it runs."""

    def __init__(
        self,
        program: Program,
        devices: Sequence[Massager],
        *,
        clock: Clock | None = None,
        intensity: float = 1.0,
        sample_s: float = DEFAULT_SAMPLE_S,
        on_event: Callable[[RunEvent], None] | None = None,
        on_disconnect: OnDisconnect = "stop",
        reconnect_grace_s: float = RECONNECT_GRACE_S,
    ) -> None:
        if not devices:
            raise ValueError("a program needs at least one device")
        self.program = program
        self.devices = list(devices)
        self.clock: Clock = clock or devices[0].clock
        self.sample_s = sample_s
        self.on_disconnect: OnDisconnect = on_disconnect
        self.reconnect_grace_s = reconnect_grace_s
        self._watchers: list[asyncio.Task[None]] = []
        self._intensity = clamp_intensity(intensity)
        self._listeners: list[Callable[[RunEvent], None]] = [on_event] if on_event else []
        self._tracks = [
            Track(m, Timeline(program, device_range(m)), _levels_of(m)) for m in self.devices
        ]
        self._anchor_prog = 0.0
        self._anchor_clock = self.clock.now()
        self._paused = False
        self._fade: Fade | None = None
        self._stopped = False
        #: Set when a device's session reached its longest: the run ends with it.
        self._held: SafetyHold | None = None
        self._rest_needed = False
        self._poke = Signal()
        self._segment: Segment | None = None
        self._stop_tasks: list[asyncio.Task[str | None]] = []
        # Device faults that end the run or deserve a warning (see programs/faults.py).
        self._fault_watch = FaultWatch(
            self.devices,
            on_notice=self._tell,
            on_end=lambda _fault: self.stop(),
            on_restart=self._start_again,
        )
        #: Clock seconds each step started after its deadline (for benchmarks and diagnostics).
        self.onset_lateness: list[float] = []

    # --- what it is doing ----------------------------------------------------------------

    @property
    def intensity(self) -> float:
        """The live intensity scale, 0 to 1.5."""
        return self._intensity

    @property
    def paused(self) -> bool:
        """Whether the run is paused."""
        return self._paused

    def progress(self) -> Progress:
        """A snapshot for the live view."""
        pos = self.position()
        segment = self.timeline.segment_at(pos)
        return Progress(
            position=pos,
            duration=self.duration,
            segment=segment,
            step_left=max(0.0, segment.end - pos),
            paused=self._paused,
            intensity=self._intensity,
            levels={t.massager.name: t.sent for t in self._tracks},
        )

    def subscribe(self, listener: Callable[[RunEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every event; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # --- running -----------------------------------------------------------------------------

    async def run(self) -> Outcome:
        """Run the program to its end (or until stopped); the devices end at rest either way."""
        self._anchor_clock = self.clock.now()
        self._anchor_prog = 0.0
        self._replan()
        self._watch_links()
        self._fault_watch.start()
        # What the safety envelope holds back is part of the run's story: tell the listeners.
        unsubscribe = [
            t.massager.subscribe_safety(self._safety_listener(t.massager)) for t in self._tracks
        ]
        try:
            outcome = await self._loop()
        finally:
            for watcher in self._watchers:
                watcher.cancel()
            for stop_listening in unsubscribe:
                stop_listening()
            await self._rest_all(final=True)
            self._fault_watch.close()
        if self._fault_watch.ended is not None:
            raise self._fault_watch.ended
        if self._held is not None:
            raise self._held
        self._emit(
            lambda at: Finished(position=at) if outcome == "finished" else Stopped(position=at)
        )
        return outcome

    async def _loop(self) -> Outcome:
        while not self._stopped:
            lost = [t for t in self._tracks if t.massager.link_lost.is_set()]
            if lost:
                await self._recover(lost)
                continue
            if self._rest_needed:
                self._rest_needed = False
                await self._rest_all()
                continue
            if self._paused:
                self._poke.clear()
                await self._poke.wait()
                continue
            due = [t.pending for t in self._tracks if t.pending is not None]
            # A step starts on time even when no level changes at its start (a ramp that
            # begins where the last step ended, the same speed again): its onset is a
            # deadline of its own, or its cue would show late or never. And the run lasts
            # to the program's end even when the devices are at rest before it (a last step
            # with the motor off, a pulse's last off phase).
            t = min([c.t for c in due] + [self._next_onset(), self.duration])
            deadline = self._anchor_clock + (t - self._anchor_prog)
            if await self._sleep_or_poke(deadline):
                continue
            if not due and t >= self.duration:
                return "finished"
            await self._apply_due(t)
        return "stopped"

    def _safety_listener(self, m: Massager) -> Callable[[Cut], None]:
        def listener(cut: Cut) -> None:
            self._emit(lambda at: SafetyCut(position=at, device=m.name, message=cut.message))
            if cut.kind == "session" and self._held is None:
                # Past its longest session a device starts nothing: going on would play the
                # rest of the program to a device held at rest.
                self._held = SafetyHold(
                    f"{m.name}: {cut.message}; the run was ended and every device stopped"
                )
                self.stop()

        return listener

    def _watch_links(self) -> None:
        """Wake the loop when any device's link drops, whatever it is waiting for."""

        async def watch(m: Massager) -> None:
            await m.link_lost.wait()
            self._poke.set()

        self._watchers = [
            asyncio.ensure_future(watch(t.massager))
            for t in self._tracks
            if not t.massager.link_lost.is_set()
        ]

    async def _recover(self, lost: list[Track]) -> None:
        """A link dropped: end the run, or pause, reconnect and resume, as configured."""
        names = ", ".join(t.massager.name for t in lost)
        reasons = "; ".join(str(t.massager.lost_reason or "link lost") for t in lost)
        self._emit(lambda at: LinkDropped(position=at, device=names, message=reasons))
        if self.on_disconnect == "stop":
            others = len(self._tracks) - len(lost)
            tail = f"; the other {_plural(others, 'device')} stopped" if others else ""
            raise LinkLost(f"link lost mid-program: {reasons}{tail}")
        was_paused = self._paused
        self.pause()
        self._rest_needed = False
        await self._rest_all()
        reconnecting = asyncio.ensure_future(
            asyncio.gather(*(t.massager.reconnect() for t in lost))
        )
        deadline = self.clock.timer(self.clock.now() + self.reconnect_grace_s)
        try:
            await first_of(deadline, reconnecting)
        finally:
            if not reconnecting.done():
                reconnecting.cancel()
        if not reconnecting.done() or reconnecting.cancelled():
            why = "no link within the grace period"
        elif (error := reconnecting.exception()) is not None:
            why = str(error)
        else:
            why = ""
        if why:
            raise LinkLost(
                f"{names}: gave up reconnecting after {self.reconnect_grace_s:g} s ({why}); "
                "every device was stopped"
            )
        for track in lost:
            track.sent = _levels_of(track.massager)
        for watcher in self._watchers:
            watcher.cancel()
        self._watch_links()
        self._emit(lambda at: Reconnected(position=at, device=names))
        if not was_paused:
            self.resume()

    def _next_onset(self) -> float:
        """Program time of the next step start still to announce (infinite if none)."""
        if self._segment is None:
            return self._anchor_prog
        following = self._segment.index + 1
        segments = self.timeline.segments
        return segments[following].start if following < len(segments) else math.inf

    async def _apply_due(self, t: float) -> None:
        batch: list[tuple[Track, Change]] = []
        for track in self._tracks:
            if track.pending is not None and track.pending.t <= t:
                batch.append((track, track.pending))
                track.pending = _next(track.changes)
        if t < self.duration:
            segment = self.timeline.segment_at(t)
            if self._segment is None or self._segment.index != segment.index:
                onset = max(segment.start, self._anchor_prog)
                self.onset_lateness.append(
                    self.clock.now() - (self._anchor_clock + (onset - self._anchor_prog))
                )
                self._segment = segment
                self._emit(lambda at: StepStarted(position=at, segment=segment))
        if len(batch) == 1:
            # One device (a program per device, the common case): no task to gather it in.
            track, change = batch[0]
            await self._send(track, change.levels)
        elif batch:
            await asyncio.gather(*(self._send(track, change.levels) for track, change in batch))

    async def _send(self, track: Track, target: Levels) -> None:
        m, sent = track.massager, track.sent
        try:
            if target.program != sent.program:
                if target.program:
                    await m.run_program(target.program)
                else:
                    # SET_SPEED ends a running program, even at the same level.
                    await m.set_speed_level(target.speed)
            elif not target.program and target.speed != sent.speed:
                await m.set_speed_level(target.speed)
            if target.heat != sent.heat:
                await m.set_heat(target.heat)
        except DeviceRefused as exc:
            # A device in a fault (overheat, motor) refuses; the program goes on, and the
            # person is told. Safety faults that must end the run are the envelope's call.
            why = str(exc)
            self._emit(lambda at: Refused(position=at, device=m.name, message=why))
            self._fault_watch.refused(m, exc)
        except LinkLost:
            # The loop sees the loss (link_lost is set) and ends the run or reconnects.
            return
        else:
            self._fault_watch.accepted(m)
        track.sent = target
        self._emit(lambda at: LevelsSent(position=at, device=m.name, levels=target))

    async def _sleep_or_poke(self, deadline: float) -> bool:
        """Wait for the deadline; True if a control poked first."""
        if self._poke.is_set():
            self._poke.clear()
            return True
        if deadline <= self.clock.now():
            return False
        if await first_of(self.clock.timer(deadline), self._poke.future()):
            self._poke.clear()
            return True
        return False

    def _seek(self, position: float, *, keep_fade: bool = False) -> None:
        if self._stopped:
            return
        self._anchor_prog = min(max(0.0, position), self.duration)
        self._anchor_clock = self.clock.now()
        if not keep_fade:
            self._fade = None
            # A move (next, previous, end of a hold) announces the step it lands in, even the
            # same one restarted; a change in place (intensity, a longer hold) does not.
            self._segment = None
        if not self._paused:
            self._replan()

    def _replan(self) -> None:
        for track in self._tracks:
            track.changes = track.timeline.changes(
                start=self._anchor_prog,
                intensity=self._intensity,
                fade=self._fade,
                sample_s=sample_period(track.massager, self.sample_s),
            )
            track.pending = _next(track.changes)
        self._poke.set()

    async def _rest_all(self, *, final: bool = False) -> None:
        """STOP every device (at the end, on pause, on any way out).

        On the way out (``final``), a device whose link is lost and that may still be running is
        reconnected to be stopped (with the "stop" policy), or the person is warned.
        """
        reconnect = final and self.on_disconnect == "stop"
        tasks = [
            asyncio.ensure_future(stop_quietly(t.massager, reconnect=reconnect))
            for t in self._tracks
        ]
        earlier, self._stop_tasks = self._stop_tasks, []
        results = await asyncio.gather(*tasks, *earlier, return_exceptions=True)
        for track in self._tracks:
            track.sent = Levels(0, 0, 0)
        if final:
            for track, warning in zip(self._tracks, results[: len(tasks)], strict=True):
                if isinstance(warning, str):
                    self._emit(partial(_warning_at, track.massager.name, warning))

    def _tell(self, notice: Notice) -> None:
        kind = Fault if notice.kind == "fault" else DeviceWarning
        self._emit(lambda at: kind(position=at, device=notice.device, message=notice.message))

    def _start_again(self, m: Massager) -> None:
        """A device stopped itself (its auto-off): send it the current levels again now."""
        for track in self._tracks:
            if track.massager is m:
                track.sent = Levels(0, 0, 0)
        # From where the run is now (not from its anchor): the device gets today's levels once.
        self._seek(self.position(), keep_fade=True)

    def _emit(self, make: Callable[[float], RunEvent]) -> None:
        """Tell every listener the event ``make`` builds from the program time now."""
        if not self._listeners:
            return  # nobody to tell: every command of every step comes here, built for no one
        event = make(self.position())
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a view's bug must never stop a massage mid-way uncontrolled
                _log.exception("scheduler listener failed")


def _levels_of(m: Massager) -> Levels:
    s = m.state
    return Levels(s.speed, s.heat, s.program)


def _next(changes: Iterator[Change] | None) -> Change | None:
    return None if changes is None else next(changes, None)


def _plural(n: int, what: str) -> str:
    return f"{what} was" if n == 1 else f"{n} {what}s were"


def _warning_at(device: str, message: str, position: float) -> DeviceWarning:
    return DeviceWarning(position=position, device=device, message=message)
