"""The command queue on its own: a real OMP/1 driver over a link to a simulated device.

No Massager here: the queue is driven directly, as the Massager drives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from massagectl.device.command_queue import CommandQueue
from massagectl.device_types import CommandKind, DeviceState
from massagectl.drivers.base import Driver, driver_for
from massagectl.errors import LinkLost
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice


@dataclass
class Parts:
    """A queue, the driver it sends through, and the device at the far end."""

    queue: CommandQueue
    driver: Driver
    device: SimulatedDevice
    link: InProcessTransport
    link_lost: asyncio.Event
    losses: list[str] = field(default_factory=list)

    def sent(self, type_: str) -> list[int | None]:
        """The values of every frame of ``type_`` the device received."""
        return [c.value for c in self.device.timeline.commands() if c.type == type_]


@asynccontextmanager
async def queue_on(profile: str, *, writer: bool = True) -> AsyncIterator[Parts]:
    """A started driver and a running queue (and its writer task, unless told not to)."""
    async with SimulatedDevice(profile) as device:
        link = InProcessTransport(device)
        states: list[DeviceState] = []
        driver = driver_for(link, device.profile, link.clock, "test", states.append)
        link.set_receiver(driver.feed, reentrant=driver.feed_while_writing)
        await link.open()
        lost = asyncio.Event()
        losses: list[str] = []
        queue = CommandQueue(driver, link.clock, "test", lost, lambda: losses.append("lost"))
        queue.info = await driver.start()
        queue.running = True
        task = asyncio.create_task(queue.run()) if writer else None
        try:
            yield Parts(queue, driver, device, link, lost, losses)
        finally:
            if task is not None:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            await link.close()


async def test_many_speeds_at_once_coalesce_and_the_newest_is_what_the_device_ends_at() -> None:
    async with queue_on("omp-percussion-pro") as p:
        await asyncio.gather(*(p.queue.submit(CommandKind.SPEED, 1 + i % 5) for i in range(99)))
        await p.queue.submit(CommandKind.SPEED, 3)
        speeds = p.sent("SET_SPEED")
        assert 1 <= len(speeds) <= 5, f"{len(speeds)} SET_SPEED frames for 100 submits"
        assert speeds[-1] == 3
        assert p.device.state.speed == 3


async def test_stop_overtakes_the_setpoints_waiting_and_answers_their_callers() -> None:
    async with queue_on("omp-wand-heat") as p:
        waiting = [
            asyncio.ensure_future(p.queue.submit(CommandKind.SPEED, 5)),
            asyncio.ensure_future(p.queue.submit(CommandKind.HEAT, 2)),
            asyncio.ensure_future(p.queue.submit(CommandKind.SPEED, 7)),
        ]
        await asyncio.sleep(0)  # all three are queued (or the first one in flight)
        await p.queue.stop()
        # The overtaken setpoints' callers learn the STOP's outcome: no error.
        await asyncio.gather(*waiting)
        assert p.device.state.speed == 0
        assert p.device.state.heat == 0
        assert 7 not in p.sent("SET_SPEED")
        assert 2 not in p.sent("SET_HEAT")


async def test_with_nothing_queued_the_caller_sends_its_command_without_the_writer() -> None:
    # No writer task at all: only the direct path can carry the command out.
    async with queue_on("omp-wand-heat", writer=False) as p:
        await asyncio.sleep(2 * p.driver.min_gap_s)  # the greeting's pacing is over
        async with asyncio.timeout(5):
            await p.queue.submit(CommandKind.SPEED, 4)
        assert p.sent("SET_SPEED") == [4]
        assert p.device.state.speed == 4


async def test_a_lost_link_fails_what_waits_and_every_later_command() -> None:
    async with queue_on("omp-wand-heat") as p:
        p.queue.fail_all(LinkLost("test: gone"))
        assert p.link_lost.is_set()
        assert p.losses == ["lost"]
        with pytest.raises(LinkLost, match="gone"):
            await p.queue.submit(CommandKind.SPEED, 2)
        p.queue.restart()
        assert not p.link_lost.is_set()
        await p.queue.submit(CommandKind.SPEED, 2)
        assert p.device.state.speed == 2


async def test_a_closed_queue_refuses_commands_at_once_rather_than_waiting_forever() -> None:
    async with queue_on("omp-wand-heat") as p:
        p.queue.running = False
        with pytest.raises(LinkLost, match="not connected"):
            await p.queue.submit(CommandKind.SPEED, 2)
        assert p.sent("SET_SPEED") == []
