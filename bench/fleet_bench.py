"""A fleet in one process: how many devices it drives at 20 Hz, and how fast a stop reaches all.

Every device is a :class:`massagesim.SimulatedDevice` (an OMP/1 percussion massager) reached
over the in-process transport, under massagectl's real :class:`~massagectl.device.Massager`
and real :class:`~massagectl.programs.scheduler.Scheduler`, on the real (monotonic) clock. The
controller and the simulator share the one process and its event loop, so every figure here is
the cost of both sides together.

How the fleet is run: one ``Scheduler`` per device, as a user runs a fleet today (a gateway
runs each device's program on its own, ``Scheduler(program, [m])``, and so does one
``massagectl program run`` per device). One scheduler driving every device in step (one timer
a step instead of one a device) is the other way the product allows; ``devices_at_20hz(quick,
shared=True)`` measures that for comparison.

What is measured is what the *devices* saw, not what the controller believes: the simulator's
own record (:meth:`massagesim.Recording.on_command`) gives the clock time each device applied
each command. A step that never reached its device (a setpoint coalesced away because the
writer fell behind) counts as infinitely late.

Fair-play notes: after the fleet has connected and before anything is timed, the bench runs a
full garbage collection and then ``gc.freeze()``: the fleet's long-lived objects (tens of
thousands per hundred devices) are moved out of the collector's sight, so that a full
collection (50-120 ms with a thousand devices) does not land in the measurement. A long-running
controller would do the same after its start-up; the young generations are collected as
usual. The first :data:`WARMUP_STEPS` steps of each run (the start-up burst of a thousand
programs starting at once) are not counted in the 20 Hz lateness.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

from massagectl.clock import MonotonicClock
from massagectl.device import Massager
from massagectl.profiles import get_profile
from massagectl.programs.model import Program
from massagectl.programs.scheduler import Scheduler
from massagectl.transports.inprocess import InProcessTransport
from massagesim import CommandRecord, SimulatedDevice

from .result import Result, latency_ms, percentile

#: 13 speed levels, mains powered, no heater: every step is one SET_SPEED.
PROFILE: Final = "omp-percussion-pro"
#: One step every 50 ms: 20 setpoints a second per device.
STEP_S: Final = 0.05
#: A triangle wave over the 13 levels, each level once a cycle, so that the level a device
#: received says which step it was (modulo the cycle): lateness is matched without guessing.
WAVE: Final = (1, 3, 5, 7, 9, 11, 13, 12, 10, 8, 6, 4, 2)
#: The goal: step lateness p99 under this.
LATE_LIMIT_S: Final = 0.010
#: Steps at the start of a run that are not counted (every program starting at once).
WARMUP_STEPS: Final = 5
#: How many devices connect at once while the fleet is set up.
CONNECT_BATCH: Final = 200
#: The search stops here whatever happens (memory, patience).
MAX_DEVICES: Final = 4096


def wave_program(seconds: float) -> Program:
    """Steps of :data:`STEP_S` walking the triangle :data:`WAVE`, for ``seconds``."""
    steps = max(len(WAVE), math.ceil(seconds / STEP_S))
    items = [
        {"name": f"w{i}", "duration": STEP_S, "speed": {"level": WAVE[i % len(WAVE)]}}
        for i in range(steps)
    ]
    return Program.model_validate({"name": "bench-wave", "title": "20 Hz wave", "steps": items})


@asynccontextmanager
async def fleet(
    n: int, clock: MonotonicClock
) -> AsyncIterator[list[tuple[SimulatedDevice, Massager]]]:
    """``n`` simulated devices, each connected to its own Massager; all stopped and closed after."""
    profile = get_profile(PROFILE)
    devices = [SimulatedDevice(profile, clock) for _ in range(n)]
    massagers = [
        Massager(InProcessTransport(d, f"sim:{PROFILE}#{i}", clock=clock), profile)
        for i, d in enumerate(devices)
    ]
    for d in devices:
        await d.__aenter__()
    try:
        for first in range(0, n, CONNECT_BATCH):
            await asyncio.gather(*(m.connect() for m in massagers[first : first + CONNECT_BATCH]))
        yield list(zip(devices, massagers, strict=True))
    finally:
        # At once: one after the other, each STOP would wait out its device's pacing gap.
        await asyncio.gather(*(m.close() for m in massagers), return_exceptions=True)
        for d in devices:
            await d.__aexit__(None, None, None)


def _frozen_gc() -> None:
    gc.collect()
    gc.freeze()


# --- devices at 20 Hz ----------------------------------------------------------------------------


async def _trial(n: int, seconds: float, shared: bool) -> tuple[float, int, int]:
    """Run the wave on ``n`` devices; (lateness p99 in s, steps counted, steps missed)."""
    clock = MonotonicClock()
    program = wave_program(seconds)
    steps = len(program.steps)
    async with fleet(n, clock) as pairs:
        received: list[list[tuple[float, int]]] = [[] for _ in pairs]
        unsubscribe: list[Callable[[], None]] = []
        for i, (device, _) in enumerate(pairs):
            sink = received[i]

            def on_command(record: CommandRecord, sink: list[tuple[float, int]] = sink) -> None:
                if record.type == "SET_SPEED" and record.value and not record.retry:
                    sink.append((record.t, record.value))

            unsubscribe.append(device.timeline.on_command(on_command))
        massagers = [m for _, m in pairs]
        groups = [massagers] if shared else [[m] for m in massagers]
        schedulers = [Scheduler(program, group, clock=clock) for group in groups]
        origins = [0.0] * len(schedulers)

        async def run(i: int) -> None:
            # Independent programs start when their people start them, not in the same
            # millisecond: spread over one step, so the fleet's load is even, not a burst each
            # 50 ms. (One scheduler for all sends in bursts by design.)
            await asyncio.sleep(STEP_S * i / len(schedulers))
            # run() anchors program time 0 at its first line, before it first awaits.
            origins[i] = clock.now()
            await schedulers[i].run()

        _frozen_gc()
        try:
            await asyncio.gather(*(run(i) for i in range(len(schedulers))))
        finally:
            gc.unfreeze()
            for stop_listening in unsubscribe:
                stop_listening()
    lateness: list[float] = []
    missed = 0
    for i, sink in enumerate(received):
        origin = origins[0 if shared else i]
        late = _step_lateness(sink, origin, steps)
        missed += sum(1 for x in late if x == math.inf)
        lateness.extend(late)
    return percentile(lateness, 99), len(lateness), missed


def _step_lateness(sink: list[tuple[float, int]], origin: float, steps: int) -> list[float]:
    """How late each counted step reached the device (infinite if it never did)."""
    cycle = len(WAVE)
    late = [math.inf] * steps
    for t, level in sink:
        residue = WAVE.index(level)
        # The latest step with this level due by t (1 ms of slack: a timer may fire a clock
        # resolution early, and the two sides read the clock a moment apart).
        k = math.floor(((t - origin + 1e-3) / STEP_S - residue) / cycle)
        step = residue + k * cycle
        if 0 <= step < steps:
            late[step] = min(late[step], max(0.0, t - (origin + step * STEP_S)))
    return late[WARMUP_STEPS:]


def _passes(n: int, seconds: float, shared: bool) -> bool:
    p99, counted, missed = asyncio.run(_trial(n, seconds, shared))
    ok = p99 <= LATE_LIMIT_S
    print(
        f"  {n:5d} devices: step lateness p99 {p99 * 1000:7.2f} ms over {counted} steps, "
        f"{missed} missed: {'ok' if ok else 'too late'}",
        file=sys.stderr,
        flush=True,
    )
    return ok


def devices_at_20hz(quick: bool, *, shared: bool = False) -> Result:
    """The most devices driven at 20 Hz with step lateness p99 under 10 ms (doubling, then
    bisection to about 6 %, or 12 % with ``quick``)."""
    seconds = 1.5 if quick else 4.0
    resolution = 0.12 if quick else 0.06
    good, bad = 0, 0
    n = 16 if quick else 8
    while n <= MAX_DEVICES:
        if not _passes(n, seconds, shared):
            bad = n
            break
        good, n = n, n * 2
    if bad:
        while bad - good > max(1, good * resolution):
            mid = (good + bad) // 2
            if _passes(mid, seconds, shared):
                good = mid
            else:
                bad = mid
    how = "one scheduler for all" if shared else "one scheduler per device"
    return Result(
        "devices_at_20hz",
        float(good),
        1.0,
        "devices",
        goal=">= 1000 on 2 cores",
        baseline_is=f"one device ({how}; simulator in the same process)",
        higher_is_better=True,
    )


# --- stop latency --------------------------------------------------------------------------------


async def _stop_latencies(n: int, repeats: int, seed: int) -> list[float]:
    """Stop ``n`` busy devices ``repeats`` times; the seconds until the last one applied it."""
    clock = MonotonicClock()
    rng = random.Random(seed)
    program = wave_program(3.0)
    out: list[float] = []
    async with fleet(n, clock) as pairs:
        stopped_at: list[float | None] = [None] * n
        all_stopped: asyncio.Future[None] | None = None
        armed = False

        def listener(i: int) -> Callable[[CommandRecord], None]:
            def on_command(record: CommandRecord) -> None:
                if armed and record.type == "STOP" and stopped_at[i] is None:
                    stopped_at[i] = record.t
                    if all(t is not None for t in stopped_at) and all_stopped is not None:
                        all_stopped.set_result(None)

            return on_command

        unsubscribe = [d.timeline.on_command(listener(i)) for i, (d, _) in enumerate(pairs)]
        _frozen_gc()
        try:
            for _ in range(repeats):
                schedulers = [Scheduler(program, [m], clock=clock) for _, m in pairs]
                runs = [asyncio.ensure_future(s.run()) for s in schedulers]
                # Busy: well into the program, at a random phase of its 50 ms steps.
                await asyncio.sleep(rng.uniform(0.15, 0.3))
                stopped_at[:] = [None] * n
                all_stopped = asyncio.get_running_loop().create_future()
                armed = True
                t0 = clock.now()
                for s in schedulers:
                    s.stop()
                await asyncio.wait_for(all_stopped, 5.0)
                armed = False
                out.append(max(t for t in stopped_at if t is not None) - t0)
                await asyncio.gather(*runs)
                # Safety, not speed: whatever the timing, every device ends at rest.
                assert all(not d.state.active for d, _ in pairs)
        finally:
            gc.unfreeze()
            for stop_listening in unsubscribe:
                stop_listening()
    return out


def stop_latency(quick: bool) -> Result:
    """p99 of the time from a stop to the last of 100 busy devices applying it."""
    repeats = 30 if quick else 200
    started = time.perf_counter()
    fleet_s = asyncio.run(_stop_latencies(100, repeats, seed=1))
    one_s = asyncio.run(_stop_latencies(1, repeats, seed=1))
    print(
        f"  stop: 100 devices p50 {percentile(fleet_s, 50) * 1000:.1f} ms, max "
        f"{max(fleet_s) * 1000:.1f} ms; one device p50 {percentile(one_s, 50) * 1000:.1f} ms "
        f"({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return latency_ms(
        "stop_latency_p99",
        fleet_s,
        one_s,
        99,
        goal="< 50 ms",
        baseline_is="the same stop on one busy device",
    )
