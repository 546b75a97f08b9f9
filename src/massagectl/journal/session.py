"""The journal around one run, as ``massagectl run`` uses it.

Entered before any device is connected, so that a journal that cannot be opened refuses the run
before anything is sent; left after every device has been stopped and closed (it goes first on
the run's exit stack, so it comes off last), so that writing the end can never delay a STOP.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ..device import Massager
from ..programs.scheduler import Outcome, Scheduler
from .recorder import RunRecorder, outcome_of
from .store import Journal, JournalError

_log = logging.getLogger(__name__)

#: What the person can do about a journal that refuses a run.
_WAY_OUT = "give --journal another file, or --no-journal to run unrecorded"


class JournalSession:
    """Opens the journal at ``path`` (None: no journal) for one run and records it.

    ``signal_name`` tells which stop signal ended the run, if one did (the CLI's runner knows).
    Set :attr:`result` to what the run returned; an exception leaving the block gives the
    outcome otherwise (see :func:`~.recorder.outcome_of`).
    """

    def __init__(
        self, path: Path | None, *, signal_name: Callable[[], str | None] = lambda: None
    ) -> None:
        self.path = path
        self.signal_name = signal_name
        self.journal: Journal | None = None
        self.recorder: RunRecorder | None = None
        #: What the run returned, once it has.
        self.result: Outcome | None = None

    def __enter__(self) -> Self:
        if self.path is not None:
            try:
                self.journal = Journal(self.path)
            except JournalError as exc:
                raise JournalError(f"{exc}; {_WAY_OUT}") from None
        return self

    def start(
        self,
        scheduler: Scheduler,
        massagers: Sequence[Massager],
        *,
        source: str,
        speedup: float | None,
    ) -> None:
        """Record the start of the run and follow it; a journal that cannot take the start
        refuses the run (:class:`JournalError`), before the scheduler sends anything."""
        if self.journal is None:
            return
        try:
            self.recorder = RunRecorder(
                self.journal, scheduler, massagers, source=source, speedup=speedup
            )
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(
                f"journal {self.journal.path}: cannot record a run ({exc}); {_WAY_OUT}"
            ) from None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever goes wrong here must not replace the run's own error (nor its exit code):
        # the devices are stopped by now, and the journal is only a record of it.
        try:
            if self.recorder is not None:
                self.recorder.end(*outcome_of(exc, self.result, self.signal_name()))
        except Exception:
            _log.exception("journal %s: could not record the end of the run", self.path)
        if self.journal is not None:
            try:
                self.journal.close()
            except Exception:
                _log.exception("journal %s: could not be closed cleanly", self.path)
