"""The journal file: every run and what happened in it, in SQLite, written as it happens.

Each write is a transaction of its own, committed before the call returns, so a process that is
killed outright (SIGKILL, a crash, the OOM killer) loses at most the write it was in the middle
of. Settings, and why:

* ``journal_mode=WAL``: a commit appends to the write-ahead log instead of rewriting pages, so
  it is quick, and ``massagectl history`` can read while a run writes (readers never block the
  writer, nor it them). Two runs in two terminals take turns at the (tiny) write lock.
* ``synchronous=FULL``: each commit is flushed to the disk before the call returns. WAL with
  ``NORMAL`` already survives the *process* dying (a committed record sits in the operating
  system's cache, which outlives the process), but a power cut or a kernel crash could take the
  last several seconds of records with it, and a power cut mid-massage is just when someone
  will ask what ran and until when. The cost is one flush per record (about 0.2 ms on an SSD,
  some milliseconds on an SD card), and a run writes tens of records, not one per setpoint.
* a short busy timeout: writes happen on the event loop that also paces the devices, so waiting
  long for another writer would stall them. A write that cannot get the lock in time fails, and
  the recorder carries on without the journal (see :mod:`.recorder`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from ..errors import UsageError
from . import integrity, liveness
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, valid_outcome

_log = logging.getLogger(__name__)

#: How long a write waits for another process's write to finish.
BUSY_TIMEOUT_S: Final = 0.5


class JournalError(UsageError):
    """The journal cannot be opened or written (exit code 2: a run is refused, nothing sent)."""


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """A device a run was on."""

    address: str
    profile: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the journal holds it.

    ``outcome`` is what it ended with, or, for a run never ended, ``running`` while its process
    lives and ``interrupted`` once it is gone.
    """

    id: int
    program: str
    title: str
    source: str
    devices: tuple[DeviceEntry, ...]
    intensity: float
    speedup: float | None
    duration: float
    #: How many steps the program has (repeats unrolled).
    steps: int
    started_at: datetime
    ended_at: datetime | None
    position: float | None
    outcome: str
    detail: str
    #: When the last event was written, and its program time (how far an interrupted run is
    #: known to have gone).
    last_event_at: datetime | None
    last_program_time: float | None

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for ``--json``."""
        return {
            "id": self.id,
            "program": self.program,
            "title": self.title,
            "source": self.source,
            "devices": [{"address": d.address, "profile": d.profile} for d in self.devices],
            "intensity": self.intensity,
            "speedup": self.speedup,
            "duration_s": self.duration,
            "step_count": self.steps,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "position_s": self.position,
            "outcome": self.outcome,
            "detail": self.detail,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "last_program_time_s": self.last_program_time,
        }


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Something that happened during a run."""

    run_id: int
    at: datetime
    program_time: float
    step: int | None
    kind: str
    device: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for ``--json``."""
        return {
            "at": self.at.isoformat(),
            "program_time_s": self.program_time,
            "step": self.step,
            "kind": self.kind,
            "device": self.device,
            "detail": self.detail,
        }


def now() -> datetime:
    """Wall time now, in UTC (stored as ISO 8601 text, which sorts as time does)."""
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class Journal:
    """The journal at ``path``: open it, start runs, record events, end runs, read them back.

    ``create=False`` opens an existing journal only (for reading); a missing file is then a
    :class:`JournalError`, as is a file that is not a journal or was written by a newer
    massagectl. Opening a journal also marks runs whose process died as ``interrupted``, when the
    file can be written.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._locks: dict[int, liveness.RunLock] = {}
        self._db = self._open(create)
        try:
            # Before anything else reads it, so that a damaged file is one clear refusal.
            reason = integrity.problem(self._db)
            if reason is not None:
                raise JournalError(integrity.damaged_message(self.path, reason))
            self._prepare(create)
            if create:
                self.mark_interrupted()
            else:
                with contextlib.suppress(sqlite3.Error):  # a read-only journal is still readable
                    self.mark_interrupted()
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error("cannot be opened", exc) from None
        except BaseException:
            self._db.close()
            raise

    # --- opening --------------------------------------------------------------------------

    def _error(self, what: str, exc: BaseException | None = None) -> JournalError:
        reason = f" ({exc})" if exc is not None else ""
        return JournalError(f"journal {self.path}: {what}{reason}")

    def _open(self, create: bool) -> sqlite3.Connection:
        if self.path.is_dir():
            raise self._error("is a directory; give a file path")
        if not create and not self.path.exists():
            raise self._error("no such file")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._error("cannot make its directory", exc) from None
        try:
            # isolation_level=None: no transaction is opened behind our back, so a statement
            # on its own commits at once, and BEGIN/COMMIT are ours where several belong together.
            return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error("cannot be opened", exc) from None

    def _prepare(self, create: bool) -> None:
        db = self._db
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
        if app_id not in (0, APPLICATION_ID) or (
            app_id == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        ):
            raise self._error("is not a massagectl journal (another SQLite database)")
        if version > SCHEMA_VERSION:
            raise self._error(
                f"was written by a newer massagectl (schema {version}; this one knows up to "
                f"{SCHEMA_VERSION})"
            )
        if create or version:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal" and create:
                raise self._error(f"cannot use write-ahead logging here (journal_mode {mode})")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:
            if not create:
                raise self._error("holds no runs yet")
            self._migrate()
        if create:
            # A write that changes nothing: a file this process may only read fails it here,
            # before any device is reached, rather than at the run's first record.
            db.execute("UPDATE runs SET outcome = outcome WHERE 0")

    def _migrate(self) -> None:
        with self._transaction() as db:
            # Another process may have done it while this one waited for the lock.
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for step in MIGRATIONS[version:]:
                for statement in step:
                    db.execute(statement)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements that belong together, under the write lock from the start."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # a failed COMMIT leaves it open
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close the file. A run not ended by then shows as interrupted."""
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------------

    def start_run(
        self,
        *,
        program: str,
        title: str,
        source: str,
        devices: Sequence[DeviceEntry],
        intensity: float,
        speedup: float | None,
        duration: float,
        steps: int,
    ) -> int:
        """Record the start of a run; returns its id. Raises :class:`sqlite3.Error` or
        :class:`OSError` if it cannot be written."""
        row = (
            program,
            title,
            source,
            json.dumps([{"address": d.address, "profile": d.profile} for d in devices]),
            intensity,
            speedup,
            duration,
            steps,
            _iso(now()),
            os.getpid(),
        )
        lock: liveness.RunLock | None = None
        try:
            with self._transaction() as db:
                run_id = db.execute(
                    "INSERT INTO runs (program, title, source, devices, intensity, speedup,"
                    " duration, steps, started_at, writer_pid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                ).lastrowid
                assert run_id is not None
                # Locked before the row is committed: no reader sees the run without its lock.
                lock = liveness.RunLock.acquire(liveness.lock_path(self.path, run_id))
        except BaseException:
            if lock is not None:  # the row was not committed after all
                lock.release()
            raise
        self._locks[run_id] = lock
        return run_id

    def record(
        self,
        run_id: int,
        kind: str,
        *,
        program_time: float,
        step: int | None = None,
        device: str | None = None,
        detail: str = "",
    ) -> None:
        """Record an event of run ``run_id`` (committed when this returns)."""
        self._db.execute(
            "INSERT INTO events (run_id, at, program_time, step, kind, device, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, _iso(now()), program_time, step, kind, device, detail),
        )

    def end_run(self, run_id: int, outcome: str, *, position: float, detail: str = "") -> None:
        """Record how run ``run_id`` ended: ``finished``, ``stopped``, ``lost``, ``error``,
        ``crashed`` or a signal's name such as ``SIGTERM``."""
        if not valid_outcome(outcome) or outcome == "interrupted":
            raise ValueError(f"not an outcome a run can end with: {outcome!r}")
        self._db.execute(
            "UPDATE runs SET ended_at = ?, outcome = ?, position = ?, detail = ? WHERE id = ?",
            (_iso(now()), outcome, position, detail, run_id),
        )
        lock = self._locks.pop(run_id, None)
        if lock is not None:
            lock.release()

    def mark_interrupted(self) -> list[int]:
        """Mark the runs whose process died before ending them as ``interrupted``; returns
        their ids."""
        # A look first, without the write lock: most opens find nothing to mark, and should not
        # make a run that is writing wait for them.
        if not self._dead_runs():
            return []
        marked: list[int] = []
        with self._transaction() as db:
            for run_id in self._dead_runs():  # again, now that no one else can end one
                db.execute(
                    "UPDATE runs SET outcome = 'interrupted', detail = ? WHERE id = ?",
                    ("the process ended without ending the run", run_id),
                )
                marked.append(run_id)
        for run_id in marked:
            liveness.remove_stale(liveness.lock_path(self.path, run_id))
        return marked

    def _dead_runs(self) -> list[int]:
        """Runs never ended whose writer is gone."""
        rows = self._db.execute("SELECT id FROM runs WHERE outcome IS NULL").fetchall()
        return [
            run_id
            for (run_id,) in rows
            if run_id not in self._locks
            and not liveness.is_held(liveness.lock_path(self.path, run_id))
        ]

    # --- reading --------------------------------------------------------------------------

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        """The runs, newest first (at most ``limit``)."""
        rows = self._db.execute(
            f"{_RUN_SELECT} ORDER BY r.id DESC LIMIT ?", (-1 if limit is None else limit,)
        ).fetchall()
        return [self._run_record(row) for row in rows]

    def run(self, run_id: int) -> RunRecord | None:
        """Run ``run_id``, or None if there is none."""
        row = self._db.execute(f"{_RUN_SELECT} WHERE r.id = ?", (run_id,)).fetchone()
        return None if row is None else self._run_record(row)

    def events(self, run_id: int) -> list[EventRecord]:
        """The events of run ``run_id``, in the order they happened."""
        rows = self._db.execute(
            "SELECT run_id, at, program_time, step, kind, device, detail FROM events"
            " WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return [
            EventRecord(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], r[5], r[6])
            for r in rows
        ]

    def _run_record(self, row: tuple[Any, ...]) -> RunRecord:
        (run_id, program, title, source, devices, intensity, speedup, duration, steps) = row[:9]
        started_at = row[9]
        ended_at, position, outcome, detail, last_event_at, last_program_time = row[10:]
        if outcome is None:
            if run_id in self._locks or liveness.is_held(liveness.lock_path(self.path, run_id)):
                outcome = "running"
            else:
                # It may have ended between the query and the look at its lock.
                again = self._db.execute(
                    "SELECT ended_at, position, outcome, detail FROM runs WHERE id = ?", (run_id,)
                ).fetchone()
                ended_at, position, outcome, detail = again
                if outcome is None:
                    outcome, detail = "interrupted", "the process ended without ending the run"
        return RunRecord(
            id=run_id,
            program=program,
            title=title,
            source=source,
            devices=tuple(DeviceEntry(d["address"], d["profile"]) for d in json.loads(devices)),
            intensity=intensity,
            speedup=speedup,
            duration=duration,
            steps=steps,
            started_at=datetime.fromisoformat(started_at),
            ended_at=datetime.fromisoformat(ended_at) if ended_at else None,
            position=position,
            outcome=outcome,
            detail=detail,
            last_event_at=datetime.fromisoformat(last_event_at) if last_event_at else None,
            last_program_time=last_program_time,
        )


_RUN_SELECT: Final = (
    "SELECT r.id, r.program, r.title, r.source, r.devices, r.intensity, r.speedup, r.duration,"
    " r.steps, r.started_at, r.ended_at, r.position, r.outcome, r.detail,"
    " (SELECT max(e.at) FROM events e WHERE e.run_id = r.id),"
    " (SELECT e.program_time FROM events e WHERE e.run_id = r.id ORDER BY e.id DESC LIMIT 1)"
    " FROM runs r"
)
