"""OMP/1, the Open Massager Protocol, version 1: framing, messages and the host's side.

Sans-I/O in the manner of h11: :class:`FrameDecoder` is fed bytes and hands back frames;
:class:`OmpHost` numbers requests and turns bytes into typed events. Timing (the 500 ms answer
timeout, retries, the watchdog feed, the 50 frames/s cap) belongs to the caller, which has a
clock. The device's side of the protocol lives in the simulator and uses the same codec.

The byte layout follows the normative spec, docs/omp-1.md:
``COBS(TYPE SEQ PAYLOAD CRC16) 0x00`` with CRC-16/CCITT-FALSE over ``TYPE SEQ PAYLOAD``.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final

from cobs import cobs

from ..errors import ProtocolError

VERSION: Final = 1
MAX_PAYLOAD: Final = 9
#: A receiver drops a run of more than this many bytes without a delimiter.
MAX_UNDELIMITED: Final = 32
#: How long the host waits for an answer before sending the same frame again.
ANSWER_TIMEOUT_S: Final = 0.5
#: How many times the host sends a frame again before it calls the link lost.
RETRIES: Final = 2
#: The most frames a host may send one device per second.
MAX_FRAMES_PER_S: Final = 50
#: Sent once on opening a serial line: it ends any half frame left in the device's buffer.
RESYNC: Final = b"\x00"

# BLE carriage (spec section 6).
BLE_SERVICE: Final = "a0490001-a74b-4c3f-b20f-6ff8c69b1e98"
BLE_WRITE_CHAR: Final = "a0490002-a74b-4c3f-b20f-6ff8c69b1e98"
BLE_NOTIFY_CHAR: Final = "a0490003-a74b-4c3f-b20f-6ff8c69b1e98"
BLE_NAME_PREFIX: Final = "OMP-"
SERIAL_BAUD: Final = 115200


class MsgType(IntEnum):
    """The TYPE byte."""

    HELLO = 0x01
    SET_SPEED = 0x02
    SET_HEAT = 0x03
    RUN_PROGRAM = 0x04
    STOP = 0x05
    GET_STATUS = 0x06
    PING = 0x07
    ACK = 0x80
    INFO = 0x81
    STATUS = 0x82


class AckCode(IntEnum):
    """The code an ACK carries."""

    OK = 0
    BAD_VALUE = 1
    UNSUPPORTED = 2
    REFUSED_FAULT = 3
    BAD_VERSION = 4


class Fault(IntFlag):
    """STATUS fault bits."""

    OVERHEAT = 1 << 0
    WATCHDOG_STOP = 1 << 1
    LOW_BATTERY = 1 << 2
    MOTOR = 1 << 3
    AUTO_OFF = 1 << 4


def fault_names(faults: int) -> list[str]:
    """The names of the fault bits set in ``faults``, lowest bit first; a bit the protocol does
    not define is named by its number, ``FAULT_BIT5``, rather than dropped."""
    # Every STATUS from every device comes here: remember each combination once.
    names = _FAULT_NAMES.get(faults)
    if names is None:
        known = {int(f): f.name for f in Fault}
        names = tuple(
            known.get(1 << bit) or f"FAULT_BIT{bit}"
            for bit in range(max(int(faults), 0).bit_length())
            if faults >> bit & 1
        )
        if 0 <= faults <= 0xFF:  # what a STATUS can carry: the table stays small
            _FAULT_NAMES[int(faults)] = names
    return list(names)


_FAULT_NAMES: dict[int, tuple[str, ...]] = {}


#: STATUS ``temp_dc`` meaning "no sensor".
NO_SENSOR: Final = 0x7FFF
#: STATUS ``battery`` meaning "mains powered".
MAINS: Final = 0xFF

FLAG_BATTERY: Final = 1 << 0
FLAG_TEMP_SENSOR: Final = 1 << 1


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR)."""
    # binascii.crc_hqx is exactly this CRC when seeded with 0xFFFF.
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its TYPE, SEQ and payload (the CRC has been checked)."""

    type: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        """The frame as it goes on the wire, delimiter included."""
        if not 0 <= self.type <= 0xFF or not 0 <= self.seq <= 0xFF:
            raise ValueError("TYPE and SEQ are single bytes")
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"OMP/1 payloads are at most {MAX_PAYLOAD} bytes")
        body = bytes((self.type, self.seq)) + self.payload
        body += crc16(body).to_bytes(2, "big")
        return bytes(cobs.encode(body)) + b"\x00"


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that were dropped, and why. Never answered; reported for diagnostics."""

    reason: str
    data: bytes


class FrameDecoder:
    """Splits a byte stream into frames, dropping broken ones as the spec says.

    ``feed`` never raises: a broken frame comes back as a :class:`BadFrame` so that the frames
    after it in the same chunk are not lost.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        """Take received bytes; return the frames (and dropped blocks) they complete."""
        out: list[Frame | BadFrame] = []
        # Every run of bytes but the last ends with a delimiter.
        *ended, tail = data.split(b"\x00")
        for run in ended:
            if run and not self._buf and not self._discarding and len(run) <= MAX_UNDELIMITED:
                # The common case: a whole frame in the chunk, nothing held from before.
                out.append(_decode_block(run))
                continue
            self._take(run, out)
            if self._discarding:
                self._discarding = False
            elif self._buf:
                out.append(_decode_block(bytes(self._buf)))
            # An empty block (two delimiters in a row, or the host's resync byte) is not a
            # frame and not an error: it is how a line is cleared.
            self._buf.clear()
        self._take(tail, out)
        return out

    def _take(self, run: bytes, out: list[Frame | BadFrame]) -> None:
        """Hold bytes that have no delimiter yet (dropping a run that grows too long)."""
        if not run or self._discarding:
            return
        self._buf += run
        if len(self._buf) > MAX_UNDELIMITED:
            out.append(BadFrame("more than 32 bytes without a delimiter", bytes(self._buf)))
            self._buf.clear()
            self._discarding = True

    @property
    def pending(self) -> int:
        """Bytes held waiting for a delimiter."""
        return len(self._buf)


def _decode_block(block: bytes) -> Frame | BadFrame:
    try:
        body = bytes(cobs.decode(block))
    except cobs.DecodeError:
        return BadFrame("bad COBS block", block)
    if len(body) < 4:
        return BadFrame("frame shorter than 4 bytes", block)
    if len(body) - 4 > MAX_PAYLOAD:
        return BadFrame("payload longer than 9 bytes", block)
    if crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
        return BadFrame("CRC mismatch", block)
    return Frame(body[0], body[1], body[2:-2])


# --- typed messages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """ACK: the device's answer to a command."""

    seq: int
    code: AckCode


@dataclass(frozen=True, slots=True)
class Info:
    """INFO: the device's capabilities, its answer to HELLO."""

    seq: int
    version: int
    speed_levels: int
    heat_levels: int
    program_count: int
    max_temp_c: int
    watchdog_ds: int
    flags: int

    @property
    def battery_powered(self) -> bool:
        """Flag bit 0."""
        return bool(self.flags & FLAG_BATTERY)

    @property
    def has_temperature_sensor(self) -> bool:
        """Flag bit 1."""
        return bool(self.flags & FLAG_TEMP_SENSOR)

    @property
    def watchdog_s(self) -> float:
        """The watchdog in seconds; 0 when the device has none."""
        return self.watchdog_ds / 10

    def to_frame(self) -> Frame:
        """The INFO frame (device side)."""
        payload = bytes(
            (
                self.version,
                self.speed_levels,
                self.heat_levels,
                self.program_count,
                self.max_temp_c,
                self.watchdog_ds,
                self.flags,
            )
        )
        return Frame(MsgType.INFO, self.seq, payload)


_STATUS = struct.Struct(">BBBhBBH")


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS: what the device is doing now."""

    seq: int
    speed: int
    heat: int
    program: int
    temp_dc: int
    battery: int
    faults: Fault
    remaining_s: int

    @property
    def temperature_c(self) -> float | None:
        """Temperature in °C, or None when the device has no sensor."""
        return None if self.temp_dc == NO_SENSOR else self.temp_dc / 10

    @property
    def battery_percent(self) -> int | None:
        """Battery charge, or None when mains powered."""
        return None if self.battery == MAINS else self.battery

    def to_frame(self) -> Frame:
        """The STATUS frame (device side)."""
        payload = _STATUS.pack(
            self.speed,
            self.heat,
            self.program,
            self.temp_dc,
            self.battery,
            int(self.faults),
            self.remaining_s,
        )
        return Frame(MsgType.STATUS, self.seq, payload)


Message = Ack | Info | Status


#: Table lookups for what every answer carries (an enum call costs a microsecond or two).
_ACK_CODES: Final[dict[int, AckCode]] = {int(code): code for code in AckCode}
_FAULTS: dict[int, Fault] = {}


def _fault(bits: int) -> Fault:
    fault = _FAULTS.get(bits)
    if fault is None:
        fault = _FAULTS[bits] = Fault(bits)
    return fault


def parse_device_frame(frame: Frame) -> Message:
    """Turn a frame from a device into a typed message, or raise :class:`ProtocolError`."""
    p = frame.payload
    try:
        if frame.type == MsgType.ACK and len(p) == 1:
            code = _ACK_CODES.get(p[0])
            return Ack(frame.seq, code if code is not None else AckCode(p[0]))
        if frame.type == MsgType.INFO and len(p) == 7:
            return Info(frame.seq, *p)
        if frame.type == MsgType.STATUS and len(p) == _STATUS.size:
            speed, heat, program, temp, battery, faults, remaining = _STATUS.unpack(p)
            return Status(frame.seq, speed, heat, program, temp, battery, _fault(faults), remaining)
    except ValueError as exc:  # an ACK code outside the spec
        raise ProtocolError(f"OMP/1 frame type 0x{frame.type:02x}: {exc}") from None
    raise ProtocolError(
        f"OMP/1 frame type 0x{frame.type:02x} with a {len(p)}-byte payload is not a device message"
    )


# --- the host's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """A host frame ready to send; sending it again (a retry) uses the same bytes."""

    type: MsgType
    seq: int
    wire: bytes

    def answered_by(self, message: Message) -> bool:
        """Whether ``message`` is this request's answer."""
        if message.seq != self.seq:
            return False
        if self.type == MsgType.HELLO:
            return isinstance(message, Info) or (
                isinstance(message, Ack) and message.code == AckCode.BAD_VERSION
            )
        if self.type == MsgType.GET_STATUS:
            return isinstance(message, (Status, Ack))
        return isinstance(message, Ack)


class OmpHost:
    """The host's side of OMP/1: numbers requests, decodes what the device sends."""

    def __init__(self) -> None:
        self._seq = 0
        self._decoder = FrameDecoder()

    def _next_seq(self) -> int:
        # 1..255, then 1 again: 0 is for the device's unsolicited frames.
        self._seq = self._seq % 255 + 1
        return self._seq

    def request(self, type_: MsgType, payload: bytes = b"") -> Request:
        """A new numbered request."""
        seq = self._next_seq()
        return Request(type_, seq, Frame(type_, seq, payload).encode())

    def hello(self) -> Request:
        """HELLO, version 1."""
        return self.request(MsgType.HELLO, bytes((VERSION,)))

    def set_speed(self, level: int) -> Request:
        """SET_SPEED to a level (0 is off)."""
        return self.request(MsgType.SET_SPEED, _u8(level, "speed level"))

    def set_heat(self, level: int) -> Request:
        """SET_HEAT to a level (0 is off)."""
        return self.request(MsgType.SET_HEAT, _u8(level, "heat level"))

    def run_program(self, index: int) -> Request:
        """RUN_PROGRAM by index (0 stops the running program)."""
        return self.request(MsgType.RUN_PROGRAM, _u8(index, "program index"))

    def stop(self) -> Request:
        """STOP: speed 0, heat 0, no program."""
        return self.request(MsgType.STOP)

    def get_status(self) -> Request:
        """GET_STATUS."""
        return self.request(MsgType.GET_STATUS)

    def ping(self) -> Request:
        """PING: feeds the watchdog."""
        return self.request(MsgType.PING)

    def receive(self, data: bytes) -> list[Message | BadFrame]:
        """Decode bytes from the device. Frames that are not device messages come back as
        :class:`BadFrame` too: a host never answers them either."""
        out: list[Message | BadFrame] = []
        for item in self._decoder.feed(data):
            if isinstance(item, BadFrame):
                out.append(item)
                continue
            try:
                out.append(parse_device_frame(item))
            except ProtocolError as exc:
                out.append(BadFrame(str(exc), item.encode()))
        return out


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} {value} does not fit one byte")
    return bytes((value,))
