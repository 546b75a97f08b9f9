"""What the gateway says back about one device's commands: refusals, replies, drops.

Every refusal goes to the device's ``error`` topic, and to its ``reply`` topic when the command
had an ``id``. A flood of bad payloads would turn into a flood of error messages as large as
itself, on the same connection the gateway needs for the next stop; so the error topic is
rate-limited (:data:`ERRORS_PER_S`, bursts of :data:`ERROR_BURST`), and what was held back is
counted and said in one message once the flood thins out. Replies are not rate-limited (a
sender waiting for its ``id`` is told), but like every message they wait in the outbox's bounded
queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Final

from . import payloads
from .intake import Dropped
from .outbox import Outbox
from .topics import DeviceTopics

_log = logging.getLogger(__name__)

#: Error messages a device's error topic carries per second, on average.
ERRORS_PER_S: Final = 20.0
#: And at most this many at once.
ERROR_BURST: Final = 20
#: Replies saying a command was dropped, per second on average, and at most at once.
DROP_REPLIES_PER_S: Final = 100.0
DROP_REPLY_BURST: Final = 100
#: How long after the first held-back error its count is published.
SUPPRESSED_REPORT_S: Final = 1.0


class TokenBucket:
    """At most ``burst`` at once and ``rate`` a second on average (time given by the caller)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Whether one more may go at ``now`` (seconds, any monotonic origin)."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class ErrorThrottle:
    """Lets error messages through at most ``rate`` a second (bursts of ``burst``); the count
    of those held back is handed to ``report`` :data:`SUPPRESSED_REPORT_S` after the first of
    them (with a rate of 0, it only counts)."""

    def __init__(
        self,
        report: Callable[[int], None],
        *,
        rate: float = ERRORS_PER_S,
        burst: int = ERROR_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report_to = report
        self._clock = clock
        self._bucket = TokenBucket(rate, burst)
        #: Errors held back since the last count was reported.
        self.suppressed = 0
        self._timer: asyncio.TimerHandle | None = None

    def allow(self) -> bool:
        """Whether one more error may be published now (else it is counted)."""
        if self._bucket.allow(self._clock()):
            return True
        self.suppressed += 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(SUPPRESSED_REPORT_S, self._report)
        return False

    def _report(self) -> None:
        self._timer = None
        count, self.suppressed = self.suppressed, 0
        if count:
            self._report_to(count)

    def close(self) -> None:
        """Forget a pending count (the gateway is going away)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def suppressed_doc(count: int, topic: str) -> dict[str, object]:
    """The error message that says how many were held back."""
    message = (
        f"{count} more refused commands were not reported one by one "
        f"(at most {ERRORS_PER_S:g} a second are)"
    )
    _log.warning("%s: %s", topic, message)
    doc = payloads.error_payload(message, topic=topic)
    doc["suppressed"] = count
    return doc


class Answers:
    """Publishes what one device's commands come to, on its ``error`` and ``reply`` topics."""

    def __init__(
        self,
        topics: DeviceTopics,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics = topics
        self.outbox = outbox
        self.throttle = ErrorThrottle(self._report_suppressed, clock=clock)
        self._clock = clock
        self._drop_replies = TokenBucket(DROP_REPLIES_PER_S, DROP_REPLY_BURST)

    def error(
        self, message: str, *, request_id: str | int | None = None, payload: bytes = b""
    ) -> None:
        """Say on the error topic what was wrong (unless too many were said just now)."""
        if not self.throttle.allow():
            return
        _log.info("%s: %s", self.topics.set, message)
        self._send_error(message, request_id=request_id, payload=payload)

    def _send_error(
        self, message: str, *, request_id: str | int | None = None, payload: bytes = b""
    ) -> None:
        doc = payloads.error_payload(
            message, topic=self.topics.set, request_id=request_id, payload=payload
        )
        self.outbox.send(self.topics.error, payloads.dumps(doc))

    def _report_suppressed(self, count: int) -> None:
        doc = suppressed_doc(count, self.topics.set)
        self.outbox.send(self.topics.error, payloads.dumps(doc))

    def refuse(self, request_id: str | int | None, message: str, kind: str) -> None:
        """A command that is not carried out: the error topic, and a reply if it had an id."""
        self.error(message, request_id=request_id)
        self.reply_error(request_id, message, kind)

    def reply_error(
        self, request_id: str | int | None, message: str, kind: str, *, qos: int = 1
    ) -> None:
        """Only the reply of a refusal (for commands that carried an ``id``)."""
        if request_id is not None:
            reply = payloads.reply_payload(request_id, error=message, kind=kind)
            self.outbox.send(self.topics.reply, payloads.dumps(reply), qos=qos)

    def dropped(self, drop: Dropped) -> None:
        """A command accepted but not carried out: its sender hears of it if it gave an ``id``
        (the error topic is not told: a sender in a hurry would flood it)."""
        # QoS 0: there is one for every command a flood replaces, and waiting for the broker's
        # acknowledgement of each held the publisher (and the stop's own reply) behind them.
        if drop.command.id is None or not self._drop_replies.allow(self._clock()):
            return
        message = f"dropped: {drop.reason.value}"
        self.reply_error(drop.command.id, message, "dropped", qos=0)

    def done(self, request_id: str | int | None) -> None:
        """A command carried out: the reply holds the state just after it."""
        if request_id is None:
            return
        state = json.loads(self.outbox.retained.get(self.topics.state, b"null") or b"null")
        reply = payloads.reply_payload(request_id, state=state)
        self.outbox.send(self.topics.reply, payloads.dumps(reply))

    def close(self) -> None:
        """Forget a pending count (the gateway is going away)."""
        self.throttle.close()
