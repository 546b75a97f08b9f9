"""Serial lines (USB CDC, UART, Bluetooth SPP, pseudo-terminals) via pyserial-asyncio-fast."""

from __future__ import annotations

import asyncio
import logging
import os

import serial
import serial_asyncio_fast

from ..clock import Clock
from ..errors import LinkError
from .base import StreamProtocol, Transport

_log = logging.getLogger(__name__)

#: The longest :meth:`SerialTransport.close` waits for the port to be released. Draining and
#: closing take a few milliseconds; the bound only keeps a wedged driver from hanging a close.
CLOSE_TIMEOUT_S = 2.0


class _SerialProtocol(StreamProtocol):
    """A :class:`StreamProtocol` that also tells when the port is closed for good.

    pyserial-asyncio-fast drains and closes the port in worker threads after ``close()`` and
    calls ``connection_lost`` only once the descriptor (and with it the exclusive lock) is gone:
    that call, not ``close()`` returning, is when the port is free to open again.
    """

    def __init__(self, owner: Transport) -> None:
        super().__init__(owner)
        self.released = asyncio.Event()

    def connection_lost(self, exc: Exception | None) -> None:
        """Pass the loss on, and note that the port is free."""
        self.released.set()
        super().connection_lost(exc)


class SerialTransport(Transport):
    """A serial port at 8N1 without flow control, the framing every supported protocol uses."""

    carries_stale_bytes = True

    def __init__(self, path: str, baud: int = 115200, *, clock: Clock | None = None) -> None:
        super().__init__(f"serial:{path}", clock=clock)
        self.path = path
        self.baud = baud
        self._transport: asyncio.Transport | None = None
        self._protocol: _SerialProtocol | None = None

    async def open(self) -> None:
        """Open the port."""
        loop = asyncio.get_running_loop()
        protocol = _SerialProtocol(self)
        try:
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                loop,
                lambda: protocol,
                self.path,
                baudrate=self.baud,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                xonxoff=False,
                rtscts=False,
                dsrdtr=False,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            # pyserial wraps the OS error in a long sentence; the errno says it best.
            code = getattr(exc, "errno", None)
            reason = os.strerror(code) if isinstance(code, int) else str(exc)
            raise LinkError(f"serial port {self.path}: cannot open: {reason}") from None
        self._transport = transport
        self._protocol = protocol

    async def write(self, data: bytes) -> None:
        """Queue bytes for the port."""
        self._check_open()
        assert self._transport is not None, "write before open"
        self._transport.write(data)

    async def close(self) -> None:
        """Close the port (waits for pending bytes to drain); returns once the port is free,
        so that it can be opened again at once (it is opened exclusively)."""
        transport, self._transport = self._transport, None
        protocol, self._protocol = self._protocol, None
        # First, so that readers hear that this host closed the link: the connection_lost that
        # follows would otherwise report it as closed by the other side.
        self._mark_lost("closed")
        if transport is None or protocol is None:
            return
        transport.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await protocol.released.wait()
        except TimeoutError:
            _log.warning(
                "%s: the port was not released within %.0f s of closing it",
                self.description,
                CLOSE_TIMEOUT_S,
            )
