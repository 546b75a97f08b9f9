"""The outbox: what the gateway keeps to publish while the broker is away.

Retained topics keep only their newest payload and all go out again after a reconnect; other
messages wait in order in a bounded queue that drops the oldest when full; what a dropped
connection left unpublished goes back ahead of everything newer.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from massagectl.mqtt.outbox import MAX_QUEUED, Message, Outbox


def retained(messages: list[Message]) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in messages if m.retain]


def queued(messages: list[Message]) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in messages if not m.retain]


def test_a_retained_topic_goes_out_once_with_its_newest_payload() -> None:
    box = Outbox()
    box.retain("gw/wand/state", b"speed 1")
    box.retain("gw/wand/state", b"speed 2")
    box.retain("gw/wand/state", b"speed 3")
    out = box.take()
    assert out == [Message("gw/wand/state", b"speed 3", retain=True)]
    assert box.take() == []


def test_an_unchanged_retained_payload_is_not_sent_again_unless_asked() -> None:
    box = Outbox()
    box.retain("ha/config", b"doc")
    box.take()
    box.retain("ha/config", b"doc")
    assert box.take() == []
    # Home Assistant restarted and asks for it: the same document goes out again.
    box.retain("ha/config", b"doc", again=True)
    assert box.take() == [Message("ha/config", b"doc", retain=True)]
    # A changed payload goes out, of course.
    box.retain("ha/config", b"new doc")
    assert retained(box.take()) == [("ha/config", b"new doc")]


def test_an_empty_retained_payload_goes_out_to_clear_the_topic() -> None:
    box = Outbox()
    box.retain("ha/config", b"doc")
    box.take()
    box.retain("ha/config", b"")
    assert box.take() == [Message("ha/config", b"", retain=True)]


def test_retained_topics_go_first_then_the_queue_in_order() -> None:
    box = Outbox()
    box.send("gw/wand/events", b"e1")
    box.retain("gw/wand/availability", b"online")
    box.send("gw/wand/reply", b"r1")
    box.retain("gw/wand/state", b"s1")
    box.send("gw/wand/events", b"e2")
    out = box.take()
    assert all(m.retain for m in out[:2])
    assert retained(out) == [("gw/wand/availability", b"online"), ("gw/wand/state", b"s1")]
    assert queued(out) == [
        ("gw/wand/events", b"e1"),
        ("gw/wand/reply", b"r1"),
        ("gw/wand/events", b"e2"),
    ]
    assert all(m.qos == 1 for m in out)


def test_all_again_after_a_reconnect_sends_every_retained_topic() -> None:
    box = Outbox()
    box.retain("gw/status", b"online")
    box.retain("gw/wand/info", b"info")
    box.retain("gw/wand/state", b"s1")
    box.send("gw/wand/events", b"connected")
    box.take()
    box.retain("gw/wand/state", b"s2")
    # The broker restarted empty: it must learn everything again, each with its newest payload.
    box.all_again()
    out = box.take()
    assert sorted(retained(out)) == [
        ("gw/status", b"online"),
        ("gw/wand/info", b"info"),
        ("gw/wand/state", b"s2"),
    ]
    assert queued(out) == [], "events are not retained: they are not sent twice"


def test_put_back_keeps_the_order_ahead_of_newer_messages() -> None:
    box = Outbox()
    box.retain("gw/wand/availability", b"online")
    box.retain("gw/wand/state", b"s1")
    for n in range(4):
        box.send("gw/wand/events", f"e{n}".encode())
    batch = box.take()
    # The broker went away after the first two went out; more happened meanwhile.
    box.send("gw/wand/events", b"e4")
    box.retain("gw/gun/state", b"g1")
    box.put_back(batch[2:])
    out = box.take()
    assert queued(out) == [("gw/wand/events", f"e{n}".encode()) for n in range(5)]
    assert retained(out) == [("gw/gun/state", b"g1")]


def test_put_back_of_a_retained_topic_set_again_meanwhile_sends_the_newest_once() -> None:
    box = Outbox()
    box.retain("gw/wand/availability", b"online")
    box.retain("gw/wand/state", b"s1")
    batch = box.take()
    box.retain("gw/wand/state", b"s2")
    box.put_back(batch)
    out = box.take()
    # In the order they were first set; the state once, as it is now.
    assert retained(out) == [("gw/wand/availability", b"online"), ("gw/wand/state", b"s2")]


def test_a_full_queue_drops_the_oldest() -> None:
    box = Outbox()
    for n in range(MAX_QUEUED + 5):
        box.send("gw/wand/events", str(n).encode())
    out = queued(box.take())
    assert len(out) == MAX_QUEUED
    assert out[0] == ("gw/wand/events", b"5")
    assert out[-1] == ("gw/wand/events", str(MAX_QUEUED + 4).encode())


def test_put_back_into_a_full_queue_drops_the_oldest_not_the_newest() -> None:
    box = Outbox()
    for n in range(10):
        box.send("old", str(n).encode())
    batch = box.take()
    # A long outage: the queue filled up with newer messages meanwhile.
    for n in range(MAX_QUEUED):
        box.send("new", str(n).encode())
    box.put_back(batch)
    out = queued(box.take())
    assert len(out) == MAX_QUEUED
    # The oldest go (all of what was put back): never the newest.
    assert out == [("new", str(n).encode()) for n in range(MAX_QUEUED)]


def test_put_back_into_a_nearly_full_queue_keeps_the_newest_put_back() -> None:
    box = Outbox()
    for n in range(10):
        box.send("old", str(n).encode())
    batch = box.take()
    for n in range(MAX_QUEUED - 4):
        box.send("new", str(n).encode())
    box.put_back(batch)
    out = queued(box.take())
    assert out[:4] == [("old", str(n).encode()) for n in range(6, 10)]
    assert out[4] == ("new", b"0")


def test_whatever_gives_the_publisher_work_wakes_it() -> None:
    box = Outbox()
    assert not box.wake.is_set()
    work: list[Callable[[], None]] = [
        lambda: box.retain("t", b"1"),
        lambda: box.send("t", b"1"),
        box.all_again,
        lambda: box.put_back([Message("t", b"2")]),
    ]
    for give_work in work:
        box.take()
        box.wake.clear()
        give_work()
        assert box.wake.is_set()
    box.wake.clear()
    box.retain("t", b"1")  # already published with this payload: nothing to do
    assert not box.wake.is_set()


# --- property: nothing is lost, nothing reordered, retained topics end at their newest ------

_operations = st.lists(
    st.one_of(
        st.tuples(st.just("retain"), st.sampled_from(["a", "b", "c"]), st.integers(0, 3)),
        st.tuples(st.just("send"), st.just(""), st.just(0)),
        # Take a batch and publish only its first ``k`` messages (the broker then goes away).
        st.tuples(st.just("flush"), st.just(""), st.integers(0, 12)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_operations)
def test_what_reaches_the_broker_across_outages(operations: list[tuple[str, str, int]]) -> None:
    box = Outbox()
    delivered: list[Message] = []
    newest: dict[str, bytes] = {}
    sent = 0
    for kind, topic, value in operations:
        if kind == "retain":
            newest[topic] = str(value).encode()
            box.retain(topic, newest[topic])
        elif kind == "send":
            box.send("events", str(sent).encode())
            sent += 1
        else:
            batch = box.take()
            delivered += batch[:value]
            if value < len(batch):
                box.put_back(batch[value:])
    delivered += box.take()
    # Every event, once, in the order it was sent.
    assert [m.payload for m in delivered if not m.retain] == [str(n).encode() for n in range(sent)]
    # Every retained topic ends on the broker with the newest payload set.
    last: dict[str, bytes] = {}
    for message in delivered:
        if message.retain:
            last[message.topic] = message.payload
    assert last == newest
