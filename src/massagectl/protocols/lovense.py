"""Lovense (e.g. the Domi wand): ASCII commands and answers ending ``;``, both sides, sans-I/O.

The facts (reverse-engineered, unchecked on hardware; see docs/real-devices.md) come from the
Lovense page of the Buttplug protocol docs. Commands are words with colon-separated arguments
(``Vibrate:10;``); a command answers with a value in its own context (``Battery;`` → ``85;``)
or ``OK;`` / ``ERR;``. Answers carry no reference to their command, so a host matches them in
order: :class:`LovenseHost` keeps the commands sent and pairs each answer with the oldest.

The same text travels over BLE (three generations of service, each a TX characteristic the host
writes and an RX one it gets notifications from) and, on the oldest models, over Bluetooth SPP,
a serial port: :class:`MessageSplitter` takes text that arrives split or joined in any way.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Final

# The BLE services and characteristics are in a module of their own; the BLE transport looks up
# ``characteristics_for`` on the protocol's module, so it is named here too.
from .lovense_ble import characteristics_for as characteristics_for

# --- text framing --------------------------------------------------------------------------

TERMINATOR: Final = b";"
#: A receiver drops a run of more than this many bytes without a ``;`` (no message is longer).
MAX_UNTERMINATED: Final = 64
#: Vibration levels run 0..MAX_LEVEL.
MAX_LEVEL: Final = 20
#: The ``Status:1;`` answer for a device in order.
STATUS_NORMAL: Final = 2


@dataclass(frozen=True, slots=True)
class BadMessage:
    """Bytes that were dropped, and why. Never answered; reported for diagnostics."""

    reason: str
    data: bytes


class MessageSplitter:
    """Splits a byte stream into messages at each ``;`` (either direction); never raises.

    Messages come back without their ``;``. More than :data:`MAX_UNTERMINATED` bytes without a
    ``;`` are dropped (a :class:`BadMessage`) up to and including the next ``;``; so are
    messages that are not printable ASCII. An empty message (``;;``) is skipped silently.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[str | BadMessage]:
        """Take received bytes; return the messages (and dropped runs) they complete."""
        out: list[str | BadMessage] = []
        start = 0
        while start < len(data):
            end = data.find(TERMINATOR, start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._discarding:
                self._buf += piece
                if len(self._buf) > MAX_UNTERMINATED:
                    out.append(
                        BadMessage(
                            f"more than {MAX_UNTERMINATED} bytes without ';'", bytes(self._buf)
                        )
                    )
                    self._buf.clear()
                    self._discarding = True
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            elif self._buf:
                out.append(_text(bytes(self._buf)))
            self._buf.clear()
            start = end + 1
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for a ``;``."""
        return len(self._buf)


def _text(raw: bytes) -> str | BadMessage:
    if not all(0x20 <= b < 0x7F for b in raw):
        return BadMessage("not printable ASCII", raw + TERMINATOR)
    return raw.decode("ascii")


def encode(text: str) -> bytes:
    """A message on the wire: the ASCII text and its ``;``."""
    if TERMINATOR.decode() in text or not text.isascii():
        raise ValueError(f"{text!r} cannot be sent as one Lovense message")
    return text.encode("ascii") + TERMINATOR


# --- answers (device side encodes, host side parses) ----------------------------------------


class AnswerKind(Enum):
    """What a command answers with besides ``ERR;``."""

    OK = "OK"
    BATTERY = "battery"
    DEVICE_TYPE = "device type"
    PATTERNS = "patterns"
    STATUS = "status"
    AUTO_SWITCH = "auto switch"


@dataclass(frozen=True, slots=True)
class Ok:
    """``OK;``"""

    def encode(self) -> bytes:
        """The answer on the wire."""
        return encode("OK")


@dataclass(frozen=True, slots=True)
class Err:
    """``ERR;``: the device refused the command."""

    def encode(self) -> bytes:
        """The answer on the wire."""
        return encode("ERR")


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """``85;``: the battery charge in percent, as sent (above 100 too: the host tells of it)."""

    percent: int

    def encode(self) -> bytes:
        """The answer on the wire."""
        if not 0 <= self.percent <= 999:
            raise ValueError(f"battery {self.percent} % does not fit three digits")
        return encode(str(self.percent))


@dataclass(frozen=True, slots=True)
class DeviceType:
    """``W:11:0082059AD3BD;``: model letter(s), firmware, Bluetooth address (12 hex digits)."""

    model: str
    firmware: str
    address: str

    @property
    def mac(self) -> str:
        """The address as ``00:82:05:9A:D3:BD``."""
        return ":".join(self.address[i : i + 2] for i in range(0, len(self.address), 2))

    def encode(self) -> bytes:
        """The answer on the wire."""
        return encode(f"{self.model}:{self.firmware}:{self.address}")


@dataclass(frozen=True, slots=True)
class PatternList:
    """``P:01234;``: the indices of the patterns stored in the device (one digit each)."""

    indices: tuple[int, ...]

    def encode(self) -> bytes:
        """The answer on the wire."""
        if any(not 0 <= i <= 9 for i in self.indices):
            raise ValueError(f"pattern indices {self.indices} are not single digits")
        return encode("P:" + "".join(str(i) for i in self.indices))


@dataclass(frozen=True, slots=True)
class StatusCode:
    """``2;``: the answer to ``Status:1;`` (2 is normal)."""

    code: int

    @property
    def normal(self) -> bool:
        """Whether the device says it is in order."""
        return self.code == STATUS_NORMAL

    def encode(self) -> bytes:
        """The answer on the wire."""
        return encode(str(self.code))


@dataclass(frozen=True, slots=True)
class AutoSwitch:
    """``AutoSwith:1:0;``: stop when the link drops accidentally; go back to the last level
    on reconnecting."""

    off_on_disconnect: bool
    last_level_on_reconnect: bool

    def encode(self) -> bytes:
        """The answer to ``GetAS;`` on the wire."""
        flags = (self.off_on_disconnect, self.last_level_on_reconnect)
        return encode("AutoSwith:" + ":".join(str(int(f)) for f in flags))


@dataclass(frozen=True, slots=True)
class Unexpected:
    """An answer that does not have the shape its command's answer has."""

    text: str


#: The answers a device sends (each has ``encode``).
DeviceAnswer = Ok | Err | BatteryLevel | DeviceType | PatternList | StatusCode | AutoSwitch
#: What a host may read an answer as.
Answer = DeviceAnswer | Unexpected

_DIGITS = re.compile(r"[0-9]{1,3}")
_DEVICE_TYPE = re.compile(r"([A-Za-z]+):([0-9A-Za-z.]+):([0-9A-Fa-f]{12})")
_PATTERNS = re.compile(r"P:([0-9]*)")
_AUTO_SWITCH = re.compile(r"AutoSwith:([01]):([01])")


def parse_answer(text: str, expects: AnswerKind) -> Answer:
    """An answer (host side), read as the kind its command expects. Never raises."""
    if text == "ERR":
        return Err()
    if expects is AnswerKind.OK:
        return Ok() if text == "OK" else Unexpected(text)
    if expects in (AnswerKind.BATTERY, AnswerKind.STATUS) and _DIGITS.fullmatch(text):
        value = int(text)
        if expects is AnswerKind.STATUS:
            return StatusCode(value)
        return BatteryLevel(value)
    if expects is AnswerKind.DEVICE_TYPE and (m := _DEVICE_TYPE.fullmatch(text)):
        return DeviceType(m.group(1), m.group(2), m.group(3).upper())
    if expects is AnswerKind.PATTERNS and (m := _PATTERNS.fullmatch(text)):
        return PatternList(tuple(int(c) for c in m.group(1)))
    if expects is AnswerKind.AUTO_SWITCH and (m := _AUTO_SWITCH.fullmatch(text)):
        return AutoSwitch(m.group(1) == "1", m.group(2) == "1")
    return Unexpected(text)


# --- commands (host side builds, device side parses) ----------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A command ready to send, and the kind of answer it gets."""

    text: str
    expects: AnswerKind = AnswerKind.OK

    @property
    def wire(self) -> bytes:
        """The command on the wire."""
        return encode(self.text)


def _level(level: int) -> int:
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"vibration level {level} is outside 0..{MAX_LEVEL}")
    return level


def vibrate(level: int) -> Command:
    """``Vibrate:N;``: vibrate at level 0..20 (0 stops; it also ends a running pattern)."""
    return Command(f"Vibrate:{_level(level)}")


def vibrate2(level: int) -> Command:
    """``Vibrate2:N;``: the second motor, on devices that have one."""
    return Command(f"Vibrate2:{_level(level)}")


def preset(index: int) -> Command:
    """``Preset:N;``: run stored pattern N on a loop; 0 stops it."""
    if not 0 <= index <= 99:
        raise ValueError(f"pattern {index} is outside 0..99")
    return Command(f"Preset:{index}")


def battery() -> Command:
    """``Battery;`` → :class:`BatteryLevel`."""
    return Command("Battery", AnswerKind.BATTERY)


def device_type() -> Command:
    """``DeviceType;`` → :class:`DeviceType`."""
    return Command("DeviceType", AnswerKind.DEVICE_TYPE)


def get_patterns() -> Command:
    """``GetPatten;`` (sic) → :class:`PatternList`."""
    return Command("GetPatten", AnswerKind.PATTERNS)


def power_off() -> Command:
    """``PowerOff;``: switch the device off."""
    return Command("PowerOff")


def status() -> Command:
    """``Status:1;`` → :class:`StatusCode`."""
    return Command("Status:1", AnswerKind.STATUS)


def auto_switch(off_on_disconnect: bool, last_level_on_reconnect: bool) -> Command:
    """``AutoSwith:On:Off;`` (sic): the device's behaviour when the link drops accidentally."""
    flags = ("On" if f else "Off" for f in (off_on_disconnect, last_level_on_reconnect))
    return Command("AutoSwith:" + ":".join(flags))


def get_auto_switch() -> Command:
    """``GetAS;`` → :class:`AutoSwitch`."""
    return Command("GetAS", AnswerKind.AUTO_SWITCH)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A command as the device reads it: its word and its colon-separated arguments."""

    word: str
    args: tuple[str, ...] = ()

    def int_arg(self, lo: int, hi: int) -> int | None:
        """The single argument as an integer in ``lo..hi``, or None if it is not one."""
        if len(self.args) != 1 or not _DIGITS.fullmatch(self.args[0]):
            return None
        value = int(self.args[0])
        return value if lo <= value <= hi else None


def parse_command(text: str) -> ParsedCommand:
    """A message from the host (device side): ``Vibrate:10`` → word ``Vibrate``, args ``10``."""
    word, *args = text.split(":")
    return ParsedCommand(word, tuple(args))


# --- the host's side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer, paired with the command it answers."""

    command: Command
    answer: Answer


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """A message that arrived while no command was waiting for an answer."""

    text: str


class LovenseHost:
    """The host's side: sends commands and pairs answers with them, first in, first out.

    Timing is the caller's: when an answer is overdue it calls :meth:`expire_oldest`, so that
    the next answer is not taken for the lost one's.
    """

    def __init__(self) -> None:
        self._splitter = MessageSplitter()
        self._pending: deque[Command] = deque()

    def send(self, command: Command) -> bytes:
        """Note ``command`` as waiting for its answer; return its bytes to write."""
        self._pending.append(command)
        return command.wire

    @property
    def pending(self) -> tuple[Command, ...]:
        """Commands sent and not answered yet, oldest first."""
        return tuple(self._pending)

    def expire_oldest(self) -> Command | None:
        """Give up on the oldest unanswered command (its answer is overdue); return it."""
        return self._pending.popleft() if self._pending else None

    def reset(self) -> None:
        """A new link: forget unanswered commands and any half message."""
        self._pending.clear()
        self._splitter = MessageSplitter()

    def receive(self, data: bytes) -> list[Reply | Unsolicited | BadMessage]:
        """Bytes from the device, in any pieces; returns what they complete, in order."""
        out: list[Reply | Unsolicited | BadMessage] = []
        for item in self._splitter.feed(data):
            if isinstance(item, BadMessage):
                out.append(item)
            elif self._pending:
                command = self._pending.popleft()
                out.append(Reply(command, parse_answer(item, command.expects)))
            else:
                out.append(Unsolicited(item))
        return out
