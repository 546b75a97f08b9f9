"""The short path: received bytes pushed to the driver, and an idle writer's command carried out
by its caller. What the device ends up with, and who hears of a loss, must not change."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from massagectl.clock import ScaledClock
from massagectl.device import Massager
from massagectl.errors import DeviceRefused, LinkLost
from massagectl.protocols.omp import MsgType, OmpHost
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice

from .support import FaultyLink, wait_until


async def test_received_chunks_are_pushed_to_the_receiver_queued_ones_first() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = InProcessTransport(dev)
        await link.open()
        link._deliver(b"early")  # no receiver yet: queued
        got: list[bytes] = []
        link.set_receiver(got.append)
        link._deliver(b"late")
        assert got == [b"early", b"late"]
        link.set_receiver(None)  # back to the queue for readers
        link._deliver(b"read")
        assert await link.read() == b"read"
        await link.close()
        with pytest.raises(LinkLost, match="closed"):
            await link.read()


async def test_a_non_reentrant_receiver_hears_an_answer_only_after_the_write() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = InProcessTransport(dev)
        await link.open()
        writing = False
        during: list[bool] = []
        link.set_receiver(lambda _: during.append(writing))
        writing = True
        await link.write(OmpHost().ping().wire)  # the device answers inside the write
        writing = False
        await wait_until(lambda: bool(during))
        assert during == [False]
        await link.close()


async def test_a_loss_fails_the_caller_whose_command_is_in_flight() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            await m.set_speed(0.3)
            await asyncio.sleep(0.03)  # past the pacing: the command goes out by its caller
            link.drop_sends(MsgType.SET_SPEED)  # the command stays in flight
            pending = asyncio.create_task(m.set_speed(0.5))
            await wait_until(lambda: len(link.frames_of(MsgType.SET_SPEED)) >= 2)
            link._mark_lost("cable pulled")
            with pytest.raises(LinkLost, match="cable pulled"):
                await asyncio.wait_for(pending, 1.0)
            assert m.link_lost.is_set()
            assert not m.state.connected
            with pytest.raises(LinkLost, match="cable pulled"):
                await m.set_heat("low")


async def test_a_driver_that_fails_on_what_came_is_logged_and_the_link_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:

            def broken(_: bytes) -> None:
                raise ValueError("driver bug")

            m.driver.feed = broken  # type: ignore[method-assign]
            with caplog.at_level(logging.ERROR):
                link.inject(b"\x01\x00")  # must not raise into the transport's callback
            assert "the driver failed" in caplog.text
            assert not link.is_lost
            # As before, the device is not heard any more: its answers stop.
            with pytest.raises(LinkLost, match="no answer"):
                await m.set_speed(0.5)


async def test_a_cancelled_callers_command_still_reaches_the_device() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            m.release()
            await asyncio.sleep(0.03)  # past the pacing: the command goes out by its caller
            link.drop_sends(MsgType.SET_SPEED, 1)  # the caller's own frame is lost
            pending = asyncio.create_task(m.set_speed(0.5))
            await wait_until(lambda: bool(link.frames_of(MsgType.SET_SPEED)))
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await wait_until(lambda: dev.state.speed == 5)
            assert m.state.speed == 5


async def test_a_cancelled_stop_still_reaches_the_device() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            await m.set_speed(0.5)
            await asyncio.sleep(0.03)  # past the pacing: the STOP goes out by its caller
            link.drop_sends(MsgType.STOP, 1)
            pending = asyncio.create_task(m.stop())
            await wait_until(lambda: bool(link.frames_of(MsgType.STOP)))
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await wait_until(lambda: not dev.state.active)


async def test_a_stop_queued_behind_a_callers_command_goes_next_and_wins() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            await asyncio.sleep(0.03)  # past the pacing: the command goes out by its caller
            link.drop_sends(MsgType.SET_SPEED, 1)  # the first SET_SPEED waits for its retry
            speed = asyncio.create_task(m.set_speed(0.8))
            await wait_until(lambda: bool(link.frames_of(MsgType.SET_SPEED)))
            stop = asyncio.create_task(m.stop())
            await asyncio.sleep(0.05)
            assert not link.frames_of(MsgType.STOP)  # queued behind the command in flight
            speed.cancel()  # given up: the STOP queued after it overtakes it
            with pytest.raises(asyncio.CancelledError):
                await speed
            await asyncio.wait_for(stop, 2.0)
            await asyncio.sleep(0.1)
            types = [s.frame.type for s in link.sent if not s.dropped]
            assert types[-1] == MsgType.STOP
            assert not dev.state.active
            assert not m.state.active


async def test_a_refusal_reaches_the_caller_and_the_next_command_goes_out() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            dev.inject_motor_fault()
            await asyncio.sleep(0.03)
            with pytest.raises(DeviceRefused):
                await m.set_speed(0.5)
            dev.clear_motor_fault()
            await asyncio.sleep(0.03)
            assert await m.set_speed(0.5) == 5
            assert dev.state.speed == 5


async def test_closing_with_a_callers_command_in_flight_fails_it_at_once() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        link.drop_sends(MsgType.SET_SPEED)  # every try is lost: the command stays in flight
        async with Massager(link, dev.profile) as m:
            m.release()
            await asyncio.sleep(0.03)  # past the pacing: the command goes out by its caller
            pending = asyncio.create_task(m.set_speed(0.5))
            await wait_until(lambda: bool(link.frames_of(MsgType.SET_SPEED)))
        with pytest.raises(LinkLost, match="closed"):
            await asyncio.wait_for(pending, 0.2)  # not after the answer timeouts


async def test_keepalive_is_timed_from_a_callers_own_command() -> None:
    clock = ScaledClock(10.0)
    async with (
        SimulatedDevice("omp-wand-heat", clock) as dev,
        Massager(InProcessTransport(dev, clock=clock), dev.profile) as m,
    ):
        await clock.sleep(0.1)
        start = clock.now()
        for i in range(40):  # a command every 0.1 s for 4 s (> the 3 s watchdog), each direct
            await m.set_speed_level(3 + i % 2)
            await clock.sleep(0.1)
        await clock.sleep(3.5 * m.info.watchdog_s)  # then only the feed
        assert dev.state.speed in (3, 4)
        assert all(s.cause != "watchdog" for s in dev.timeline.states())
        times = [start] + [c.t for c in dev.timeline.commands() if c.t >= start] + [clock.now()]
        assert max(b - a for a, b in itertools.pairwise(times)) < 1.0 + 0.3
        # No feed while the commands themselves fed the device.
        pings = [c for c in dev.timeline.commands() if c.type == "PING"]
        assert all(p.t > start + 4.0 for p in pings)
