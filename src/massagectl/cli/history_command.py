"""``massagectl history``: the latest runs from the session journal, or one run's events."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..journal import EventRecord, Journal, JournalError, RunRecord, journal_path
from ..journal.integrity import damaged_message
from ..journal.store import now
from .program_render import clock_text


async def history_command(
    run_id: int | None, *, journal: str | None, limit: int, as_json: bool
) -> None:
    """List the latest ``limit`` runs (newest first), or the events of run ``run_id``."""
    path = journal_path(journal)
    if run_id is None and (not path.exists() or (path.is_file() and path.stat().st_size == 0)):
        # Nothing has been run yet: an empty history, not an error. (A directory or a file that
        # is not a journal is an error, which opening it below says.)
        if as_json:
            print("[]", flush=True)
        else:
            print(f"no runs recorded yet in {path}", file=sys.stderr, flush=True)
        return
    with _reading(path) as j:
        if run_id is None:
            runs = j.runs(limit)
            if as_json:
                entries = [_run_json(run, j.events(run.id)) for run in runs]
                print(json.dumps(entries, indent=2), flush=True)
            else:
                _console().print(runs_table(runs, path=str(path)))
            return
        run = j.run(run_id)
        if run is None:
            raise JournalError(f"journal {path}: no run {run_id}")
        events = j.events(run_id)
    if as_json:
        doc = {"run": _run_json(run, events), "events": [e.to_json() for e in events]}
        print(json.dumps(doc, indent=2), flush=True)
        return
    console = _console()
    for line in run_header(run):
        console.print(line, highlight=False)
    console.print(events_table(run, events))


@contextmanager
def _reading(path: Path) -> Iterator[Journal]:
    """The journal at ``path``, opened for reading; a record that cannot be read is damage."""
    try:
        with Journal(path, create=False) as j:
            yield j
    except sqlite3.DatabaseError as exc:
        # The check on opening reads every page, but not every record's contents: a record
        # that still cannot be read is the same damage, and gets the same way out.
        raise JournalError(damaged_message(path, str(exc))) from None


def _console() -> Console:
    # A pipe gets the whole table rather than rich's 80-column squeeze.
    return Console(width=None if sys.stdout.isatty() else 132)


def _run_json(run: RunRecord, events: list[EventRecord]) -> dict[str, Any]:
    """A run for ``--json``, with the steps it went through."""
    doc = run.to_json()
    doc["steps"] = [
        {"step": e.step, "label": e.detail, "program_time_s": e.program_time}
        for e in events
        if e.kind == "step"
    ]
    return doc


def local_time(moment: datetime) -> str:
    """A stored (UTC) time in the local time zone, to the second."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def length_text(run: RunRecord) -> str:
    """How long the run took in wall time; ``≥`` for a run whose end is unknown."""
    if run.ended_at is not None:
        return clock_text((run.ended_at - run.started_at).total_seconds())
    if run.outcome == "running":
        return clock_text((now() - run.started_at).total_seconds()) + " so far"
    last = run.last_event_at or run.started_at
    return "≥" + clock_text((last - run.started_at).total_seconds())


def reached_text(run: RunRecord) -> str:
    """How far into the program it got: ``07:30 of 10:00``."""
    hours = run.duration >= 3600
    total = clock_text(run.duration, hours=hours)
    if run.position is not None:
        return f"{clock_text(run.position, hours=hours)} of {total}"
    if run.last_program_time is not None:  # running, or interrupted: at least this far
        return f"≥{clock_text(run.last_program_time, hours=hours)} of {total}"
    return f"? of {total}"


def runs_table(runs: list[RunRecord], *, path: str) -> Table:
    """The runs as a table."""
    table = Table(title=f"runs in {path}, latest first" if runs else f"no runs in {path}")
    for column in ("id", "started", "program", "devices", "length", "reached", "outcome"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for run in runs:
        table.add_row(
            str(run.id),
            local_time(run.started_at),
            run.program,
            ", ".join(d.address for d in run.devices),
            length_text(run),
            reached_text(run),
            run.outcome,
        )
    return table


def run_header(run: RunRecord) -> list[str]:
    """What a run was, before its events."""
    source = "preset" if run.source == "preset" else f"file {run.source}"
    devices = ", ".join(f"{d.address} ({d.profile})" for d in run.devices)
    pace = f", {run.speedup:g}x speed" if run.speedup else ""
    ended = f", ended {local_time(run.ended_at)}" if run.ended_at else ""
    lines = [
        f"run {run.id}: {run.title} ({run.program}, {source})",
        f"on {devices} at {run.intensity:.0%} intensity{pace}",
        f"started {local_time(run.started_at)}{ended}, length {length_text(run)}, "
        f"reached {reached_text(run)}",
        f"outcome: {run.outcome}" + (f" ({run.detail})" if run.detail else ""),
    ]
    return lines


def events_table(run: RunRecord, events: list[EventRecord]) -> Table:
    """A run's events in order."""
    hours = run.duration >= 3600
    table = Table()
    for column in ("time", "program", "step", "event", "device", "detail"):
        table.add_column(column)
    for e in events:
        table.add_row(
            e.at.astimezone().strftime("%H:%M:%S.%f")[:-3],
            clock_text(e.program_time, hours=hours),
            f"{e.step}/{run.steps}" if e.step is not None else "",
            e.kind,
            e.device or "",
            e.detail,
        )
    return table
