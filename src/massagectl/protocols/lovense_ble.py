"""Lovense over BLE: the advertised name and the three generations of service, each with a TX
characteristic the host writes and an RX one it gets notifications from (facts and sources in
docs/real-devices.md)."""

from __future__ import annotations

import re
from typing import Final

from .uuids import bluetooth_uuid

BLE_NAME_PREFIX: Final = "LVS-"

#: First generation.
FFF0_SERVICE: Final = bluetooth_uuid(0xFFF0)
FFF0_TX: Final = bluetooth_uuid(0xFFF2)
FFF0_RX: Final = bluetooth_uuid(0xFFF1)
#: Second generation: the Nordic UART service.
NUS_SERVICE: Final = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX: Final = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX: Final = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

#: Third generation: ``XY300001-002Z-4bd4-bbd5-a6920e4c5653``, TX ``…02…``, RX ``…03…``.
_THIRD_GEN = re.compile(r"([45][0-9a-f])30000([123])-002([34])-4bd4-bbd5-a6920e4c5653")


def _third_gen(xy: str, z: str, role: int) -> str:
    return f"{xy}30000{role}-002{z}-4bd4-bbd5-a6920e4c5653"


#: The third-generation services: X in {4, 5}, Y any hex digit, Z in {3, 4}. That is 64; the
#: source speaks of 32 variants, which its own pattern does not bear out, so all 64 are here.
THIRD_GEN_SERVICES: Final = tuple(
    _third_gen(f"{x}{y:x}", z, 1) for x in "45" for y in range(16) for z in "34"
)
#: Every service a Lovense device may offer, oldest generation first (66 in all).
SERVICE_UUIDS: Final = (FFF0_SERVICE, NUS_SERVICE, *THIRD_GEN_SERVICES)


def characteristics_for(service_uuid: str) -> tuple[str, str] | None:
    """The (TX, RX) characteristics of a Lovense service, or None if it is not one.

    TX is the one the host writes commands to, RX the one it gets answers from.
    """
    uuid = service_uuid.lower()
    if uuid == FFF0_SERVICE:
        return FFF0_TX, FFF0_RX
    if uuid == NUS_SERVICE:
        return NUS_TX, NUS_RX
    m = _THIRD_GEN.fullmatch(uuid)
    if m is None or m.group(2) != "1":
        return None
    xy, z = m.group(1), m.group(3)
    return _third_gen(xy, z, 2), _third_gen(xy, z, 3)


def is_lovense_service(service_uuid: str) -> bool:
    """Whether a service UUID is one of the Lovense services (:data:`SERVICE_UUIDS`)."""
    return characteristics_for(service_uuid) is not None
