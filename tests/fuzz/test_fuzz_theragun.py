"""Theragun, fuzzed on both sides: whatever bytes arrive, nothing breaks.

Host side: :func:`decode_notification`, :func:`decode_notifications` (with
:func:`split_notifications`) and the host driver's ``feed``. Device side:
:class:`CommandDecoder`, :func:`decode_command` and the simulator firmware's ``receive``. None of
them raises (none documents an exception), every item has a documented type, and:

- a notification is one BLE notification, so the host has nothing to resync: after any garbage
  the next good notification is read;
- commands have no delimiter: the device's decoder hunts for the ``AA`` start byte and holds at
  most 6 bytes of an unfinished command, so six ``0x00`` bytes (which cannot finish a set-speed)
  put it back in step after any garbage;
- the simulated gun never runs faster than its model's top rpm, and sends only notifications a
  host can read.
"""

from __future__ import annotations

from hypothesis import given

from massagectl.clock import MonotonicClock
from massagectl.device_types import DeviceState
from massagectl.drivers.theragun import TheragunDriver
from massagectl.profiles import all_profiles, get_profile
from massagectl.protocols import theragun as tg
from massagesim import TheragunFirmware

from .support import FUZZ, WAIT, NoWrites, fuzz_bytes, padded, script, wait_s

MODELS = [p.name for p in all_profiles() if p.protocol == "theragun"]
_KINDS = (tg.KIND_STATUS, tg.KIND_VERSION, tg.KIND_SET_SPEED)
#: Six bytes that end any unfinished command without finishing a set-speed.
RESYNC = bytes(6)


def _packet(start: int, body: bytes, op: int) -> bytes:
    """A packet with its checksum (op 15: a wrong one)."""
    packet = bytes((start, (sum(body) + (op == 15)) & 0xFF)) + body
    return packet


def _to_host(op: int, arg: bytes) -> bytes:
    """One notification from a broken gun: garbage, or a notification of any kind and length."""
    if op <= 5:
        return arg
    kind = _KINDS[arg[0] % 3] if arg and op <= 11 else (arg[0] if arg else 0)
    # Ops 8..11: the simulator's full 20 bytes; others as long as the argument.
    body = bytes((kind,)) + (padded(arg[1:], tg.NOTIFICATION_LEN - 3) if 8 <= op <= 11 else arg[1:])
    return _packet(tg.NOTIFICATION_START, body, op)


def _to_device(op: int, arg: bytes) -> bytes:
    """What a broken host might write: garbage, or commands of any kind with any values."""
    if op <= 5:
        return arg
    if op <= 9:  # set speed, any rpm (mostly near the guns' range)
        hi, lo = padded(arg, 2)
        rpm = (hi % 16) << 8 | lo if op <= 8 else hi << 8 | lo
        wire = tg.set_speed(rpm)
        return wire if op != 9 or not arg[2:] else wire[:-1] + arg[2:3]
    if op == 10:
        return tg.request_status()
    if op == 11:
        return tg.request_version()
    return _packet(tg.COMMAND_START, arg, op)  # any body, a good checksum (op 15: a bad one)


def _check_notification(item: object) -> None:
    if isinstance(item, tg.BadPacket):
        assert item.reason
        assert isinstance(item.data, bytes)
    elif isinstance(item, tg.TheragunStatus):
        assert isinstance(item.running, bool)
        assert 0 <= item.rpm <= 0xFFFF
    elif isinstance(item, tg.TheragunVersion):
        assert 0 <= item.minor <= 9
        assert 0 <= item.patch <= 9
        assert 0 <= item.number <= 0xFFFF
        assert isinstance(str(item), str)
    else:
        assert isinstance(item, tg.OtherNotification)
        assert item.kind not in (tg.KIND_STATUS, tg.KIND_VERSION)


def _check_command(item: object) -> None:
    if isinstance(item, tg.BadPacket):
        assert item.reason
        assert isinstance(item.data, bytes)
    elif isinstance(item, tg.SetSpeed):
        assert 0 <= item.rpm <= 0xFFFF
    else:
        assert isinstance(item, tg.StatusRequest | tg.VersionRequest)


def _commands_by_the_book(stream: bytes) -> list[tg.DeviceCommand]:
    """The commands in a stream as the decoder's documentation tells it: at each ``AA``, a whole
    command of a known kind that decodes is taken; anything else moves the search one byte on."""
    out: list[tg.DeviceCommand] = []
    i = 0
    while i < len(stream):
        length = tg._COMMAND_LEN.get(stream[i + 2]) if i + 2 < len(stream) else None
        if stream[i] == tg.COMMAND_START and length is not None:
            item = tg.decode_command(stream[i : i + length])
            if not isinstance(item, tg.BadPacket):
                out.append(item)
                i += length
                continue
        i += 1
    return out


def host_side(data: bytes) -> None:
    """The host's decoders and driver, fed what a broken gun might send."""
    chunks = [_to_host(op, arg) for op, arg in script(data) if op != WAIT]
    states: list[DeviceState] = []
    driver = TheragunDriver(
        NoWrites(), get_profile(MODELS[0]), MonotonicClock(), "fuzz", states.append
    )
    for chunk in [*chunks, b"".join(chunks)]:
        _check_notification(tg.decode_notification(chunk))
        parts = tg.split_notifications(chunk)
        assert b"".join(parts) == chunk
        items = tg.decode_notifications(chunk)
        assert len(items) == len(parts)
        for item in items:
            _check_notification(item)
        driver.feed(chunk)
    for state in states:
        assert 0 <= state.speed <= 0xFFFF
        assert state.heat == 0
        assert state.program == 0

    # After any garbage, the next notification is read.
    status = tg.TheragunStatus(running=True, rpm=1 + len(data))
    assert tg.decode_notifications(status.encode()) == [status]
    driver.feed(status.encode())
    assert driver.state.speed == status.rpm


def device_side(model: str, data: bytes, cut: int) -> None:
    """The device's decoder and the simulated gun, fed what a broken host might write."""
    steps = script(data)
    stream = b"".join(_to_device(op, arg) for op, arg in steps if op != WAIT)

    # The decoder: how the bytes are cut changes no command.
    whole = tg.CommandDecoder().feed(stream)
    decoder = tg.CommandDecoder()
    pieces = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    assert decoder.pending <= 6
    assert [i for i in pieces if not isinstance(i, tg.BadPacket)] == [
        i for i in whole if not isinstance(i, tg.BadPacket)
    ]
    for item in pieces:
        _check_command(item)
    assert [i for i in whole if not isinstance(i, tg.BadPacket)] == _commands_by_the_book(stream)
    for op, arg in steps:
        _check_command(tg.decode_command(_to_device(op, arg)))
    rpm = 1 + len(data) % 3000
    assert decoder.feed(RESYNC + tg.set_speed(rpm))[-1] == tg.SetSpeed(rpm)
    assert decoder.pending == 0

    # The simulated gun, with time passing.
    fw = TheragunFirmware(model, 0.0)
    now = 0.0
    for op, arg in steps:
        if op == WAIT:
            now += wait_s(arg)
            out = fw.tick(now)
        else:
            out = fw.receive(_to_device(op, arg), now)
        for sent in tg.decode_notifications(out):
            assert not isinstance(sent, tg.BadPacket), sent
            _check_notification(sent)
        assert 0 <= fw.state.speed <= fw.max_rpm
        assert fw.state.heat == 0
        assert fw.state.program == 0
    out = fw.receive(RESYNC + tg.set_speed(rpm) + tg.request_status(), now + 0.1)
    assert fw.state.speed == rpm
    assert tg.decode_notifications(out)[-1] == tg.TheragunStatus(running=True, rpm=rpm)


@FUZZ
@given(fuzz_bytes())
def test_theragun_decoders_on_both_sides_survive_anything(data: bytes) -> None:
    # The model and where to cut the stream come from the data too: one draw is cheaper.
    model = MODELS[len(data) % len(MODELS)]
    cut = data[-1] if data else 0
    host_side(data)
    device_side(model, data, cut)
