"""The simulated air: BLE peripherals in range of a radio, and the test handle that moves them.

Each peripheral is a :class:`~massagesim.SimulatedDevice` under an address, advertising a name
and service UUIDs from its profile. A radio hands bleak its backend classes
(:attr:`SimBleRadio.client_class`, :attr:`SimBleRadio.scanner_class`), bound to it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar, cast

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.uuids import normalize_uuid_str

from massagectl.profiles import Profile
from massagectl.transports.ble import BleBackend

from .device import SimulatedDevice

if TYPE_CHECKING:
    from .ble_client import SimBleakClient
    from .ble_scanner import SimBleakScanner

_LOG = logging.getLogger(__name__)

#: Signal strength reported for a peripheral unless told otherwise, dBm.
DEFAULT_RSSI: Final = -60


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

    @property
    def central(self) -> SimBleakClient | None:
        """The connected central, if any."""
        return self._client

    def attach(self, client: SimBleakClient) -> None:
        """A central has connected (the client's own bookkeeping; one at a time)."""
        if self._client is not None and self._client is not client:
            raise RuntimeError(f"{self.address} already has a central")
        self._client = client

    def release(self, client: SimBleakClient) -> None:
        """``client`` has let go (nothing happens if another central holds the peripheral)."""
        if self._client is client:
            self._client = None

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
        client = peripheral.central if peripheral is not None else None
        if client is not None:
            client.drop_by_radio()

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
            # Imported here: the backend classes sit on top of the radio and import it.
            from .ble_client import SimBleakClient

            self._client_class = _bound(SimBleakClient, self)
        return self._client_class

    @property
    def scanner_class(self) -> type[SimBleakScanner]:
        """A :class:`SimBleakScanner` bound to this radio, for ``BleakScanner(backend=...)``."""
        if self._scanner_class is None:
            from .ble_scanner import SimBleakScanner

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


__all__ = [
    "DEFAULT_RSSI",
    "SimBleRadio",
    "SimPeripheral",
    "SimWrite",
    "advertised_name",
    "default_radio",
]
