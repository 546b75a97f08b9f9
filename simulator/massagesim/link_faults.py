"""Faults on a simulated device's link: what it sends swallowed, corrupted or held back.

The device itself carries on as if nothing were wrong: it still hears the host and obeys it.
:class:`LinkFaults` is ``device.faults.link``; :class:`~massagesim.fault_injection.FaultInjector`
is the handle tests use.

Late answers and time
---------------------
How late an answer is is measured on the clock the host's answer timeout runs on, and that is
wall time: a host holds a :class:`~massagectl.clock.VirtualClock` still while it waits for an
answer (virtual time must not jump past the timeout), so an answer held back on the virtual clock
would never come at all, however short the delay. So :meth:`delay_answers` holds the bytes back
for *wall* seconds. The device's clock is not held meanwhile: a host that waits for the answer
holds virtual time still itself, so its timeout (0.5 s for OMP/1, then a retry; 1 s for Lovense
and Theragun) sees the delay exactly as it is, and its own short waits between retries go on as
they would on a wire; a host that does not wait (a Theragun or RongTai command) may see virtual
time move on before the late answer lands. Under the real clock wall time is the device's time.
Keep delays short and few under virtual time: each costs its wall seconds.

An *answer* is what the device sends in reply to bytes it heard (an OMP/1 ACK and the STATUS it
caused, a Lovense ``OK;``, a Theragun or RongTai status after a command); what it sends by itself
(a periodic status) is not delayed, but keeps its place in line: bytes never overtake each other
on a link, so it waits behind an answer still held back. A delay needs a running event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .device import SimLink, SimulatedDevice

_LOG = logging.getLogger(__name__)

#: The byte that ends a message, for the protocols whose messages have one: a garbled chunk gets
#: one wrong byte in each message, never in a delimiter (which would merge two messages).
_DELIMITERS: Final[dict[str, int]] = {"omp": 0x00, "lovense": ord(";")}


@dataclass(frozen=True, slots=True)
class _Held:
    """A chunk held back by :meth:`LinkFaults.delay` until ``release_at`` (loop time)."""

    link: SimLink
    release_at: float
    data: bytes


class LinkFaults:
    """What happens to the device's bytes between the firmware and the host.

    Every chunk the device sends passes :meth:`transmit`; with no fault set it goes straight
    through. Made by :class:`FaultInjector`; reach it as ``device.faults.link``.
    """

    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        self.muted = False
        self._garble_p = 0.0
        self._garble_left: int | None = None
        self._rng = random.Random(0)
        self._delay_s = 0.0
        self._delay_left: int | None = None
        self._held: deque[_Held] = deque()
        self._timer: asyncio.TimerHandle | None = None
        #: Chunks swallowed while muted, garbled, and held back so far (for tests and logs).
        self.swallowed = 0
        self.garbled = 0
        self.delayed = 0

    # --- settings ------------------------------------------------------------------------------

    def garble(self, probability: float, count: int | None, seed: int) -> None:
        """Garble each chunk with ``probability``; stop after ``count`` garbled (None: never)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"garble probability {probability} is outside 0..1")
        if count is not None and count < 0:
            raise ValueError(f"cannot garble {count} chunks")
        self._garble_p = probability
        self._garble_left = count
        self._rng = random.Random(seed)

    def delay(self, seconds: float, count: int | None) -> None:
        """Hold the next ``count`` answers (None: all, until the delay is set to 0) back."""
        if not seconds >= 0:
            raise ValueError(f"a delay of {seconds} s: expected 0 or more seconds")
        if count is not None and count < 0:
            raise ValueError(f"cannot delay {count} chunks")
        self._delay_s = float(seconds)
        self._delay_left = count

    @property
    def garbling(self) -> bool:
        """Whether chunks may still be garbled."""
        return self._garble_p > 0 and self._garble_left != 0

    @property
    def delaying(self) -> bool:
        """Whether chunks are still being held back."""
        return self._delay_s > 0 and self._delay_left != 0

    @property
    def in_flight(self) -> int:
        """Chunks held back and not delivered yet."""
        return len(self._held)

    # --- the output path -------------------------------------------------------------------

    def transmit(self, link: SimLink, data: bytes, *, answer: bool = False) -> None:
        """Send one chunk the device produced over ``link``, through whatever fault is set;
        ``answer``: the chunk replies to bytes the device heard (only answers are delayed)."""
        if self.muted:
            self.swallowed += 1
            _LOG.debug("%s: muted, swallowed %d bytes", self._device.profile.name, len(data))
            return
        if self.garbling and (self._garble_p >= 1.0 or self._rng.random() < self._garble_p):
            data = self._corrupt(data)
            self.garbled += 1
            if self._garble_left is not None:
                self._garble_left -= 1
        delay = 0.0
        if answer and self.delaying:
            delay = self._delay_s
            self.delayed += 1
            if self._delay_left is not None:
                self._delay_left -= 1
        if delay <= 0 and not self._held:
            link.transmit_now(data)
            return
        self._hold(link, data, delay)

    def discard(self, link: SimLink) -> None:
        """A link closed: what was held back for it is never sent."""
        self._held = deque(held for held in self._held if held.link is not link)
        if not self._held and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _corrupt(self, data: bytes) -> bytes:
        # One wrong byte per message: the change always has the top bit set, so that ASCII text
        # becomes unprintable (a Lovense host drops it, as it would line noise) and a binary
        # frame never gains a stray delimiter.
        out = bytearray(data)
        delimiter = _DELIMITERS.get(self._device.profile.protocol)
        for start, end in _messages(out, delimiter):
            i = self._rng.randrange(start, end)
            mask = self._rng.randrange(0x80, 0x100)
            if out[i] ^ mask == (delimiter if delimiter is not None else -1):
                mask ^= 0x01
            out[i] ^= mask
        return bytes(out)

    def _hold(self, link: SimLink, data: bytes, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("late answers need a running event loop") from None
        release_at = loop.time() + delay
        if self._held:
            # In order, as on any wire: nothing overtakes a chunk already in flight.
            release_at = max(release_at, self._held[-1].release_at)
        self._held.append(_Held(link, release_at, data))
        if self._timer is None:
            self._timer = loop.call_at(self._held[0].release_at, self._release)

    def _release(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        while self._held and self._held[0].release_at <= loop.time():
            held = self._held.popleft()
            held.link.transmit_now(held.data)
        if self._held:
            self._timer = loop.call_at(self._held[0].release_at, self._release)


def _messages(data: bytearray, delimiter: int | None) -> list[tuple[int, int]]:
    """The (start, end) of each non-empty message in a chunk, delimiters left out."""
    if delimiter is None:
        return [(0, len(data))] if data else []
    spans, start = [], 0
    for i, byte in enumerate(data):
        if byte == delimiter:
            if i > start:
                spans.append((start, i))
            start = i + 1
    if start < len(data):
        spans.append((start, len(data)))
    return spans


__all__ = ["LinkFaults"]
