"""Telling a simulated device to misbehave: the test-facing fault handle, ``device.faults``.

Two kinds of fault, kept where they happen:

- **On the link** (:class:`LinkFaults`): what the device sends can be swallowed (:meth:`mute`),
  corrupted (:meth:`garble`), or, for its answers, held back (:meth:`delay_answers`). The device
  itself carries on as if nothing were wrong: it still hears the host and obeys it.
- **In the device** (delegated to the firmware or the physical model): a refused command
  (:meth:`refuse_next`), an overheat (:meth:`overheat`, :meth:`runaway`), a stalled motor
  (:meth:`motor_fault`), a low battery (:meth:`low_battery`), an auto-off (:meth:`auto_off_in`,
  :meth:`set_auto_off`), and a dropped link (:meth:`drop_link`).

:class:`FaultSpec` and :meth:`FaultInjector.play` are the same faults as ``massagectl sim
--fault NAME[=VALUE][@SECONDS]`` takes them, for people testing their own apps.

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
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from massagectl.errors import UsageError
from massagectl.protocols.omp import AckCode

from .lies import LIE_FAULTS, lie_problem, tell

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


class FaultInjector:
    """The test-facing fault handle of one :class:`~massagesim.SimulatedDevice`.

    Reach it as ``device.faults``. Each method takes effect at the device clock's now. The
    physical faults (heat, motor, battery) are the world's state and stay until changed back;
    the link faults and refusals end with :meth:`clear`.
    """

    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        #: The link-level faults (mute, garble, delay) and their counters.
        self.link = LinkFaults(device)

    # --- on the link -----------------------------------------------------------------------------

    def drop_link(self) -> None:
        """Drop the live link by accident (see :meth:`SimulatedDevice.drop_link`)."""
        self._device.drop_link()

    def garble(self, probability: float = 1.0, *, count: int | None = None, seed: int = 0) -> None:
        """Corrupt what the device sends from now on.

        Each chunk (an answer and the status it caused; a periodic status) is garbled with
        ``probability``, decided by a random generator seeded with ``seed`` so that a test sees
        the same bytes every run; with ``count``, garbling stops after that many chunks. A
        garbled chunk has one wrong byte in each of its messages: every protocol's host can
        tell, except RongTai's, whose status has no documented checksum.
        """
        self.link.garble(probability, count, seed)

    def stop_garbling(self) -> None:
        """Send clean bytes again."""
        self.link.garble(0.0, None, 0)

    def delay_answers(self, seconds: float, *, count: int | None = None) -> None:
        """Hold the device's answers back for ``seconds`` of wall time (see the module notes).

        With ``count``, only the next that many answers are late (an OMP/1 retry gets an answer
        of its own); otherwise all until ``delay_answers(0)``.
        """
        self.link.delay(seconds, count)

    def mute(self) -> None:
        """Send nothing at all: the device keeps hearing the host and obeying it."""
        self.link.muted = True

    def unmute(self) -> None:
        """Send again."""
        self.link.muted = False

    # --- in the device -------------------------------------------------------------------------

    def refuse_next(self, count: int = 1, code: AckCode = AckCode.REFUSED_FAULT) -> None:
        """Refuse the next ``count`` commands that start or raise something (never a stop).

        OMP/1 answers the ACK ``code``; Lovense ``ERR;``; Theragun and RongTai have no way to
        refuse, so they ignore the command.
        """
        self._device.firmware.refuse_next(count, code)

    def overheat(self) -> None:
        """Put the heater at its cut-out temperature: the device cuts its heat now."""
        limit = self._device.profile.limits.max_temp_c
        if limit <= 0:
            raise ValueError(f"{self._device.profile.name} has no heater cut-out to trip")
        self._device.set_temperature(limit)

    def runaway(self, celsius: float | None) -> None:
        """A failed thermostat: the heater aims for ``celsius`` while on; None repairs it."""
        if celsius is not None and self._device.profile.heat_levels == 0:
            raise ValueError(f"{self._device.profile.name} has no heater")
        self._device.set_runaway(celsius)

    def motor_fault(self) -> None:
        """Stall the motor: it stops, and cannot start until repaired."""
        if self._device.profile.speed_levels == 0:
            raise ValueError(f"{self._device.profile.name} has no motor")
        self._device.inject_motor_fault()

    def clear_motor_fault(self) -> None:
        """Repair the motor."""
        self._device.clear_motor_fault()

    def low_battery(self, percent: float | None = None) -> None:
        """Run the battery down to ``percent`` (by default the profile's low-battery level)."""
        low = self._device.profile.simulation.low_battery_pct
        self._device.set_battery(float(low) if percent is None else percent)

    def auto_off_in(self, seconds: float) -> None:
        """The device's auto-off ends its running activity ``seconds`` from now."""
        device = self._device
        device._deliver(device.firmware.auto_off_in(seconds, device.clock.now()))

    def set_auto_off(self, seconds: float) -> None:
        """The device's auto-off comes after ``seconds`` of continuous activity from now on."""
        device = self._device
        device._deliver(device.firmware.set_auto_off(seconds, device.clock.now()))

    def clear(self) -> None:
        """End the link faults and the refusals still to come (physical faults stay)."""
        self.unmute()
        self.stop_garbling()
        self.delay_answers(0)
        self.refuse_next(0)

    # --- the ``--fault`` form ----------------------------------------------------------------

    def check(self, spec: FaultSpec) -> None:
        """Raise :class:`~massagectl.errors.UsageError` if this device cannot have the fault."""
        profile = self._device.profile
        lacks = {
            "overheat": profile.limits.max_temp_c <= 0 and "no heater cut-out",
            "runaway": profile.heat_levels == 0 and "no heater",
            "motor": profile.speed_levels == 0 and "no motor",
            "battery": not profile.capabilities.battery and "no battery (it is mains powered)",
            "low-battery": not profile.capabilities.battery and "no battery (it is mains powered)",
            "auto-off": self._device.firmware.auto_off_s is None and "no auto-off",
        }.get(spec.name)
        if spec.name in LIE_FAULTS:
            lacks = lie_problem(profile, spec.name, spec.value)
        if lacks:
            raise UsageError(f"--fault {spec.text}: {profile.name} has {lacks}")

    def apply(self, spec: FaultSpec) -> None:
        """Inject one fault now, as ``--fault`` names it (its ``at`` is the caller's business)."""
        self.check(spec)
        name, value = spec.name, spec.value
        if name == "garble":
            self.garble(1.0 if value is None else value)
        elif name == "late":
            assert value is not None
            self.delay_answers(value)
        elif name == "mute":
            self.mute()
        elif name == "refuse":
            self.refuse_next(1 if value is None else int(value))
        elif name == "drop":
            self.drop_link()
        elif name == "overheat":
            self.overheat()
        elif name == "runaway":
            self.runaway(value)
        elif name == "motor":
            self.motor_fault()
        elif name == "battery":
            assert value is not None
            self._device.set_battery(value)
        elif name == "low-battery":
            self.low_battery()
        elif name == "auto-off":
            assert value is not None
            self.set_auto_off(value)
        elif name in LIE_FAULTS:
            assert value is not None
            tell(self._device.firmware.lies, name, value)
        else:  # parse_fault only makes known names
            raise AssertionError(name)
        _LOG.info("%s: fault %s injected", self._device.profile.name, spec.text)

    async def play(
        self,
        plan: Sequence[FaultSpec],
        on_apply: Callable[[FaultSpec, float], None] | None = None,
    ) -> None:
        """Inject each fault of ``plan`` at its ``at`` seconds from now, on the device's clock.

        ``on_apply`` is called with each fault and the clock time it went in. A fault the
        device cannot take at its time (e.g. an auto-off while idle) is logged and skipped.
        """
        clock = self._device.clock
        origin = clock.now()
        for spec in sorted(plan, key=lambda s: s.at):
            await clock.sleep_until(origin + spec.at)
            try:
                self.apply(spec)
            except (ValueError, UsageError) as exc:
                _LOG.warning("%s: fault %s not injected: %s", self._device.profile.name, spec, exc)
                continue
            if on_apply is not None:
                on_apply(spec, clock.now())


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One ``--fault NAME[=VALUE][@SECONDS]``: which fault, its value, and when (from the start)."""

    name: str
    value: float | None = None
    at: float = 0.0

    @property
    def text(self) -> str:
        """The fault as it would be written on the command line."""
        value = "" if self.value is None else f"={self.value:g}"
        at = f"@{self.at:g}" if self.at else ""
        return f"{self.name}{value}{at}"

    def __str__(self) -> str:
        return self.text


#: Every fault ``--fault`` knows: whether its value is required (True), optional (None) or not
#: taken (False), and what it does.
FAULTS: Final[dict[str, tuple[bool | None, str]]] = {
    "garble": (None, "garble what the device sends, each chunk with probability P (default 1)"),
    "late": (True, "answers go out SECONDS late (wall time)"),
    "mute": (False, "the device sends nothing, and keeps obeying"),
    "refuse": (None, "refuse the next N commands that start something (default 1)"),
    "drop": (False, "drop the link (give @SECONDS)"),
    "overheat": (False, "the heater hits its cut-out: heat cut, OVERHEAT"),
    "runaway": (True, "a failed thermostat: the heater aims for CELSIUS while on"),
    "motor": (False, "the motor stalls: MOTOR, it cannot start"),
    "battery": (True, "set the battery to PERCENT"),
    "low-battery": (False, "run the battery down to the profile's low-battery level"),
    "auto-off": (True, "the device's auto-off after SECONDS of continuous activity"),
    **{name: (True, text) for name, (_, text) in LIE_FAULTS.items()},
}

_SPEC = re.compile(r"^(?P<name>[a-z-]+)(?:=(?P<value>[^@]+))?(?:@(?P<at>.+))?$")


def parse_fault(text: str) -> FaultSpec:
    """Parse ``NAME[=VALUE][@SECONDS]``; raise :class:`~massagectl.errors.UsageError` naming
    what is wrong."""
    m = _SPEC.match(text.strip())
    known = ", ".join(FAULTS)
    if m is None or m["name"] not in FAULTS:
        raise UsageError(f"--fault {text!r}: expected NAME[=VALUE][@SECONDS], NAME one of {known}")
    name = m["name"]
    wants, _ = FAULTS[name]
    value = _number(text, m["value"], "value") if m["value"] is not None else None
    if wants is True and value is None:
        raise UsageError(f"--fault {text!r}: {name} needs a value ({name}=...)")
    if wants is False and value is not None:
        raise UsageError(f"--fault {text!r}: {name} takes no value")
    if name == "garble" and value is not None and not 0 <= value <= 1:
        raise UsageError(f"--fault {text!r}: the garble probability must be within 0..1")
    if name == "refuse" and value is not None and (value < 1 or value != int(value)):
        raise UsageError(f"--fault {text!r}: refuse takes a whole number of commands, 1 or more")
    if value is not None and value < 0:
        raise UsageError(f"--fault {text!r}: the value must not be negative")
    at = _number(text, m["at"], "time") if m["at"] is not None else 0.0
    if at < 0:
        raise UsageError(f"--fault {text!r}: the time must not be negative")
    if name == "drop" and at == 0:
        raise UsageError(f"--fault {text!r}: a drop needs a time (drop@SECONDS): no link yet")
    return FaultSpec(name, value, at)


def _number(text: str, raw: str, what: str) -> float:
    try:
        value = float(raw.strip().removesuffix("s"))
    except ValueError:
        raise UsageError(f"--fault {text!r}: the {what} {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"--fault {text!r}: the {what} {raw!r} is not a finite number")
    return value


__all__ = ["FAULTS", "FaultInjector", "FaultSpec", "LinkFaults", "parse_fault"]
