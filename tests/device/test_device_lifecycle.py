"""Stop on every way out of the session, listeners, and a link that goes away."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from massagectl import connect
from massagectl.clock import ScaledClock
from massagectl.device import DeviceState
from massagectl.errors import LinkLost
from massagesim import SimulatedDevice, serve_pty, serve_tcp

from .support import sim, wait_until


def at_rest(dev: SimulatedDevice) -> bool:
    """Speed 0, heat 0, no program."""
    return (dev.state.speed, dev.state.heat, dev.state.program) == (0, 0, 0)


async def test_normal_end_stops_a_device_it_made_active() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.set_speed(0.5)
        await m.set_heat("high")
    assert at_rest(dev)
    assert dev.timeline.commands()[-1].type == "STOP"
    assert not m.state.connected


async def test_normal_end_sends_no_stop_when_nothing_was_started() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.status()
    assert [c.type for c in dev.timeline.commands()] == ["HELLO", "GET_STATUS", "GET_STATUS"]


async def test_stop_on_exit_when_block_raises() -> None:
    devices: list[SimulatedDevice] = []

    async def session() -> None:
        async with connect("sim:omp-wand-heat") as m:
            devices.append(sim(m))
            await m.run_program(2)
            await m.set_heat("low")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await session()
    assert at_rest(devices[0])
    assert devices[0].timeline.commands()[-1].type == "STOP"


@pytest.mark.parametrize("released", [False, True])
async def test_stop_on_exit_when_task_is_cancelled(released: bool) -> None:
    devices: list[SimulatedDevice] = []
    running = asyncio.Event()

    async def session() -> None:
        async with connect("sim:omp-wand-heat") as m:
            devices.append(sim(m))
            await m.set_speed(0.7)
            if released:
                m.release()  # a signal still stops a released device
            running.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(session())
    await running.wait()
    assert devices[0].state.speed == 7
    task.cancel()  # what Ctrl-C does to the main task under asyncio.run
    with pytest.raises(asyncio.CancelledError):
        await task
    assert at_rest(devices[0])
    assert devices[0].timeline.commands()[-1].type == "STOP"


async def test_release_leaves_the_device_running_after_a_normal_end() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        await m.set_speed(0.5)
        await m.set_heat("high")
        m.release()
    assert (dev.state.speed, dev.state.heat) == (5, 2)
    assert "STOP" not in [c.type for c in dev.timeline.commands()]


async def test_release_still_stops_the_device_when_the_block_raises() -> None:
    devices: list[SimulatedDevice] = []

    async def session() -> None:
        async with connect("sim:omp-wand-heat") as m:
            devices.append(sim(m))
            await m.set_speed(0.5)
            m.release()
            raise KeyError("oops")

    with pytest.raises(KeyError):
        await session()
    assert at_rest(devices[0])


async def test_listeners_hear_unsolicited_status_until_unsubscribed() -> None:
    clock = ScaledClock(10.0)
    async with connect("sim:omp-wand-heat", clock=clock) as m:
        dev = sim(m)
        seen: list[DeviceState] = []
        unsubscribe = m.subscribe(seen.append)
        await m.run_program(3)  # Tap: level 8 and 0 by turns, a step every second
        sent = len(dev.timeline.commands())
        await wait_until(lambda: [s.speed for s in seen if s.program == 3][-3:] == [8, 0, 8])
        # Those steps were the device's own doing: the host only fed the watchdog meanwhile.
        assert {c.type for c in dev.timeline.commands()[sent:]} <= {"PING"}
        dev.inject_motor_fault()
        await wait_until(lambda: seen[-1].faults == ("MOTOR",))
        assert seen[-1].program == 0
        assert seen[-1].connected
        unsubscribe()
        count = len(seen)
        dev.clear_motor_fault()
        await m.run_program(3)
        await clock.sleep(2.0)
        assert len(seen) == count
        assert m.state.program == 3  # the device layer itself still follows the device
        unsubscribe()  # a second call is harmless


async def test_a_failing_listener_does_not_take_the_session_down() -> None:
    async with connect("sim:omp-wand-heat") as m:
        heard: list[DeviceState] = []

        def broken(state: DeviceState) -> None:
            raise ValueError("listener bug")

        m.subscribe(broken)
        m.subscribe(heard.append)
        assert await m.set_speed(0.5) == 5
        assert heard[-1].speed == 5
        assert not m.link_lost.is_set()


@pytest.mark.parametrize("over", ["pty", "tcp"])
async def test_a_session_over_a_real_line_stops_the_device_on_exit(over: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        dev = await stack.enter_async_context(SimulatedDevice("omp-wand-heat"))
        if over == "pty":
            path = await stack.enter_async_context(serve_pty(dev))
            address = f"serial:{path}?profile=omp-wand-heat"
        else:
            host, port = await stack.enter_async_context(serve_tcp(dev))
            address = f"tcp:{host}:{port}?profile=omp-wand-heat"
        async with connect(address) as m:
            assert m.info.program_names == ("Soothe", "Knead", "Tap")
            assert await m.set_speed(0.4) == 4
            assert await m.set_heat("high") == 2
            assert (dev.state.speed, dev.state.heat) == (4, 2)
            await wait_until(lambda: (m.state.speed, m.state.heat) == (4, 2))
        assert at_rest(dev)
        assert dev.timeline.commands()[-1].type == "STOP"


@pytest.mark.parametrize("over", ["pty", "tcp"])
async def test_closing_the_server_mid_session_loses_the_link(over: str) -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        server: contextlib.AbstractAsyncContextManager[Any]
        if over == "pty":
            server = serve_pty(dev)
            path = await server.__aenter__()
            address = f"serial:{path}?profile=omp-wand-heat"
        else:
            server = serve_tcp(dev)
            host, port = await server.__aenter__()
            address = f"tcp:{host}:{port}?profile=omp-wand-heat"
        served = True
        try:
            async with connect(address) as m:
                await m.set_speed(0.5)
                assert dev.state.speed == 5
                pending = asyncio.create_task(m.set_heat("high"))
                served = False
                await server.__aexit__(None, None, None)
                with pytest.raises(LinkLost):
                    await pending
                await asyncio.wait_for(m.link_lost.wait(), 2.0)
                with pytest.raises(LinkLost):
                    await m.set_speed(0.2)
                with pytest.raises(LinkLost):
                    await m.run_program(1)
                assert not m.state.connected
                assert m.lost_reason is not None
        finally:
            if served:
                await server.__aexit__(None, None, None)
