"""The writer: coalescing, the 50 frames/s cap, STOP overtaking, and feeding the watchdog."""

from __future__ import annotations

import asyncio
import itertools

from massagectl import connect
from massagectl.clock import ScaledClock
from massagectl.device import Massager
from massagectl.transports.inprocess import InProcessTransport
from massagesim import CommandRecord, SimulatedDevice

from .support import CountingClock, sim

#: The spec's cap, 50 frames a second, as the shortest gap between two host frames.
MIN_GAP_S = 1 / 50
#: Allowance for the host stamping its send a hair after the device stamped the receipt.
GAP_TOLERANCE_S = 0.002


def gaps(records: list[CommandRecord]) -> list[float]:
    """Device-clock seconds between consecutive host frames."""
    return [b.t - a.t for a, b in itertools.pairwise(records)]


async def test_concurrent_speed_changes_coalesce_to_the_last_value() -> None:
    async with connect("sim:omp-percussion-pro") as m:
        dev = sim(m)
        fractions = [(i % 13 + 1) / 13 for i in range(199)] + [0.4]
        levels = await asyncio.gather(*(m.set_speed(f) for f in fractions))
        assert levels[-1] == 5
        sent = [c for c in dev.timeline.commands() if c.type == "SET_SPEED"]
        assert 1 <= len(sent) <= 5, f"{len(sent)} SET_SPEED frames for 200 calls"
        assert sent[-1].value == 5
        assert dev.state.speed == 5
        assert m.state.speed == 5


async def test_a_stream_of_setpoints_never_exceeds_50_frames_a_second() -> None:
    async with connect("sim:omp-percussion-pro") as m:
        dev = sim(m)

        async def later(delay: float, fraction: float) -> int:
            await asyncio.sleep(delay)
            return await m.set_speed(fraction)

        # 200 setpoints in 0.4 s is 500 a second asked for; the last one is 0.4 -> level 5.
        calls = [later(i * 0.002, (i % 13 + 1) / 13) for i in range(199)]
        await asyncio.gather(*calls, later(0.4, 0.4))
        commands = dev.timeline.commands()
        sent = [c for c in commands if c.type == "SET_SPEED"]
        assert len(sent) <= 0.45 * 50, f"{len(sent)} SET_SPEED frames in about 0.4 s"
        assert min(gaps(commands)) >= MIN_GAP_S - GAP_TOLERANCE_S
        assert sent[-1].value == 5
        assert dev.state.speed == 5


async def test_every_frame_keeps_the_spacing_connect_included() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.set_speed(0.5)
        await m.set_heat("high")
        await m.run_program(1)
        await m.status()
        await m.stop()
        commands = dev.timeline.commands()
        assert [c.type for c in commands] == [
            "HELLO",
            "GET_STATUS",
            "SET_SPEED",
            "SET_HEAT",
            "RUN_PROGRAM",
            "GET_STATUS",
            "STOP",
        ]
        assert min(gaps(commands)) >= MIN_GAP_S - GAP_TOLERANCE_S


async def test_a_speed_change_queued_after_a_program_ends_the_program() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        # All three wait together; the speed asked for last must win over the program.
        await asyncio.gather(m.set_speed(0.2), m.run_program(1), m.set_speed(0.5))
        assert (dev.state.program, dev.state.speed) == (0, 5)


async def test_a_program_queued_after_a_speed_change_keeps_running() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await asyncio.gather(m.run_program(1), m.set_speed(0.3), m.run_program(2))
        assert dev.state.program == 2


async def test_stop_overtakes_queued_setpoints() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.set_speed(0.3)
        before = len(dev.timeline.commands())
        results = await asyncio.gather(
            m.set_speed(0.8),
            m.set_heat("high"),
            m.run_program(2),
            m.stop(),
            return_exceptions=True,
        )
        # The superseded callers learn the STOP's outcome, not an error.
        assert not [r for r in results if isinstance(r, BaseException)]
        assert [c.type for c in dev.timeline.commands()[before:]] == ["STOP"]
        assert (dev.state.speed, dev.state.heat, dev.state.program) == (0, 0, 0)
        await asyncio.sleep(0.1)  # nothing still queued turns up late
        assert [c.type for c in dev.timeline.commands()[before:]] == ["STOP"]
        assert not dev.state.active
        assert not m.state.active


async def test_keepalive_holds_an_active_device_past_its_watchdog() -> None:
    clock = ScaledClock(10.0)
    async with connect("sim:omp-wand-heat", clock=clock) as m:
        dev = sim(m)
        await m.set_speed(0.5)
        start = clock.now()
        await clock.sleep(3.5 * m.info.watchdog_s)  # 10.5 s on the device, about 1 s of wall
        assert dev.state.speed == 5
        assert all(s.cause != "watchdog" for s in dev.timeline.states())
        assert "WATCHDOG_STOP" not in m.state.faults
        held = [c for c in dev.timeline.commands() if c.t >= start]
        assert {c.type for c in held} == {"PING"}  # nothing but the feed was sent
        # At least every watchdog/3 (1 s), with room for timer jitter magnified tenfold.
        times = [start] + [c.t for c in held] + [clock.now()]
        assert max(b - a for a, b in itertools.pairwise(times)) < 1.0 + 0.3


async def test_an_idle_device_gets_no_keepalive() -> None:
    clock = ScaledClock(10.0)
    async with connect("sim:omp-wand-heat", clock=clock) as m:
        dev = sim(m)
        await m.set_speed(0.5)
        await m.stop()
        before = len(dev.timeline.commands())
        await clock.sleep(3 * m.info.watchdog_s)
        assert dev.timeline.commands()[before:] == []


async def test_keepalive_resumes_when_an_idle_device_is_made_active_again() -> None:
    # Idle for longer than a keepalive interval (no timer running), then active again: the
    # feed must start over from the new activity.
    clock = ScaledClock(10.0)
    async with connect("sim:omp-wand-heat", clock=clock) as m:
        dev = sim(m)
        await m.set_speed(0.5)
        await m.stop()
        await clock.sleep(2.0)  # idle long past a keepalive interval
        await m.run_program(3)
        await clock.sleep(2.5 * m.info.watchdog_s)
        assert dev.state.program == 3
        assert all(s.cause != "watchdog" for s in dev.timeline.states())


async def test_idle_after_stop_does_not_busy_loop() -> None:
    sim_clock = ScaledClock(10.0)
    host_clock = CountingClock(sim_clock)
    async with (
        SimulatedDevice("omp-wand-heat", sim_clock) as dev,
        Massager(InProcessTransport(dev, clock=host_clock), dev.profile) as m,
    ):
        await m.set_speed(0.5)
        await m.stop()
        host_clock.reads = 0
        # 3 s of device time: several keepalive intervals (0.8 s) for an idle device.
        await asyncio.sleep(0.3)
        # An idle writer looks at its clock a handful of times; a spinning one, thousands.
        assert host_clock.reads < 20, f"{host_clock.reads} clock reads while idle"
