"""What the gateway has to say, kept while the broker is away.

Retained topics (availability, info, state, discovery) keep only their newest payload, and all
of them are published again after every reconnect, so that a broker that restarted empty learns
everything back. Other messages (events, replies, errors) wait in a bounded queue: after a long
outage the oldest are dropped rather than the gateway's memory growing without end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from ..clock import Signal

#: Events, replies and errors kept while the broker is away.
MAX_QUEUED: Final = 1000


@dataclass(frozen=True, slots=True)
class Message:
    """One publication."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1


@dataclass
class Outbox:
    """Publications waiting for the broker; the gateway's publisher drains it."""

    retained: dict[str, bytes] = field(default_factory=dict)
    _dirty: dict[str, None] = field(default_factory=dict)
    _queue: deque[Message] = field(default_factory=lambda: deque(maxlen=MAX_QUEUED))
    wake: Signal = field(default_factory=Signal)
    #: QoS of each retained topic (1 unless set otherwise).
    _qos: dict[str, int] = field(default_factory=dict)
    #: What the broker has acknowledged last for each retained topic (the publisher says).
    published: dict[str, bytes] = field(default_factory=dict)

    def retain(self, topic: str, payload: bytes, *, again: bool = False, qos: int = 1) -> None:
        """Set a retained topic (an empty payload clears it on the broker). An unchanged
        payload is not published again, unless ``again`` (for a subscriber that has forgotten
        it, such as Home Assistant after a restart)."""
        if self.retained.get(topic) == payload and topic not in self._dirty and not again:
            return
        self._qos[topic] = qos
        self.retained[topic] = payload
        self._dirty[topic] = None
        self.wake.set()

    def send(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Queue a message that is not retained."""
        self._queue.append(Message(topic, payload, qos=qos))
        self.wake.set()

    def all_again(self) -> None:
        """Mark every retained topic to be published again (after a reconnect)."""
        for topic in self.retained:
            self._dirty[topic] = None
        self.wake.set()

    def take(self) -> list[Message]:
        """Everything to publish now, retained topics first."""
        out = [
            Message(t, self.retained[t], retain=True, qos=self._qos.get(t, 1)) for t in self._dirty
        ]
        self._dirty.clear()
        out.extend(self._queue)
        self._queue.clear()
        return out

    def put_back(self, messages: list[Message]) -> None:
        """Return what could not be published (the broker went away mid-way)."""
        # Ahead of what was set or queued since, in their order (a retained topic set again
        # meanwhile goes out once, with its newest payload). When that is more than the queue
        # holds, the oldest go: extendleft on a full deque would push out the newest instead.
        retained = dict.fromkeys(m.topic for m in messages if m.retain)
        self._dirty = {**retained, **self._dirty}
        unsent = [m for m in messages if not m.retain]
        self._queue = deque([*unsent, *self._queue], maxlen=self._queue.maxlen)
        if messages:
            self.wake.set()

    def delivered(self, message: Message) -> None:
        """The publisher got ``message`` to the broker."""
        if message.retain:
            self.published[message.topic] = message.payload
