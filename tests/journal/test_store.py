"""The journal file on its own: real SQLite files, real processes that die."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from massagectl.journal import DeviceEntry, Journal, JournalError
from massagectl.journal.liveness import lock_path
from massagectl.journal.schema import APPLICATION_ID, SCHEMA_VERSION

from .readonly import read_only

WAND = DeviceEntry("sim:omp-wand-heat", "omp-wand-heat")


def start(j: Journal, program: str = "quick-relief") -> int:
    return j.start_run(
        program=program,
        title="Quick relief",
        source="preset",
        devices=[WAND],
        intensity=0.8,
        speedup=None,
        duration=600.0,
        steps=9,
    )


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection of our own, as another process would have."""
    return sqlite3.connect(path, isolation_level=None)


def test_a_new_journal_is_in_wal_mode_with_a_versioned_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "journal.sqlite3"
    Journal(path).close()
    db = raw(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    columns = {
        table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        for table in ("runs", "events")
    }
    assert columns["runs"][:4] == ["id", "program", "title", "source"]
    for name in ("devices", "intensity", "speedup", "started_at", "ended_at", "outcome", "detail"):
        assert name in columns["runs"]
    assert columns["events"] == [
        "id",
        "run_id",
        "at",
        "program_time",
        "step",
        "kind",
        "device",
        "detail",
    ]


def test_every_write_is_committed_when_the_call_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        run_id = start(j)
        other = raw(path)  # another reader sees each write at once: nothing is held back
        assert other.execute("SELECT program, outcome FROM runs").fetchall() == [
            ("quick-relief", None)
        ]
        j.record(run_id, "step", program_time=0.0, step=1, detail="circles")
        j.record(run_id, "intensity", program_time=12.5, step=1, detail="90%")
        assert other.execute("SELECT kind, detail FROM events ORDER BY id").fetchall() == [
            ("step", "circles"),
            ("intensity", "90%"),
        ]
        j.end_run(run_id, "finished", position=600.0)
        assert other.execute("SELECT outcome, position FROM runs").fetchone() == ("finished", 600)


def test_a_run_reads_back_as_written(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        run_id = start(j)
        j.record(run_id, "step", program_time=0.1, step=1, detail="circles")
        j.record(run_id, "fault", program_time=3.0, step=1, device=WAND.address, detail="MOTOR")
        j.end_run(run_id, "SIGTERM", position=3.2, detail="stopped by SIGTERM")
        (run,) = j.runs()
        assert run.id == run_id
        assert (run.program, run.source, run.devices) == ("quick-relief", "preset", (WAND,))
        assert (run.intensity, run.speedup, run.duration, run.steps) == (0.8, None, 600.0, 9)
        assert (run.outcome, run.position, run.detail) == ("SIGTERM", 3.2, "stopped by SIGTERM")
        assert run.ended_at is not None
        assert run.started_at <= run.ended_at
        assert [(e.kind, e.step, e.device, e.detail) for e in j.events(run_id)] == [
            ("step", 1, None, "circles"),
            ("fault", 1, WAND.address, "MOTOR"),
        ]
        assert run.last_event_at == j.events(run_id)[-1].at


def test_runs_come_newest_first_and_limited(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        ids = [start(j, f"p{i}") for i in range(5)]
        for run_id in ids:
            j.end_run(run_id, "stopped", position=1.0)
        assert [r.id for r in j.runs(3)] == ids[::-1][:3]
        assert j.run(ids[1]) is not None
        assert j.run(999) is None


@pytest.mark.parametrize("outcome", ["done", "interrupted", "running", "sigterm", ""])
def test_an_unknown_outcome_is_refused(tmp_path: Path, outcome: str) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        run_id = start(j)
        with pytest.raises(ValueError, match="outcome"):
            j.end_run(run_id, outcome, position=0.0)
        assert j.runs()[0].outcome == "running"


def test_two_writers_share_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as a, Journal(path) as b:
        run_a, run_b = start(a, "first"), start(b, "second")
        for i in range(3):
            a.record(run_a, "step", program_time=i, step=i + 1, detail=f"a{i}")
            b.record(run_b, "step", program_time=i, step=i + 1, detail=f"b{i}")
        # Each sees the other's run as live: its lock is held, by another open file.
        assert {r.program: r.outcome for r in a.runs()} == {"first": "running", "second": "running"}
        b.end_run(run_b, "finished", position=600)
        assert [e.detail for e in a.events(run_b)] == ["b0", "b1", "b2"]
        assert {r.program: r.outcome for r in a.runs()} == {
            "first": "running",
            "second": "finished",
        }


def test_a_run_closed_without_an_end_is_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    writer = Journal(path)
    run_id = start(writer)
    writer.record(run_id, "step", program_time=0.0, step=1, detail="circles")
    assert lock_path(path, run_id).exists()
    with Journal(path, create=False) as reader:
        assert reader.run(run_id).outcome == "running"  # type: ignore[union-attr]
        writer.close()
        run = reader.run(run_id)
    assert run is not None
    assert run.outcome == "interrupted"
    assert run.ended_at is None
    # The next open writes it down for good, and clears the lock file away.
    with Journal(path):
        pass
    assert raw(path).execute("SELECT outcome FROM runs").fetchone() == ("interrupted",)
    assert not lock_path(path, run_id).exists()


CRASHING_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from massagectl.journal import DeviceEntry, Journal

    j = Journal(Path(sys.argv[1]))
    run_id = j.start_run(program="quick-relief", title="Quick relief", source="preset",
                         devices=[DeviceEntry("sim:omp-wand-heat", "omp-wand-heat")],
                         intensity=1.0, speedup=None, duration=600.0, steps=9)
    j.record(run_id, "step", program_time=0.0, step=1, detail="circles")
    j.record(run_id, "step", program_time=210.0, step=2, detail="long strokes")
    print("written", flush=True)
    sys.stdin.readline()  # wait here until killed
    """
)


def test_a_killed_writer_leaves_its_run_and_events_shown_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written"
        with Journal(path, create=False) as reader:
            assert reader.runs()[0].outcome == "running"
        child.send_signal(signal.SIGKILL)
        assert child.wait(5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    with Journal(path, create=False) as reader:
        (run,) = reader.runs()
        assert run.outcome == "interrupted"
        assert [e.detail for e in reader.events(run.id)] == ["circles", "long strokes"]
        assert run.last_event_at == reader.events(run.id)[-1].at
        assert run.last_program_time == 210.0


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    junk = b"this is not a database\n" * 200
    path.write_bytes(junk)
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)
    assert path.read_bytes() == junk


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    raw(path).execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(JournalError, match="not a massagectl journal"):
        Journal(path)
    db = raw(path)
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_journal_from_a_newer_massagectl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    raw(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="newer massagectl"):
        Journal(path)
    assert raw(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_read_only_journal_is_refused_for_a_run_but_still_read(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        j.end_run(start(j), "finished", position=600)
    with read_only(path):
        with pytest.raises(JournalError, match="readonly"):
            Journal(path)
        with Journal(path, create=False) as reader:
            assert [r.outcome for r in reader.runs()] == ["finished"]


def test_a_path_that_cannot_be_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="cannot make its directory"):
        Journal(blocker / "journal.sqlite3")
    with pytest.raises(JournalError, match="is a directory"):
        Journal(tmp_path)


def test_reading_a_missing_journal_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite3"
    with pytest.raises(JournalError, match="no such file"):
        Journal(path, create=False)
    assert not path.exists()
