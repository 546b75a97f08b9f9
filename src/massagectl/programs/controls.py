"""The scheduler's live controls: pause and resume, next and previous step, holds, intensity
and stop, kept apart from the loop that plays the program (:mod:`.scheduler`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from ..clock import Clock, Signal
from ..device import Massager
from ..errors import DeviceError
from .events import HoldChanged, IntensityChanged, Paused, Resumed, RunEvent
from .faults import stop_after_loss
from .timeline import MAX_INTENSITY, Change, Fade, Levels, Timeline

_log = logging.getLogger(__name__)

#: How long speed takes to come back after a pause.
RESUME_RAMP_S: Final = 3.0
#: How much one "extend" adds to a hold.
HOLD_EXTEND_S: Final = 10.0
#: Within this much of a step's start, "previous" goes to the step before rather than restarting.
PREVIOUS_GRACE_S: Final = 2.0
#: How long the scheduler waits for the devices to confirm STOP on its way out.
STOP_TIMEOUT_S: Final = 2.0


@dataclass(slots=True)
class Track:
    """One device's walk along its own timeline (levels differ between device ranges)."""

    massager: Massager
    timeline: Timeline
    sent: Levels
    changes: Iterator[Change] | None = None
    pending: Change | None = None


class Controls:
    """The controls of a :class:`~.scheduler.Scheduler`, which holds the state they change.

    Call them from anywhere in the run's event loop; each takes effect at once (the loop is
    poked), and stop overtakes everything.
    """

    clock: Clock
    _tracks: list[Track]
    _intensity: float
    _anchor_prog: float
    _anchor_clock: float
    _paused: bool
    _stopped: bool
    _rest_needed: bool
    _fade: Fade | None
    _poke: Signal
    _stop_tasks: list[asyncio.Task[str | None]]

    @property
    def timeline(self) -> Timeline:
        """The first device's timeline (all share step times)."""
        return self._tracks[0].timeline

    @property
    def duration(self) -> float:
        """The program's length, holds as extended so far."""
        return self.timeline.duration

    def position(self) -> float:
        """Program time now."""
        if self._paused or self._stopped:
            return self._anchor_prog
        return min(self.duration, self._anchor_prog + (self.clock.now() - self._anchor_clock))

    def _emit(self, make: Callable[[float], RunEvent]) -> None:
        raise NotImplementedError

    def _seek(self, position: float, *, keep_fade: bool = False) -> None:
        raise NotImplementedError

    def _replan(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        """Pause: program time stands still and the devices rest."""
        if self._paused or self._stopped:
            return
        self._anchor_prog = self.position()
        self._paused = True
        self._rest_needed = True
        self._emit(lambda at: Paused(position=at))
        self._poke.set()

    def resume(self) -> None:
        """Resume where it paused, the speed ramping back in from zero."""
        if not self._paused or self._stopped:
            return
        self._paused = False
        self._anchor_clock = self.clock.now()
        self._fade = Fade(self._anchor_prog, RESUME_RAMP_S)
        self._emit(lambda at: Resumed(position=at))
        self._replan()

    def toggle_pause(self) -> None:
        """Pause if running, resume if paused."""
        if self._paused:
            self.resume()
        else:
            self.pause()

    def next_step(self) -> None:
        """Skip to the start of the next step (the end, from the last one)."""
        self._seek(self.timeline.segment_at(self.position()).end)

    def previous_step(self) -> None:
        """Back to the start of this step, or to the previous step when just past its start."""
        pos = self.position()
        segment = self.timeline.segment_at(pos)
        if pos - segment.start > PREVIOUS_GRACE_S or segment.index == 0:
            self._seek(segment.start)
        else:
            self._seek(self.timeline.segments[segment.index - 1].start)

    def extend_hold(self, seconds: float = HOLD_EXTEND_S) -> bool:
        """Make the current hold longer, up to its ``max_duration``; False if not in a hold."""
        pos = self.position()
        segment = self.timeline.segment_at(pos)
        step = segment.step
        if not step.hold or step.max_duration is None:
            return False
        longer = min(step.max_duration, segment.duration + seconds)
        if longer <= segment.duration:
            return False
        for track in self._tracks:
            track.timeline = track.timeline.with_duration(segment.index, longer)
        self._emit(lambda at: HoldChanged(position=at, message=f"hold extended to {longer:g} s"))
        self._seek(pos, keep_fade=True)
        return True

    def end_hold(self) -> bool:
        """End the current hold now; False if not in a hold."""
        segment = self.timeline.segment_at(self.position())
        if not segment.step.hold:
            return False
        self._emit(lambda at: HoldChanged(position=at, message="hold ended"))
        self._seek(segment.end)
        return True

    def set_intensity(self, intensity: float) -> None:
        """Set the intensity scale (0 to 1.5); the devices' range is never exceeded."""
        self._intensity = clamp_intensity(intensity)
        scale = self._intensity
        self._emit(
            lambda at: IntensityChanged(position=at, intensity=scale, message=f"{scale:.0%}")
        )
        if not self._paused:
            self._seek(self.position(), keep_fade=True)

    def adjust_intensity(self, delta: float) -> None:
        """Change the intensity scale by ``delta`` (e.g. +0.1)."""
        self.set_intensity(round(self._intensity + delta, 6))

    def stop(self) -> None:
        """Stop now: every device gets STOP at once, ahead of any queued setpoint."""
        if self._stopped:
            return
        self._anchor_prog = self.position()
        self._stopped = True
        for track in self._tracks:
            self._stop_tasks.append(asyncio.ensure_future(stop_quietly(track.massager)))
        self._poke.set()


async def stop_quietly(m: Massager, *, reconnect: bool = False) -> str | None:
    """STOP a device; a warning for the person if it may still be running."""
    if m.link_lost.is_set():
        return await stop_after_loss(m, reconnect=reconnect)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await m.stop()
    except (TimeoutError, DeviceError) as exc:
        _log.warning("%s: could not confirm STOP: %s", m.name, exc)
    return None


def clamp_intensity(value: float) -> float:
    return min(MAX_INTENSITY, max(0.0, value))
