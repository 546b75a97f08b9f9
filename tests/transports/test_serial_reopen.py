"""Closing a serial port frees it: the same port opens again at once, exclusively."""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Iterator

import pytest
import serial

from massagectl.errors import LinkLost
from massagectl.transports.serial import SerialTransport

#: Enough rounds that a close returning before the port is free fails (it did in about half
#: of the rounds), and few enough to stay well under a second.
ROUNDS = 40


@pytest.fixture
def pty_path() -> Iterator[tuple[int, str]]:
    """A raw pseudo-terminal: the master's descriptor and the slave's path.

    The slave stays open here as well, as a served device holds it: otherwise the master would
    read EIO each time the port under test is closed.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def _read_master(master: int, timeout: float = 2.0) -> bytes:
    ready, _, _ = select.select([master], [], [], timeout)
    return os.read(master, 64) if ready else b""


async def test_closing_frees_the_port_for_an_exclusive_open_at_once(
    pty_path: tuple[int, str],
) -> None:
    master, path = pty_path
    for i in range(ROUNDS):
        link = SerialTransport(path)
        await link.open()  # raises LinkError "cannot open" while the last one still holds it
        # Each opening carries bytes, so every round uses the port, not only its lock.
        await link.write(bytes((i + 1,)))
        assert _read_master(master) == bytes((i + 1,))
        await link.close()
        # Nothing of the closed transport may still hold the port: pyserial's own exclusive
        # open (a lock on the open file) must succeed now, not eventually.
        with serial.Serial(path, exclusive=True):
            pass


async def test_a_closed_port_reads_as_closed_by_this_host(pty_path: tuple[int, str]) -> None:
    _, path = pty_path
    link = SerialTransport(path)
    await link.open()
    await link.close()
    assert link.is_lost
    with pytest.raises(LinkLost, match=r": closed$"):
        await link.read()
    await link.close()  # a second close is harmless
