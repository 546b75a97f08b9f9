"""A bleak backend served by the simulator: simulated BLE peripherals in this process.

With it, tests and ``sim:`` addresses run bleak's real :class:`~bleak.BleakClient` and
:class:`~bleak.BleakScanner` (and bleak-retry-connector's connection logic above them); only
the bottom layer, where bleak would talk to BlueZ, CoreBluetooth or WinRT, is the simulator's.

Three parts, as in the rest of massagesim:

- :class:`SimBleRadio` (:mod:`.ble_radio`), the air: the peripherals in range, each a
  :class:`SimulatedDevice` under an address, advertising a name and service UUIDs from its
  profile. Its test-facing handle adds and removes peripherals and drops links
  (:meth:`SimBleRadio.drop`).
- :class:`SimBleakScanner` and :class:`SimBleakClient` (:mod:`.ble_scanner`,
  :mod:`.ble_client`), the backend classes bleak is given
  (``BleakClient(..., backend=radio.client_class)``), bound to one radio; the unbound classes
  use the process-wide :func:`default_radio`.
- :class:`SimBleTransport`, a :class:`~massagectl.transports.ble.BleTransport` to a simulated
  peripheral that also carries the test handle (``.device``, ``.radio``, ``.peripheral``).

The GATT database (:mod:`.ble_gatt`) is built from the profile: one service (the first of
``ble.service_uuids``, which is also the only one advertised: a profile may list every service
a family of models uses) with the write characteristic (``write`` or ``write-without-response``
as the profile writes) and the notify characteristic (``notify``, with its CCCD). The ATT MTU
is 23, so a notification or a write without response carries at most 20 bytes. What the device
sends goes out as notifications: for OMP/1 one frame per notification (the spec's rule for
BLE), for other protocols each chunk as the firmware produced it (in 20-byte pieces if longer).

Behaviour worth knowing, chosen to match real stacks:

- A connected peripheral stops advertising (single-link peripherals do) and refuses a second
  central.
- The disconnected callback runs after every disconnect, the host's own included, as BlueZ and
  CoreBluetooth do; it is scheduled on the event loop, not called from inside the disconnect.
- Notifications are delivered on the event loop after the device sent them, in order.
"""

from __future__ import annotations

from massagectl.clock import Clock
from massagectl.transports.ble import BleTransport

from .ble_client import SimBleakClient
from .ble_gatt import ATT_MTU, notification_payloads
from .ble_radio import (
    DEFAULT_RSSI,
    SimBleRadio,
    SimPeripheral,
    SimWrite,
    advertised_name,
    default_radio,
)
from .ble_scanner import SimBleakScanner


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
