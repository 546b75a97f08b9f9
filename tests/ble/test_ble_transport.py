"""BleTransport at the byte level, against simulated peripherals through bleak's real client."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from massagectl.errors import LinkError, LinkLost, ProfileError
from massagectl.profiles import all_profiles, get_profile
from massagectl.protocols.omp import Info, OmpHost, Status
from massagectl.transports.ble import BleTransport, is_ble_address
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimPeripheral

from .conftest import transport_to, with_response


async def _answer(transport: BleTransport, host: OmpHost, request_wire: bytes) -> object:
    """Write one request and return the first message that comes back."""
    await transport.write(request_wire)
    async with asyncio.timeout(1.0):
        while True:
            for message in host.receive(await transport.read()):
                return message


class RecordingClock:
    """A clock whose sleeps take no time and are written down (to see the backoff)."""

    speedup = 1.0

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps.append(round(deadline - self.t, 6))
        self.t = max(self.t, deadline)
        await asyncio.sleep(0)

    def busy(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    def timer(self, deadline: float) -> asyncio.Future[None]:
        raise NotImplementedError


async def test_bytes_travel_both_ways_one_frame_per_chunk(wand_peripheral: SimPeripheral) -> None:
    transport = transport_to(wand_peripheral)
    await transport.open()
    try:
        host = OmpHost()
        hello = host.hello()
        await transport.write(hello.wire)
        chunk = await asyncio.wait_for(transport.read(), 1.0)
        assert chunk.endswith(b"\x00")
        assert chunk.count(0) == 1  # one OMP/1 frame per notification
        (info,) = host.receive(chunk)
        assert isinstance(info, Info)
        assert info.speed_levels == 10
        assert wand_peripheral.writes[0].data == hello.wire
    finally:
        await transport.close()
    assert not wand_peripheral.connected


@pytest.mark.parametrize("target", ["OMP-WAND-0002", "omp-wand-0002", "any"])
async def test_finds_the_peripheral_by_name_or_as_any_fitting_one(
    radio: SimBleRadio, wand: SimulatedDevice, target: str
) -> None:
    async with SimulatedDevice("omp-heat-pad") as pad:
        radio.add(pad, address="SI:MU:00:00:00:0A")  # heard first, but not a wand
        peripheral = radio.add(wand)
        assert peripheral.name == "OMP-WAND-0002"
        transport = transport_to(peripheral, target=target)
        await transport.open()
        try:
            assert transport.ble_device is not None
            assert transport.ble_device.address == peripheral.address
            host = OmpHost()
            assert isinstance(await _answer(transport, host, host.get_status().wire), Status)
        finally:
            await transport.close()


async def test_writes_follow_the_profiles_response_setting(radio: SimBleRadio) -> None:
    for profile, expected in (
        (get_profile("omp-wand-heat"), False),
        (with_response("omp-wand-heat"), True),
    ):
        async with SimulatedDevice(profile) as device:
            peripheral = radio.add(device)
            transport = transport_to(peripheral)
            await transport.open()
            host = OmpHost()
            assert isinstance(await _answer(transport, host, host.hello().wire), Info)
            await transport.close()
            assert [w.response for w in peripheral.writes] == [expected]


async def test_long_writes_are_split_to_the_characteristics_size(
    wand_peripheral: SimPeripheral,
) -> None:
    transport = transport_to(wand_peripheral)
    await transport.open()
    await transport.write(bytes(range(1, 46)))
    await transport.close()
    assert [len(w.data) for w in wand_peripheral.writes] == [20, 20, 5]


async def test_a_dropped_link_marks_the_transport_lost(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    transport = transport_to(wand_peripheral)
    await transport.open()
    radio.drop(wand_peripheral.address)
    await asyncio.wait_for(transport.lost.wait(), 1.0)
    with pytest.raises(LinkLost, match="the device disconnected"):
        await transport.read()
    with pytest.raises(LinkLost):
        await transport.write(OmpHost().ping().wire)
    await transport.close()


async def test_reconnect_brings_the_link_back_once_the_peripheral_returns(
    radio: SimBleRadio, wand: SimulatedDevice, wand_peripheral: SimPeripheral
) -> None:
    transport = transport_to(wand_peripheral, scan_timeout=0.2)
    await transport.open()
    address = wand_peripheral.address
    radio.remove(address)  # out of range: the link drops and it no longer advertises
    await asyncio.wait_for(transport.lost.wait(), 1.0)

    async def come_back() -> None:
        await asyncio.sleep(0.6)  # while the first try (at 0.5 s) scans
        radio.add(wand, address=address)

    returning = asyncio.create_task(come_back())
    await asyncio.wait_for(transport.reconnect(), 5.0)
    await returning
    assert not transport.is_lost
    host = OmpHost()
    assert isinstance(await _answer(transport, host, host.hello().wire), Info)
    await transport.close()


async def test_reconnect_tries_again_after_a_failed_try(
    radio: SimBleRadio, wand: SimulatedDevice, wand_peripheral: SimPeripheral
) -> None:
    address = wand_peripheral.address

    class ReturningClock(RecordingClock):
        async def sleep_until(self, deadline: float) -> None:
            await super().sleep_until(deadline)
            if len(self.sleeps) == 2:  # the first try has failed: the device comes back
                radio.add(wand, address=address)

    clock = ReturningClock()
    transport = transport_to(wand_peripheral, scan_timeout=0.05, clock=clock)
    await transport.open()
    radio.remove(address)
    await asyncio.wait_for(transport.lost.wait(), 1.0)
    await transport.reconnect()
    assert clock.sleeps == [0.5, 1.0]
    host = OmpHost()
    assert isinstance(await _answer(transport, host, host.get_status().wire), Status)
    await transport.close()


async def test_reconnect_backs_off_from_half_a_second_to_eight(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    clock = RecordingClock()
    transport = transport_to(wand_peripheral, scan_timeout=0.02, clock=clock)
    await transport.open()
    radio.remove(wand_peripheral.address)
    await asyncio.wait_for(transport.lost.wait(), 1.0)
    with pytest.raises(LinkError) as caught:
        await transport.reconnect(attempts=7)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert str(caught.value) == (
        f"ble:{wand_peripheral.address}: could not reconnect after 7 tries: BLE device "
        f"'{wand_peripheral.address}' not found (scanned 0.02 s): is it on, in range, and "
        "not connected to another host?"
    )
    await transport.close()


async def test_reconnect_leaves_a_live_link_alone_and_refuses_after_close(
    wand_peripheral: SimPeripheral,
) -> None:
    clock = RecordingClock()
    transport = transport_to(wand_peripheral, clock=clock)
    await transport.open()
    await transport.reconnect()
    assert clock.sleeps == []
    await transport.close()
    with pytest.raises(LinkError, match="closed"):
        await transport.reconnect()


async def test_an_absent_device_is_named_with_the_scan_time(radio: SimBleRadio) -> None:
    transport = BleTransport(
        "OMP-NOWHERE", get_profile("omp"), backend=radio.backend(), scan_timeout=0.1
    )
    with pytest.raises(LinkError) as caught:
        await transport.open()
    assert str(caught.value) == (
        "ble:OMP-NOWHERE: BLE device 'OMP-NOWHERE' not found (scanned 0.1 s): "
        "is it on, in range, and not connected to another host?"
    )


async def test_a_peripheral_without_the_profiles_characteristics_is_refused(
    wand_peripheral: SimPeripheral,
) -> None:
    wand = get_profile("omp-wand-heat")
    other = wand.model_copy(
        update={
            "ble": wand.ble.model_copy(
                update={"write_char": "5a300002-0023-4bd4-bbd5-a6920e4c5653"}
            )
        }
    )
    transport = transport_to(wand_peripheral, profile=other)
    with pytest.raises(LinkError, match="has no write characteristic 5a300002"):
        await transport.open()
    assert not wand_peripheral.connected


def test_a_profile_without_characteristics_cannot_make_a_transport() -> None:
    wand = get_profile("omp-wand-heat")
    bare = wand.model_copy(update={"ble": wand.ble.model_copy(update={"notify_char": None})})
    with pytest.raises(ProfileError, match=r"ble\.write_char, ble\.notify_char"):
        BleTransport("OMP-WAND-0001", bare)


def test_addresses_are_told_from_names() -> None:
    assert is_ble_address("AA:BB:CC:DD:EE:FF")
    assert is_ble_address("SI:MU:00:00:00:01")
    assert is_ble_address("3B8F1C2A-8D4E-4C1B-9F7A-0D6E2B5C4A91")  # macOS
    assert not is_ble_address("OMP-WAND-0001")
    assert not is_ble_address("any")


def _status_request(protocol: str) -> bytes:
    """A request each protocol's device answers with a notification."""
    from massagectl.protocols import lovense, rongtai, theragun

    requests = {
        "omp": lambda: OmpHost().get_status().wire,
        "theragun": theragun.request_status,
        "lovense": lambda: lovense.battery().wire,
        "rongtai": lambda: rongtai.key(rongtai.speed_key(1)),
    }
    return requests[protocol]()


@pytest.mark.parametrize(
    "profile_name",
    [p.name for p in all_profiles() if p.simulatable and "ble" in p.transports],
)
async def test_every_ble_profile_is_reached_through_the_bleak_backend(
    radio: SimBleRadio, profile_name: str
) -> None:
    async with SimulatedDevice(profile_name) as device:
        peripheral = radio.add(device)
        transport = transport_to(peripheral)
        await transport.open()
        try:
            await transport.write(_status_request(device.profile.protocol))
            chunk = await asyncio.wait_for(transport.read(), 1.0)
        finally:
            await transport.close()
    assert 0 < len(chunk) <= 20
    assert [w.response for w in peripheral.writes] == [device.profile.ble.write_with_response]


async def test_the_protocols_own_service_pairs_are_found_when_the_profiles_are_absent(
    radio: SimBleRadio,
) -> None:
    # A Lovense toy of another generation offers the Nordic UART service instead of the one
    # the profile names; the codec knows that service's TX/RX pair.
    from massagectl.protocols import lovense, lovense_ble

    domi = get_profile("lovense-domi")
    nus_ble = domi.ble.model_copy(
        update={"service_uuids": [lovense_ble.NUS_SERVICE], "write_char": None, "notify_char": None}
    )
    async with SimulatedDevice(domi.model_copy(update={"ble": nus_ble})) as device:
        peripheral = radio.add(device)
        transport = transport_to(peripheral, profile=domi)
        await transport.open()
        try:
            await transport.write(lovense.battery().wire)
            assert (await asyncio.wait_for(transport.read(), 1.0)).endswith(b";")
        finally:
            await transport.close()
