"""The journal's tables, and how an older journal file is brought up to date.

The schema is versioned with ``PRAGMA user_version``: :data:`MIGRATIONS` holds, in order, the
statements that take a journal from version *n* to *n + 1*, so that a newer massagectl opens an
older journal by running the missing steps, and an older massagectl refuses a newer journal
rather than guess at columns it does not know. ``PRAGMA application_id`` marks the file as a
massagectl journal, so that a path pointing at some other SQLite database is refused untouched.
"""

from __future__ import annotations

import re
from typing import Final

#: ``PRAGMA application_id`` of a journal: "MSJ1" in ASCII.
APPLICATION_ID: Final = 0x4D534A31

#: Version 1: runs and their events.
_V1: Final = (
    """
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        program     TEXT NOT NULL,
        title       TEXT NOT NULL,
        source      TEXT NOT NULL,
        devices     TEXT NOT NULL,
        intensity   REAL NOT NULL,
        speedup     REAL,
        duration    REAL NOT NULL,
        steps       INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        position    REAL,
        outcome     TEXT CHECK (
            outcome IS NULL
            OR outcome IN ('finished', 'stopped', 'lost', 'error', 'crashed', 'interrupted')
            OR outcome GLOB 'SIG[A-Z]*'
        ),
        detail      TEXT NOT NULL DEFAULT '',
        writer_pid  INTEGER
    )
    """,
    """
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY,
        run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        at            TEXT NOT NULL,
        program_time  REAL NOT NULL,
        step          INTEGER,
        kind          TEXT NOT NULL,
        device        TEXT,
        detail        TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX events_by_run ON events (run_id, id)",
    # history lists the newest runs first, and the sweep looks for runs never ended.
    "CREATE INDEX runs_unended ON runs (id) WHERE outcome IS NULL",
)

#: ``MIGRATIONS[n]`` takes a journal from version ``n`` to ``n + 1``.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_V1,)
#: The version this massagectl writes.
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: The outcomes a run can end with, besides a signal's name (``SIGTERM``).
OUTCOMES: Final = frozenset({"finished", "stopped", "lost", "error", "crashed", "interrupted"})
_SIGNAL_NAME: Final = re.compile(r"^SIG[A-Z][A-Z0-9]*$")


def valid_outcome(outcome: str) -> bool:
    """Whether ``outcome`` may be written as a run's outcome."""
    return outcome in OUTCOMES or bool(_SIGNAL_NAME.match(outcome))
