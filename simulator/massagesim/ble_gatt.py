"""The simulated peripherals' GATT side: the database a profile gives, and notification sizes.

One service (the first of ``ble.service_uuids``) with the write characteristic (``write`` or
``write-without-response`` as the profile writes) and the notify characteristic (``notify``,
with its CCCD). The ATT MTU is 23, so a notification or a write without response carries at
most 20 bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Final

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.uuids import normalize_uuid_16, normalize_uuid_str

from massagectl.profiles import Profile
from massagectl.transports.ble import characteristic_finder

#: The default ATT MTU; 3 bytes of it are the ATT header.
ATT_MTU: Final = 23
ATT_HEADER: Final = 3
#: The longest write with response (a long write).
MAX_WRITE_WITH_RESPONSE: Final = 512
#: The service simulated peripherals carry when their profile names none.
SIM_SERVICE_UUID: Final = "5d3c0001-0000-4d61-7373-6167652d5349"
#: The Client Characteristic Configuration descriptor.
CCCD_UUID: Final = normalize_uuid_16(0x2902)
#: The first handle of the simulated GATT database.
_FIRST_HANDLE: Final = 0x0010


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


def gatt_database(profile: Profile) -> BleakGATTServiceCollection:
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


def notify_characteristic(
    services: BleakGATTServiceCollection, profile: Profile
) -> BleakGATTCharacteristic | None:
    for service in services:
        pipe = _pipe(profile, service.uuid)
        if pipe is not None:
            return services.get_characteristic(pipe[1])
    return None


__all__ = [
    "ATT_HEADER",
    "ATT_MTU",
    "CCCD_UUID",
    "MAX_WRITE_WITH_RESPONSE",
    "SIM_SERVICE_UUID",
    "gatt_database",
    "notification_payloads",
    "notify_characteristic",
]
