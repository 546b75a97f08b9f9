"""Writing one run into the journal as it happens, from the scheduler's events and the devices'
states.

What is recorded: each step as it starts (also when ``n`` or ``p`` moves to one), pause and
resume, intensity changes, holds extended or ended, settings a device refused, what the safety
envelope held back, warnings (a low battery), links lost and regained, and faults as they appear
on a device (and when they clear). Settings sent are *not*
recorded one by one (a wave sends several a second, an hour's run tens of thousands): a ``sent``
event per device at the end carries their count. A run that dies hard loses that count, and
nothing else.

A journal that fails mid-run (disk full, another process holding it locked) must never stop the
massage from going on or, above all, from stopping: every write here is guarded, the first
failure is reported once on the log and the events after it are dropped, and the end of the run
is still tried once, so that the outcome is kept if the trouble has passed by then.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial

from ..device import DeviceState, Massager
from ..errors import LinkLost, MassagectlError
from ..programs.events import (
    DeviceEvent,
    Fault,
    Finished,
    LevelsSent,
    RunEvent,
    StepStarted,
    Stopped,
    event_name,
)
from ..programs.scheduler import Scheduler
from .store import DeviceEntry, Journal

_log = logging.getLogger(__name__)

#: Scheduler events not written as they come: every setting sent (counted instead), and how the
#: run ended, the fault that ends it included (its outcome says them; the fault's name is
#: recorded from the device's own state, below, as it appears). The others are written under
#: their :func:`~massagectl.programs.events.event_name`.
_NOT_RECORDED = (LevelsSent, Finished, Stopped, Fault)


class RunRecorder:
    """Records a run of ``scheduler`` on ``massagers`` in ``journal``, from now until :meth:`end`.

    Making one writes the run's start; that raises (:class:`sqlite3.Error`, :class:`OSError`)
    when the journal cannot take it, so that the caller can refuse the run. Nothing after that
    raises.
    """

    def __init__(
        self,
        journal: Journal,
        scheduler: Scheduler,
        massagers: Sequence[Massager],
        *,
        source: str,
        speedup: float | None = None,
    ) -> None:
        self.journal = journal
        self.scheduler = scheduler
        program = scheduler.program
        self.run_id = journal.start_run(
            program=program.name,
            title=program.title,
            source=source,
            devices=[DeviceEntry(m.name, m.profile.name) for m in massagers],
            intensity=scheduler.intensity,
            speedup=speedup,
            duration=scheduler.duration,
            steps=len(scheduler.timeline.segments),
        )
        self._failed = False
        self._ended = False
        self._sent: Counter[str] = Counter({m.name: 0 for m in massagers})
        self._faults: dict[str, frozenset[str]] = {}
        self._unsubscribe: list[Callable[[], None]] = [scheduler.subscribe(self._on_event)]
        for m in massagers:
            # A fault the device already has (a watchdog stop left by an earlier host) is told
            # as such, so that it is not taken for one this run caused.
            self._faults[m.name] = frozenset(m.state.faults)
            for fault in sorted(m.state.faults):
                self._write("fault", device=m.name, detail=f"{fault} (already at the start)")
            self._unsubscribe.append(m.subscribe(partial(self._on_state, m.name)))

    # --- listening ------------------------------------------------------------------------

    def _on_event(self, event: RunEvent) -> None:
        match event:
            case LevelsSent(device=device):
                self._sent[device] += 1
            case StepStarted(position=position, segment=segment):
                self._write("step", position=position, step=segment.index + 1, detail=segment.label)
            case _ if isinstance(event, _NOT_RECORDED):
                return
            case _:
                on = event.device if isinstance(event, DeviceEvent) else None
                self._write(
                    event_name(event), position=event.position, device=on, detail=event.message
                )

    def _on_state(self, device: str, state: DeviceState) -> None:
        now = frozenset(state.faults)
        before = self._faults.get(device, frozenset())
        if now == before:
            return
        self._faults[device] = now
        for fault in sorted(now - before):
            self._write("fault", device=device, detail=fault)
        for fault in sorted(before - now):
            self._write("fault-cleared", device=device, detail=fault)

    # --- writing --------------------------------------------------------------------------

    def _write(
        self,
        kind: str,
        *,
        position: float | None = None,
        step: int | None = None,
        device: str | None = None,
        detail: str = "",
    ) -> None:
        if self._failed or self._ended:
            return
        try:
            if position is None:
                position = self.scheduler.position()
            if step is None:
                step = self.scheduler.timeline.segment_at(position).index + 1
            self.journal.record(
                self.run_id,
                kind,
                program_time=position,
                step=step,
                device=device,
                detail=detail,
            )
        except (sqlite3.Error, OSError) as exc:
            self._failed = True
            _log.warning(
                "journal %s: cannot write (%s); the run goes on, its events unrecorded",
                self.journal.path,
                exc,
            )

    def end(self, outcome: str, detail: str = "") -> None:
        """Stop listening and record how the run ended (safe to call twice; never raises)."""
        if self._ended:
            return
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for device, count in self._sent.items():
            self._write("sent", device=device, detail=f"{count} settings sent")
        self._ended = True
        try:
            self.journal.end_run(
                self.run_id, outcome, position=self.scheduler.position(), detail=detail
            )
        except Exception as exc:  # the devices are stopped whatever this does
            _log.warning(
                "journal %s: cannot record the end of run %d (%s)",
                self.journal.path,
                self.run_id,
                exc,
            )


def outcome_of(
    error: BaseException | None, result: str | None, signal_name: str | None = None
) -> tuple[str, str]:
    """The journal's outcome and detail for a run that returned ``result`` (``finished`` or
    ``stopped``) or raised ``error``; ``signal_name`` is the stop signal received, if any."""
    if error is None:
        return (result or "stopped"), ""
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt):
        # The CLI turns SIGINT, SIGTERM and SIGHUP into a cancellation of the run.
        if signal_name:
            return signal_name, f"stopped by {signal_name}"
        if isinstance(error, KeyboardInterrupt):
            return "SIGINT", "stopped by SIGINT"
        return "stopped", "cancelled"
    if isinstance(error, LinkLost):
        return "lost", str(error)
    if isinstance(error, MassagectlError):
        return "error", str(error)
    return "crashed", f"{type(error).__name__}: {error}"
