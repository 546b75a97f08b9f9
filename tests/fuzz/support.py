"""What every fuzz test shares: its settings, fuzz bytes read as a script of steps, and a
transport that refuses to be written to.

Every fuzz test runs :data:`FUZZ_EXAMPLES` cases (10,000 unless ``MASSAGECTL_FUZZ_EXAMPLES``
says otherwise), derandomized and without a database, so that CI fuzzes the same cases on every
run and a failure is reproduced by running the test again. ``MASSAGECTL_FUZZ_RANDOM=1`` draws
fresh cases instead, for a longer exploratory run::

    MASSAGECTL_FUZZ_EXAMPLES=200000 MASSAGECTL_FUZZ_RANDOM=1 .venv/bin/pytest -q tests/fuzz
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from massagectl.transports.base import Transport

T = TypeVar("T")
E = TypeVar("E", bound=Exception)

#: Cases per fuzz test.
FUZZ_EXAMPLES: Final = int(os.environ.get("MASSAGECTL_FUZZ_EXAMPLES", "10000"))
_RANDOM: Final = os.environ.get("MASSAGECTL_FUZZ_RANDOM", "") not in ("", "0")

#: The settings of every fuzz test.
FUZZ: Final = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=not _RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class NoWrites(Transport):
    """A transport for drivers whose ``feed`` is fuzzed: ``feed`` must never write."""

    def __init__(self) -> None:
        super().__init__("fuzz")

    async def open(self) -> None:
        """Nothing to open."""

    async def write(self, data: bytes) -> None:
        """A driver's ``feed`` writes nothing; a write here is a bug."""
        raise AssertionError(f"feed wrote {data!r}")

    async def close(self) -> None:
        """Nothing to close."""


#: The opcode of a :func:`script` step that lets time pass instead of sending bytes.
WAIT: Final = 0


def script(data: bytes) -> list[tuple[int, bytes]]:
    """Fuzz bytes read as a script of steps ``(opcode, argument)``.

    Each step is one byte, whose low nibble is the opcode (0..15) and whose high nibble is the
    length of the argument that follows (0..15 bytes). Drawing one ``st.binary`` and reading it
    this way is far cheaper than composite strategies, and shrinks just as well: the tests turn
    the opcodes into garbage, waits and well-framed messages with arbitrary contents.
    """
    steps: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        op, length = data[i] & 0x0F, data[i] >> 4
        steps.append((op, data[i + 1 : i + 1 + length]))
        i += 1 + length
    return steps


def padded(arg: bytes, n: int) -> bytes:
    """``arg`` cut or zero-padded to exactly ``n`` bytes."""
    return arg[:n].ljust(n, b"\x00")


def wait_s(arg: bytes) -> float:
    """How long a WAIT step waits: up to 25.5 s, in tenths."""
    return (arg[0] if arg else 1) / 10


def fuzz_bytes(max_size: int = 160) -> st.SearchStrategy[bytes]:
    """Bytes of a length drawn evenly from 0..max_size.

    ``st.binary`` alone keeps to a few bytes on average (its median is 5), which would leave
    long scripts (a device driven through many states) untried.
    """
    return st.integers(0, max_size).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def outcome(call: Callable[[], T], refusal: type[E]) -> T | E:
    """What ``call`` returns, or the ``refusal`` it raises; any other exception gets out."""
    try:
        return call()
    except refusal as exc:
        return exc
