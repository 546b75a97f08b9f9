"""bleak's client backend over a simulated radio: GATT on a simulated device's link."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)

from .ble_gatt import (
    ATT_HEADER,
    ATT_MTU,
    CCCD_UUID,
    MAX_WRITE_WITH_RESPONSE,
    gatt_database,
    notification_payloads,
    notify_characteristic,
)
from .ble_radio import SimBleRadio, SimPeripheral, SimWrite, default_radio
from .device import SimLink

_LOG = logging.getLogger(__name__)


class SimBleakClient(BaseBleakClient):
    """bleak's client backend over a :class:`SimBleRadio`: GATT on a :class:`SimulatedDevice`."""

    _radio: ClassVar[SimBleRadio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self.radio: SimBleRadio = self._radio or default_radio()
        self._peripheral: SimPeripheral | None = None
        self._link: SimLink | None = None
        self._notify_char: BleakGATTCharacteristic | None = None
        self._callbacks: dict[int, NotifyCallback] = {}

    # --- connection --------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The peripheral's advertised name, or its address with dashes (as BlueZ does)."""
        peripheral = self._peripheral or self.radio.get(self.address)
        if peripheral is not None and peripheral.name:
            return peripheral.name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The default ATT MTU: no exchange is simulated."""
        return ATT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._link is not None and not self._link.closed

    @property
    def peripheral(self) -> SimPeripheral | None:
        """The peripheral while connected."""
        return self._peripheral

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect to the peripheral with this address, if it is in range and free."""
        if self.is_connected:
            return
        peripheral = self.radio.get(self.address)
        if peripheral is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        if peripheral.connected:
            raise BleakError(
                f"{self.address}: connection rejected: the peripheral already has a central"
            )
        # A connection takes at least a connection event; the peripheral may go meanwhile.
        await asyncio.sleep(0)
        if self.radio.get(self.address) is not peripheral or peripheral.connected:
            raise BleakDeviceNotFoundError(self.address, f"Device {self.address} went away.")
        peripheral.attach(self)
        self._peripheral = peripheral
        self.services = gatt_database(peripheral.profile)
        self._notify_char = notify_characteristic(self.services, peripheral.profile)
        self._link = peripheral.device.connect(self._from_device, on_close=self._on_link_closed)
        _LOG.debug("%s: central connected", peripheral)

    async def disconnect(self) -> None:
        """Disconnect (the disconnected callback still runs, as on BlueZ)."""
        self._lose("disconnected by the central")
        await asyncio.sleep(0)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Simulated peripherals need no pairing."""
        _LOG.debug("%s: pairing is not simulated; nothing to do", self.address)

    async def unpair(self) -> None:
        """Simulated peripherals keep no bond; unpairing disconnects, as bleak documents."""
        await self.disconnect()

    def drop_by_radio(self) -> None:
        """The radio made the link vanish: an accidental loss for the device and the central."""
        peripheral, link = self._peripheral, self._link
        if peripheral is not None and link is not None and peripheral.device.link is link:
            # Closing the device's live link by accident tells its firmware, and the central.
            peripheral.device.drop_link()
        self._lose("link dropped by the radio")

    def _lose(self, why: str) -> None:
        link, self._link = self._link, None
        peripheral, self._peripheral = self._peripheral, None
        if link is None and peripheral is None:
            return
        self._callbacks.clear()
        self._notify_char = None
        if peripheral is not None:
            peripheral.release(self)
        if link is not None:
            link.close()  # its on_close sees self._link is None and does nothing more
        _LOG.debug("%s: %s", peripheral or self.address, why)
        callback = self._disconnected_callback
        if callback is not None:
            _call_soon(callback)

    def _on_link_closed(self) -> None:
        # The device closed the link (a test's drop_link, or another host took it over).
        if self._link is not None:
            self._lose("link closed by the device")

    # --- GATT --------------------------------------------------------------------------

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """No simulated characteristic is readable."""
        self._require_link()
        raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.READ_NOT_PERMITTED)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """The CCCD reads back whether notifications are on."""
        self._require_link()
        if descriptor.uuid != CCCD_UUID:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.READ_NOT_PERMITTED)
        on = descriptor.characteristic_handle in self._callbacks
        return bytearray(b"\x01\x00" if on else b"\x00\x00")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Hand the bytes to the device's firmware; with response, wait for the response."""
        link = self._require_link()
        kind: CharacteristicPropertyName = "write" if response else "write-without-response"
        if kind not in characteristic.properties:
            raise BleakError(
                f"characteristic {characteristic.uuid} does not support {kind} "
                f"(properties: {', '.join(characteristic.properties)})"
            )
        payload = bytes(memoryview(data))
        limit = MAX_WRITE_WITH_RESPONSE if response else ATT_MTU - ATT_HEADER
        if len(payload) > limit:
            raise BleakError(f"{len(payload)} bytes do not fit one {kind} (at most {limit} bytes)")
        assert self._peripheral is not None
        self._peripheral.writes.append(SimWrite(payload, response))
        link.feed(payload)
        if response:
            await asyncio.sleep(self.radio.response_delay_s)
            if not self.is_connected:
                raise BleakError("Not connected: the link went away before the write response")

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Only the CCCD is writable; writing it without a callback changes nothing here."""
        self._require_link()
        if descriptor.uuid != CCCD_UUID:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED)
        if not bytes(memoryview(data))[:1] or not bytes(memoryview(data))[0] & 0x03:
            self._callbacks.pop(descriptor.characteristic_handle, None)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Send the device's bytes to ``callback`` as notifications."""
        self._require_link()
        if (
            "notify" not in characteristic.properties
            and "indicate" not in characteristic.properties
        ):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._callbacks[characteristic.handle] = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Stop notifications on a characteristic."""
        self._require_link()
        self._callbacks.pop(characteristic.handle, None)

    def _require_link(self) -> SimLink:
        if self._link is None or self._link.closed:
            raise BleakError("Not connected")
        return self._link

    # --- device to host ----------------------------------------------------------------

    def _from_device(self, data: bytes) -> None:
        peripheral, link, char = self._peripheral, self._link, self._notify_char
        if peripheral is None or link is None or char is None:
            return
        for piece in notification_payloads(peripheral.profile, data):
            _call_soon(self._notify, link, char, piece)

    def _notify(self, link: SimLink, char: BleakGATTCharacteristic, piece: bytes) -> None:
        if link is not self._link:
            return  # sent on a connection that has gone since
        callback = self._callbacks.get(char.handle)
        if callback is None:
            assert self._peripheral is not None
            self._peripheral.unsent_notifications += 1
            return
        callback(bytearray(piece))


def _call_soon(callback: Callable[..., None], *args: Any) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a test driving the device by hand, outside any loop
        callback(*args)
        return
    loop.call_soon(callback, *args)


__all__ = ["SimBleakClient"]
