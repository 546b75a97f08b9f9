"""An in-process link to a simulated device: the same bytes as a wire, without the wire."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Transport

if TYPE_CHECKING:
    from massagesim import SimLink, SimulatedDevice


class InProcessTransport(Transport):
    """Talks to a :class:`massagesim.SimulatedDevice` in the same event loop."""

    def __init__(self, device: SimulatedDevice, description: str | None = None) -> None:
        super().__init__(description or f"sim:{device.profile.name}")
        self.device = device
        self._link: SimLink | None = None

    async def open(self) -> None:
        """Attach to the device as its live host link."""
        self._link = self.device.connect(self._deliver)

    async def write(self, data: bytes) -> None:
        """Hand bytes to the device's firmware."""
        self._check_open()
        assert self._link is not None, "write before open"
        self._link.feed(data)

    async def close(self) -> None:
        """Detach from the device (which keeps running until its watchdog stops it)."""
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._mark_lost("closed")
