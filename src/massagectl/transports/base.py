"""The one interface every transport offers: open, write, a stream of chunks, close, lost."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

from ..clock import Clock, MonotonicClock
from ..errors import LinkError, LinkLost

_log = logging.getLogger(__name__)


class Transport(ABC):
    """A byte pipe to one device.

    Received chunks queue up until :meth:`read` takes them; once the link is lost, ``read``
    raises :class:`~massagectl.errors.LinkLost` after the queued chunks are drained. A consumer
    that sets a receiver (:meth:`set_receiver`) is handed each chunk as it arrives instead, and
    learns of the loss from :attr:`lost` (:meth:`wait_lost`).
    """

    #: Whether the line may hold a half frame from an earlier host (serial lines do; a fresh
    #: socket or an in-process link does not). The device layer sends its resync byte if so.
    carries_stale_bytes: bool = False

    #: Backoff before each reconnect try: doubling from the first to the last value.
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    reconnect_attempts: int = 6

    def __init__(self, description: str, *, clock: Clock | None = None) -> None:
        self.description = description
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        #: Called with each chunk as it arrives, in place of the queue (see set_receiver).
        self._receiver: Callable[[bytes], None] | None = None
        #: Whether the receiver may be called while this transport's own write() runs.
        self._receiver_reentrant = False
        self._lost_reason: str | None = None
        self.lost = asyncio.Event()
        #: The clock reconnect backoff waits on, given when the link is made: the device layer
        #: above keeps time on it too, so that a virtual clock moves both alike.
        self.clock: Clock = clock or MonotonicClock()

    @abstractmethod
    async def open(self) -> None:
        """Open the link; raise :class:`~massagectl.errors.LinkError` naming what failed."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Send bytes; raise :class:`~massagectl.errors.LinkLost` if the link is gone."""

    @abstractmethod
    async def close(self) -> None:
        """Close the link. Safe to call more than once, and after the link was lost."""

    async def reconnect(self, *, attempts: int | None = None) -> None:
        """Open the link again after a loss, waiting 0.5 s, 1 s, 2 s … 8 s before the tries.

        Chunks from the old link are dropped. Raises :class:`LinkError` when every try failed.
        """
        if not self.is_lost:
            return
        await self._before_reconnect()
        tries = attempts if attempts is not None else self.reconnect_attempts
        delay, last = self.backoff_initial_s, None
        for attempt in range(1, tries + 1):
            _log.info(
                "%s: reconnecting in %g s (try %d of %d)", self.description, delay, attempt, tries
            )
            await self.clock.sleep_until(self.clock.now() + delay)
            delay = min(delay * 2, self.backoff_max_s)
            self._check_still_wanted()
            try:
                await self._reopen()
            except LinkError as exc:
                last = exc
                _log.info("%s: reconnect try %d failed: %s", self.description, attempt, exc)
                continue
            _log.info("%s: reconnected", self.description)
            return
        reason = str(last).removeprefix(f"{self.description}: ") if last else "no tries made"
        raise LinkError(f"{self.description}: could not reconnect after {tries} tries: {reason}")

    async def _before_reconnect(self) -> None:
        """What a transport must let go of before it tries again (nothing, here)."""
        return None

    def _check_still_wanted(self) -> None:
        """Raise :class:`LinkError` if the link was closed while waiting to try again."""
        return None

    async def _reopen(self) -> None:
        """One try at opening the link again; a failed one leaves it marked lost."""
        self._restart()
        try:
            await self.open()
        except LinkError as exc:
            self._mark_lost(str(exc))
            raise

    def _restart(self) -> None:
        # A loss ends the chunk stream for good; a new link starts a new one.
        self._chunks = asyncio.Queue()
        self._lost_reason = None
        self.lost.clear()

    async def read(self) -> bytes:
        """The next received chunk."""
        chunk = await self._chunks.get()
        if chunk is None:
            self._chunks.put_nowait(None)  # every later read sees the loss too
            raise self.lost_error()
        return chunk

    def set_receiver(
        self, receiver: Callable[[bytes], None] | None, *, reentrant: bool = False
    ) -> None:
        """Hand every received chunk to ``receiver`` as it arrives (None: queue them again).

        It saves a queue and a reader task's turn of the loop per chunk. The receiver runs in
        the transport's own callback, so it must not block, and what it raises is the
        caller's to catch. Chunks queued before it was set are handed to it first, in order.
        ``reentrant`` says that it may also be called from inside :meth:`write` (a link whose
        far end answers at once, in process); otherwise such a link holds those chunks back
        until the write has returned.
        """
        self._receiver = receiver
        self._receiver_reentrant = reentrant
        if receiver is None:
            return
        chunks = self._chunks
        while not chunks.empty():
            chunk = chunks.get_nowait()
            if chunk is None:
                chunks.put_nowait(None)  # the loss stays visible to read()
                break
            receiver(chunk)

    async def wait_lost(self) -> LinkLost:
        """Wait until the link is lost; the error that says why."""
        await self.lost.wait()
        return self.lost_error()

    def lost_error(self) -> LinkLost:
        """The error for a lost link, naming why it was lost."""
        return LinkLost(f"{self.description}: {self._lost_reason or 'link closed'}")

    @property
    def is_lost(self) -> bool:
        """Whether the link has gone away."""
        return self.lost.is_set()

    def received(self, data: bytes) -> None:
        """Take a chunk the link received (for the protocol object that reads the link)."""
        self._deliver(data)

    def dropped(self, reason: str) -> None:
        """Mark the link lost for ``reason`` (for the protocol object that watches the link)."""
        self._mark_lost(reason)

    def _deliver(self, data: bytes) -> None:
        if data and not self.lost.is_set():
            receiver = self._receiver
            # bytes() of a bytes object is that object: the copy only happens for a buffer
            # that the sender may reuse (a bytearray).
            if receiver is not None:
                receiver(bytes(data))
            else:
                self._chunks.put_nowait(bytes(data))

    def _mark_lost(self, reason: str) -> None:
        if self.lost.is_set():
            return
        _log.info("%s: link lost: %s", self.description, reason)
        self._lost_reason = reason
        self.lost.set()
        self._chunks.put_nowait(None)

    def _check_open(self) -> None:
        if self.lost.is_set():
            raise LinkLost(f"{self.description}: {self._lost_reason or 'link closed'}")


class StreamProtocol(asyncio.Protocol):
    """Feeds an asyncio connection (socket or serial) into a :class:`Transport`."""

    def __init__(self, owner: Transport) -> None:
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        """Hand the chunk to the owner (its receiver, or its queue for readers)."""
        self._owner.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the owner its link is gone."""
        self._owner.dropped(str(exc) if exc else "closed by the other side")
