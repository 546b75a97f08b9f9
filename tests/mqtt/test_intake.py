"""The gateway's command intake on its own: what waits for a device, what a newer command
replaces, what a stop drops, and the bounds on both queues (the commands waiting for a device,
and the messages received but not read yet)."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from massagectl.mqtt.answers import TokenBucket
from massagectl.mqtt.commands import SetCommand, parse_command
from massagectl.mqtt.inbox import MAX_UNREAD, MAX_UNREAD_BYTES, Inbox, inbox_for
from massagectl.mqtt.intake import MAX_WAITING, DropReason, Intake


def cmd(**fields: object) -> SetCommand:
    """A command as the gateway reads it from JSON."""
    return parse_command(json.dumps(fields).encode())


def waiting(intake: Intake) -> list[SetCommand]:
    """Everything waiting, in the order it will be carried out (the intake is emptied)."""
    out = []
    while (command := intake.next()) is not None:
        out.append(command)
    return out


def test_a_newer_speed_replaces_a_waiting_one_and_the_older_is_said_dropped() -> None:
    intake = Intake()
    assert intake.add(cmd(speed=10, id="a")) == []
    dropped = intake.add(cmd(speed=20, id="b"))
    assert [(d.command.id, d.reason) for d in dropped] == [("a", DropReason.REPLACED)]
    assert waiting(intake) == [cmd(speed=20, id="b")]


def test_settings_merge_per_group_so_the_device_ends_as_if_each_ran() -> None:
    intake = Intake()
    intake.add(cmd(heat="high"))
    intake.add(cmd(speed=40))
    intake.add(cmd(speed_level=3))
    (merged,) = waiting(intake)
    # The motor from the newest that named the motor, the heat from the newest that named it.
    assert (merged.speed, merged.speed_level, merged.heat) == (None, 3, "high")


def test_a_newer_motor_field_replaces_every_older_motor_field() -> None:
    intake = Intake()
    intake.add(cmd(device_program="Knead", heat="low"))
    intake.add(cmd(power="OFF"))
    (merged,) = waiting(intake)
    # Never a combination nobody sent (device_program with power is refused by the schema).
    assert (merged.device_program, merged.power, merged.heat) == (None, "OFF", "low")


def test_a_setting_drops_the_program_commands_before_it_and_a_run_drops_everything() -> None:
    intake = Intake()
    intake.add(cmd(run="classic-back"))
    intake.add(cmd(control="pause"))
    dropped = intake.add(cmd(speed=30))
    assert [d.command for d in dropped] == [cmd(run="classic-back"), cmd(control="pause")]
    intake.add(cmd(heat="low"))
    dropped = intake.add(cmd(run="lower-back"))
    assert [d.reason for d in dropped] == [DropReason.REPLACED]
    assert waiting(intake) == [cmd(run="lower-back")]


def test_controls_keep_their_order_and_a_newer_intensity_replaces_the_one_just_before() -> None:
    intake = Intake()
    for command in (cmd(run="upper-back"), cmd(control="next"), cmd(control="next")):
        intake.add(command)
    intake.add(cmd(intensity=80))
    intake.add(cmd(intensity=60))
    assert waiting(intake) == [
        cmd(run="upper-back"),
        cmd(control="next"),
        cmd(control="next"),
        cmd(intensity=60),
    ]


def test_a_command_with_if_owner_keeps_its_place_and_nothing_merges_across_it() -> None:
    intake = Intake()
    intake.add(cmd(speed=10))
    intake.add(cmd(stop=True, if_owner="tablet"))
    intake.add(cmd(speed=20))
    assert waiting(intake) == [cmd(speed=10), cmd(stop=True, if_owner="tablet"), cmd(speed=20)]


def test_at_most_max_waiting_commands_wait_and_the_oldest_gives_way() -> None:
    intake = Intake()
    intake.add(cmd(run="upper-back", id="run"))
    dropped = []
    for i in range(MAX_WAITING + 5):
        dropped += intake.add(cmd(control="next", id=i))
    assert len(intake) == MAX_WAITING
    assert [d.command.id for d in dropped] == ["run", 0, 1, 2, 3, 4]
    assert {d.reason for d in dropped} == {DropReason.OVERFLOW}


def test_clear_drops_everything_with_the_reason_given() -> None:
    intake = Intake()
    intake.add(cmd(speed=10, id=1))
    intake.add(cmd(stop=True, if_owner="x", id=2))
    dropped = intake.clear(DropReason.STOPPED)
    assert [(d.command.id, d.reason) for d in dropped] == [
        (1, DropReason.STOPPED),
        (2, DropReason.STOPPED),
    ]
    assert intake.next() is None
    assert not intake.wake.is_set()


def test_a_flood_of_settings_leaves_one_command_waiting() -> None:
    intake = Intake()
    for i in range(10_000):
        intake.add(cmd(speed_level=1 + i % 9))
    assert waiting(intake) == [cmd(speed_level=1 + 9_999 % 9)]


# --- the inbox: received, not read yet -------------------------------------------------------


def message(topic: str, payload: bytes, *, retain: bool = False) -> aiomqtt.Message:
    """A message as aiomqtt hands it to the gateway."""
    return aiomqtt.Message(topic, payload, qos=0, retain=retain, mid=0, properties=None)


async def test_the_inbox_holds_at_most_max_unread_and_drops_the_oldest() -> None:
    dropped: list[bytes] = []
    inbox = inbox_for(lambda m: dropped.append(bytes(m.payload)), lambda _inbox: None)()
    for i in range(MAX_UNREAD + 10):
        inbox.put_nowait(message("gw/dev/set", f'{{"speed": {i % 100}}}'.encode()))
    assert inbox.qsize() == MAX_UNREAD
    assert dropped == [f'{{"speed": {i}}}'.encode() for i in range(10)]
    first = await inbox.get()
    assert first.payload == b'{"speed": 10}'


async def test_a_stop_goes_first_and_drops_what_came_before_it_for_its_device() -> None:
    inbox = Inbox()
    inbox.put_nowait(message("gw/a/set", b'{"speed": 10}'))
    inbox.put_nowait(message("gw/b/set", b'{"speed": 20}'))
    inbox.put_nowait(message("gw/a/set", b'{"heat": "low"}'))
    inbox.put_nowait(message("gw/a/set", b"stop"))
    inbox.put_nowait(message("gw/a/set", b'{"speed": 30}'))
    order = [(m.topic.value, m.payload) for m in [await inbox.get() for _ in range(3)]]
    assert order == [
        ("gw/a/set", b"stop"),
        ("gw/b/set", b'{"speed": 20}'),
        ("gw/a/set", b'{"speed": 30}'),
    ]
    assert inbox.dropped == 2


@pytest.mark.parametrize(
    "payload",
    [
        b'{"stop": true, "if_owner": "tablet"}',  # a will: its place in the order matters
        b'{"client": "nonstop", "speed": 5}',  # names a stop, is none
        b'{"stop": tru',  # not JSON at all
    ],
)
async def test_only_a_real_stop_goes_first(payload: bytes) -> None:
    inbox = Inbox()
    inbox.put_nowait(message("gw/a/set", b'{"speed": 10}'))
    inbox.put_nowait(message("gw/a/set", payload))
    assert [(await inbox.get()).payload for _ in range(2)] == [b'{"speed": 10}', payload]


async def test_a_retained_stop_keeps_its_place() -> None:
    # Retained commands are refused when read; one must not drop the commands before it.
    inbox = Inbox()
    inbox.put_nowait(message("gw/a/set", b'{"speed": 10}'))
    inbox.put_nowait(message("gw/a/set", b"stop", retain=True))
    assert (await inbox.get()).payload == b'{"speed": 10}'


async def test_stops_are_never_dropped_for_newer_messages() -> None:
    inbox = Inbox()
    inbox.put_nowait(message("gw/a/set", b"stop"))
    for _ in range(MAX_UNREAD * 2):
        inbox.put_nowait(message("gw/b/set", b'{"speed": 1}'))
    assert (await inbox.get()).payload == b"stop"


async def test_the_inbox_holds_at_most_max_unread_bytes() -> None:
    inbox = Inbox()
    big = b'{"run": "' + b"x" * (1024 * 1024) + b'"}'
    for _ in range(MAX_UNREAD_BYTES // len(big) + 5):
        inbox.put_nowait(message("gw/a/set", big))
    assert inbox.unread_bytes <= MAX_UNREAD_BYTES
    assert inbox.qsize() == MAX_UNREAD_BYTES // len(big)


async def test_take_nowait_reads_what_waits_and_none_after() -> None:
    inbox = Inbox()
    inbox.put_nowait(message("gw/a/set", b"1"))
    got = inbox.take_nowait()
    assert got is not None
    assert got.payload == b"1"
    assert inbox.take_nowait() is None
    # A getter waiting meanwhile is still woken by the next message.
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(message("gw/a/set", b"2"))
    assert (await getter).payload == b"2"


def test_the_error_bucket_lets_a_burst_through_then_the_rate() -> None:
    bucket = TokenBucket(rate=20, burst=20)
    assert sum(bucket.allow(0.0) for _ in range(100)) == 20
    assert sum(bucket.allow(0.5) for _ in range(100)) == 10
    assert sum(bucket.allow(10.0) for _ in range(100)) == 20
