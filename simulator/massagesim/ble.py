"""A bleak backend served by the simulator: simulated BLE peripherals in this process.

With it, tests and ``sim:`` addresses run bleak's real :class:`~bleak.BleakClient` and
:class:`~bleak.BleakScanner` (and bleak-retry-connector's connection logic above them); only
the bottom layer, where bleak would talk to BlueZ, CoreBluetooth or WinRT, is the simulator's.

Three parts, as in the rest of massagesim:

- :class:`SimBleRadio`, the air: the peripherals in range, each a :class:`SimulatedDevice`
  under an address, advertising a name and service UUIDs from its profile. Its test-facing
  handle adds and removes peripherals and drops links (:meth:`SimBleRadio.drop`).
- :class:`SimBleakScanner` and :class:`SimBleakClient`, the backend classes bleak is given
  (``BleakClient(..., backend=radio.client_class)``), bound to one radio; the unbound classes
  use the process-wide :func:`default_radio`.
- :class:`SimBleTransport`, a :class:`~massagectl.transports.ble.BleTransport` to a simulated
  peripheral that also carries the test handle (``.device``, ``.radio``, ``.peripheral``).

The GATT database is built from the profile: one service (the first of ``ble.service_uuids``,
which is also the only one advertised: a profile may list every service a family of models uses)
with the write characteristic (``write`` or ``write-without-response`` as the profile writes)
and the notify characteristic (``notify``, with its CCCD). The ATT MTU is 23, so a notification
or a write without response carries at most 20 bytes. What the device sends goes out as
notifications: for OMP/1 one frame per notification (the spec's rule for BLE), for other
protocols each chunk as the firmware produced it (in 20-byte pieces if longer).

Behaviour worth knowing, chosen to match real stacks:

- A connected peripheral stops advertising (single-link peripherals do) and refuses a second
  central.
- The disconnected callback runs after every disconnect, the host's own included, as BlueZ and
  CoreBluetooth do; it is scheduled on the event loop, not called from inside the disconnect.
- Notifications are delivered on the event loop after the device sent them, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak.uuids import normalize_uuid_16, normalize_uuid_str

from massagectl.clock import Clock
from massagectl.profiles import Profile
from massagectl.transports.ble import BleBackend, BleTransport, characteristic_finder

from .device import SimLink, SimulatedDevice

_LOG = logging.getLogger(__name__)

#: The default ATT MTU; 3 bytes of it are the ATT header.
ATT_MTU: Final = 23
ATT_HEADER: Final = 3
#: The longest write with response (a long write).
MAX_WRITE_WITH_RESPONSE: Final = 512
#: Signal strength reported for a peripheral unless told otherwise, dBm.
DEFAULT_RSSI: Final = -60
#: The service simulated peripherals carry when their profile names none.
SIM_SERVICE_UUID: Final = "5d3c0001-0000-4d61-7373-6167652d5349"
#: The Client Characteristic Configuration descriptor.
CCCD_UUID: Final = normalize_uuid_16(0x2902)
#: The first handle of the simulated GATT database.
_FIRST_HANDLE: Final = 0x0010


def advertised_name(profile: Profile, serial: int) -> str | None:
    """The name a simulated peripheral of ``profile`` advertises.

    The first exact name if the profile lists any (``Pro``), else the first name prefix and a
    four-digit serial (``OMP-WAND-0001``, ``LVS-0001``); None if the profile gives neither.
    """
    ble = profile.ble
    if ble.names:
        return ble.names[0]
    if ble.name_prefixes:
        prefix = ble.name_prefixes[0]
        separator = "" if prefix.endswith(("-", "_", " ")) else "-"
        return f"{prefix}{separator}{serial:04X}"
    return None


@dataclass(frozen=True, slots=True)
class SimWrite:
    """One GATT write a peripheral received."""

    data: bytes
    response: bool


class SimPeripheral:
    """A simulated device in the radio's range. Made by :meth:`SimBleRadio.add`."""

    def __init__(
        self,
        radio: SimBleRadio,
        device: SimulatedDevice,
        address: str,
        name: str | None,
        service_uuids: list[str],
        rssi: int,
    ) -> None:
        self.radio = radio
        self.device = device
        self.address = address
        self.name = name
        self.service_uuids = service_uuids
        self.rssi = rssi
        #: Every write the peripheral took, in order (for tests).
        self.writes: list[SimWrite] = []
        #: Notifications that could not go out because nobody had subscribed.
        self.unsent_notifications = 0
        self._client: SimBleakClient | None = None

    def __repr__(self) -> str:
        return f"<SimPeripheral {self.address} {self.name!r}>"

    @property
    def profile(self) -> Profile:
        """The simulated model's profile."""
        return self.device.profile

    @property
    def connected(self) -> bool:
        """Whether a central is connected."""
        return self._client is not None

    def advertisement(self) -> AdvertisementData:
        """What the peripheral advertises now."""
        return AdvertisementData(
            local_name=self.name,
            manufacturer_data={},
            service_data={},
            service_uuids=list(self.service_uuids),
            tx_power=None,
            rssi=self.rssi,
            platform_data=(self,),
        )


class SimBleRadio:
    """The simulated air: which peripherals are in range, and the handle that changes that.

    ``response_delay_s`` is how long a write with response waits for its response (0: one
    event-loop turn); ``advertising_interval_s`` how often a peripheral's advertisement is heard
    while a scanner runs.
    """

    def __init__(
        self, *, response_delay_s: float = 0.0, advertising_interval_s: float = 0.05
    ) -> None:
        self.response_delay_s = response_delay_s
        self.advertising_interval_s = advertising_interval_s
        self._peripherals: dict[str, SimPeripheral] = {}
        self._serials = itertools.count(1)
        self._client_class: type[SimBleakClient] | None = None
        self._scanner_class: type[SimBleakScanner] | None = None

    # --- the test-facing handle --------------------------------------------------------

    def add(
        self,
        device: SimulatedDevice,
        *,
        address: str | None = None,
        name: str | None = None,
        rssi: int = DEFAULT_RSSI,
        service_uuids: list[str] | None = None,
    ) -> SimPeripheral:
        """Bring a simulated device into range; it advertises at once.

        The address defaults to the next ``SI:MU:00:00:00:NN``, the name to
        :func:`advertised_name`, the service UUIDs to the profile's first.
        """
        serial = next(self._serials)
        address = (address or f"SI:MU:00:00:{serial >> 8:02X}:{serial & 0xFF:02X}").upper()
        if address in self._peripherals:
            raise ValueError(f"a peripheral with address {address} is already in range")
        # A profile may list every service its models use; one device offers one of them.
        uuids = service_uuids if service_uuids is not None else device.profile.ble.service_uuids[:1]
        peripheral = SimPeripheral(
            self,
            device,
            address,
            name if name is not None else advertised_name(device.profile, serial),
            [normalize_uuid_str(u) for u in uuids],
            rssi,
        )
        self._peripherals[address] = peripheral
        _LOG.debug("radio: %s in range", peripheral)
        return peripheral

    def remove(self, address: str) -> SimPeripheral:
        """Take a peripheral out of range; a connected central loses its link."""
        peripheral = self._peripherals.get(address.upper())
        if peripheral is None:
            raise KeyError(f"no peripheral {address} in range")
        self.drop(peripheral.address)
        del self._peripherals[peripheral.address]
        _LOG.debug("radio: %s out of range", peripheral)
        return peripheral

    def drop(self, address: str) -> None:
        """Make the link to a peripheral vanish (the central sees an unsolicited disconnect).

        For the device it is an accidental loss, as with :meth:`SimulatedDevice.drop_link`: a
        Lovense with ``AutoSwith`` on stops.
        """
        peripheral = self._peripherals.get(address.upper())
        client = peripheral._client if peripheral is not None else None
        if client is None or peripheral is None:
            return
        if client._link is not None and peripheral.device.link is client._link:
            # Closing the device's live link by accident tells its firmware, and the central.
            peripheral.device.drop_link()
        client._lose("link dropped by the radio")

    def get(self, address: str) -> SimPeripheral | None:
        """The peripheral in range under ``address``, if any."""
        return self._peripherals.get(address.upper())

    @property
    def peripherals(self) -> list[SimPeripheral]:
        """The peripherals in range."""
        return list(self._peripherals.values())

    def advertising(self) -> Iterator[SimPeripheral]:
        """The peripherals in range that advertise now (a connected one does not)."""
        return (p for p in list(self._peripherals.values()) if not p.connected)

    # --- the backend -------------------------------------------------------------------

    @property
    def client_class(self) -> type[SimBleakClient]:
        """A :class:`SimBleakClient` bound to this radio, for ``BleakClient(backend=...)``."""
        if self._client_class is None:
            self._client_class = _bound(SimBleakClient, self)
        return self._client_class

    @property
    def scanner_class(self) -> type[SimBleakScanner]:
        """A :class:`SimBleakScanner` bound to this radio, for ``BleakScanner(backend=...)``."""
        if self._scanner_class is None:
            self._scanner_class = _bound(SimBleakScanner, self)
        return self._scanner_class

    def backend(self) -> BleBackend:
        """Both classes, for :class:`~massagectl.transports.ble.BleTransport` and the scan."""
        return BleBackend(scanner=self.scanner_class, client=self.client_class, name="sim")


_DEFAULT_RADIO = SimBleRadio()
_B = TypeVar("_B", bound=BaseBleakClient | BaseBleakScanner)


def default_radio() -> SimBleRadio:
    """The process-wide radio the unbound backend classes (and ``MASSAGECTL_BLE_BACKEND=sim``)
    use."""
    return _DEFAULT_RADIO


def _bound(cls: type[_B], radio: SimBleRadio) -> type[_B]:
    # bleak is handed a class, not an instance, so the radio rides on a subclass. Its name
    # stays the base's: bleak reports it as the backend's id.
    namespace = {"_radio": radio, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
    return cast(type[_B], type(cls.__name__, (cls,), namespace))


# --- the scanner ---------------------------------------------------------------------------


class SimBleakScanner(BaseBleakScanner):
    """bleak's scanner backend over a :class:`SimBleRadio`.

    While scanning, every advertising peripheral is heard once per advertising interval (the
    first time right after the scan starts), filtered by the service UUIDs asked for.
    """

    _radio: ClassVar[SimBleRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.radio: SimBleRadio = self._radio or default_radio()
        self.scanning_mode = scanning_mode
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start hearing advertisements."""
        if self._task is not None:
            return
        self.seen_devices = {}
        self._task = asyncio.create_task(self._listen(), name="massagesim BLE scan")

    async def stop(self) -> None:
        """Stop hearing advertisements."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self) -> None:
        # A task rather than calls from start(): bleak's find_device_* register their
        # callback only after start() returns, as they would with a real radio.
        while True:
            for peripheral in self.radio.advertising():
                self._hear(peripheral)
            await asyncio.sleep(self.radio.advertising_interval_s)

    def _hear(self, peripheral: SimPeripheral) -> None:
        adv = peripheral.advertisement()
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(
            peripheral.address, peripheral.address, peripheral.name, peripheral, adv
        )
        self.call_detection_callbacks(device, adv)


# --- the client ----------------------------------------------------------------------------


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
        if peripheral._client is not None:
            raise BleakError(
                f"{self.address}: connection rejected: the peripheral already has a central"
            )
        # A connection takes at least a connection event; the peripheral may go meanwhile.
        await asyncio.sleep(0)
        if self.radio.get(self.address) is not peripheral or peripheral._client is not None:
            raise BleakDeviceNotFoundError(self.address, f"Device {self.address} went away.")
        peripheral._client = self
        self._peripheral = peripheral
        self.services = _gatt_database(peripheral.profile)
        self._notify_char = _notify_characteristic(self.services, peripheral.profile)
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

    def _lose(self, why: str) -> None:
        link, self._link = self._link, None
        peripheral, self._peripheral = self._peripheral, None
        if link is None and peripheral is None:
            return
        self._callbacks.clear()
        self._notify_char = None
        if peripheral is not None and peripheral._client is self:
            peripheral._client = None
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


def notification_payloads(profile: Profile, data: bytes) -> list[bytes]:
    """How a device's output goes out as notifications of at most 20 bytes.

    OMP/1 sends one frame (with its 0x00 delimiter) per notification; other protocols send
    their chunks as they come.
    """
    if profile.protocol == "omp":
        frames = [frame + b"\x00" for frame in data.split(b"\x00")[:-1]]
        rest = data[sum(len(f) for f in frames) :]
        pieces = [*frames, rest] if rest else frames
    else:
        pieces = [data]
    size = ATT_MTU - ATT_HEADER
    return [p[i : i + size] for p in pieces for i in range(0, len(p), size)]


def _call_soon(callback: Callable[..., None], *args: Any) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a test driving the device by hand, outside any loop
        callback(*args)
        return
    loop.call_soon(callback, *args)


# --- the GATT database ---------------------------------------------------------------------


def _gatt_database(profile: Profile) -> BleakGATTServiceCollection:
    ble = profile.ble
    collection = BleakGATTServiceCollection()
    handles = itertools.count(_FIRST_HANDLE)
    # One service: the profile's first (the one a device of a multi-service family offers).
    service_uuid = (
        normalize_uuid_str(ble.service_uuids[0]) if ble.service_uuids else SIM_SERVICE_UUID
    )
    service = BleakGATTService(None, next(handles), service_uuid)
    collection.add_service(service)
    _add_characteristics(collection, service, profile, handles)
    return collection


def _add_characteristics(
    collection: BleakGATTServiceCollection,
    service: BleakGATTService,
    profile: Profile,
    handles: Iterator[int],
) -> None:
    pipe = _pipe(profile, service.uuid)
    if pipe is None:
        return
    write_uuid, notify_uuid = pipe
    write_prop: CharacteristicPropertyName = (
        "write" if profile.ble.write_with_response else "write-without-response"
    )
    roles: dict[str, list[CharacteristicPropertyName]] = {}
    roles.setdefault(write_uuid, []).append(write_prop)
    roles.setdefault(notify_uuid, []).append("notify")
    for uuid, properties in roles.items():
        next(handles)  # the characteristic declaration
        char = BleakGATTCharacteristic(
            None, next(handles), uuid, properties, lambda: ATT_MTU - ATT_HEADER, service
        )
        collection.add_characteristic(char)
        if "notify" in properties:
            collection.add_descriptor(BleakGATTDescriptor(None, next(handles), CCCD_UUID, char))


def _pipe(profile: Profile, service_uuid: str) -> tuple[str, str] | None:
    # The profile's (write, notify) pair, or the one its protocol puts under the service.
    ble = profile.ble
    if ble.write_char and ble.notify_char:
        return normalize_uuid_str(ble.write_char), normalize_uuid_str(ble.notify_char)
    finder = characteristic_finder(profile)
    pair = finder(service_uuid) if finder is not None else None
    return (normalize_uuid_str(pair[0]), normalize_uuid_str(pair[1])) if pair else None


def _notify_characteristic(
    services: BleakGATTServiceCollection, profile: Profile
) -> BleakGATTCharacteristic | None:
    for service in services:
        pipe = _pipe(profile, service.uuid)
        if pipe is not None:
            return services.get_characteristic(pipe[1])
    return None


# --- a transport with the test handle ------------------------------------------------------


class SimBleTransport(BleTransport):
    """A :class:`BleTransport` to a simulated peripheral, through the radio's bleak backend.

    The connection code is BleTransport's own; this class only carries the test handle:
    :attr:`device` (the :class:`SimulatedDevice`), :attr:`radio` and :attr:`peripheral`.
    """

    def __init__(
        self,
        peripheral: SimPeripheral,
        *,
        description: str | None = None,
        clock: Clock | None = None,
        scan_timeout: float = 5.0,
        reconnect_attempts: int = 6,
    ) -> None:
        super().__init__(
            peripheral.address,
            peripheral.profile,
            backend=peripheral.radio.backend(),
            scan_timeout=scan_timeout,
            reconnect_attempts=reconnect_attempts,
            clock=clock,
            description=description,
        )
        self.peripheral = peripheral
        self.radio = peripheral.radio
        self.device = peripheral.device


__all__ = [
    "ATT_MTU",
    "DEFAULT_RSSI",
    "SimBleRadio",
    "SimBleTransport",
    "SimBleakClient",
    "SimBleakScanner",
    "SimPeripheral",
    "SimWrite",
    "advertised_name",
    "default_radio",
    "notification_payloads",
]
