"""Lovense, fuzzed on both sides: whatever bytes arrive, nothing breaks.

Host side: :class:`MessageSplitter`, :meth:`LovenseHost.receive`, :func:`parse_answer` (for every
kind of answer) and the host driver's ``feed``. Device side: the same splitter,
:func:`parse_command`, :meth:`ParsedCommand.int_arg` and the simulator firmware's ``receive``.
None of them raises (none documents an exception), every item has a documented type, the ``;``
terminator puts a splitter back in step after any garbage, and the simulated device never leaves
vibration 0..20 or its stored patterns, and answers only with printable messages.
"""

from __future__ import annotations

import asyncio

from hypothesis import given

from massagectl.clock import MonotonicClock
from massagectl.device_types import DeviceState
from massagectl.drivers.lovense import LovenseDriver
from massagectl.profiles import all_profiles, get_profile
from massagectl.protocols import lovense as lv
from massagesim import LovenseFirmware

from .support import FUZZ, WAIT, NoWrites, fuzz_bytes, padded, script, wait_s

MODELS = [p.name for p in all_profiles() if p.protocol == "lovense"]
#: What each kind of answer parses as, besides ``ERR`` and an unexpected answer.
_ANSWER_TYPES: dict[lv.AnswerKind, type] = {
    lv.AnswerKind.OK: lv.Ok,
    lv.AnswerKind.BATTERY: lv.BatteryLevel,
    lv.AnswerKind.DEVICE_TYPE: lv.DeviceType,
    lv.AnswerKind.PATTERNS: lv.PatternList,
    lv.AnswerKind.STATUS: lv.StatusCode,
    lv.AnswerKind.AUTO_SWITCH: lv.AutoSwitch,
}
_COMMANDS = (
    lv.vibrate(3),
    lv.battery(),
    lv.device_type(),
    lv.get_patterns(),
    lv.status(),
    lv.get_auto_switch(),
)
_ANSWER_SHAPES = ("OK", "ERR", "{n}", "W:11:0082059AD3B{d}", "P:{n}", "AutoSwith:{d}:{d}")
_WORDS = (
    "Vibrate",
    "Vibrate2",
    "Preset",
    "Battery",
    "DeviceType",
    "GetPatten",
    "PowerOff",
    "Status",
    "AutoSwith",
    "GetAS",
)


def _text(arg: bytes) -> str:
    """Arbitrary text (Latin-1 reading of the bytes, so not only ASCII)."""
    return arg.decode("latin-1")


def _to_host(op: int, arg: bytes) -> bytes:
    """What a broken device might send: garbage, or answers of every shape with any values."""
    if op <= 5:
        return arg
    a, b = padded(arg, 2)
    if op <= 11:
        shape = _ANSWER_SHAPES[a % len(_ANSWER_SHAPES)]
        return shape.format(n=b, d=b % 10).encode() + lv.TERMINATOR
    # Printable text of any shape, with its terminator (op 15 without).
    text = bytes(0x20 + c % 0x5F for c in arg if c % 0x5F != ord(";") - 0x20)
    return text + (b"" if op == 15 else lv.TERMINATOR)


def _to_device(op: int, arg: bytes) -> bytes:
    """What a broken host might send: garbage, or commands of any word with any arguments."""
    if op <= 5:
        return arg
    a, b, c = padded(arg, 3)
    word = _WORDS[a % len(_WORDS)] if op <= 13 else _text(arg[:4]).replace(";", "")
    if op <= 9:  # one number, mostly near the ranges
        args = [str(b % 24 if op <= 8 else b * 256 + c)]
    elif op <= 11:  # On/Off pairs, any case
        args = [("On", "off", "ON", "Off")[x % 4] for x in (b, c)][: 1 + b % 3]
    else:
        args = [part for part in _text(arg[1:]).replace(";", "").split(":")][: c % 4]
    return ":".join([word, *args]).encode("latin-1") + lv.TERMINATOR


def _check_answer(answer: object, kind: lv.AnswerKind) -> None:
    assert isinstance(answer, lv.Err | lv.Unexpected | _ANSWER_TYPES[kind]), (answer, kind)
    if isinstance(answer, lv.BatteryLevel):
        assert 0 <= answer.percent <= 999  # as sent; the device layer checks the range
    elif isinstance(answer, lv.StatusCode):
        assert 0 <= answer.code <= 999
    elif isinstance(answer, lv.PatternList):
        assert all(0 <= i <= 9 for i in answer.indices)
    elif isinstance(answer, lv.DeviceType):
        assert len(answer.mac) == 17
        assert answer.address == answer.address.upper()
    elif isinstance(answer, lv.Unexpected):
        assert isinstance(answer.text, str)


def _check_parsed(text: str) -> None:
    cmd = lv.parse_command(text)
    assert isinstance(cmd.word, str)
    assert all(isinstance(a, str) for a in cmd.args)
    assert ":".join((cmd.word, *cmd.args)) == text
    level = cmd.int_arg(0, lv.MAX_LEVEL)
    assert level is None or 0 <= level <= lv.MAX_LEVEL


def host_side(data: bytes, cut: int) -> None:
    """The host's splitter, answer parser and driver, fed what a broken device might send."""
    chunks = [_to_host(op, arg) for op, arg in script(data) if op != WAIT]
    stream = b"".join(chunks)

    # The splitter: how the bytes are cut changes no message.
    whole = lv.MessageSplitter().feed(stream)
    splitter = lv.MessageSplitter()
    pieces = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
    assert splitter.pending <= lv.MAX_UNTERMINATED
    assert [m for m in pieces if isinstance(m, str)] == [m for m in whole if isinstance(m, str)]
    for message in pieces:
        if isinstance(message, lv.BadMessage):
            assert message.reason
            assert isinstance(message.data, bytes)
            continue
        assert message
        assert message.isprintable()
        assert message.isascii()
        assert ";" not in message
        for kind in lv.AnswerKind:
            _check_answer(lv.parse_answer(message, kind), kind)
    # parse_answer takes any text, not only what the splitter lets through.
    for op, arg in script(data):
        text = _text(arg)
        _check_answer(lv.parse_answer(text, _COMMANDS[op % 6].expects), _COMMANDS[op % 6].expects)

    # The host pairs answers with the commands waiting, oldest first.
    host = lv.LovenseHost()
    for i in range(len(chunks)):
        host.send(_COMMANDS[i % len(_COMMANDS)])
    for chunk in chunks:
        for item in host.receive(chunk):
            if isinstance(item, lv.Reply):
                _check_answer(item.answer, item.command.expects)
            else:
                assert isinstance(item, lv.Unsolicited | lv.BadMessage)

    # The driver, with as many commands waiting for an answer. Its own way to send one (_ask)
    # needs a running loop and a transport to write to; the commands are queued here the way
    # _ask queues them, on futures of a loop that never runs (feed only resolves them).
    loop = asyncio.new_event_loop()
    try:
        states: list[DeviceState] = []
        driver = LovenseDriver(
            NoWrites(), get_profile(MODELS[0]), MonotonicClock(), "fuzz", states.append
        )
        waiters: list[asyncio.Future[lv.Answer]] = []
        for i in range(len(chunks)):
            driver._host.send(_COMMANDS[i % len(_COMMANDS)])
            waiters.append(loop.create_future())
            driver._waiters.append(waiters[-1])
        for chunk in chunks:
            driver.feed(chunk)
        for i, waiter in enumerate(waiters):
            if waiter.done():
                kind = _COMMANDS[i % len(_COMMANDS)].expects
                _check_answer(waiter.result(), kind)
        assert not states  # answers are for the driver's commands, never state by themselves
    finally:
        loop.close()

    # After the terminator the next message is read, whatever came before.
    assert splitter.feed(b";85;")[-1] == "85"
    (last,) = host.receive(b";" + b"85;")[-1:]
    assert last == lv.Unsolicited("85") or (
        isinstance(last, lv.Reply) and last.answer == lv.parse_answer("85", last.command.expects)
    )


def device_side(model: str, data: bytes) -> None:
    """The device's parser and the simulated device, fed what a broken host might send."""
    steps = script(data)
    for op, arg in steps:
        _check_parsed(_text(arg))
        for message in lv.MessageSplitter().feed(_to_device(op, arg)):
            if isinstance(message, str):
                _check_parsed(message)

    fw = LovenseFirmware(model, 0.0)
    reader = lv.MessageSplitter()
    patterns = len(fw.profile.capabilities.programs)
    now = 0.0
    for op, arg in steps:
        if op == WAIT:
            now += wait_s(arg)
            out = fw.tick(now)
        else:
            out = fw.receive(_to_device(op, arg), now)
        # Every answer is a printable message.
        for message in reader.feed(out):
            assert isinstance(message, str), message
        assert reader.pending == 0
        assert 0 <= fw.state.speed <= lv.MAX_LEVEL
        assert fw.state.heat == 0
        assert 0 <= fw.state.program <= patterns
        if fw.take_hangup():  # PowerOff: the host connects again
            fw.new_link()

    # After the terminator the device is back in step.
    level = 1 + len(data) % lv.MAX_LEVEL
    out = fw.receive(b";" + lv.vibrate(level).wire, now + 0.1)
    assert out.endswith(b"OK;")
    assert fw.state.speed == level


@FUZZ
@given(fuzz_bytes())
def test_lovense_decoders_on_both_sides_survive_anything(data: bytes) -> None:
    # The model and where to cut the stream come from the data too: one draw is cheaper.
    model = MODELS[len(data) % len(MODELS)]
    cut = data[-1] if data else 0
    host_side(data, cut)
    device_side(model, data)
