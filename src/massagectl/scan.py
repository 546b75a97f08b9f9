"""Finding devices: BLE peripherals matched to profiles, and serial ports, each with an address.

:func:`scan_ble` listens for BLE advertisements for a while and matches each peripheral to the
profiles by advertised name (exact names, then name prefixes) and service UUIDs;
:func:`list_serial_ports` lists the machine's serial ports. Both suggest the address to give
``--device``. The CLI's ``massagectl scan`` prints them; the functions are the Python API.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner

from .address import DEFAULT_PROFILE
from .errors import LinkError
from .profiles import Profile, all_profiles
from .transports.ble import PLATFORM_BACKEND, BleBackend, match_score
from .transports.ble_errors import classify_bleak_error

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BleSighting:
    """A BLE peripheral heard during a scan."""

    address: str
    name: str | None
    #: Signal strength of the last advertisement, dBm.
    rssi: int
    service_uuids: tuple[str, ...]
    #: Names of the profiles it fits, best fit first; empty if none.
    profiles: tuple[str, ...] = ()
    #: The profile to reach it with (None if it fits none).
    profile: str | None = None

    @property
    def suggested_address(self) -> str | None:
        """The ``ble:`` address to give ``--device``, if a profile fits."""
        return f"ble:{self.address}?profile={self.profile}" if self.profile else None

    def as_json(self) -> dict[str, Any]:
        """The sighting as a JSON-ready mapping."""
        return {
            "address": self.address,
            "name": self.name,
            "rssi": self.rssi,
            "service_uuids": list(self.service_uuids),
            "profiles": list(self.profiles),
            "profile": self.profile,
            "suggested_address": self.suggested_address,
        }


@dataclass(frozen=True, slots=True)
class SerialPort:
    """A serial port on this machine."""

    path: str
    description: str
    hwid: str
    #: The profile to try it with: serial ports say nothing about what is behind them.
    profile: str = DEFAULT_PROFILE

    @property
    def suggested_address(self) -> str:
        """The ``serial:`` address to give ``--device``."""
        return f"serial:{self.path}?profile={self.profile}"

    def as_json(self) -> dict[str, Any]:
        """The port as a JSON-ready mapping."""
        return {
            "path": self.path,
            "description": self.description,
            "hwid": self.hwid,
            "profile": self.profile,
            "suggested_address": self.suggested_address,
        }


def match_profiles(
    name: str | None, service_uuids: Sequence[str], profiles: Sequence[Profile]
) -> list[Profile]:
    """The profiles an advertisement fits, best fit first."""
    scored = [(match_score(name, service_uuids, p.ble), p) for p in profiles]
    ranked = sorted((sp for sp in scored if sp[0] > 0), key=lambda sp: -sp[0])
    return [p for _, p in ranked]


def suggest_profile(matches: Sequence[Profile]) -> Profile | None:
    """The profile to connect with, from :func:`match_profiles`' answer.

    A device whose protocol describes itself (OMP/1's INFO) is best reached with the profile
    that reads its capabilities from it (``omp``): a name prefix can say what model a device
    claims to be, not what it can do.
    """
    if not matches:
        return None
    best = matches[0]
    for profile in matches:
        if profile.capabilities_from_device and profile.protocol == best.protocol:
            return profile
    return best


async def scan_ble(
    seconds: float = 5.0,
    *,
    backend: BleBackend | None = None,
    profiles: Sequence[Profile] | None = None,
    include_unknown: bool = False,
) -> list[BleSighting]:
    """Listen for ``seconds``; the peripherals heard, those fitting a profile first.

    Peripherals that fit no profile are left out unless ``include_unknown``. Raises a one-line
    :class:`LinkError` when Bluetooth cannot be used (no adapter, switched off, not allowed).
    """
    known = list(profiles) if profiles is not None else all_profiles()
    try:
        heard = await BleakScanner.discover(
            seconds, return_adv=True, **(backend or PLATFORM_BACKEND).scanner_args()
        )
    except Exception as exc:
        raise classify_bleak_error(exc, where="BLE scan") from None
    sightings = []
    for device, adv in heard.values():
        name = adv.local_name or device.name
        matches = match_profiles(name, adv.service_uuids, known)
        if not matches and not include_unknown:
            continue
        suggested = suggest_profile(matches)
        sightings.append(
            BleSighting(
                address=device.address,
                name=name,
                rssi=adv.rssi,
                service_uuids=tuple(adv.service_uuids),
                profiles=tuple(p.name for p in matches),
                profile=suggested.name if suggested else None,
            )
        )
    sightings.sort(key=lambda s: (s.profile is None, -s.rssi, s.address))
    _log.info("BLE scan: %d peripherals heard, %d listed", len(heard), len(sightings))
    return sightings


def list_serial_ports() -> list[SerialPort]:
    """The serial ports on this machine (USB adapters, UARTs, Bluetooth SPP ports)."""
    from serial.tools import list_ports

    try:
        ports = list_ports.comports()
    except OSError as exc:  # a platform that cannot enumerate its ports
        raise LinkError(f"serial ports: cannot list them: {exc.strerror or exc}") from None
    return [
        SerialPort(
            path=port.device,
            description=port.description if port.description != "n/a" else "",
            hwid=port.hwid if port.hwid != "n/a" else "",
        )
        for port in sorted(ports, key=lambda p: p.device)
    ]
