"""The session journal: every run (program, devices, start, end, intensity changes, faults, how
it ended) written to SQLite as it happens, so that a crash loses nothing; read back by
``massagectl history``.

:class:`Journal` is the file; :class:`~.recorder.RunRecorder` writes a running scheduler into it
(import it from its module: it pulls in the scheduler, which reading a journal does not need).
:class:`massagectl.runtime.ProgramRun` opens the journal around every run, whatever started it.
"""

from __future__ import annotations

from .paths import ENV_VAR, default_journal_path, journal_path
from .store import DeviceEntry, EventRecord, Journal, JournalError, RunRecord

__all__ = [
    "ENV_VAR",
    "DeviceEntry",
    "EventRecord",
    "Journal",
    "JournalError",
    "RunRecord",
    "default_journal_path",
    "journal_path",
]
