"""What the layers above get from a Massager instead of its driver and link, and its one clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from massagectl import connect
from massagectl.clock import VirtualClock
from massagectl.device import Massager
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimBleTransport

from .support import sim


async def test_pacing_resends_and_the_link_are_the_devices_own_to_tell() -> None:
    async with connect("sim:omp-wand-heat") as m:
        assert m.min_gap_s == pytest.approx(1 / 50)  # OMP/1's 50 frames a second
        assert m.retries == 0
        assert m.link_up
        await m.set_speed_level(6)
        dev = sim(m)
        assert dev.state.speed == 6
        # The last word to a device that stopped answering: written, not waited for.
        assert await m.stop_unanswered()
        await asyncio.sleep(0.05)
        assert dev.state.speed == 0
        assert dev.timeline.commands()[-1].type == "STOP"
    assert not m.link_up


async def test_reconnect_backoff_waits_on_the_clock_the_transport_was_made_with() -> None:
    clock = VirtualClock()
    async with SimulatedDevice("lovense-domi", clock) as dev, clock.running():
        peripheral = SimBleRadio().add(dev)
        link = SimBleTransport(peripheral, clock=clock, scan_timeout=0.5)
        async with Massager(link, dev.profile) as m:
            assert m.clock is clock
            peripheral.radio.drop(peripheral.address)
            await asyncio.wait_for(m.link_lost.wait(), 1.0)
            virtual_start, wall_start = clock.now(), time.monotonic()
            await m.reconnect()
            # The first try waits 0.5 s of the virtual clock: next to no wall time.
            assert clock.now() - virtual_start >= 0.5
            assert time.monotonic() - wall_start < 0.5
            await m.set_speed_level(3)
            assert dev.state.speed == 3


async def test_a_clock_other_than_the_transports_is_refused_before_anything_is_sent() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        with pytest.raises(ValueError, match="give the clock to the transport"):
            Massager(InProcessTransport(dev), dev.profile, clock=VirtualClock())
        assert dev.timeline.commands() == []
