"""Shared helpers for the simulator tests: a host talking bytes to a firmware at chosen times."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractContextManager
from typing import Any

from massagectl.profiles import Profile
from massagectl.protocols.omp import Ack, BadFrame, Message, OmpHost, Request, Status
from massagesim import OmpFirmware


class ManualClock:
    """A clock that moves only when told to (or when something sleeps on it)."""

    speedup = 1.0

    def __init__(self, t: float = 100.0) -> None:
        self._t = t

    def now(self) -> float:
        """The current time."""
        return self._t

    def advance(self, dt: float) -> None:
        """Move time forward."""
        self._t += dt

    async def sleep_until(self, deadline: float) -> None:
        """Jump to the deadline at once (virtual time), then let other tasks run."""
        self._t = max(self._t, deadline)
        await asyncio.sleep(0)

    def busy(self) -> AbstractContextManager[None]:
        """Nothing to hold: time moves only when told."""
        return contextlib.nullcontext()

    def timer(self, deadline: float) -> asyncio.Future[None]:
        """Like sleep_until: time jumps to the deadline, and the future completes at once."""
        self._t = max(self._t, deadline)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class Bench:
    """A host on one side, a firmware on the other, and time passed explicitly."""

    def __init__(self, profile: Profile | str, t0: float = 0.0) -> None:
        self.fw = OmpFirmware(profile, t0)
        self.host = OmpHost()
        self.t = t0

    def send(self, request: Request | bytes, at: float | None = None) -> list[Message]:
        """Send a request (or raw bytes) at a time; return every message the device sent."""
        if at is not None:
            self.t = at
        wire = request.wire if isinstance(request, Request) else request
        return messages(self.host.receive(self.fw.receive(wire, self.t)))

    def tick(self, at: float) -> list[Message]:
        """Let time pass to ``at``; return the unsolicited messages."""
        self.t = at
        return messages(self.host.receive(self.fw.tick(at)))

    def keepalive(self, until: float, every: float = 1.0) -> list[Message]:
        """PING every ``every`` seconds up to ``until``, ticking in between; all messages sent."""
        out: list[Message] = []
        t = self.t
        while t + every <= until + 1e-9:
            t += every
            out += self.send(self.host.ping(), t)
            out += self.tick(t)
        return out


def messages(items: list[Message | BadFrame]) -> list[Message]:
    """Everything decoded, asserting that the device never sent a broken frame."""
    bad = [i for i in items if isinstance(i, BadFrame)]
    assert not bad, f"the device sent broken frames: {bad}"
    return [i for i in items if not isinstance(i, BadFrame)]


def answer(msgs: list[Message]) -> Message:
    """The one answer (SEQ != 0) among the messages."""
    answers = [m for m in msgs if m.seq != 0]
    assert len(answers) == 1, f"expected one answer, got {msgs}"
    return answers[0]


def ack_code(msgs: list[Message]) -> int:
    """The code of the one ACK among the messages."""
    a = answer(msgs)
    assert isinstance(a, Ack), f"expected an ACK, got {a}"
    return a.code


def statuses(msgs: list[Message]) -> list[Status]:
    """The unsolicited STATUS messages (SEQ 0) among the messages."""
    return [m for m in msgs if isinstance(m, Status) and m.seq == 0]


def make_profile(**overrides: Any) -> Profile:
    """A simulated-model profile shaped like the spec's test vectors, with overrides."""
    raw: dict[str, Any] = {
        "name": "spec-vector",
        "title": "Shaped like the OMP/1 test vectors",
        "kind": "percussion",
        "protocol": "omp",
        "power": "battery",
        "capabilities": {
            "speed": {"levels": 13},
            "heat": {"levels": 2, "celsius": [40, 50], "time_constant_s": 100},
            "programs": [
                {"name": f"P{i}", "duration_s": 60, "step_s": 5, "levels": [i, i + 1]}
                for i in range(1, 8)
            ],
            "battery": True,
            "temperature_sensor": True,
        },
        "limits": {"watchdog_s": 3.0, "auto_off_s": 900, "max_temp_c": 60},
        "provenance": {"kind": "simulated-model", "source": "tests"},
    }
    raw.update(overrides)
    return Profile.model_validate(raw)
