"""One program run, as every surface starts it: the CLI's ``run``, the gateway's programs and
:func:`massagectl.run_program`.

A :class:`ProgramRun` is given devices (addresses, or :class:`~massagectl.device.Massager`
objects already connected), a program, an intensity, a clock, a journal and a link-loss policy.
Opening it opens the journal (one that cannot be opened, or cannot take the run's start, refuses
the run before any device hears a byte), connects the devices given as addresses and records the
start; :meth:`ProgramRun.run` plays the program with the scheduler, which watches faults and the
safety envelope; closing it stops every device, disconnects those it connected and writes the
end in the journal, on every way out. A surface only translates: what it was asked into the
arguments, and the typed events (:mod:`massagectl.programs.events`) it subscribes to into
terminal lines or MQTT messages.

A new surface needs nothing else. A log of step starts, for instance::

    async with ProgramRun(get_program("quick-relief"), ["sim:omp-wand-heat"]) as run:
        run.subscribe(lambda e: print(e.segment.label) if isinstance(e, StepStarted) else None)
        outcome = await run.run()
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Self

from ..address import DeviceAddress
from ..clock import Clock
from ..connection import connect
from ..device import Massager
from ..journal.recorder import RunRecorder, outcome_of
from ..journal.store import Journal, JournalError
from ..programs.events import RunEvent
from ..programs.model import Program
from ..programs.progress import OnDisconnect, Outcome, Progress
from ..programs.scheduler import Scheduler
from ..programs.timeline import Timeline

_log = logging.getLogger(__name__)

#: What the person can do about a journal that refuses a run.
JOURNAL_WAY_OUT = "give --journal another file, or --no-journal to run unrecorded"

#: Connects one address for the length of a run (the default: :func:`~massagectl.connect`).
Connector = Callable[[DeviceAddress | str, Clock | None], AbstractAsyncContextManager[Massager]]


def _connect(
    address: DeviceAddress | str, clock: Clock | None
) -> AbstractAsyncContextManager[Massager]:
    return connect(address, clock=clock)


class ProgramRun:
    """One run of ``program`` on ``devices``; use it as ``async with``, then :meth:`run`.

    ``journal`` is the session journal's file (None: not recorded); ``source`` and ``speedup``
    are written in it. ``way_out`` is what the journal's refusal tells the person to do.
    ``signal_name`` tells which stop signal ended the run, if one did.
    """

    def __init__(
        self,
        program: Program,
        devices: Sequence[Massager | DeviceAddress | str],
        *,
        intensity: float = 1.0,
        clock: Clock | None = None,
        journal: Path | None = None,
        source: str = "preset",
        speedup: float | None = None,
        on_disconnect: OnDisconnect = "stop",
        signal_name: Callable[[], str | None] = lambda: None,
        way_out: str = JOURNAL_WAY_OUT,
        connector: Connector = _connect,
    ) -> None:
        if not devices:
            raise ValueError("a program needs at least one device")
        self.program = program
        self._devices = list(devices)
        self._intensity = intensity
        self._clock = clock
        self._journal_path = journal
        self._source = source
        self._speedup = speedup
        self._on_disconnect: OnDisconnect = on_disconnect
        self._signal_name = signal_name
        self._way_out = way_out
        self._connector = connector
        self._stack = AsyncExitStack()
        self._scheduler: Scheduler | None = None
        self._recorder: RunRecorder | None = None
        self._result: Outcome | None = None
        self._error: BaseException | None = None
        #: The devices of the run, connected, once it is open.
        self.massagers: list[Massager] = []

    # --- opening and closing -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        await self.close(exc)

    async def open(self) -> None:
        """Open the journal, connect the devices and record the start (what ``async with``
        does first); if any of it fails, what was opened is closed again and nothing was sent.
        For a surface whose run outlives the block that starts it (the gateway's)."""
        try:
            await self._open()
        except BaseException as exc:
            await self.close(exc)
            raise

    async def close(self, error: BaseException | None = None) -> None:
        """Stop and disconnect the devices this run connected, then record its end, with
        ``error`` (what ended it, if anything did) as the outcome."""
        self._error = error
        await self._stack.aclose()

    async def _open(self) -> None:
        # The journal first, so that a journal that cannot be opened refuses the run before any
        # device is reached, and (last off the stack) its end is written after every STOP.
        journal = self._open_journal()
        for device in self._devices:
            if isinstance(device, Massager):
                self.massagers.append(device)
            else:
                m = await self._stack.enter_async_context(self._connector(device, self._clock))
                self.massagers.append(m)
        self._scheduler = Scheduler(
            self.program,
            self.massagers,
            clock=self._clock,
            intensity=self._intensity,
            on_disconnect=self._on_disconnect,
        )
        if journal is not None:
            try:
                self._recorder = RunRecorder(
                    journal,
                    self._scheduler,
                    self.massagers,
                    source=self._source,
                    speedup=self._speedup,
                )
            except (sqlite3.Error, OSError) as exc:
                raise JournalError(
                    f"journal {journal.path}: cannot record a run ({exc}); {self._way_out}"
                ) from None

    def _open_journal(self) -> Journal | None:
        if self._journal_path is None:
            return None
        try:
            journal = Journal(self._journal_path)
        except JournalError as exc:
            raise JournalError(f"{exc}; {self._way_out}") from None
        self._stack.callback(_close_quietly, journal)
        self._stack.callback(self._record_end)
        return journal

    def _record_end(self) -> None:
        # Whatever goes wrong here must not replace the run's own error (nor its exit code):
        # the devices are stopped by now, and the journal is only a record of it.
        try:
            if self._recorder is not None:
                self._recorder.end(*outcome_of(self._error, self._result, self._signal_name()))
        except Exception:
            _log.exception("journal %s: could not record the end of the run", self._journal_path)

    # --- running -----------------------------------------------------------------------------

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler playing the run (once open)."""
        if self._scheduler is None:
            raise RuntimeError("the run is not open: use it as `async with ProgramRun(...)`")
        return self._scheduler

    async def run(self) -> Outcome:
        """Play the program to its end, or until stopped; every device ends at rest."""
        self._result = await self.scheduler.run()
        return self._result

    def subscribe(self, listener: Callable[[RunEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every event of the run; returns a function that unsubscribes."""
        return self.scheduler.subscribe(listener)

    @property
    def timeline(self) -> Timeline:
        """The first device's timeline (all share step times)."""
        return self.scheduler.timeline

    @property
    def duration(self) -> float:
        """The program's length, holds as extended so far."""
        return self.scheduler.duration

    @property
    def intensity(self) -> float:
        """The live intensity scale, 0 to 1.5."""
        return self.scheduler.intensity

    def progress(self) -> Progress:
        """Where the run is."""
        return self.scheduler.progress()

    # --- controls ----------------------------------------------------------------------------

    def pause(self) -> None:
        """Pause: program time stands still and the devices rest."""
        self.scheduler.pause()

    def resume(self) -> None:
        """Resume where it paused, the speed ramping back in."""
        self.scheduler.resume()

    def toggle_pause(self) -> None:
        """Pause if running, resume if paused."""
        self.scheduler.toggle_pause()

    def next_step(self) -> None:
        """Skip to the next step."""
        self.scheduler.next_step()

    def previous_step(self) -> None:
        """Back to the start of this step, or to the previous one just past its start."""
        self.scheduler.previous_step()

    def extend_hold(self) -> bool:
        """Make the current hold longer; False if not in a hold."""
        return self.scheduler.extend_hold()

    def end_hold(self) -> bool:
        """End the current hold now; False if not in a hold."""
        return self.scheduler.end_hold()

    def set_intensity(self, intensity: float) -> None:
        """Set the intensity scale (0 to 1.5)."""
        self.scheduler.set_intensity(intensity)

    def adjust_intensity(self, delta: float) -> None:
        """Change the intensity scale by ``delta``."""
        self.scheduler.adjust_intensity(delta)

    def stop(self) -> None:
        """Stop now: every device gets STOP at once."""
        self.scheduler.stop()


def _close_quietly(journal: Journal) -> None:
    try:
        journal.close()
    except Exception:
        _log.exception("journal %s: could not be closed cleanly", journal.path)
