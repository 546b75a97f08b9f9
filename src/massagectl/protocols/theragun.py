"""Theragun generation 4 percussion guns (Pro, Elite, Prime): packets, both sides, sans-I/O.

The facts (reverse-engineered, unchecked on hardware; see docs/real-devices.md) come from the
Theragun page of the Buttplug protocol docs:

- commands are written with response to ``0xffe2`` of service ``0xffe0`` and start ``AA``;
  notifications arrive on ``0xffe1`` and start ``BB``; byte 1 of every packet is the checksum,
  the low byte of the sum of bytes 2..end;
- set speed ``AA ck 01 03 rpm_hi rpm_lo 03`` (0 stops), request status ``AA 10 10 00``, request
  the firmware version ``AA 20 20 00``;
- a status notification has byte 2 = ``0x10``, byte 4 "running" (0/1) and the speed in bytes
  13..14, big-endian; a version notification has byte 2 = ``0x20`` and the version
  ``byte12 << 8 | byte13`` (major = v / 100, minor = v % 100 / 10, patch = v % 10).

Not documented, so chosen for the simulator (and only assumed of it): a notification is
:data:`NOTIFICATION_LEN` (20) bytes, one default-MTU BLE notification, and every byte the
source does not explain is zero. The host's decoder does not rely on that length: it takes one
notification of any length that holds the documented bytes.

Over BLE one write is one command and one notification one packet. A byte stream (the
simulator's in-process link) may join several packets in one chunk: :func:`split_notifications`
and :class:`CommandDecoder` take them apart again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .uuids import bluetooth_uuid

SERVICE_UUID: Final = bluetooth_uuid(0xFFE0)
#: Commands are written here, with response.
WRITE_CHAR: Final = bluetooth_uuid(0xFFE2)
#: Status and answers arrive here as notifications.
NOTIFY_CHAR: Final = bluetooth_uuid(0xFFE1)
#: The advertised names of the guns, and the fastest speed each accepts, rpm.
MAX_RPM: Final[dict[str, int]] = {"Pro": 3616, "Elite": 3616, "Prime": 3584}
BLE_NAMES: Final = tuple(MAX_RPM)

#: First byte of a command (host to device).
COMMAND_START: Final = 0xAA
#: First byte of a notification (device to host).
NOTIFICATION_START: Final = 0xBB
#: Byte 2 of a set-speed command.
KIND_SET_SPEED: Final = 0x01
#: Byte 2 of a status request and of the status notification.
KIND_STATUS: Final = 0x10
#: Byte 2 of a version request and of the version notification.
KIND_VERSION: Final = 0x20

#: The length of every notification the simulator sends (a simulator choice, see above).
NOTIFICATION_LEN: Final = 20
#: The shortest notification that holds each documented field.
MIN_STATUS_LEN: Final = 15
MIN_VERSION_LEN: Final = 14

# Offsets of the documented fields.
_RUNNING: Final = 4
_SPEED: Final = 13
_VERSION: Final = 12
# The constant bytes around the rpm in a set-speed command (their meaning is not known).
_SPEED_PREFIX: Final = 0x03
_SPEED_SUFFIX: Final = 0x03
#: Length of each command by its byte 2.
_COMMAND_LEN: Final[dict[int, int]] = {KIND_SET_SPEED: 7, KIND_STATUS: 4, KIND_VERSION: 4}


def checksum(packet: bytes) -> int:
    """The checksum a packet carries in byte 1: the low byte of the sum of bytes 2..end."""
    return sum(packet[2:]) & 0xFF


def _packet(start: int, body: bytes) -> bytes:
    return bytes((start, sum(body) & 0xFF)) + body


# --- host side: commands --------------------------------------------------------------------


def set_speed(rpm: int) -> bytes:
    """``AA ck 01 03 hi lo 03``: run at ``rpm`` (0 stops the motor).

    Any 16-bit value encodes; which ones a gun accepts (:data:`MAX_RPM`) is the caller's check.
    """
    if not 0 <= rpm <= 0xFFFF:
        raise ValueError(f"{rpm} rpm does not fit the 16-bit speed field")
    return _packet(
        COMMAND_START, bytes((KIND_SET_SPEED, _SPEED_PREFIX, rpm >> 8, rpm & 0xFF, _SPEED_SUFFIX))
    )


def request_status() -> bytes:
    """``AA 10 10 00``: ask for a status notification."""
    return _packet(COMMAND_START, bytes((KIND_STATUS, 0x00)))


def request_version() -> bytes:
    """``AA 20 20 00``: ask for the firmware version."""
    return _packet(COMMAND_START, bytes((KIND_VERSION, 0x00)))


# --- notifications --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TheragunStatus:
    """A status notification: whether the motor runs, and its speed."""

    running: bool
    rpm: int

    def encode(self) -> bytes:
        """The notification as the simulator sends it (device side; unknown bytes zero)."""
        if not 0 <= self.rpm <= 0xFFFF:
            raise ValueError(f"{self.rpm} rpm does not fit the 16-bit speed field")
        body = bytearray(NOTIFICATION_LEN - 2)
        body[0] = KIND_STATUS
        body[_RUNNING - 2] = 1 if self.running else 0
        body[_SPEED - 2 : _SPEED] = self.rpm.to_bytes(2, "big")
        return _packet(NOTIFICATION_START, bytes(body))


@dataclass(frozen=True, slots=True)
class TheragunVersion:
    """A version notification: the firmware version, e.g. 2.4.1 (sent as the number 241)."""

    major: int
    minor: int
    patch: int

    @classmethod
    def from_number(cls, number: int) -> TheragunVersion:
        """Split the version number the gun sends (major = v / 100, minor, patch one digit)."""
        return cls(number // 100, number % 100 // 10, number % 10)

    @property
    def number(self) -> int:
        """The version as the gun sends it."""
        return self.major * 100 + self.minor * 10 + self.patch

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def encode(self) -> bytes:
        """The notification as the simulator sends it (device side; unknown bytes zero)."""
        if not (0 <= self.minor <= 9 and 0 <= self.patch <= 9 and 0 <= self.number <= 0xFFFF):
            raise ValueError(f"version {self} does not fit the version field")
        body = bytearray(NOTIFICATION_LEN - 2)
        body[0] = KIND_VERSION
        body[_VERSION - 2 : _VERSION] = self.number.to_bytes(2, "big")
        return _packet(NOTIFICATION_START, bytes(body))


@dataclass(frozen=True, slots=True)
class OtherNotification:
    """A well-formed notification of a kind (byte 2) nobody has documented."""

    kind: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BadPacket:
    """Bytes that were dropped, and why. Never answered; reported for diagnostics."""

    reason: str
    data: bytes


Notification = TheragunStatus | TheragunVersion | OtherNotification


def decode_notification(packet: bytes) -> Notification | BadPacket:
    """One notification (host side). Never raises: broken input comes back as a BadPacket."""
    packet = bytes(packet)
    if len(packet) < 3:
        return BadPacket("notification shorter than 3 bytes", packet)
    if packet[0] != NOTIFICATION_START:
        return BadPacket(f"notification starts 0x{packet[0]:02x}, not 0xbb", packet)
    if checksum(packet) != packet[1]:
        return BadPacket("checksum mismatch", packet)
    kind = packet[2]
    if kind == KIND_STATUS:
        if len(packet) < MIN_STATUS_LEN:
            return BadPacket(f"status notification shorter than {MIN_STATUS_LEN} bytes", packet)
        rpm = int.from_bytes(packet[_SPEED : _SPEED + 2], "big")
        return TheragunStatus(running=packet[_RUNNING] != 0, rpm=rpm)
    if kind == KIND_VERSION:
        if len(packet) < MIN_VERSION_LEN:
            return BadPacket(f"version notification shorter than {MIN_VERSION_LEN} bytes", packet)
        return TheragunVersion.from_number(int.from_bytes(packet[_VERSION : _VERSION + 2], "big"))
    return OtherNotification(kind, packet)


def split_notifications(chunk: bytes) -> list[bytes]:
    """The notifications in one received chunk.

    A chunk is one notification (BLE), unless it is a run of whole :data:`NOTIFICATION_LEN`-byte
    packets each starting ``BB``: then the simulator's link joined them, and they are split.
    """
    n = NOTIFICATION_LEN
    if len(chunk) > n and len(chunk) % n == 0:
        parts = [chunk[i : i + n] for i in range(0, len(chunk), n)]
        if all(p[0] == NOTIFICATION_START for p in parts):
            return parts
    return [chunk] if chunk else []


def decode_notifications(chunk: bytes) -> list[Notification | BadPacket]:
    """Everything in one received chunk (host side): :func:`split_notifications`, decoded."""
    return [decode_notification(p) for p in split_notifications(bytes(chunk))]


# --- device side: commands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """A set-speed command."""

    rpm: int


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """A status request."""


@dataclass(frozen=True, slots=True)
class VersionRequest:
    """A version request."""


DeviceCommand = SetSpeed | StatusRequest | VersionRequest


def decode_command(packet: bytes) -> DeviceCommand | BadPacket:
    """One whole command packet (device side). Never raises."""
    packet = bytes(packet)
    if len(packet) < 4 or packet[0] != COMMAND_START:
        return BadPacket("not a command packet", packet)
    if checksum(packet) != packet[1]:
        return BadPacket("checksum mismatch", packet)
    kind = packet[2]
    if _COMMAND_LEN.get(kind) != len(packet):
        return BadPacket(f"command 0x{kind:02x} with {len(packet)} bytes", packet)
    if kind == KIND_SET_SPEED:
        if (packet[3], packet[6]) != (_SPEED_PREFIX, _SPEED_SUFFIX):
            return BadPacket("set-speed command not in the documented form", packet)
        return SetSpeed(int.from_bytes(packet[4:6], "big"))
    if packet[3] != 0x00:
        return BadPacket("request not in the documented form", packet)
    return StatusRequest() if kind == KIND_STATUS else VersionRequest()


class CommandDecoder:
    """Splits a stream of host bytes into commands (device side); never raises.

    It resynchronises on the ``AA`` start byte: bytes before one, a command whose kind is not
    known, or one that fails its checksum come back as a :class:`BadPacket`, and the search
    starts again one byte later. At most 6 bytes wait for the rest of a command.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[DeviceCommand | BadPacket]:
        """Take received bytes; return the commands (and dropped bytes) they complete."""
        self._buf += data
        out: list[DeviceCommand | BadPacket] = []
        buf = self._buf
        while buf:
            if buf[0] != COMMAND_START:
                start = buf.find(COMMAND_START)
                end = len(buf) if start < 0 else start
                out.append(BadPacket("bytes outside a command", bytes(buf[:end])))
                del buf[:end]
                continue
            if len(buf) < 3:
                break
            length = _COMMAND_LEN.get(buf[2])
            if length is None:
                out.append(BadPacket(f"unknown command 0x{buf[2]:02x}", bytes(buf[:3])))
                del buf[:1]
                continue
            if len(buf) < length:
                break
            item = decode_command(bytes(buf[:length]))
            if isinstance(item, BadPacket):
                out.append(item)
                del buf[:1]
                continue
            out.append(item)
            del buf[:length]
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a command."""
        return len(self._buf)
