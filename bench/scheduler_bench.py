"""The scheduler: an hour in virtual time, and step onsets in real time."""

from __future__ import annotations

import asyncio
import time

from massagectl.clock import MonotonicClock, VirtualClock
from massagectl.connection import connect
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler
from massagectl.programs.timeline import DeviceRange, Timeline

from .result import Result, latency_ms


def hour_program() -> Program:
    """60 minutes mixing every kind of step: steady with ramps, waves, pulses, holds, heat."""
    block = [
        {"name": "stroke", "duration": "4m", "speed": "30%", "heat": "low", "ramp": "5s"},
        {
            "name": "knead",
            "duration": "5m",
            "pattern": {"wave": {"period": "6s", "low": "45%", "high": "80%"}},
            "heat": "medium",
            "ramp": "3s",
        },
        {
            "name": "tap",
            "duration": "2m",
            "speed": "50%",
            "pattern": {"pulse": {"on": "0.3s", "off": "0.3s"}},
        },
        {"name": "hold", "duration": "30s", "speed": "70%", "hold": True, "max_duration": "1m"},
        {"name": "settle", "duration": "3m30s", "speed": "25%", "ramp": "5s"},
    ]
    return Program.model_validate(
        {"name": "bench-hour", "title": "Bench hour", "steps": [{"repeat": 4, "steps": block}]}
    )


async def _virtual_hour() -> tuple[float, float]:
    program = hour_program()
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat", clock=clock) as m:
        started = time.perf_counter()
        await Scheduler(program, [m], clock=clock).run()
        wall = time.perf_counter() - started
    # Baseline: walking the same plan with no devices and no clock at all.
    started = time.perf_counter()
    plan = list(Timeline(program, DeviceRange(10, 2)).changes())
    pure = time.perf_counter() - started
    assert plan
    return wall, pure


def virtual_hour() -> Result:
    """Wall seconds to run a 60-minute program in virtual time on a simulated device."""
    wall, pure = asyncio.run(_virtual_hour())
    return Result(
        "virtual_hour_s",
        wall,
        pure,
        "s",
        goal="< 1 s",
        baseline_is="computing the same plan with no device and no clock",
    )


def _short_steps_program(steps: int, step_s: float) -> Program:
    # Alternating levels so that every onset sends a frame.
    items = [
        {"name": f"s{i}", "duration": step_s, "speed": "30%" if i % 2 else "70%"}
        for i in range(steps)
    ]
    return Program.model_validate({"name": "bench-onsets", "title": "Onsets", "steps": items})


async def _onsets(steps: int, step_s: float) -> tuple[list[float], list[float]]:
    clock = MonotonicClock()
    async with connect("sim:omp-percussion-pro", clock=clock) as m:
        scheduler = Scheduler(_short_steps_program(steps, step_s), [m], clock=clock)
        await scheduler.run()
    # The baseline: bare loop.call_at callbacks at the same spacing, late by how much.
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    done = asyncio.Event()
    origin = loop.time() + 0.05

    def fire(deadline: float, last: bool) -> None:
        lateness.append(loop.time() - deadline)
        if last:
            done.set()

    for i in range(steps):
        deadline = origin + i * step_s
        loop.call_at(deadline, fire, deadline, i == steps - 1)
    await done.wait()
    return scheduler.onset_lateness, lateness


def step_lateness(quick: bool) -> Result:
    """p99 lateness of step onsets in real time, against bare asyncio call_at."""
    steps, step_s = (100, 0.03) if quick else (400, 0.05)
    ours, bare = asyncio.run(_onsets(steps, step_s))
    return latency_ms(
        "step_lateness_p99",
        ours,
        bare,
        99,
        goal="ratio <= 1.5",
        baseline_is="bare asyncio loop.call_at lateness p99, same spacing, same run",
    )
