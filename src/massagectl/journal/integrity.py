"""Is the journal file sound? Asked once, when it is opened, before any device is reached.

A journal whose pages are damaged (a disk error, a bad copy, a half-written SD card) used to
open without complaint and fail at its first real read or write: ``run`` had greeted the device
by then, and ``history`` ended in a ``sqlite3.DatabaseError`` traceback. ``PRAGMA quick_check``
reads every page and checks each b-tree's structure (not that the indexes agree with their
tables, which ``integrity_check`` would add at several times the cost); see docs/journal.md for
what it costs on a journal of a thousand runs.
"""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

__all__ = ["damaged_message", "problem"]


def problem(db: sqlite3.Connection) -> str | None:
    """What is wrong with the file's pages, or None when they are sound."""
    try:
        # quick_check(1): stop at the first problem; one is enough to refuse the file.
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == [("ok",)]:
        return None
    return str(rows[0][0]) if rows else "no answer to quick_check"


def damaged_message(path: Path, reason: str) -> str:
    """One line for a damaged journal: what is wrong, and how to move it aside."""
    broken = path.with_name(path.name + ".broken")
    return (
        f"journal {path} is damaged ({' '.join(reason.split())}); move it aside with "
        f"`mv {shlex.quote(str(path))} {shlex.quote(str(broken))}` and massagectl starts a new "
        "one there"
    )
