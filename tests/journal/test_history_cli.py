"""End to end: ``massagectl run`` writes the journal as it goes, ``massagectl history`` reads it,
through the real command line, with real signals (and a real SIGKILL)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from massagectl.cli.app import app
from massagectl.journal import Journal, JournalError
from massagectl.journal.liveness import lock_path
from massagectl.programs.loader import get_program
from massagectl.programs.timeline import DeviceRange, Timeline
from tests.e2e.support import SimProcess, massagectl, spawn

from .readonly import read_only

#: A short first step, then one long enough to be interrupted in.
KILLABLE = """\
name: killable
title: Killable
steps:
  - name: first
    duration: 0.5s
    speed: 30%
  - name: second
    duration: 5m
    speed: 50%
"""

SHORT = """\
name: short
title: Short
steps:
  - name: only
    duration: 30s
    speed: 40%
"""


def program_file(tmp_path: Path, text: str) -> str:
    name = text.split("\n", 1)[0].removeprefix("name: ")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def history(journal: Path, *args: str) -> Any:
    """``massagectl history --json``, parsed."""
    done = massagectl("history", "--journal", str(journal), "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("massagectl: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def wait_for_step(journal: Path, step: int, timeout: float = 10.0) -> None:
    """Wait until the journal holds the start of ``step`` (it is written as it happens)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with Journal(journal, create=False) as j:
                runs = j.runs(1)
                if runs and any(e.kind == "step" and e.step == step for e in j.events(runs[0].id)):
                    return
        except JournalError:
            pass  # not made yet
        time.sleep(0.05)
    raise AssertionError(f"step {step} not in the journal within {timeout} s")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``massagectl run`` of :data:`KILLABLE` on the default simulator, in its second step."""
    journal = tmp_path / "journal.sqlite3"
    proc = spawn("run", program_file(tmp_path, KILLABLE), "--journal", str(journal))
    try:
        wait_for_step(journal, 2)
        yield proc, journal
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_finished_run_is_recorded_with_every_step(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    done = massagectl("run", "quick-relief", "--speedup", "300", "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    (run,) = history(journal)
    assert (run["program"], run["source"], run["outcome"]) == ("quick-relief", "preset", "finished")
    assert run["devices"] == [{"address": "sim:omp-wand-heat", "profile": "omp-wand-heat"}]
    assert run["speedup"] == 300
    assert run["position_s"] == run["duration_s"] == 600
    labels = [
        s.label for s in Timeline(get_program("quick-relief"), DeviceRange(10, 2, 3)).segments
    ]
    assert len(labels) == 9
    assert [s["label"] for s in run["steps"]] == labels
    assert [s["step"] for s in run["steps"]] == list(range(1, 10))
    times = [s["program_time_s"] for s in run["steps"]]
    assert times == sorted(times)
    assert times[1] == pytest.approx(210, abs=2)  # step 2 starts at 3m30s

    detail = history(journal, str(run["id"]))
    assert detail["run"]["id"] == run["id"]
    events = detail["events"]
    assert [e["detail"] for e in events if e["kind"] == "step"] == labels
    (sent,) = [e for e in events if e["kind"] == "sent"]
    assert sent["device"] == "sim:omp-wand-heat"
    assert int(sent["detail"].split()[0]) > 9

    table = massagectl("history", "--journal", str(journal))
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "quick-relief" in line)
    assert "finished" in row
    assert "10:00 of 10:00" in row


def test_sigterm_is_recorded_as_the_outcome_with_the_steps_until_then(
    running: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, journal = running
    (live,) = history(journal)
    assert live["outcome"] == "running"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 128 + signal.SIGTERM
    (run,) = history(journal)
    assert run["outcome"] == "SIGTERM"
    assert run["detail"] == "stopped by SIGTERM"
    assert [s["label"] for s in run["steps"]] == ["first", "second"]
    assert 0.5 <= run["position_s"] < 60
    assert run["ended_at"] is not None
    assert not lock_path(journal, run["id"]).exists()


def test_a_sigkilled_run_keeps_its_record_and_shows_as_interrupted(
    running: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, journal = running
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    (run,) = history(journal)
    assert run["outcome"] == "interrupted"
    assert run["ended_at"] is None
    assert [s["label"] for s in run["steps"]] == ["first", "second"]
    # How far it is known to have gone: into the second step, at least.
    assert run["last_event_at"] >= run["started_at"]
    assert run["last_program_time_s"] >= 0.5
    # Reading it wrote the verdict down for good and cleared the dead run's lock file away.
    db = sqlite3.connect(journal)
    assert db.execute("SELECT outcome FROM runs").fetchall() == [("interrupted",)]
    assert not lock_path(journal, run["id"]).exists()
    table = massagectl("history", "--journal", str(journal), str(run["id"]))
    assert "outcome: interrupted" in table.stdout
    assert "second" in table.stdout
    listing = massagectl("history", "--journal", str(journal)).stdout
    assert "interrupted" in listing
    assert "≥00:00 of 05:00" in listing


@pytest.fixture(scope="module")
def wand() -> Iterator[SimProcess]:
    """A simulated massager that prints every command it receives; no test here sends any."""
    sim = SimProcess("omp-wand-heat", commands=True)
    yield sim
    sim.close()


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"not a database at all\n" * 100)
    return path


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain-file").write_text("x")
    return tmp_path / "plain-file" / "journal.sqlite3"


def _other_database(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    sqlite3.connect(path).execute("CREATE TABLE notes (text TEXT)")
    return path


@pytest.mark.parametrize("bad", [_corrupt, _under_a_file, _other_database, lambda p: p])
def test_a_journal_that_cannot_be_opened_refuses_the_run_and_sends_nothing(
    tmp_path: Path, wand: SimProcess, bad: Any
) -> None:
    path: Path = bad(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    done = massagectl(
        "run", program_file(tmp_path, SHORT), "--device", wand.address(), "--journal", str(path)
    )
    assert_one_line_error(done, f"journal {path}")
    time.sleep(0.2)
    assert wand.commands == []  # not even a HELLO: the device was never reached
    assert wand.drain() == []
    if before is not None:
        assert path.read_bytes() == before


def test_a_read_only_journal_refuses_the_run_before_the_device_is_reached(
    tmp_path: Path, wand: SimProcess
) -> None:
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    with read_only(path):
        done = massagectl(
            "run", program_file(tmp_path, SHORT), "--device", wand.address(), "--journal", str(path)
        )
        assert_one_line_error(done, f"journal {path}", "readonly")
        assert history(path) == []  # it can still be read
    time.sleep(0.2)
    assert wand.commands == []
    assert wand.drain() == []


def test_the_environment_names_the_journal_and_no_journal_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("MASSAGECTL_JOURNAL", str(journal))
    program = program_file(tmp_path, SHORT)
    done = massagectl("run", program, "--speedup", "300", "--no-journal")
    assert done.returncode == 0, done.stderr
    assert not journal.exists()
    done = massagectl("run", program, "--speedup", "300")
    assert done.returncode == 0, done.stderr
    runs = json.loads(massagectl("history", "--json").stdout)
    assert [(r["program"], r["source"], r["outcome"]) for r in runs] == [
        ("short", str(Path(program).resolve()), "finished")
    ]


def in_process(*args: str) -> Result:
    """The command line run in this process (quicker than a new interpreter, same code)."""
    return CliRunner().invoke(app, list(args))


def test_history_of_an_empty_or_missing_journal(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    listing = in_process("history", "--journal", str(missing), "--json")
    assert (listing.exit_code, json.loads(listing.stdout)) == (0, [])
    assert not missing.exists()  # reading made nothing
    one = in_process("history", "--journal", str(missing), "3")
    assert one.exit_code == 2
    assert f"journal {missing}: no such file" in one.stderr
    missing.touch()  # an empty file is an empty database
    assert json.loads(in_process("history", "--journal", str(missing), "--json").stdout) == []
    Journal(missing).close()
    assert json.loads(in_process("history", "--journal", str(missing), "--json").stdout) == []
    one = in_process("history", "--journal", str(missing), "3")
    assert one.exit_code == 2
    assert "no run 3" in one.stderr
