"""RongTai massage chairs (e.g. RT8600S) over BLE: key commands and status, both sides, sans-I/O.

The facts (reverse-engineered, unchecked on hardware; see docs/real-devices.md) come from
Bread-Yang/RongTai (``RTCommand.h``, ``RTBleConnector.m``):

- a command is a key press, 5 bytes ``F0 84 KEY CK F1`` with ``CK = ~(0x84 + KEY) & 0x7F``,
  written without response to ``8b00ace7-…`` of service ``0xfff0``;
- the chair's status is a 17-byte notification on ``0734594a-…``: a head byte, 14 body bytes
  (addresses 1..14), a checksum and a tail byte, with the bit layout in :class:`RongTaiStatus`.

The source does not give the status head, tail or checksum, so the host's decoder insists on
nothing but the length. What the simulator sends there is its own choice
(:data:`SIM_STATUS_HEAD`, :data:`SIM_STATUS_TAIL`, :func:`sim_status_checksum`), mirroring the
command's framing; unknown bits are zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Final

from .uuids import bluetooth_uuid

SERVICE_UUID: Final = bluetooth_uuid(0xFFF0)
#: Commands are written here, without response.
WRITE_CHAR: Final = "8b00ace7-eb0b-49b0-bbe9-9aee0a26e1a3"
#: The status arrives here as notifications.
NOTIFY_CHAR: Final = "0734594a-a8e7-4b1a-a6b1-cd5243059a57"

COMMAND_HEAD: Final = 0xF0
COMMAND_TAG: Final = 0x84
COMMAND_TAIL: Final = 0xF1
COMMAND_LEN: Final = 5
STATUS_LEN: Final = 17

#: What the simulator puts where the source is silent (a simulator choice, not a fact).
SIM_STATUS_HEAD: Final = 0xF0
SIM_STATUS_TAIL: Final = 0xF1


class Key(IntEnum):
    """The chair's keys, as the ``KEY`` byte of a command."""

    POWER = 0x01
    AUTO_RECOVERY = 0x10
    AUTO_EXTENSION = 0x11
    AUTO_RELAX = 0x12
    AUTO_WORKING_RELIEF = 0x13
    AUTO_NECK_SHOULDER = 0x14
    AUTO_WAIST_SPINE = 0x15
    KNEAD = 0x20
    KNOCK = 0x21
    SHIATSU = 0x22
    #: "Soft knock" in the source; the status calls the same technique tapping.
    TAPPING = 0x23
    KNEAD_KNOCK = 0x24
    RHYTHM = 0x25
    #: Back heat, on/off (each press toggles).
    HEAT = 0x27
    SPEED_1 = 0x2E
    SPEED_2 = 0x2F
    SPEED_3 = 0x30
    SPEED_4 = 0x31
    SPEED_5 = 0x32
    SPEED_6 = 0x33
    AIRBAG_1 = 0x45
    AIRBAG_2 = 0x46
    AIRBAG_3 = 0x47
    AIRBAG_4 = 0x48
    AIRBAG_5 = 0x49
    AIRBAG_OFF = 0x4A
    TIMER_10 = 0x50
    TIMER_20 = 0x51
    TIMER_30 = 0x52
    RESET = 0x7E


class Technique(IntEnum):
    """The massage technique as the status reports it (address 1, bits 3..5)."""

    STOP = 0
    KNEAD = 1
    KNOCK = 2
    KNEAD_KNOCK = 3
    TAPPING = 4
    SHIATSU = 5
    RHYTHM = 6
    BACK_RUB = 7


#: The six auto programs in key order (keys 0x10..0x15, status values 1..6).
AUTO_PROGRAMS: Final = (
    "Recovery",
    "Extension",
    "Relax",
    "Working relief",
    "Neck and shoulder",
    "Waist and spine",
)
#: Status address 13's value for a manual massage (no auto program).
MANUAL_PROGRAM: Final = 7
MAX_SPEED: Final = 6
#: The session lengths the timer keys set, minutes.
TIMER_MINUTES: Final[dict[Key, int]] = {Key.TIMER_10: 10, Key.TIMER_20: 20, Key.TIMER_30: 30}
#: The technique each manual technique key selects.
TECHNIQUE_KEYS: Final[dict[Key, Technique]] = {
    Key.KNEAD: Technique.KNEAD,
    Key.KNOCK: Technique.KNOCK,
    Key.SHIATSU: Technique.SHIATSU,
    Key.TAPPING: Technique.TAPPING,
    Key.KNEAD_KNOCK: Technique.KNEAD_KNOCK,
    Key.RHYTHM: Technique.RHYTHM,
}


def command_checksum(key: int) -> int:
    """``CK = ~(0x84 + KEY) & 0x7F``."""
    return ~(COMMAND_TAG + key) & 0x7F


def key(k: int) -> bytes:
    """The command for one key press: ``F0 84 KEY CK F1``."""
    if not 0 <= k <= 0xFF:
        raise ValueError(f"key 0x{k:x} does not fit one byte")
    return bytes((COMMAND_HEAD, COMMAND_TAG, k, command_checksum(k), COMMAND_TAIL))


def speed_key(level: int) -> Key:
    """The key for speed 1..6."""
    if not 1 <= level <= MAX_SPEED:
        raise ValueError(f"speed {level} is outside 1..{MAX_SPEED}")
    return Key(Key.SPEED_1 + level - 1)


def auto_program_key(index: int) -> Key:
    """The key for auto program 1..6 (:data:`AUTO_PROGRAMS`)."""
    if not 1 <= index <= len(AUTO_PROGRAMS):
        raise ValueError(f"auto program {index} is outside 1..{len(AUTO_PROGRAMS)}")
    return Key(Key.AUTO_RECOVERY + index - 1)


def timer_key(minutes: int) -> Key:
    """The key for a 10, 20 or 30 minute session."""
    for k, m in TIMER_MINUTES.items():
        if m == minutes:
            return k
    raise ValueError(f"the session timer has 10, 20 or 30 minutes, not {minutes}")


@dataclass(frozen=True, slots=True)
class BadPacket:
    """Bytes that were dropped, and why. Never answered; reported for diagnostics."""

    reason: str
    data: bytes


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RongTaiStatus:
    """The chair's status notification.

    ``speed`` is 0..6 (0 when no massage runs), ``auto_program`` 0 (none), 1..6 (the auto
    programs) or :data:`MANUAL_PROGRAM`; ``remaining_s`` is what is left of the session;
    ``preset_minutes`` the session length the timer keys chose. A decoded status keeps the
    values as sent, even outside those ranges.
    """

    running: bool
    technique: int
    speed: int
    roller: bool
    heat: bool
    remaining_s: int
    preset_minutes: int
    auto_program: int

    @property
    def technique_name(self) -> str:
        """The technique's name (every 3-bit value has one)."""
        return Technique(self.technique & 0b111).name.lower()

    def body(self) -> bytes:
        """Addresses 1..14 (device side); raises ValueError for values that do not fit."""
        fits = (
            0 <= self.technique <= 7
            and 0 <= self.speed <= 7
            and 0 <= self.remaining_s <= 31 * 128 + 127
            and self.preset_minutes % 10 == 0
            and 0 <= self.preset_minutes <= 30
            and 0 <= self.auto_program <= 15
        )
        if not fits:
            raise ValueError(f"{self} does not fit the status layout")
        b = bytearray(14)  # b[i - 1] is address i
        b[0] = (int(self.running) << 6) | (self.technique << 3)
        b[1] = (self.speed << 2) | (int(self.roller) << 5) | (int(self.heat) << 6)
        b[3] = self.remaining_s >> 7
        b[4] = self.remaining_s & 0x7F
        b[11] = self.preset_minutes // 10
        b[12] = self.auto_program << 2
        return bytes(b)

    def encode(self) -> bytes:
        """The 17-byte notification as the simulator sends it (device side)."""
        body = self.body()
        return bytes((SIM_STATUS_HEAD, *body, sim_status_checksum(body), SIM_STATUS_TAIL))

    def without_clock(self) -> RongTaiStatus:
        """The same status with ``remaining_s`` zeroed: what changes other than the countdown."""
        return replace(self, remaining_s=0)


def sim_status_checksum(body: bytes) -> int:
    """The simulator's status checksum, mirroring the command's: ``~sum(body) & 0x7F``."""
    return ~sum(body) & 0x7F


def decode_status(packet: bytes) -> RongTaiStatus | BadPacket:
    """One status notification (host side); only its length (17) is checked. Never raises."""
    packet = bytes(packet)
    if len(packet) != STATUS_LEN:
        return BadPacket(f"status of {len(packet)} bytes, not {STATUS_LEN}", packet)
    a = packet  # a[i] is address i: the head byte is at 0
    return RongTaiStatus(
        running=bool(a[1] >> 6 & 1),
        technique=a[1] >> 3 & 0b111,
        speed=a[2] >> 2 & 0b111,
        roller=bool(a[2] >> 5 & 1),
        heat=bool(a[2] >> 6 & 1),
        remaining_s=(a[4] & 0x1F) * 128 + (a[5] & 0x7F),
        preset_minutes=(a[12] & 0b11) * 10,
        auto_program=a[13] >> 2 & 0b1111,
    )


def split_statuses(chunk: bytes) -> list[bytes]:
    """The notifications in one received chunk: one (BLE), or several 17-byte ones joined.

    A chunk whose length is not a multiple of 17 stays whole (and fails to decode).
    """
    if len(chunk) > STATUS_LEN and len(chunk) % STATUS_LEN == 0:
        return [chunk[i : i + STATUS_LEN] for i in range(0, len(chunk), STATUS_LEN)]
    return [chunk] if chunk else []


def decode_statuses(chunk: bytes) -> list[RongTaiStatus | BadPacket]:
    """Everything in one received chunk (host side): :func:`split_statuses`, decoded."""
    return [decode_status(p) for p in split_statuses(bytes(chunk))]


# --- device side: commands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPress:
    """One key command as the chair reads it (``key`` may be one :class:`Key` does not name)."""

    key: int

    @property
    def known(self) -> Key | None:
        """The key, if it is one the source documents."""
        try:
            return Key(self.key)
        except ValueError:
            return None


def decode_command(packet: bytes) -> KeyPress | BadPacket:
    """One whole 5-byte command (device side). Never raises."""
    packet = bytes(packet)
    if len(packet) != COMMAND_LEN:
        return BadPacket(f"command of {len(packet)} bytes, not {COMMAND_LEN}", packet)
    head, tag, k, ck, tail = packet
    if (head, tag, tail) != (COMMAND_HEAD, COMMAND_TAG, COMMAND_TAIL):
        return BadPacket("not F0 84 .. .. F1", packet)
    if ck != command_checksum(k):
        return BadPacket("checksum mismatch", packet)
    return KeyPress(k)


class CommandDecoder:
    """Splits a stream of host bytes into key presses (device side); never raises.

    It resynchronises on the ``F0`` head: bytes before one, and a 5-byte candidate that is not
    a valid command, come back as a :class:`BadPacket`, and the search starts again one byte
    later. At most 4 bytes wait for the rest of a command.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[KeyPress | BadPacket]:
        """Take received bytes; return the key presses (and dropped bytes) they complete."""
        self._buf += data
        buf = self._buf
        out: list[KeyPress | BadPacket] = []
        while buf:
            if buf[0] != COMMAND_HEAD:
                start = buf.find(COMMAND_HEAD)
                end = len(buf) if start < 0 else start
                out.append(BadPacket("bytes outside a command", bytes(buf[:end])))
                del buf[:end]
                continue
            if len(buf) >= 2 and buf[1] != COMMAND_TAG:
                out.append(BadPacket("head without the 0x84 tag", bytes(buf[:2])))
                del buf[:1]
                continue
            if len(buf) < COMMAND_LEN:
                break
            item = decode_command(bytes(buf[:COMMAND_LEN]))
            if isinstance(item, BadPacket):
                out.append(item)
                del buf[:1]
                continue
            out.append(item)
            del buf[:COMMAND_LEN]
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a command."""
        return len(self._buf)
