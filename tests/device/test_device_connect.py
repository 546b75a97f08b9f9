"""Connecting: HELLO first, INFO as the capabilities, names from the profile."""

from __future__ import annotations

import asyncio
import logging

import pytest

from massagectl import connect
from massagectl.device import DeviceInfo, Massager
from massagectl.errors import LinkLost
from massagectl.profiles import get_profile
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice, serve_tcp

from .support import sim, wait_until

SIMULATED = ["omp-wand-heat", "omp-percussion-pro", "omp-heat-pad", "omp-neck-rest"]


async def test_connect_says_hello_then_reads_info_and_status() -> None:
    async with connect("sim:omp-wand-heat") as m:
        dev = sim(m)
        commands = dev.timeline.commands()
        assert [(c.type, c.seq, c.value, c.answer) for c in commands] == [
            ("HELLO", 1, 1, "INFO"),
            ("GET_STATUS", 2, None, "STATUS"),
        ]
        assert m.info == DeviceInfo(
            speed_levels=10,
            heat_levels=2,
            program_count=3,
            max_temp_c=60,
            watchdog_s=3.0,
            battery_powered=False,
            temperature_sensor=True,
            program_names=("Soothe", "Knead", "Tap"),
            speed_unit="percussions/min",
            speed_values=(1500, 1800, 2100, 2400, 2700, 3000, 3300, 3600, 3900, 4200),
        )
        assert m.state.connected
        assert not m.state.active
        assert m.state.temperature_c == pytest.approx(dev.state.temperature_c, abs=0.1)
        assert m.state.battery is None  # mains powered


@pytest.mark.parametrize("name", SIMULATED)
async def test_info_matches_the_profile(name: str) -> None:
    profile = get_profile(name)
    caps = profile.capabilities
    async with connect(f"sim:{name}") as m:
        info = m.info
        assert info.speed_levels == profile.speed_levels
        assert info.heat_levels == profile.heat_levels
        assert info.program_count == len(caps.programs)
        assert info.watchdog_s == profile.limits.watchdog_s
        assert info.max_temp_c == profile.limits.max_temp_c
        assert info.battery_powered == caps.battery
        assert info.temperature_sensor == caps.temperature_sensor
        assert info.program_names == tuple(p.name for p in caps.programs)
        for index, program in enumerate(caps.programs, start=1):
            assert info.program_name(index) == program.name
        assert m.state.battery == (100 if caps.battery else None)
        assert (m.state.temperature_c is None) != caps.temperature_sensor


async def test_generic_omp_profile_takes_capabilities_from_the_device() -> None:
    async with (
        SimulatedDevice("omp-percussion-pro") as dev,
        serve_tcp(dev) as (host, port),
        connect(f"tcp:{host}:{port}") as m,
    ):
        assert (m.info.speed_levels, m.info.heat_levels, m.info.program_count) == (13, 0, 7)
        # The generic profile knows no names: programs are shown by number.
        assert m.info.program_names == ()
        assert m.info.program_name(3) == "#3"
        assert await m.set_speed(0.4) == 5
        await wait_until(lambda: dev.state.speed == 5)


async def test_device_figures_win_over_a_mismatched_profile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="massagectl.device")
    async with (
        SimulatedDevice("omp-wand-heat") as dev,
        serve_tcp(dev) as (host, port),
        connect(f"tcp:{host}:{port}?profile=omp-percussion-pro") as m,
    ):
        assert (m.info.speed_levels, m.info.heat_levels, m.info.program_count) == (10, 2, 3)
        # The profile's seven names cannot belong to the device's three programs.
        assert m.info.program_name(1) == "#1"
        assert await m.set_heat("high") == 2
        await wait_until(lambda: dev.state.heat == 2)
    assert "says otherwise" in caplog.text


async def test_commands_before_connect_fail_instead_of_waiting_forever() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        m = Massager(InProcessTransport(dev), dev.profile)
        with pytest.raises(LinkLost, match="not connected"):
            _ = m.info
        with pytest.raises(LinkLost, match="not connected"):
            await m.set_speed(0.5)
        # These need no capabilities, so only the missing link can stop them (the time
        # limit turns a hang, which is the bug this guards against, into a failure).
        with pytest.raises(LinkLost, match="not connected"):
            await asyncio.wait_for(m.stop(), 1.0)
        with pytest.raises(LinkLost, match="not connected"):
            await asyncio.wait_for(m.status(), 1.0)
        assert dev.timeline.commands() == []
