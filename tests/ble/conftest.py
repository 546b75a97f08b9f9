"""Fixtures for the BLE tests: a simulated radio with OMP/1 peripherals in range."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from massagectl.profiles import Profile, get_profile
from massagectl.transports.ble import BleTransport
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimPeripheral, default_radio


@pytest.fixture
def radio() -> SimBleRadio:
    """An empty radio of the test's own (advertising often, so that scans end fast)."""
    return SimBleRadio(advertising_interval_s=0.01)


@pytest.fixture
async def wand() -> AsyncIterator[SimulatedDevice]:
    """A running simulated OMP/1 handheld massager (write without response)."""
    async with SimulatedDevice("omp-wand-heat") as device:
        yield device


@pytest.fixture
def wand_peripheral(radio: SimBleRadio, wand: SimulatedDevice) -> SimPeripheral:
    """The wand in range of the radio."""
    return radio.add(wand)


@pytest.fixture
def default_radio_cleared() -> Iterator[SimBleRadio]:
    """The process-wide radio, emptied before and after the test."""
    radio = default_radio()
    for p in radio.peripherals:
        radio.remove(p.address)
    yield radio
    for p in radio.peripherals:
        radio.remove(p.address)


def with_response(profile_name: str) -> Profile:
    """A profile like ``profile_name`` whose commands are written with response."""
    profile = get_profile(profile_name)
    return profile.model_copy(
        update={"ble": profile.ble.model_copy(update={"write_with_response": True})}
    )


def transport_to(
    peripheral: SimPeripheral,
    *,
    target: str | None = None,
    profile: Profile | None = None,
    scan_timeout: float = 0.3,
    **options: Any,
) -> BleTransport:
    """A BleTransport to a simulated peripheral (by address unless told), through the radio."""
    return BleTransport(
        target or peripheral.address,
        profile or peripheral.profile,
        backend=peripheral.radio.backend(),
        scan_timeout=scan_timeout,
        **options,
    )
