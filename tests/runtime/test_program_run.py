"""The program-run object every surface uses: controls, typed events, the journal, and every
device at rest on every way out (virtual time, simulated devices, a real SQLite journal)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from massagectl.clock import VirtualClock
from massagectl.device import Massager
from massagectl.errors import LinkLost
from massagectl.journal.store import Journal, JournalError
from massagectl.programs.events import (
    HoldChanged,
    IntensityChanged,
    LinkDropped,
    Paused,
    Resumed,
    RunEvent,
    StepStarted,
    Stopped,
)
from massagectl.programs.model import Program
from massagectl.runtime import ProgramRun

WAND, GUN = "sim:omp-wand-heat", "sim:omp-percussion-pro"


def three_steps() -> Program:
    return Program.model_validate(
        {
            "name": "three",
            "title": "Three steps",
            "steps": [
                {"name": "warm", "duration": "1m", "speed": "30%"},
                {
                    "name": "hold",
                    "duration": "1m",
                    "speed": "50%",
                    "hold": True,
                    "max_duration": "3m",
                },
                {"name": "last", "duration": "1m", "speed": "70%"},
            ],
        }
    )


def speed_of(m: Massager) -> int:
    """What the simulated device itself is doing (not what the host believes)."""
    return int(m.transport.device.state.speed)  # type: ignore[attr-defined]


async def test_a_surface_needs_only_the_run_object_its_controls_and_its_events(
    tmp_path: Path,
) -> None:
    # Everything a new surface (here: a list of lines) needs is the run and its typed events.
    clock = VirtualClock()
    lines: list[str] = []

    def render(event: RunEvent) -> None:
        match event:
            case StepStarted(segment=segment):
                lines.append(f"step {segment.label}")
            case Paused() | Resumed():
                lines.append(type(event).__name__.lower())
            case IntensityChanged(intensity=scale):
                lines.append(f"intensity {scale:.0%}")
            case HoldChanged(message=message):
                lines.append(message)

    journal = tmp_path / "journal.sqlite"
    async with clock.running():
        async with ProgramRun(three_steps(), [WAND], clock=clock, journal=journal) as run:
            run.subscribe(render)
            playing = asyncio.ensure_future(run.run())
            await clock.sleep(30)
            run.pause()
            await clock.sleep(5)
            assert speed_of(run.massagers[0]) == 0  # paused: at rest
            run.resume()
            run.set_intensity(0.8)
            run.next_step()
            await clock.sleep(10)
            assert run.extend_hold()
            assert run.end_hold()
            assert await playing == "finished"
            (device,) = run.massagers
        assert speed_of(device) == 0
    assert lines == [
        "step warm",
        "paused",
        "resumed",
        "intensity 80%",
        "step hold",
        "hold extended to 70 s",
        "hold ended",
        "step last",
    ]
    with Journal(journal) as j:
        (entry,) = j.runs()
        assert entry.outcome == "finished"
        kinds = [e.kind for e in j.events(entry.id)]
    assert kinds[:6] == ["step", "paused", "resumed", "intensity", "step", "hold"]


async def test_a_cancelled_run_stops_every_device_and_the_journal_says_so(tmp_path: Path) -> None:
    clock = VirtualClock()
    journal = tmp_path / "journal.sqlite"
    devices: list[Massager] = []

    async def play() -> None:
        async with ProgramRun(three_steps(), [WAND, GUN], clock=clock, journal=journal) as run:
            devices.extend(run.massagers)
            await run.run()

    async with clock.running():
        task = asyncio.ensure_future(play())
        await clock.sleep(45)
        assert all(speed_of(m) > 0 for m in devices)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [speed_of(m) for m in devices] == [0, 0]
    with Journal(journal) as j:
        (entry,) = j.runs()
    assert (entry.outcome, entry.detail) == ("stopped", "cancelled")


async def test_a_lost_link_ends_the_run_with_every_other_device_stopped(tmp_path: Path) -> None:
    clock = VirtualClock()
    events: list[RunEvent] = []
    journal = tmp_path / "journal.sqlite"
    devices: list[Massager] = []

    async def play() -> None:
        async with ProgramRun(three_steps(), [WAND, GUN], clock=clock, journal=journal) as run:
            run.subscribe(events.append)
            devices.extend(run.massagers)
            playing = asyncio.ensure_future(run.run())
            await clock.sleep(20)
            run.massagers[0].transport.device.drop_link()  # type: ignore[attr-defined]
            await playing

    async with clock.running():
        with pytest.raises(LinkLost, match="the other device was stopped"):
            await play()
    assert speed_of(devices[1]) == 0
    assert [type(e) for e in events if isinstance(e, LinkDropped | Stopped)] == [LinkDropped]
    with Journal(journal) as j:
        (entry,) = j.runs()
    assert entry.outcome == "lost"


async def test_a_journal_that_cannot_be_opened_refuses_the_run_before_any_device_is_reached(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    bad = tmp_path / "not-a-journal.sqlite"
    bad.write_text("this is not a database\n")
    run = ProgramRun(three_steps(), [WAND], clock=clock, journal=bad)
    async with clock.running():
        with pytest.raises(JournalError, match="--no-journal"):
            async with run:
                pass
    assert run.massagers == []  # nothing was connected, nothing was sent
