"""What checking the journal on opening costs: ``Journal`` opened on a journal of 1,000 runs,
against the same on a journal of one run.

Opening runs ``PRAGMA quick_check``, which reads every page, so its cost grows with the file;
the rest of opening (connecting, the schema version, marking dead runs) does not. The goal keeps
it a small part of the start-up of a command that reads the journal (``massagectl run`` imports
and connects for some hundreds of milliseconds on a 2-core machine).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from massagectl.journal import DeviceEntry, Journal

from .result import Result

#: Each run as a CLI run of a preset writes it: a start, a dozen steps, an end.
EVENTS_PER_RUN = 12


def _fill(path: Path, runs: int) -> None:
    with Journal(path) as j:
        for n in range(runs):
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
            for step in range(EVENTS_PER_RUN):
                j.record(run_id, "step", program_time=step * 10.0, step=step + 1, detail=f"{n}")
            j.end_run(run_id, "finished", position=600.0)


def _open_s(path: Path, times: int) -> list[float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        Journal(path, create=False).close()
        out.append(time.perf_counter() - started)
    return out


def journal_open(quick: bool) -> Result:
    """Median time to open (and so check) a journal of 1,000 runs, against one of one run."""
    times = 10 if quick else 50
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as folder:
        big, small = Path(folder) / "big.sqlite3", Path(folder) / "small.sqlite3"
        _fill(big, 1000)
        _fill(small, 1)
        _open_s(big, 2)  # into the page cache, as a journal used every day is
        _open_s(small, 2)
        ours = _open_s(big, times)
        base = _open_s(small, times)
    return Result(
        "journal_open",
        statistics.median(ours) * 1000,
        statistics.median(base) * 1000,
        "ms",
        goal="< 10 ms",
        baseline_is="opening a journal of one run, same machine, same run",
    )
