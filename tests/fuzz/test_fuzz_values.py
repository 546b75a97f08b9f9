"""What people type, fuzzed: addresses, speeds, heats, durations, intensities and speedups.

Every parser takes any text and either returns a value in its documented range or raises the
project's :class:`UsageError` (exit code 2) with a one-line message that quotes the text. No
other exception gets out (which would be a traceback on the terminal).
"""

from __future__ import annotations

import math
from functools import partial

from hypothesis import given
from hypothesis import strategies as st

from massagectl.address import DeviceAddress, parse_address, parse_host_port
from massagectl.cli.program_commands import parse_speedup
from massagectl.cli.values import Amount, is_level, parse_heat, parse_intensity, parse_speed
from massagectl.durations import parse_duration
from massagectl.errors import AddressError, UsageError
from massagectl.mapping import HEAT_NAMES

from .support import FUZZ, outcome

#: Characters that the parsers give meaning to, and a few that look like digits and are not.
_NEAR = "0123456789.%-+ smhH:/?=&[]@_eEinfaINFlowhgOFF\t\n²٣"
typed = st.one_of(st.text(max_size=24), st.text(_NEAR, max_size=16))
schemes = st.sampled_from(["sim:", "serial:", "tcp:", "ble:", "mqtt://", "usb:", ""])


def _refused(result: object, text: str) -> bool:
    """Whether ``result`` is a refusal; if so, a proper one: exit 2, one line, the text quoted."""
    if not isinstance(result, UsageError):
        return False
    message = str(result)
    assert result.exit_code == 2
    assert "\n" not in message
    shown = (repr(text), repr(text.strip()), repr(_without_password(text.strip())))
    assert any(quoted in message for quoted in shown), message
    return True


def _without_password(text: str) -> str:
    """An ``mqtt://`` address as messages quote it: the password left out, never printed."""
    for scheme in ("mqtt://", "mqtts://"):
        if text.startswith(scheme):
            first, slash, path = text.removeprefix(scheme).partition("/")
            credentials, at, hostport = first.rpartition("@")
            return f"{scheme}{credentials.partition(':')[0]}{at}{hostport}{slash}{path}"
    return text


@FUZZ
@given(schemes, typed)
def test_every_parser_returns_a_value_in_range_or_a_usage_error(scheme: str, text: str) -> None:
    address = scheme + text
    parsed = outcome(partial(parse_address, address), AddressError)
    if not _refused(parsed, address):
        assert isinstance(parsed, DeviceAddress)
        assert parsed.scheme in ("sim", "serial", "tcp", "ble", "mqtt")
        assert parsed.target
        assert parsed.baud is None or parsed.baud > 0
        assert 0 <= parsed.port <= 65535

    served = outcome(partial(parse_host_port, text, what="--tcp", allow_any_port=True), UsageError)
    if not _refused(served, text):
        assert isinstance(served, tuple)
        host, port = served
        assert host
        assert 0 <= port <= 65535

    for parse, what in ((parse_speed, "--speed"), (parse_heat, "--heat")):
        amount = outcome(partial(parse, text), UsageError)
        if _refused(amount, text):
            assert what in str(amount)
            continue
        assert isinstance(amount, Amount)
        if amount.fraction is not None:
            assert 0.0 <= amount.fraction <= 1.0
        elif amount.level is not None:
            assert amount.level >= 0
        else:
            assert amount.name in HEAT_NAMES
    assert is_level(text) == (text.isascii() and text.isdigit())

    seconds = outcome(partial(parse_duration, text, what="--for"), UsageError)
    if not _refused(seconds, text):
        assert isinstance(seconds, float)
        assert math.isfinite(seconds)
        assert seconds >= 0

    intensity = outcome(partial(parse_intensity, text), UsageError)
    if not _refused(intensity, text):
        assert isinstance(intensity, float)
        assert 0.0 <= intensity <= 1.5

    speedup = outcome(partial(parse_speedup, text), UsageError)
    if not _refused(speedup, text):
        assert isinstance(speedup, float)
        assert math.isfinite(speedup)
        assert speedup > 0
