"""The gateway's incoming messages, received but not read yet: bounded, and a stop never lost.

aiomqtt hands every message the broker delivers to a queue that the gateway reads; by default
that queue has no bound. When commands arrive faster than the gateway reads them (a flood), it
grew by hundreds of megabytes, and a stop waited behind everything that came before it, for
tens of seconds. aiomqtt's own bound (``max_queued_incoming_messages``) drops the *newest*
message when full, which would be the stop.

:class:`Inbox` is the queue the gateway gives aiomqtt instead (its ``queue_type``):

* a **stop** (without ``if_owner``, not retained) goes to the front, after the stops already
  there, and every message for the same topic received before it is dropped: the stop would
  drop them from the device's intake anyway, and read after it they would run after it;
* it holds at most :data:`MAX_UNREAD` messages and :data:`MAX_UNREAD_BYTES` of payload; past
  that the *oldest* unread message that is not a stop gives way. Each device's intake lets the
  newest setting win anyway, so what is dropped is what a newer command would have replaced.

How many were dropped is counted, for the gateway to say on its error topic.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Final

import aiomqtt

from .commands import CommandError, parse_command

#: Messages received and not read yet, at most.
MAX_UNREAD: Final = 256
#: Payload bytes received and not read yet, at most (beyond the one message being added).
MAX_UNREAD_BYTES: Final = 8 * 1024 * 1024


def is_stop(message: aiomqtt.Message) -> bool:
    """Whether a message is a stop that overtakes everything (cheap for anything else: only a
    payload that names a stop is parsed)."""
    payload = _payload(message)
    if message.retain or (b"stop" not in payload and b"STOP" not in payload):
        return False
    try:
        command = parse_command(payload)
    except CommandError:
        return False
    return bool(command.stop) and command.if_owner is None


def _size(message: aiomqtt.Message) -> int:
    payload = message.payload
    return len(payload) if isinstance(payload, (bytes, bytearray, str)) else 8


class Inbox(asyncio.Queue[aiomqtt.Message]):
    """A bounded queue of incoming messages that drops the oldest (never a stop) when full."""

    # asyncio.Queue's storage hooks, which its subclasses (PriorityQueue, LifoQueue) override.

    def _init(self, maxsize: int) -> None:
        self._queue: deque[aiomqtt.Message] = deque()
        #: How many messages at the front are stops.
        self._stops = 0
        self.unread_bytes = 0
        #: Messages dropped unread since the start.
        self.dropped = 0

    def _put(self, item: aiomqtt.Message) -> None:
        if is_stop(item):
            topic = item.topic.value
            for older in [m for m in self._queue if m.topic.value == topic]:
                self._remove(older)
            self._queue.insert(self._stops, item)
            self._stops += 1
        else:
            self._queue.append(item)
        self.unread_bytes += _size(item)
        while len(self._queue) > MAX_UNREAD or (
            self.unread_bytes > MAX_UNREAD_BYTES and len(self._queue) > 1
        ):
            # The oldest that is not a stop; when all are, the oldest (a flood of stops: any
            # one of them does what the others would).
            at = self._stops if self._stops < len(self._queue) else 0
            self._remove(self._queue[at])

    def _remove(self, message: aiomqtt.Message) -> None:
        index = self._queue.index(message)
        del self._queue[index]
        if index < self._stops:
            self._stops -= 1
        self.unread_bytes -= _size(message)
        self.dropped += 1
        self.dropped_unread(message)

    def _get(self) -> aiomqtt.Message:
        item = self._queue.popleft()
        self._stops = max(0, self._stops - 1)
        self.unread_bytes -= _size(item)
        return item

    def dropped_unread(self, message: aiomqtt.Message) -> None:
        """Called with each message dropped unread (see :func:`inbox_for`)."""

    def take_nowait(self) -> aiomqtt.Message | None:
        """The next message if one is waiting (None if not)."""
        return self.get_nowait() if self._queue else None


def _payload(message: aiomqtt.Message) -> bytes:
    payload = message.payload
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return str(payload).encode()


def inbox_for(
    on_drop: Callable[[aiomqtt.Message], None], on_open: Callable[[Inbox], None]
) -> type[Inbox]:
    """An :class:`Inbox` class that reports drops to ``on_drop`` and each inbox it makes to
    ``on_open`` (aiomqtt takes a class, and makes the queue itself)."""

    class GatewayInbox(Inbox):
        def _init(self, maxsize: int) -> None:
            super()._init(maxsize)
            on_open(self)

        def dropped_unread(self, message: aiomqtt.Message) -> None:
            on_drop(message)

    return GatewayInbox
