"""Serve a simulated device where any program can reach it: on a pseudo-terminal or a TCP port.

Both servers only move bytes between the outside and a :class:`~massagesim.device.SimLink`; the
device (and its time loop, which the caller runs) is unaware of how it is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import tty
from collections.abc import AsyncIterator

from .device import SimulatedDevice

_LOG = logging.getLogger(__name__)

_READ_SIZE = 4096


class _MasterWriter:
    """Writes device bytes to a pty master without ever blocking the event loop.

    With no host reading the slave, the pty's buffer fills up; then bytes are dropped (a host
    that was not listening has missed them anyway, and the protocol copes with lost frames).
    """

    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        self._path = path
        self._dropping = False

    def write(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            _LOG.warning("%s: writing to the pty failed: %s", self._path, exc)
            return
        if written < len(data):
            # Warn once per episode: a host that stopped reading would otherwise flood the log.
            log = _LOG.debug if self._dropping else _LOG.warning
            log(
                "%s: pty buffer full (no host reading?), dropped %d bytes",
                self._path,
                len(data) - written,
            )
            self._dropping = True
        elif self._dropping:
            _LOG.info("%s: pty writable again", self._path)
            self._dropping = False


@contextlib.asynccontextmanager
async def serve_pty(device: SimulatedDevice) -> AsyncIterator[str]:
    """Serve ``device`` on a new pseudo-terminal; yields the slave's path (``/dev/pts/N``).

    Open the path like a serial port (115200 8N1, though a pty ignores the speed). A host may
    close and reopen it: it reaches the same device. The caller runs the device's time loop
    (``async with device``).
    """
    master, slave = os.openpty()
    try:
        # Raw, without echo: every byte, 0x00 and control characters included, must pass
        # unchanged, and an echo would feed the device's own frames back to it.
        tty.setraw(slave)
        os.set_blocking(master, False)
        path = os.ttyname(slave)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    # The slave stays open here for as long as we serve: with no open slave, reading the master
    # fails with EIO, which would end the server every time a host closed the port.
    loop = asyncio.get_running_loop()
    writer = _MasterWriter(master, path)
    link = device.connect(writer.write)

    def on_readable() -> None:
        try:
            data = os.read(master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # not expected while we hold the slave, but harmless
                return
            _LOG.warning("%s: reading the pty failed, no longer serving: %s", path, exc)
            loop.remove_reader(master)
            return
        if data:
            link.feed(data)

    loop.add_reader(master, on_readable)
    _LOG.info("%s served on %s", device.profile.name, path)
    try:
        yield path
    finally:
        loop.remove_reader(master)
        link.close()
        os.close(master)
        os.close(slave)


@contextlib.asynccontextmanager
async def serve_tcp(
    device: SimulatedDevice, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[str, int]]:
    """Serve ``device`` on a TCP port; yields the ``(host, port)`` it listens on.

    Port 0 picks a free port. Each accepted connection becomes the device's live link (the one
    before it is closed); a client that disconnects leaves the device running until its
    watchdog stops it, as a real device would. The caller runs the device's time loop.
    """
    handlers: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        writers.add(writer)
        peer = writer.get_extra_info("peername")

        def send(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        link = device.connect(send, on_close=writer.close)
        _LOG.info("%s: TCP host %s connected", device.profile.name, peer)
        try:
            while data := await reader.read(_READ_SIZE):
                link.feed(data)
        except ConnectionError as exc:
            _LOG.info("%s: TCP host %s: %s", device.profile.name, peer, exc)
        finally:
            _LOG.info("%s: TCP host %s gone", device.profile.name, peer)
            link.close()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            writers.discard(writer)
            if task is not None:
                handlers.discard(task)

    server = await asyncio.start_server(handle, host, port)
    sockname = server.sockets[0].getsockname()
    bound = (str(sockname[0]), int(sockname[1]))
    _LOG.info("%s served on tcp://%s:%d", device.profile.name, *bound)
    try:
        yield bound
    finally:
        server.close()
        for w in list(writers):
            w.close()
        # Let the connection handlers see their end and finish, so no task outlives the server.
        if handlers:
            await asyncio.wait(list(handlers), timeout=2.0)
        await server.wait_closed()
