"""Recording a run as it happens: the scheduler's real events on simulated devices, in virtual
time, into a real journal file."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.errors import DeviceError, LinkLost, ProgramError
from massagectl.journal import Journal
from massagectl.journal.recorder import RunRecorder, outcome_of
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler
from massagectl.runtime import ProgramRun
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice

PROGRAM = Program.model_validate(
    {
        "name": "evening",
        "title": "Evening",
        "steps": [
            {"name": "warm", "duration": 20, "speed": "30%", "heat": "low"},
            {"name": "press", "duration": 10, "speed": "60%", "hold": True, "max_duration": 30},
            {"name": "ease", "duration": 10, "speed": "20%"},
        ],
    }
)


def sim(m: Massager) -> SimulatedDevice:
    assert isinstance(m.transport, InProcessTransport)
    return m.transport.device


@asynccontextmanager
async def wand() -> AsyncIterator[tuple[VirtualClock, Massager]]:
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        yield clock, m


def at(clock: VirtualClock, t: float, action: Callable[[], object]) -> asyncio.Task[None]:
    """Do ``action`` at clock time ``t`` after now."""
    origin = clock.now()

    async def later() -> None:
        await clock.sleep_until(origin + t)
        action()

    return asyncio.create_task(later())


async def test_controls_and_steps_are_recorded_in_order(tmp_path: Path) -> None:
    async with wand() as (clock, m):
        with Journal(tmp_path / "j.sqlite3") as j:
            s = Scheduler(PROGRAM, [m], clock=clock)
            recorder = RunRecorder(j, s, [m], source="preset", speedup=None)
            tasks = [
                at(clock, 5, s.pause),
                at(clock, 8, s.resume),
                at(clock, 10, lambda: s.set_intensity(0.8)),
                at(clock, 26, s.extend_hold),  # program time 23: in the hold
            ]
            outcome = await s.run()
            await asyncio.gather(*tasks)
            recorder.end(outcome)
            assert outcome == "finished"
            events = j.events(recorder.run_id)
            (run,) = j.runs()
    seen = [(e.kind, e.detail) for e in events]
    sent = seen[-1][1]
    assert seen == [
        ("step", "warm"),
        ("paused", ""),
        ("resumed", ""),
        ("intensity", "80%"),
        ("step", "press"),
        ("hold", "hold extended to 20 s"),
        ("step", "ease"),
        ("sent", sent),
    ]
    assert sent.endswith(" settings sent")
    assert int(sent.split()[0]) > 3  # a summary, not one record per setting
    by_kind = {e.kind: e for e in events}
    assert by_kind["intensity"].program_time == pytest.approx(7.0, abs=0.05)  # 3 s paused
    assert by_kind["intensity"].step == 1
    assert by_kind["sent"].device == "sim:omp-wand-heat"
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3]
    assert (run.outcome, run.duration, run.steps) == ("finished", 40.0, 3)
    assert run.position == pytest.approx(50.0)  # the hold was made 10 s longer


async def test_a_fault_is_recorded_as_it_appears_and_ends_the_run(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with wand() as (clock, m):

        async def run_until_the_fault() -> None:
            async with ProgramRun(PROGRAM, [m], clock=clock, journal=path) as run:
                at(clock, 12, sim(m).inject_motor_fault)
                await run.run()

        with pytest.raises(DeviceError, match="MOTOR"):
            await run_until_the_fault()
        assert sim(m).timeline.state_at(clock.now()).speed == 0
    with Journal(path, create=False) as j:
        (run,) = j.runs()
        events = j.events(run.id)
    assert run.outcome == "error"
    assert "MOTOR" in run.detail
    (fault,) = [e for e in events if e.kind == "fault"]
    assert (fault.detail, fault.device, fault.step) == ("MOTOR", "sim:omp-wand-heat", 1)
    assert fault.program_time == pytest.approx(12.0, abs=0.5)


async def test_a_fault_already_there_is_told_apart(tmp_path: Path) -> None:
    async with wand() as (clock, m):
        sim(m).inject_motor_fault()
        assert "MOTOR" in (await m.status()).faults
        with Journal(tmp_path / "j.sqlite3") as j:
            s = Scheduler(PROGRAM, [m], clock=clock)
            recorder = RunRecorder(j, s, [m], source="preset", speedup=None)
            with pytest.raises(DeviceError) as raised:
                await s.run()
            recorder.end(*outcome_of(raised.value, None))
            events = j.events(recorder.run_id)
            (run,) = j.runs()
    assert (events[0].kind, events[0].detail) == ("fault", "MOTOR (already at the start)")
    assert run.outcome == "error"
    assert "before the run started" in run.detail


async def test_a_lost_link_ends_the_run_as_lost(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with wand() as (clock, m):

        async def run_until_lost() -> None:
            async with ProgramRun(PROGRAM, [m], clock=clock, journal=path) as run:
                at(clock, 25, sim(m).drop_link)
                await run.run()

        with pytest.raises(LinkLost):
            await run_until_lost()
    with Journal(path, create=False) as j:
        (run,) = j.runs()
        assert run.outcome == "lost"
        assert run.detail.startswith("link lost mid-program: sim:omp-wand-heat: no answer")
        lost = [e for e in j.events(run.id) if e.kind == "lost"]
        assert [(e.device, e.step) for e in lost] == [("sim:omp-wand-heat", 2)]
        # Dropped at 25 s; the missing answers take a moment to tell.
        assert run.position is not None
        assert 25.0 <= lost[0].program_time <= run.position <= 28.0


async def test_a_run_stopped_midway_is_recorded_as_stopped(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with (
        wand() as (clock, m),
        ProgramRun(
            PROGRAM, [m], clock=clock, journal=path, source="/home/me/evening.yaml"
        ) as program_run,
    ):
        at(clock, 5, program_run.stop)  # what q does on the live view
        await program_run.run()
    with Journal(path, create=False) as j:
        (run,) = j.runs()
        assert (run.outcome, run.source) == ("stopped", "/home/me/evening.yaml")
        assert run.position == pytest.approx(5.0)
        assert [e.kind for e in j.events(run.id)] == ["step", "sent"]


async def test_a_journal_failing_mid_run_never_stops_the_massage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite3"
    async with wand() as (clock, m):
        with Journal(path) as j:
            s = Scheduler(PROGRAM, [m], clock=clock)
            recorder = RunRecorder(j, s, [m], source="preset", speedup=None)
            # Another process takes the journal's write lock and keeps it for the whole run.
            blocker = sqlite3.connect(path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            with caplog.at_level(logging.WARNING):
                outcome = await s.run()
                blocker.execute("ROLLBACK")
                recorder.end(outcome)
            assert outcome == "finished"
            # The events went unrecorded from the first failure on; the end is tried anyway.
            assert j.events(recorder.run_id) == []
            assert j.runs()[0].outcome == "finished"
        # The program ran to its end all the same, and the device was stopped.
        assert sim(m).timeline.state_at(clock.now()).speed == 0
        commands = [c.type for c in sim(m).timeline.commands()]
        assert commands.count("SET_SPEED") >= 3
        assert commands[-1] == "STOP"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "cannot write" in w]) == 1  # said once, not per event
    assert str(path) in warnings[0]


@pytest.mark.parametrize(
    ("error", "result", "signal_name", "expected"),
    [
        (None, "finished", None, ("finished", "")),
        (None, "stopped", None, ("stopped", "")),
        (asyncio.CancelledError(), None, "SIGTERM", ("SIGTERM", "stopped by SIGTERM")),
        (asyncio.CancelledError(), None, None, ("stopped", "cancelled")),
        (KeyboardInterrupt(), None, None, ("SIGINT", "stopped by SIGINT")),
        (LinkLost("sim: no answer"), None, None, ("lost", "sim: no answer")),
        (ProgramError("x.yaml:3: bad"), None, None, ("error", "x.yaml:3: bad")),
        (RuntimeError("boom"), None, None, ("crashed", "RuntimeError: boom")),
    ],
)
def test_how_a_run_ended_becomes_its_outcome(
    error: BaseException | None,
    result: str | None,
    signal_name: str | None,
    expected: tuple[str, str],
) -> None:
    assert outcome_of(error, result, signal_name) == expected
