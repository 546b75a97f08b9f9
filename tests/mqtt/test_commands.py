"""The command schema: what may arrive on a device's ``set`` topic.

Good commands become a :class:`SetCommand`; anything else is a :class:`CommandError` with one
line naming the field and the problem (it goes to the error topic, and to the reply topic when
the command's ``id`` could be read). Nothing else may come out, whatever the bytes: the property
tests below throw arbitrary bytes and arbitrary JSON objects at it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massagectl.mqtt import payloads
from massagectl.mqtt.commands import (
    MAX_PAYLOAD_BYTES,
    NO_PROGRAM,
    CommandError,
    SetCommand,
    parse_command,
)


def parse(doc: object) -> SetCommand:
    return parse_command(json.dumps(doc).encode())


def refusal(payload: bytes | object) -> CommandError:
    """The error ``payload`` (bytes, or a document to send as JSON) is refused with."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(CommandError) as caught:
        parse_command(raw)
    message = str(caught.value)
    assert message
    assert "\n" not in message
    return caught.value


# --- good commands ---------------------------------------------------------------------------


def test_speed_in_percent() -> None:
    command = parse({"speed": 40})
    assert command.speed == 40.0
    assert command.is_manual
    assert command.model_dump(exclude_none=True) == {"speed": 40.0}


def test_settings_that_combine() -> None:
    command = parse({"speed_level": 3, "heat": "low", "id": "a1", "client": "phone"})
    assert (command.speed_level, command.heat, command.id, command.client) == (
        3,
        "low",
        "a1",
        "phone",
    )
    command = parse({"device_program": "Knead", "heat": 2})
    assert (command.device_program, command.heat) == ("Knead", 2)
    assert parse({"power": "OFF", "heat": "high"}).power == "OFF"


@pytest.mark.parametrize("text", [b"stop", b"STOP", b" stop\n", b'{"stop": true}'])
def test_stop(text: bytes) -> None:
    command = parse_command(text)
    assert command.stop is True
    assert not command.is_manual


@pytest.mark.parametrize("word", ["ON", "OFF", "on", "off"])
def test_bare_power_words(word: str) -> None:
    assert parse_command(word.encode()).power == word
    assert parse_command(f"  {word}\r\n".encode()).power == word


def test_a_last_will() -> None:
    command = parse({"stop": True, "if_owner": "phone", "client": "phone"})
    assert (command.stop, command.if_owner, command.client) == (True, "phone", "phone")


def test_programs_on_the_gateway() -> None:
    assert parse({"run": "quick-relief"}).run == "quick-relief"
    ending = parse({"run": NO_PROGRAM})
    assert ending.run == "none"
    assert not ending.is_manual
    inline = {"name": "x", "title": "X", "steps": [{"name": "a", "duration": "1s"}]}
    assert parse({"run": inline}).run == inline
    assert parse({"control": "pause"}).control == "pause"
    assert parse({"intensity": 80}).intensity == 80.0
    both = parse({"control": "next", "intensity": 120})
    assert (both.control, both.intensity) == ("next", 120.0)


def test_device_programs_by_name_number_or_none() -> None:
    assert parse({"device_program": "Knead"}).device_program == "Knead"
    assert parse({"device_program": 2}).device_program == 2
    assert parse({"device_program": 0}).device_program == 0
    assert parse({"device_program": "none"}).device_program == "none"


def test_ids_come_back_as_sent() -> None:
    assert parse({"stop": True, "id": 12345678901234567890}).id == 12345678901234567890
    assert parse({"stop": True, "id": "x" * 128}).id == "x" * 128
    assert parse({"stop": True, "id": 0}).id == 0


def test_limits_are_inclusive() -> None:
    assert parse({"speed": 0}).speed == 0
    assert parse({"speed": 100}).speed == 100
    assert parse({"speed": 42.5}).speed == 42.5
    assert parse({"intensity": 150}).intensity == 150
    assert parse({"heat": 255}).heat == 255
    assert parse({"speed_level": 0xFFFF}).speed_level == 0xFFFF


def test_numbers_written_as_text_are_taken() -> None:
    # Lenient on purpose: a template that quotes its number still means that number.
    assert parse({"speed": "50"}).speed == 50.0
    assert parse({"speed_level": "3"}).speed_level == 3


def test_a_payload_just_under_the_limit_is_read() -> None:
    title = "x" * (MAX_PAYLOAD_BYTES - 200)
    command = parse({"run": {"name": "long", "title": title, "steps": []}})
    assert isinstance(command.run, dict)


# --- bad commands: one line each, naming the field --------------------------------------------


def test_too_large() -> None:
    payload = json.dumps({"run": {"title": "x" * MAX_PAYLOAD_BYTES}}).encode()
    error = refusal(payload)
    assert str(error) == f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}"


def test_not_utf8() -> None:
    assert str(refusal(b'{"speed": "\xff"}')) == "payload is not UTF-8 text"


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"", "Expecting value"),
        (b"speed 40", "Expecting value"),
        (b'{"speed": 40', "Expecting ',' delimiter"),
        (b"{'speed': 40}", "Expecting property name enclosed in double quotes"),
        (b"[" * 60000, "nested too deep"),
    ],
)
def test_not_json(payload: bytes, detail: str) -> None:
    assert str(refusal(payload)) == (
        f'payload is not JSON ({detail}); expected an object such as {{"speed": 40}}'
    )


@pytest.mark.parametrize("payload", [b"[]", b"40", b'"stop"', b"null", b"true"])
def test_not_an_object(payload: bytes) -> None:
    assert str(refusal(payload)) == 'payload must be a JSON object such as {"speed": 40}'


def test_nothing_to_do() -> None:
    assert str(refusal({})).startswith("nothing to do: give stop, speed")
    assert str(refusal({"id": "a", "client": "b"})).startswith("nothing to do")


def test_unknown_field() -> None:
    assert str(refusal({"speed": 40, "colour": "red"})) == "colour: unknown field"
    # The sender names it: quoted, and cut short, so that the message stays one short line.
    assert str(refusal({"two\nlines": 1})) == '"two\\nlines": unknown field'
    assert str(refusal({"k" * 5000: 1})) == f'"{"k" * 32}...": unknown field'


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"speed": 101}, "speed: Input should be less than or equal to 100 (got 101)"),
        ({"speed": -1}, "speed: Input should be greater than or equal to 0 (got -1)"),
        ({"speed_level": -1}, "speed_level: Input should be greater than or equal to 0 (got -1)"),
        (
            {"speed_level": 65536},
            "speed_level: Input should be less than or equal to 65535 (got 65536)",
        ),
        ({"intensity": 151}, "intensity: Input should be less than or equal to 150 (got 151)"),
        (
            {"heat": 256},
            "heat: must be off, low, medium, high or a level from 0 to 255 (got 256)",
        ),
        (
            {"heat": "x" * 17},
            f'heat: must be off, low, medium, high or a level from 0 to 255 (got "{"x" * 17}")',
        ),
        (
            {"device_program": -1},
            "device_program: must be one of the device's program names or a number from 0 (got -1)",
        ),
    ],
)
def test_out_of_range(doc: dict[str, Any], message: str) -> None:
    assert str(refusal(doc)) == message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"speed": "fast"},
            "speed: Input should be a valid number, unable to parse string as a number "
            '(got "fast")',
        ),
        (
            {"speed_level": 2.5},
            "speed_level: Input should be a valid integer, got a number with a fractional part "
            "(got 2.5)",
        ),
        (
            {"speed": True},
            "speed: must be a percentage from 0 to 100, not true or false (got true)",
        ),
        (
            {"speed_level": False},
            "speed_level: must be a level from 0, not true or false (got false)",
        ),
        (
            {"heat": True},
            "heat: must be off, low, medium, high or a level, not true or false (got true)",
        ),
        (
            {"device_program": True},
            "device_program: must be a program name or number, not true or false (got true)",
        ),
        (
            {"intensity": True},
            "intensity: must be a percentage from 0 to 150, not true or false (got true)",
        ),
        ({"heat": [1]}, "heat: must be off, low, medium, high or a level from 0 to 255"),
        ({"stop": False}, "stop: Input should be True (got false)"),
        ({"client": 5, "stop": True}, "client: must be a string (got 5)"),
        ({"power": "maybe"}, "power: Input should be 'ON', 'OFF', 'on' or 'off' (got \"maybe\")"),
        (
            {"control": "rewind"},
            "control: Input should be 'pause', 'resume', 'next', 'previous', 'extend_hold' or "
            "'end_hold' (got \"rewind\")",
        ),
        (
            {"run": 5},
            'run: must be a preset name, an inline program (a JSON object) or "none" (got 5)',
        ),
        ({"speed": float("nan")}, "speed: Input should be a finite number (got NaN)"),
        ({"speed": float("inf")}, "speed: Input should be a finite number (got Infinity)"),
    ],
)
def test_wrong_type(doc: dict[str, Any], message: str) -> None:
    assert str(refusal(doc)) == message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"stop": True, "speed": 40}, "stop takes no other field (got speed)"),
        ({"stop": True, "run": "x"}, "stop takes no other field (got run)"),
        ({"run": "quick-relief", "speed": 40}, "run cannot be combined with speed"),
        ({"intensity": 50, "heat": "low"}, "intensity cannot be combined with heat"),
        ({"speed": 40, "speed_level": 4}, "give speed (percent) or speed_level, not both"),
        ({"power": "ON", "speed_level": 4}, "give power or a speed, not both"),
        (
            {"device_program": "Knead", "speed": 40},
            "a device program sets its own speed: give one or the other",
        ),
    ],
)
def test_fields_that_do_not_combine(doc: dict[str, Any], message: str) -> None:
    assert str(refusal(doc)) == message


def test_the_id_of_a_refused_command_is_kept_for_the_reply() -> None:
    assert refusal({"speed": 101, "id": "r1"}).request_id == "r1"
    assert refusal({"speed": 101, "id": 7}).request_id == 7
    assert refusal({"colour": 1, "id": "r2"}).request_id == "r2"
    # Not an id: nobody to answer.
    assert refusal({"speed": 101, "id": True}).request_id is None
    assert refusal({"speed": 101, "id": 1.5}).request_id is None
    assert refusal({"speed": 101, "id": ["x"]}).request_id is None
    assert refusal(b"not json").request_id is None
    assert "id:" in str(refusal({"speed": 1, "id": True}))
    long_id = refusal({"stop": True, "id": "x" * 129})
    assert str(long_id).startswith("id: must be a string or a whole number (got ")
    assert len(str(long_id)) < 100


def test_what_was_sent_is_quoted_short() -> None:
    message = str(refusal({"heat": "y" * 500}))
    assert len(message) < 120


# --- properties: a SetCommand or a CommandError, and the answer can always be sent ------------

FIELDS = [
    "id",
    "client",
    "if_owner",
    "stop",
    "power",
    "speed",
    "speed_level",
    "heat",
    "device_program",
    "run",
    "control",
    "intensity",
]

_texts = st.one_of(
    st.text(max_size=20),
    # Half surrogate pairs: valid JSON (as \\ud800), but no UTF-8 text can hold them.
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(
        ["stop", "ON", "off", "low", "high", "none", "Knead", "pause", "next", "quick-relief"]
    ),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-2, 300),
    st.floats(),
    st.floats(-1, 200),
    _texts,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=3)
    ),
    max_leaves=8,
)
_commands = st.dictionaries(st.one_of(st.sampled_from(FIELDS), _texts), _values, max_size=5)


def _outcome(payload: bytes) -> SetCommand | CommandError:
    """What parse_command makes of ``payload``; any other exception fails the test."""
    try:
        return parse_command(payload)
    except CommandError as exc:
        return exc


def _check_outcome(payload: bytes) -> None:
    outcome = _outcome(payload)
    if isinstance(outcome, CommandError):
        message = str(outcome)
        assert message
        assert "\n" not in message
        assert len(message) < 400
        request_id = outcome.request_id
        assert request_id is None or isinstance(request_id, (str, int))
        # What the gateway publishes about it can always be published.
        error = payloads.error_payload(
            message, topic="massagectl/gw/dev/set", request_id=request_id, payload=payload
        )
        json.loads(payloads.dumps(error))
        if request_id is not None:
            reply = payloads.reply_payload(request_id, error=message, kind="usage")
            json.loads(payloads.dumps(reply))
        return
    assert isinstance(outcome, SetCommand)
    # A command always says what to do, and its id can be echoed in a reply.
    assert (
        outcome.stop
        or outcome.is_manual
        or outcome.run is not None
        or outcome.control is not None
        or outcome.intensity is not None
    )
    if outcome.id is not None:
        json.loads(payloads.dumps(payloads.reply_payload(outcome.id, state=None)))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_command_or_a_command_error(payload: bytes) -> None:
    _check_outcome(payload)


@settings(max_examples=1000, deadline=None)
@given(_commands)
def test_any_json_object_is_a_command_or_a_command_error(doc: dict[str, Any]) -> None:
    _check_outcome(json.dumps(doc).encode())


@settings(max_examples=300, deadline=None)
@given(_commands)
def test_any_json_object_as_text_with_noise_around_it(doc: dict[str, Any]) -> None:
    # Non-ASCII kept as is (UTF-8 on the wire), and whitespace around it.
    text = "  " + json.dumps(doc, ensure_ascii=False) + "\n"
    try:
        payload = text.encode()
    except UnicodeEncodeError:
        payload = text.encode("utf-8", "surrogatepass")  # invalid UTF-8: refused as such
    _check_outcome(payload)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"run": "classic-back", "control": "pause"},
            "run starts a program; send control on its own afterwards",
        ),
        (
            {"power": "ON", "device_program": "Knead"},
            "a device program sets its own speed: give power or device_program",
        ),
    ],
)
def test_combinations_that_would_undo_themselves_are_refused(
    doc: dict[str, Any], message: str
) -> None:
    assert str(refusal(doc)) == message


def test_a_program_may_start_at_an_intensity() -> None:
    command = parse_command(b'{"run": "classic-back", "intensity": 60}')
    assert (command.run, command.intensity) == ("classic-back", 60)
