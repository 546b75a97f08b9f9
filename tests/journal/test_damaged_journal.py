"""A journal with a garbled page in the middle: checked when opened, before any device is
reached; every command that reads it answers one line, exit 2, naming how to move it aside.

The journal is a real one, written by the store as a run writes it, then damaged the way a bad
disk block does it: a page in the middle of the file overwritten with garbage.
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from massagectl.journal import DeviceEntry, Journal
from tests.e2e.support import SimProcess, massagectl

#: Enough runs and events for a file of a few dozen pages.
RUNS = 40
EVENTS = 12


def real_journal(path: Path) -> None:
    with Journal(path) as j:
        for n in range(RUNS):
            run_id = j.start_run(
                program="quick-relief",
                title="Quick self-massage for relief",
                source="preset",
                devices=[DeviceEntry("sim:omp-wand-heat", "omp-wand-heat")],
                intensity=0.8,
                speedup=None,
                duration=600.0,
                steps=9,
            )
            for step in range(EVENTS):
                j.record(run_id, "step", program_time=step * 10.0, step=step + 1, detail=f"s{n}")
            j.end_run(run_id, "finished", position=600.0)


def garble_a_middle_page(path: Path) -> None:
    """Overwrite the start of a page halfway through the file (its b-tree page header)."""
    page_size = int(sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0])
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    assert pages >= 8, pages  # a real middle, not the header page
    start = (pages // 2) * page_size
    data[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    real_journal(path)
    # Closed: the write-ahead log has been folded into the file, which holds everything.
    assert not (tmp_path / "journal.sqlite3-wal").exists()
    garble_a_middle_page(path)
    return path


@pytest.fixture
def wand() -> Iterator[SimProcess]:
    """A simulated massager that prints every command it receives."""
    sim = SimProcess("omp-wand-heat", commands=True)
    yield sim
    sim.close()


def assert_damaged_line(stderr: str, path: Path) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"massagectl: error: journal {path} is damaged (")
    broken = shlex.quote(str(path) + ".broken")
    assert f"move it aside with `mv {shlex.quote(str(path))} {broken}`" in lines[0]


def test_run_refuses_a_damaged_journal_before_the_device_hears_a_byte(
    damaged: Path, wand: SimProcess
) -> None:
    before = damaged.read_bytes()
    done = massagectl("run", "quick-relief", "--device", wand.address(), "--journal", str(damaged))
    assert done.returncode == 2, done.stderr
    assert_damaged_line(done.stderr, damaged)
    assert "--no-journal" in done.stderr  # the other way out: run unrecorded
    time.sleep(0.3)  # anything written to the device would be printed by now
    assert wand.commands == []  # not even a HELLO
    assert damaged.read_bytes() == before  # left as it was, for whoever wants to rescue it
    # What the message says to do, done: the next run records into a fresh file.
    damaged.rename(damaged.with_name(damaged.name + ".broken"))
    again = massagectl("run", "quick-relief", "--speedup", "1000", "--journal", str(damaged))
    assert again.returncode == 0, again.stderr
    listed = massagectl("history", "--journal", str(damaged), "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"outcome": "finished"' in listed.stdout


@pytest.mark.parametrize("args", [(), ("1",), ("--json",), ("2", "--json")])
def test_history_answers_one_line_about_a_damaged_journal(
    damaged: Path, args: tuple[str, ...]
) -> None:
    done = massagectl("history", *args, "--journal", str(damaged))
    assert done.returncode == 2, done.stderr
    assert_damaged_line(done.stderr, damaged)
    assert done.stdout == ""
