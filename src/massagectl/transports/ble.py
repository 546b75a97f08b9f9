"""Bluetooth Low Energy via bleak: one GATT characteristic to write, one to be notified on.

The profile says which characteristics carry the protocol and whether writes want a response;
the transport finds the peripheral (by address, by advertised name, or the first one that looks
like the profile's model), connects through bleak-retry-connector (which rides out BlueZ's
transient failures), and turns notifications into received chunks and bleak's disconnected
callback into the transport's lost signal. :meth:`BleTransport.reconnect` connects again with
exponential backoff; the device layer decides when to call it.

``backend`` picks the bleak backend classes: None for the platform's (BlueZ, CoreBluetooth,
WinRT), or the simulator plug-in's (see :mod:`massagectl.plugins`), so that tests run bleak's
real client and scanner code against simulated peripherals.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from bleak_retry_connector import establish_connection

from ..clock import Clock
from ..errors import LinkError, ProfileError, UsageError
from ..profiles import BleSettings, Profile
from .base import Transport
from .ble_errors import classify_bleak_error, not_found_message

_log = logging.getLogger(__name__)

#: Environment variable that picks the bleak backend for ``ble:`` addresses and ``scan``:
#: ``platform`` (the default) or ``sim`` (the simulator's process-wide radio).
BACKEND_ENV: Final = "MASSAGECTL_BLE_BACKEND"
#: ``ble:any?profile=NAME`` connects to the first peripheral that looks like the profile's model.
ANY_DEVICE: Final = "any"
#: Longest write with response (ATT's limit for a long write).
MAX_WRITE_WITH_RESPONSE: Final = 512
#: How long a polite disconnect may take before it is abandoned.
DISCONNECT_TIMEOUT_S: Final = 5.0

# A Bluetooth address (six pairs; the simulator's start with SI:MU, so letters are allowed) or a
# CoreBluetooth peripheral UUID, which macOS gives instead of addresses.
_ADDRESS = re.compile(r"^[0-9A-Za-z]{2}(:[0-9A-Za-z]{2}){5}$")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


@dataclass(frozen=True, slots=True)
class BleBackend:
    """The bleak backend classes to use; None for the platform's own."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    #: For messages and logs.
    name: str = "platform"

    def scanner_args(self) -> BleakScanner.ExtraArgs:
        """Keyword arguments that make a :class:`BleakScanner` use this backend."""
        args: BleakScanner.ExtraArgs = {}
        if self.scanner is not None:
            args["backend"] = self.scanner
        return args


PLATFORM_BACKEND: Final = BleBackend()


def backend_from_env() -> BleBackend:
    """The backend :data:`BACKEND_ENV` asks for (the platform's when unset)."""
    value = os.environ.get(BACKEND_ENV, "").strip().lower()
    if value in ("", "platform"):
        return PLATFORM_BACKEND
    if value == "sim":
        # The simulator is a plug-in; imported here so that a `ble:` address does not need it.
        from ..plugins import simulator

        return simulator(f"{BACKEND_ENV}=sim").ble_backend()
    raise UsageError(f"{BACKEND_ENV}={value!r}: expected 'platform' or 'sim'")


def is_ble_address(target: str) -> bool:
    """Whether ``target`` is a Bluetooth address (or a macOS peripheral UUID) rather than a name."""
    return bool(_ADDRESS.match(target) or _UUID.match(target))


def match_score(name: str | None, service_uuids: Sequence[str], ble: BleSettings) -> int:
    """How well an advertisement fits a profile's BLE identity; 0 for not at all.

    An exact name beats a name prefix (a longer prefix beats a shorter one). When the profile
    names its devices and the peripheral advertises a name, the name decides: OMP/1 devices
    all share one service UUID, so a heat pad must not pass for a wand by its service. Only
    otherwise does an advertised service UUID of the profile count.
    """
    if name and (ble.names or ble.name_prefixes):
        if name in ble.names:
            return 1000
        prefixes = [len(p) for p in ble.name_prefixes if name.startswith(p)]
        return 100 + max(prefixes) if prefixes else 0
    wanted = {normalize_uuid_str(u) for u in ble.service_uuids}
    if wanted and wanted & {normalize_uuid_str(u) for u in service_uuids}:
        # A nameless peripheral fits a profile that expects no name a little better.
        return 10 if ble.names or ble.name_prefixes else 11
    return 0


CharacteristicFinder = Callable[[str], tuple[str, str] | None]


def characteristic_finder(profile: Profile) -> CharacteristicFinder | None:
    """The protocol's own ``characteristics_for(service_uuid) -> (write, notify) | None``, if any.

    Some protocols (Lovense) put the same pair of characteristics under one of several services,
    whichever the device offers; their codec module says which pair goes with which service.
    """
    module = importlib.import_module(f"massagectl.protocols.{profile.protocol}")
    finder = getattr(module, "characteristics_for", None)
    return finder if callable(finder) else None


def reachable_over_ble(profile: Profile) -> bool:
    """Whether the profile says (or its protocol knows) which characteristics carry it."""
    ble = profile.ble
    return bool(ble.write_char and ble.notify_char) or characteristic_finder(profile) is not None


class BleTransport(Transport):
    """A BLE peripheral whose protocol travels over one write and one notify characteristic."""

    def __init__(
        self,
        target: str,
        profile: Profile,
        *,
        backend: BleBackend | None = None,
        scan_timeout: float = 10.0,
        reconnect_attempts: int = 6,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
        clock: Clock | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(description or f"ble:{target}", clock=clock)
        ble = profile.ble
        if not reachable_over_ble(profile):
            raise ProfileError(
                f"{self.description}: profile {profile.name!r} does not say which GATT "
                "characteristics carry its protocol (ble.write_char, ble.notify_char)"
            )
        self.target = target
        self.profile = profile
        self.backend = backend or PLATFORM_BACKEND
        self.scan_timeout = scan_timeout
        self.reconnect_attempts = reconnect_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._finder = characteristic_finder(profile)
        self._with_response = ble.write_with_response
        #: The peripheral found by the last scan (its address is kept for reconnecting).
        self.ble_device: BLEDevice | None = None
        self._client: BleakClient | None = None
        self._write_char: BleakGATTCharacteristic | None = None
        # Writes go out one at a time and in order: a protocol frame is one write.
        self._write_lock = asyncio.Lock()
        self._closing = False

    # --- the Transport interface ---------------------------------------------------------

    async def open(self) -> None:
        """Find the peripheral, connect, and subscribe to its notifications."""
        self._closing = False
        await self._connect()

    async def write(self, data: bytes) -> None:
        """Write bytes to the write characteristic (split if longer than one write takes)."""
        self._check_open()
        client, char = self._client, self._write_char
        assert client is not None, "write before open"
        assert char is not None, "write before open"
        limit = (
            MAX_WRITE_WITH_RESPONSE
            if self._with_response
            else max(1, char.max_write_without_response_size)
        )
        async with self._write_lock:
            for start in range(0, len(data), limit):
                try:
                    await client.write_gatt_char(
                        char, data[start : start + limit], response=self._with_response
                    )
                except (BleakError, OSError, EOFError, TimeoutError) as exc:
                    # A write that fails leaves the protocol's state unknown; the link is of no
                    # more use until it is made again.
                    detail = str(exc) or type(exc).__name__
                    self._mark_lost(f"write failed: {' '.join(detail.split())}")
                    self._check_open()

    async def close(self) -> None:
        """Disconnect. Safe to call more than once, and after the link was lost."""
        self._closing = True
        self._mark_lost("closed")
        await self._discard()

    # --- reconnecting --------------------------------------------------------------------

    async def reconnect(self, *, attempts: int | None = None) -> None:
        """Connect again after the link was lost, waiting 0.5 s, 1 s, 2 s … 8 s before tries.

        Does nothing while the link is up. Chunks received before the loss are dropped: they
        belong to the old connection. Raises :class:`LinkError` after ``attempts`` (default
        :attr:`reconnect_attempts`) failed tries.
        """
        if self._closing:
            raise LinkError(f"{self.description}: closed; open a new link instead")
        await super().reconnect(attempts=attempts)

    async def _before_reconnect(self) -> None:
        await self._discard()

    def _check_still_wanted(self) -> None:
        if self._closing:
            raise LinkError(f"{self.description}: closed while reconnecting")

    async def _reopen(self) -> None:
        # The stream starts anew inside _connect, before notifications are on (see there).
        await self._connect()

    # --- connecting ----------------------------------------------------------------------

    async def _connect(self) -> None:
        device = await self._find()
        client = await self._establish(device)
        try:
            write_char, notify_char = self._characteristics(client)
            if self.is_lost:
                # A reconnect: a new stream starts before notifications are on, so that
                # nothing the device says right away is lost.
                self._restart()
            self._client = client
            self._write_char = write_char
            await client.start_notify(notify_char, partial(self._on_notify, client))
            if not client.is_connected:
                raise LinkError(f"{self.description}: the device disconnected while connecting")
            if self._closing:
                raise LinkError(f"{self.description}: closed while connecting")
        except BaseException as exc:
            self._client = None
            self._write_char = None
            await self._disconnect_quietly(client)
            error: BaseException = exc
            if isinstance(exc, BleakError | OSError | TimeoutError):
                error = classify_bleak_error(exc, where=self.description, target=self.target)
            self._mark_lost(str(error).removeprefix(f"{self.description}: "))
            if error is exc:
                raise
            raise error from None
        _log.info("%s: connected to %s (%s)", self.description, device.address, device.name)

    async def _find(self) -> BLEDevice:
        # Once found, the same peripheral is sought again by its address: another device with
        # the same name must not stand in for it after a reconnect.
        known = self.ble_device.address if self.ble_device is not None else None
        target = known or self.target
        args = self.backend.scanner_args()
        try:
            if is_ble_address(target):
                found = await BleakScanner.find_device_by_address(
                    target, timeout=self.scan_timeout, **args
                )
            else:
                found = await BleakScanner.find_device_by_filter(
                    self._matches, timeout=self.scan_timeout, **args
                )
        except Exception as exc:
            raise classify_bleak_error(
                exc, where=self.description, target=target, scanned_s=self.scan_timeout
            ) from None
        if found is None:
            raise LinkError(
                f"{self.description}: BLE {not_found_message(target, self.scan_timeout)}"
            )
        self.ble_device = found
        return found

    def _matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        name = adv.local_name or device.name
        if self.target.lower() == ANY_DEVICE:
            return match_score(name, adv.service_uuids, self.profile.ble) > 0
        return name is not None and name.casefold() == self.target.casefold()

    async def _establish(self, device: BLEDevice) -> BleakClient:
        try:
            return await establish_connection(
                BleakClient,
                device,
                self.description,
                disconnected_callback=self._on_disconnected,
                backend=self.backend.client,
            )
        except Exception as exc:
            raise classify_bleak_error(exc, where=self.description, target=self.target) from None

    def _characteristics(
        self, client: BleakClient
    ) -> tuple[BleakGATTCharacteristic, BleakGATTCharacteristic]:
        # The profile's pair first; failing that, the pair the protocol puts under a service
        # the device offers.
        ble = self.profile.ble
        wanted: list[tuple[str, str]] = []
        if ble.write_char and ble.notify_char:
            wanted.append((ble.write_char, ble.notify_char))
        if self._finder is not None:
            for service in client.services:
                pair = self._finder(service.uuid)
                if pair is not None:
                    wanted.append(pair)
        for write_uuid, notify_uuid in wanted:
            write = self._lookup(client, write_uuid)
            notify = self._lookup(client, notify_uuid)
            if write is not None and notify is not None:
                return write, notify
        missing = f" {normalize_uuid_str(wanted[0][0])}" if wanted else ""
        raise LinkError(
            f"{self.description}: the device has no write characteristic{missing} "
            f"for its protocol; is it a {self.profile.title}?"
        )

    def _lookup(self, client: BleakClient, uuid: str) -> BleakGATTCharacteristic | None:
        try:
            return client.services.get_characteristic(normalize_uuid_str(uuid))
        except BleakError as exc:  # several characteristics with the UUID
            raise LinkError(f"{self.description}: characteristic {uuid}: {exc}") from None

    # --- bleak's callbacks ---------------------------------------------------------------

    def _on_notify(
        self, client: BleakClient, _sender: BleakGATTCharacteristic, data: bytearray
    ) -> None:
        if client is self._client:  # a late notification of an old connection is dropped
            self._deliver(bytes(data))

    def _on_disconnected(self, client: BleakClient) -> None:
        # BlueZ calls this after our own disconnects too; only the live connection's loss
        # counts, and not while closing.
        # The client is kept: close() and reconnect() still disconnect it, which frees what
        # the platform holds for it.
        if client is not self._client or self._closing:
            return
        self._mark_lost("the device disconnected (switched off, out of range, or link dropped)")

    # --- tearing down --------------------------------------------------------------------

    async def _discard(self) -> None:
        client, self._client = self._client, None
        self._write_char = None
        if client is not None:
            await self._disconnect_quietly(client)

    async def _disconnect_quietly(self, client: BleakClient) -> None:
        # The link is being given up anyway; a peripheral that is already gone may make the
        # disconnect fail or hang, which must not stop the close.
        with contextlib.suppress(BleakError, OSError, EOFError, TimeoutError):
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await client.disconnect()


__all__ = [
    "ANY_DEVICE",
    "BACKEND_ENV",
    "PLATFORM_BACKEND",
    "BleBackend",
    "BleTransport",
    "CharacteristicFinder",
    "backend_from_env",
    "characteristic_finder",
    "is_ble_address",
    "match_score",
    "reachable_over_ble",
]
