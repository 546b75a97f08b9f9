"""A TCP socket carrying a serial-style protocol (serial-to-network bridges, the simulator)."""

from __future__ import annotations

import asyncio

from ..clock import Clock
from ..errors import LinkError
from .base import StreamProtocol, Transport


class TcpTransport(Transport):
    """A plain TCP connection."""

    def __init__(
        self, host: str, port: int, *, connect_timeout: float = 5.0, clock: Clock | None = None
    ) -> None:
        super().__init__(f"tcp:{host}:{port}", clock=clock)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._transport: asyncio.BaseTransport | None = None

    async def open(self) -> None:
        """Connect."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, _ = await loop.create_connection(
                    lambda: StreamProtocol(self), self.host, self.port
                )
        except TimeoutError:
            raise LinkError(
                f"{self.description}: no connection within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise LinkError(f"{self.description}: cannot connect: {exc.strerror or exc}") from None
        self._transport = transport

    async def write(self, data: bytes) -> None:
        """Send bytes."""
        self._check_open()
        assert isinstance(self._transport, asyncio.WriteTransport), "write before open"
        self._transport.write(data)

    async def close(self) -> None:
        """Close the socket."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._mark_lost("closed")
