"""An in-process link to a simulated device: the same bytes as a wire, without the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from ..clock import Clock
from ..profiles import Profile
from .base import Transport


class DeviceLink(Protocol):
    """A host's end of a link to an in-process device."""

    def feed(self, data: bytes) -> None:
        """Hand bytes to the device."""
        ...

    def close(self) -> None:
        """Detach from the device."""
        ...


class InProcessDevice(Protocol):
    """A device living in this process (the simulator's, a plug-in): bytes in, bytes out."""

    @property
    def profile(self) -> Profile:
        """The model the device is."""
        ...

    def connect(self, deliver: Callable[[bytes], None]) -> DeviceLink:
        """Attach a host: the device calls ``deliver`` with every chunk it sends."""
        ...


class InProcessTransport(Transport):
    """Talks to an :class:`InProcessDevice` (a simulated one) in the same event loop.

    The device answers inside :meth:`write`, before it returns. A receiver that is not marked
    reentrant gets those answers a moment later, from the loop, as it would from a wire: a
    driver that updates its own bookkeeping after writing must not hear the answer before that.
    """

    def __init__(
        self,
        device: InProcessDevice,
        description: str | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(description or f"sim:{device.profile.name}", clock=clock)
        self.device = device
        self._link: DeviceLink | None = None
        self._writing = False
        #: Chunks held back for a non-reentrant receiver, oldest first (None: none pending).
        self._held: list[bytes] | None = None

    async def open(self) -> None:
        """Attach to the device as its live host link."""
        self._link = self.device.connect(self._deliver)

    async def write(self, data: bytes) -> None:
        """Hand bytes to the device's firmware."""
        self._check_open()
        assert self._link is not None, "write before open"
        self._writing = True
        try:
            self._link.feed(data)
        finally:
            self._writing = False

    def _deliver(self, data: bytes) -> None:
        if self._held is not None or (
            self._writing and self._receiver is not None and not self._receiver_reentrant
        ):
            # Everything after a held chunk waits its turn too, so that order is kept.
            if self._held is None:
                self._held = []
                asyncio.get_running_loop().call_soon(self._release)
            if data:
                self._held.append(bytes(data))
            return
        super()._deliver(data)

    def _release(self) -> None:
        held, self._held = self._held or [], None
        for chunk in held:
            super()._deliver(chunk)

    async def close(self) -> None:
        """Detach from the device (which keeps running until its watchdog stops it)."""
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._mark_lost("closed")
