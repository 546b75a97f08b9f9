"""Serial lines (USB CDC, UART, Bluetooth SPP, pseudo-terminals) via pyserial-asyncio-fast."""

from __future__ import annotations

import asyncio
import os

import serial
import serial_asyncio_fast

from ..errors import LinkError
from .base import StreamProtocol, Transport


class SerialTransport(Transport):
    """A serial port at 8N1 without flow control, the framing every supported protocol uses."""

    carries_stale_bytes = True

    def __init__(self, path: str, baud: int = 115200) -> None:
        super().__init__(f"serial:{path}")
        self.path = path
        self.baud = baud
        self._transport: asyncio.Transport | None = None

    async def open(self) -> None:
        """Open the port."""
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await serial_asyncio_fast.create_serial_connection(
                loop,
                lambda: StreamProtocol(self),
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

    async def write(self, data: bytes) -> None:
        """Queue bytes for the port."""
        self._check_open()
        assert self._transport is not None, "write before open"
        self._transport.write(data)

    async def close(self) -> None:
        """Close the port (waits for pending bytes to drain)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            # Let the serial transport flush and call connection_lost.
            await asyncio.sleep(0)
        self._mark_lost("closed")
