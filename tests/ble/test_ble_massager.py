"""A Massager over BLE: ``sim:PROFILE?via=ble`` runs bleak's real client against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from massagectl.address import parse_address
from massagectl.clock import VirtualClock
from massagectl.connection import _sim_via, connect
from massagectl.errors import AddressError, LinkLost, ProfileError
from massagectl.profiles import get_profile
from massagesim.ble import SimBleTransport


async def test_massager_works_over_the_bleak_backend() -> None:
    async with connect("sim:omp-wand-heat?via=ble") as m:
        transport = m.transport
        assert isinstance(transport, SimBleTransport)
        assert m.info.speed_levels == 10
        await m.set_speed(0.5)
        await m.set_heat("high")
        state = await m.status()
        assert (state.speed, state.heat) == (5, 2)
        assert transport.device.state.speed == 5
        await m.stop()
        state = await m.status()
        assert (state.speed, state.heat) == (0, 0)
        writes = transport.peripheral.writes
        assert writes
        assert not any(w.response for w in writes)  # the profile writes without response
        assert all(w.data.count(0) == 1 and w.data.endswith(b"\x00") for w in writes)
    assert not transport.peripheral.connected


async def test_massager_keeps_the_device_alive_over_ble_in_virtual_time() -> None:
    clock = VirtualClock()
    async with clock.running(), connect("sim:omp-wand-heat?via=ble", clock=clock) as m:
        await m.set_speed_level(3)
        await clock.sleep(30)  # ten times the device's 3 s watchdog
        state = await m.status()
        assert state.speed == 3
        assert state.faults == ()


async def test_a_dropped_link_stops_the_massager_and_reconnect_restores_the_transport() -> None:
    async with connect("sim:omp-wand-heat?via=ble") as m:
        transport = m.transport
        assert isinstance(transport, SimBleTransport)
        await m.set_speed_level(4)
        transport.radio.drop(transport.peripheral.address)
        await asyncio.wait_for(m.link_lost.wait(), 1.0)
        with pytest.raises(LinkLost):
            await m.set_speed_level(5)
        # The transport comes back; resuming the Massager on it is the device layer's call.
        await asyncio.wait_for(transport.reconnect(), 5.0)
        assert not transport.is_lost
        assert transport.peripheral.connected


def test_sim_addresses_say_how_to_reach_the_device() -> None:
    assert parse_address("sim:omp-wand-heat").via is None
    assert parse_address("sim:omp-wand-heat?via=ble").via == "ble"
    assert parse_address("sim:omp-wand-heat?via=serial").via == "serial"
    with pytest.raises(AddressError, match="via must be serial or ble"):
        parse_address("sim:omp-wand-heat?via=usb")
    with pytest.raises(AddressError, match="unknown option 'profile'"):
        parse_address("sim:omp-wand-heat?profile=omp")


def test_sim_goes_the_profiles_usual_way_unless_told() -> None:
    wand = get_profile("omp-wand-heat")
    assert _sim_via(parse_address("sim:omp-wand-heat"), wand) == "serial"
    ble_only = wand.model_copy(update={"transports": ["ble"]})
    assert _sim_via(parse_address("sim:omp-wand-heat"), ble_only) == "ble"
    with pytest.raises(ProfileError, match="not reachable over serial"):
        _sim_via(parse_address("sim:omp-wand-heat?via=serial"), ble_only)
