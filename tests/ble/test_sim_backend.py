"""The simulator's bleak backend, through bleak's own BleakScanner and BleakClient."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError

from massagectl.protocols.omp import BLE_NOTIFY_CHAR, BLE_SERVICE, BLE_WRITE_CHAR, OmpHost
from massagectl.protocols.omp import Info as OmpInfo
from massagesim import SimulatedDevice
from massagesim.ble import SimBleRadio, SimPeripheral, advertised_name, notification_payloads

from .conftest import with_response


async def test_scanner_hears_peripherals_with_name_and_services(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with SimulatedDevice("omp-heat-pad") as pad:
        radio.add(pad, rssi=-80)
        heard = await BleakScanner.discover(0.05, return_adv=True, backend=radio.scanner_class)
    assert set(heard) == {wand_peripheral.address, "SI:MU:00:00:00:02"}
    device, adv = heard[wand_peripheral.address]
    assert adv.local_name == device.name == "OMP-WAND-0001"
    assert adv.service_uuids == [BLE_SERVICE]
    assert adv.rssi == -60
    assert heard["SI:MU:00:00:00:02"][1].local_name == "OMP-PAD-0002"


async def test_scanner_honours_service_filters(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with SimulatedDevice("omp-heat-pad") as pad:
        radio.add(pad, service_uuids=[])  # advertises no service
        wanted = await BleakScanner.discover(
            0.05, service_uuids=[BLE_SERVICE], backend=radio.scanner_class
        )
        other = await BleakScanner.discover(
            0.05,
            service_uuids=["0000180f-0000-1000-8000-00805f9b34fb"],
            backend=radio.scanner_class,
        )
    assert [d.address for d in wanted] == [wand_peripheral.address]
    assert other == []


async def test_find_device_by_name_and_address(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    by_name = await BleakScanner.find_device_by_name(
        "OMP-WAND-0001", timeout=1.0, backend=radio.scanner_class
    )
    by_address = await BleakScanner.find_device_by_address(
        "si:mu:00:00:00:01", timeout=1.0, backend=radio.scanner_class
    )
    assert by_name is not None
    assert by_address is not None
    assert by_name.address == by_address.address == wand_peripheral.address


def test_advertised_names_follow_the_profile() -> None:
    from massagectl.profiles import get_profile

    wand = get_profile("omp-wand-heat")
    assert advertised_name(wand, 0x2A) == "OMP-WAND-002A"
    generic = wand.model_copy(
        update={"ble": wand.ble.model_copy(update={"name_prefixes": ["LVS-"]})}
    )
    assert advertised_name(generic, 1) == "LVS-0001"
    named = wand.model_copy(update={"ble": wand.ble.model_copy(update={"names": ["Pro", "Elite"]})})
    assert advertised_name(named, 1) == "Pro"


async def test_client_sees_the_profiles_gatt_database(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with BleakClient(wand_peripheral.address, backend=radio.client_class) as client:
        assert client.is_connected
        assert client.mtu_size == 23
        assert client.name == "OMP-WAND-0001"
        write = client.services.get_characteristic(BLE_WRITE_CHAR)
        notify = client.services.get_characteristic(BLE_NOTIFY_CHAR)
        assert write is not None
        assert notify is not None
        assert write.properties == ["write-without-response"]
        assert write.max_write_without_response_size == 20
        assert notify.properties == ["notify"]
        assert write.service_uuid == BLE_SERVICE
        assert [d.uuid for d in notify.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
        assert wand_peripheral.connected
    assert not wand_peripheral.connected


async def test_notifications_carry_one_omp_frame_each(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    got: list[bytes] = []
    host = OmpHost()
    async with BleakClient(wand_peripheral.address, backend=radio.client_class) as client:
        await client.start_notify(BLE_NOTIFY_CHAR, lambda _c, data: got.append(bytes(data)))
        await client.write_gatt_char(BLE_WRITE_CHAR, host.hello().wire, response=False)
        await client.write_gatt_char(BLE_WRITE_CHAR, host.get_status().wire, response=False)
        for _ in range(20):
            if len(got) >= 2:
                break
            await asyncio.sleep(0.01)
    assert len(got) >= 2
    assert all(n.endswith(b"\x00") and n.count(0) == 1 and len(n) <= 20 for n in got)
    assert isinstance(host.receive(got[0])[0], OmpInfo)


def test_long_output_is_split_to_fit_notifications() -> None:
    from massagectl.profiles import get_profile

    omp = get_profile("omp-wand-heat")
    assert notification_payloads(omp, b"ab\x00cd\x00e") == [b"ab\x00", b"cd\x00", b"e"]
    other = omp.model_copy(update={"protocol": "lovense"})
    assert notification_payloads(other, b"Battery;" * 4) == [
        b"Battery;Battery;Batt",
        b"ery;Battery;",
    ]


async def test_write_kind_must_fit_the_characteristic(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with BleakClient(wand_peripheral.address, backend=radio.client_class) as client:
        with pytest.raises(BleakError, match="does not support write"):
            await client.write_gatt_char(BLE_WRITE_CHAR, b"\x00", response=True)
        with pytest.raises(BleakError, match="at most 20 bytes"):
            await client.write_gatt_char(BLE_WRITE_CHAR, bytes(21), response=False)
    assert wand_peripheral.writes == []


async def test_write_with_response_waits_for_the_response(radio: SimBleRadio) -> None:
    radio.response_delay_s = 0.05
    async with SimulatedDevice(with_response("omp-wand-heat")) as device:
        peripheral = radio.add(device)
        async with BleakClient(peripheral.address, backend=radio.client_class) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await client.write_gatt_char(BLE_WRITE_CHAR, OmpHost().ping().wire, response=True)
            assert loop.time() - started >= 0.04
    assert [w.response for w in peripheral.writes] == [True]


async def test_connecting_to_an_absent_peripheral_fails_like_bleak(radio: SimBleRadio) -> None:
    client = BleakClient("SI:MU:00:00:00:99", backend=radio.client_class)
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()


async def test_a_connected_peripheral_stops_advertising_and_refuses_a_second_central(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    async with BleakClient(wand_peripheral.address, backend=radio.client_class):
        heard = await BleakScanner.discover(0.03, backend=radio.scanner_class)
        assert heard == []
        with pytest.raises(BleakError, match="already has a central"):
            await BleakClient(wand_peripheral.address, backend=radio.client_class).connect()


async def test_dropping_the_link_calls_the_disconnected_callback(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    gone = asyncio.Event()
    client = BleakClient(wand_peripheral.address, lambda _c: gone.set(), backend=radio.client_class)
    await client.connect()
    radio.drop(wand_peripheral.address)
    await asyncio.wait_for(gone.wait(), 1.0)
    assert not client.is_connected
    assert wand_peripheral.device.link is None
    with pytest.raises(BleakError, match="Not connected"):
        await client.write_gatt_char(BLE_WRITE_CHAR, b"\x00", response=False)


async def test_removing_a_connected_peripheral_drops_its_link(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    gone = asyncio.Event()
    client = BleakClient(wand_peripheral.address, lambda _c: gone.set(), backend=radio.client_class)
    await client.connect()
    radio.remove(wand_peripheral.address)
    await asyncio.wait_for(gone.wait(), 1.0)
    assert radio.get(wand_peripheral.address) is None
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()


async def test_the_devices_own_drop_link_disconnects_the_central(
    radio: SimBleRadio, wand_peripheral: SimPeripheral
) -> None:
    gone = asyncio.Event()
    client = BleakClient(wand_peripheral.address, lambda _c: gone.set(), backend=radio.client_class)
    await client.connect()
    wand_peripheral.device.drop_link()
    await asyncio.wait_for(gone.wait(), 1.0)
    assert not client.is_connected
    assert not wand_peripheral.connected
