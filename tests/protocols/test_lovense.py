"""Lovense codec: the documented strings exactly, the splitter, FIFO matching and the UUIDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.profiles import get_profile
from massagectl.protocols import lovense as lv
from massagectl.protocols import lovense_ble


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (lv.vibrate(10), b"Vibrate:10;"),
        (lv.vibrate(0), b"Vibrate:0;"),
        (lv.vibrate(20), b"Vibrate:20;"),
        (lv.vibrate2(10), b"Vibrate2:10;"),
        (lv.battery(), b"Battery;"),
        (lv.device_type(), b"DeviceType;"),
        (lv.preset(8), b"Preset:8;"),
        (lv.preset(0), b"Preset:0;"),
        (lv.get_patterns(), b"GetPatten;"),
        (lv.power_off(), b"PowerOff;"),
        (lv.status(), b"Status:1;"),
        (lv.auto_switch(True, False), b"AutoSwith:On:Off;"),
        (lv.auto_switch(False, True), b"AutoSwith:Off:On;"),
        (lv.get_auto_switch(), b"GetAS;"),
    ],
)
def test_commands_are_the_documented_strings(command: lv.Command, wire: bytes) -> None:
    assert command.wire == wire


def test_vibration_levels_outside_zero_to_twenty_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.20"):
        lv.vibrate(21)
    with pytest.raises(ValueError, match=r"0\.\.20"):
        lv.vibrate2(-1)


@pytest.mark.parametrize(
    ("text", "kind", "answer"),
    [
        ("OK", lv.AnswerKind.OK, lv.Ok()),
        ("ERR", lv.AnswerKind.OK, lv.Err()),
        ("ERR", lv.AnswerKind.BATTERY, lv.Err()),
        ("85", lv.AnswerKind.BATTERY, lv.BatteryLevel(85)),
        ("W:11:0082059AD3BD", lv.AnswerKind.DEVICE_TYPE, lv.DeviceType("W", "11", "0082059AD3BD")),
        ("C:11:0082059AD3BD", lv.AnswerKind.DEVICE_TYPE, lv.DeviceType("C", "11", "0082059AD3BD")),
        ("P:01234", lv.AnswerKind.PATTERNS, lv.PatternList((0, 1, 2, 3, 4))),
        ("2", lv.AnswerKind.STATUS, lv.StatusCode(2)),
        ("AutoSwith:0:1", lv.AnswerKind.AUTO_SWITCH, lv.AutoSwitch(False, True)),
        ("85", lv.AnswerKind.OK, lv.Unexpected("85")),
        ("OK", lv.AnswerKind.BATTERY, lv.Unexpected("OK")),
        # Kept as sent: the host's check tells of a charge above full rather than drop it.
        ("250", lv.AnswerKind.BATTERY, lv.BatteryLevel(250)),
        ("1000", lv.AnswerKind.BATTERY, lv.Unexpected("1000")),
    ],
)
def test_answers_parse_as_their_command_expects(
    text: str, kind: lv.AnswerKind, answer: lv.Answer
) -> None:
    assert lv.parse_answer(text, kind) == answer


def test_device_type_gives_the_address_with_colons() -> None:
    answer = lv.parse_answer("W:11:0082059AD3BD", lv.AnswerKind.DEVICE_TYPE)
    assert isinstance(answer, lv.DeviceType)
    assert answer.mac == "00:82:05:9A:D3:BD"
    assert lv.StatusCode(2).normal


@pytest.mark.parametrize(
    ("answer", "wire"),
    [
        (lv.Ok(), b"OK;"),
        (lv.Err(), b"ERR;"),
        (lv.BatteryLevel(85), b"85;"),
        (lv.DeviceType("W", "11", "0082059AD3BD"), b"W:11:0082059AD3BD;"),
        (lv.PatternList((0, 1, 2, 3, 4)), b"P:01234;"),
        (lv.StatusCode(2), b"2;"),
        (lv.AutoSwitch(False, True), b"AutoSwith:0:1;"),
    ],
)
def test_device_answers_are_the_documented_strings(answer: lv.DeviceAnswer, wire: bytes) -> None:
    assert answer.encode() == wire


def test_device_reads_commands_as_word_and_arguments() -> None:
    assert lv.parse_command("Vibrate:10") == lv.ParsedCommand("Vibrate", ("10",))
    assert lv.parse_command("AutoSwith:On:Off") == lv.ParsedCommand("AutoSwith", ("On", "Off"))
    assert lv.parse_command("Battery") == lv.ParsedCommand("Battery")
    assert lv.parse_command("Vibrate:10").int_arg(0, 20) == 10
    assert lv.parse_command("Vibrate:21").int_arg(0, 20) is None
    assert lv.parse_command("Vibrate:x").int_arg(0, 20) is None
    assert lv.parse_command("Vibrate:1:2").int_arg(0, 20) is None


def test_splitter_takes_messages_split_and_joined() -> None:
    splitter = lv.MessageSplitter()
    assert splitter.feed(b"Vibr") == []
    assert splitter.feed(b"ate:5;Batt") == ["Vibrate:5"]
    assert splitter.pending == 4
    assert splitter.feed(b"ery;;OK;") == ["Battery", "OK"]


def test_splitter_drops_a_long_run_without_a_terminator_up_to_the_next_one() -> None:
    splitter = lv.MessageSplitter()
    out = splitter.feed(b"x" * 50)
    assert out == []
    out = splitter.feed(b"y" * 50)
    assert len(out) == 1
    assert isinstance(out[0], lv.BadMessage)
    assert splitter.pending == 0
    assert splitter.feed(b"zzz" * 100) == []  # still discarding, holding nothing
    assert splitter.pending == 0
    assert splitter.feed(b"tail;OK;") == ["OK"]


def test_splitter_drops_messages_that_are_not_printable_ascii() -> None:
    out = lv.MessageSplitter().feed(b"\xffOK;\x00;OK;")
    assert [type(i) for i in out] == [lv.BadMessage, lv.BadMessage, str]
    assert out[-1] == "OK"


def test_host_pairs_answers_with_commands_first_in_first_out() -> None:
    host = lv.LovenseHost()
    sent = [lv.vibrate(5), lv.battery(), lv.device_type()]
    wire = b"".join(host.send(c) for c in sent)
    assert wire == b"Vibrate:5;Battery;DeviceType;"
    assert host.pending == tuple(sent)
    out = host.receive(b"OK;8") + host.receive(b"5;W:11:0082059AD3BD;2;")
    assert out == [
        lv.Reply(sent[0], lv.Ok()),
        lv.Reply(sent[1], lv.BatteryLevel(85)),
        lv.Reply(sent[2], lv.DeviceType("W", "11", "0082059AD3BD")),
        lv.Unsolicited("2"),
    ]
    assert host.pending == ()


def test_host_gives_up_on_an_overdue_answer_when_told() -> None:
    host = lv.LovenseHost()
    first, second = lv.battery(), lv.vibrate(3)
    host.send(first)
    host.send(second)
    assert host.expire_oldest() == first
    assert host.receive(b"OK;") == [lv.Reply(second, lv.Ok())]
    assert host.expire_oldest() is None
    host.send(lv.battery())
    host.receive(b"8")
    host.reset()
    assert host.pending == ()
    assert host.receive(b"OK;") == [lv.Unsolicited("OK")]


def test_service_generations_give_their_tx_and_rx() -> None:
    assert lovense_ble.characteristics_for("0000fff0-0000-1000-8000-00805f9b34fb") == (
        "0000fff2-0000-1000-8000-00805f9b34fb",
        "0000fff1-0000-1000-8000-00805f9b34fb",
    )
    assert lovense_ble.characteristics_for("6e400001-b5a3-f393-e0a9-e50e24dcca9e") == (
        "6e400002-b5a3-f393-e0a9-e50e24dcca9e",
        "6e400003-b5a3-f393-e0a9-e50e24dcca9e",
    )
    assert lovense_ble.characteristics_for("5A300001-0024-4BD4-BBD5-A6920E4C5653") == (
        "5a300002-0024-4bd4-bbd5-a6920e4c5653",
        "5a300003-0024-4bd4-bbd5-a6920e4c5653",
    )
    assert lovense_ble.characteristics_for("40300001-0023-4bd4-bbd5-a6920e4c5653") == (
        "40300002-0023-4bd4-bbd5-a6920e4c5653",
        "40300003-0023-4bd4-bbd5-a6920e4c5653",
    )


@pytest.mark.parametrize(
    "uuid",
    [
        "60300001-0023-4bd4-bbd5-a6920e4c5653",  # X = 6
        "40300001-0025-4bd4-bbd5-a6920e4c5653",  # Z = 5
        "40300002-0023-4bd4-bbd5-a6920e4c5653",  # a TX characteristic, not a service
        "4g300001-0023-4bd4-bbd5-a6920e4c5653",  # Y not hex
        "0000ffe0-0000-1000-8000-00805f9b34fb",
        "",
    ],
)
def test_other_uuids_are_not_lovense_services(uuid: str) -> None:
    assert not lovense_ble.is_lovense_service(uuid)
    assert lovense_ble.characteristics_for(uuid) is None


def test_every_variant_of_the_third_generation_pattern_is_a_service() -> None:
    # X in {4, 5} x Y in 0..f x Z in {3, 4}: 64 (the source's "32 variants" miscounts).
    assert len(set(lovense_ble.THIRD_GEN_SERVICES)) == 2 * 16 * 2
    assert len(set(lovense_ble.SERVICE_UUIDS)) == 2 + 64
    assert all(lovense_ble.is_lovense_service(u) for u in lovense_ble.SERVICE_UUIDS)


def test_domi_profile_matches_the_codec() -> None:
    p = get_profile("lovense-domi")
    assert p.protocol == "lovense"
    assert p.model_code == "W"
    assert p.ble.name_prefixes == ["LVS-"]
    assert sorted(p.ble.service_uuids) == sorted(lovense_ble.SERVICE_UUIDS)
    # The simulated Domi's service comes first, and its characteristics are the profile's.
    assert lovense_ble.characteristics_for(p.ble.service_uuids[0]) == (
        p.ble.write_char,
        p.ble.notify_char,
    )
    assert p.speed_levels == lv.MAX_LEVEL
    assert p.link.min_write_gap_s == pytest.approx(0.075)
    assert p.link.keepalive_s is None
    assert p.limits.watchdog_s == 0
    assert p.transports == ["ble", "serial"]
    for program in p.capabilities.programs:
        # Patterns are half-second digits 0..9, doubled into the 0..20 range.
        assert program.step_s == 0.5
        assert all(level % 2 == 0 and 0 <= level <= 18 for level in program.levels)
    assert p.provenance.kind == "reverse-engineered"
    assert not p.provenance.checked_on_hardware


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_splitter_and_host_never_raise(data: bytes, cuts: list[int]) -> None:
    host = lv.LovenseHost()
    host.send(lv.battery())
    splitter = lv.MessageSplitter()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        host.receive(data[start:cut])
        splitter.feed(data[start:cut])
        start = max(start, cut)
    assert splitter.pending <= lv.MAX_UNTERMINATED


@given(
    st.lists(
        st.sampled_from(["Vibrate:3", "Battery", "OK", "W:11:0082059AD3BD", "P:0123"]), max_size=8
    ),
    st.lists(st.integers(0, 120), max_size=10),
)
def test_splitting_a_stream_anywhere_gives_the_same_messages(
    messages: list[str], cuts: list[int]
) -> None:
    wire = b"".join(lv.encode(m) for m in messages)
    splitter = lv.MessageSplitter()
    out: list[str | lv.BadMessage] = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(wire)), len(wire)]:
        out += splitter.feed(wire[start:cut])
        start = cut
    assert out == messages


@given(st.integers(0, 20))
def test_vibrate_round_trips_host_to_device(level: int) -> None:
    (text,) = lv.MessageSplitter().feed(lv.vibrate(level).wire)
    assert isinstance(text, str)
    assert lv.parse_command(text).int_arg(0, lv.MAX_LEVEL) == level


@given(
    st.one_of(
        st.builds(lv.BatteryLevel, st.integers(0, 100)),
        st.builds(lv.PatternList, st.lists(st.integers(0, 9), max_size=10).map(tuple)),
        st.builds(lv.StatusCode, st.integers(0, 999)),
        st.builds(lv.AutoSwitch, st.booleans(), st.booleans()),
        st.builds(
            lv.DeviceType,
            st.sampled_from(["W", "C", "S"]),
            st.sampled_from(["11", "240"]),
            st.text("0123456789ABCDEF", min_size=12, max_size=12),
        ),
    )
)
def test_answers_round_trip_device_to_host(answer: lv.DeviceAnswer) -> None:
    kind = {
        lv.BatteryLevel: lv.AnswerKind.BATTERY,
        lv.PatternList: lv.AnswerKind.PATTERNS,
        lv.StatusCode: lv.AnswerKind.STATUS,
        lv.AutoSwitch: lv.AnswerKind.AUTO_SWITCH,
        lv.DeviceType: lv.AnswerKind.DEVICE_TYPE,
    }[type(answer)]
    host = lv.LovenseHost()
    command = lv.Command("Query", kind)
    host.send(command)
    assert host.receive(answer.encode()) == [lv.Reply(command, answer)]
