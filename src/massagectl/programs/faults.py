"""What a run does when a device misbehaves: end it and stop every device, or warn and go on.

The :class:`~massagectl.programs.scheduler.Scheduler` runs a :class:`FaultWatch` for each run. It
listens to every device's reported state (:meth:`~massagectl.device.Massager.subscribe`) and to
the commands the run sends, and decides, in one place:

- **End the run** (every device is stopped, the run raises :class:`DeviceFault` naming the device
  and the fault) when a device reports a fault that means it cannot or must not go on:
  ``MOTOR``, ``OVERHEAT`` (OMP/1's STATUS bits), ``STOPPED_BY_DEVICE`` (inferred by a driver for a
  device that reports no faults: it stopped by itself, and starting it again unasked would
  override the person's own stop button or a fault), an empty battery,
  :data:`MAX_REFUSALS_IN_A_ROW` refused commands in a row (a device that keeps refusing cannot
  play the program, and cannot say why), ``BAD_REPORT`` (the device layer found a value that
  cannot be in its state: the message names it), or a fault name none of the tables here knows
  (an OMP/1 fault bit the protocol does not define, ``FAULT_BIT5``: whether going on is safe
  nobody here can tell).
- **Tell, and start the device again** for ``AUTO_OFF`` and ``WATCHDOG_STOP``: the device stopped
  on a timer of its own, and the protocol lets the next command start a new period. A device's
  auto-off (a percussion gun's 15 minutes, a chair's session) is shorter than many programs; a
  watchdog stop that this host lives to read means the host was late feeding it (a busy loop, a
  high ``--speedup``), not gone (then nobody reads it, and the device stays stopped: that is
  what the watchdog is for). The run sends the device its current levels at once rather than
  leaving it off until the program's next change; each is told once per run. (How long a session
  may last in all, and the heat, is the safety envelope's limit, not the device's timer: the
  envelope counts across these restarts, and holds back the heat they ask for during its rest.)
- **Warn and go on** (a ``warning`` event) for a low battery (the device's ``LOW_BATTERY``, or a
  level at or below :data:`LOW_BATTERY_PCT` from a device that has no such fault), for heat the
  device switched off by itself (``HEAT_OFF_BY_DEVICE``), and, at the end of the run, for broken
  frames the host had to drop and requests it had to send again.
- A fault that is already there when the run starts: ``MOTOR``, ``OVERHEAT``, ``BAD_REPORT``
  and an unknown fault end it at once (the device cannot play the program, or cannot be
  trusted); ``AUTO_OFF``, ``WATCHDOG_STOP`` and ``STOPPED_BY_DEVICE`` are left from before and
  cleared by the run's first command.

:func:`stop_after_loss` is the last word to a device whose link is lost: it may still be running
(a device with no watchdog of its own runs on until told). If the link is up but the device went
silent, the protocol's stop is written without waiting for an answer; if the link itself is gone
and the device has no watchdog, the host reconnects once to stop it (when asked to).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ..device import Massager
from ..device_types import BAD_REPORT, HEAT_OFF_BY_DEVICE, STOPPED_BY_DEVICE, DeviceState
from ..drivers.checks import describe
from ..errors import DeviceError, DeviceRefused

_log = logging.getLogger(__name__)

#: Faults that end a run, and what each means for the person (BAD_REPORT: the values it names).
ENDS_RUN: Final[dict[str, str]] = {
    BAD_REPORT: "it reported a value that cannot be",
    "MOTOR": "its motor stalled",
    "OVERHEAT": "its heater got too hot and cut out",
    STOPPED_BY_DEVICE: (
        "it stopped by itself (its own button, a stalled motor or a flat battery; "
        "the protocol does not say which)"
    ),
}
#: Faults after which the run starts the device again (it is told).
RESTARTS: Final[dict[str, str]] = {
    "AUTO_OFF": "it switched itself off when its own timer ran out; the run starts it again",
    "WATCHDOG_STOP": (
        "its watchdog stopped it: this host was late keeping it fed (a busy or slowed host); "
        "the run starts it again"
    ),
}
#: Faults that are told, and the run goes on.
WARNS: Final[dict[str, str]] = {
    "LOW_BATTERY": "battery low",
    HEAT_OFF_BY_DEVICE: (
        "it switched its heat off by itself (a heater cut-out, or its own remote); "
        "the run goes on without heat"
    ),
}
#: Faults already present at the start that end the run at once (the others are left over:
#: a watchdog stop or an auto-off from before clear with the run's first command). A value that
#: cannot be (BAD_REPORT) and a fault of no table here end it at once too.
ENDS_RUN_AT_START: Final = frozenset({"MOTOR", "OVERHEAT", BAD_REPORT})
#: Why a fault this module does not know ends the run: the device says something is wrong, and
#: what it means, and so whether going on is safe, nobody here can tell.
UNKNOWN_FAULT: Final = (
    "a fault massagectl does not know, so it cannot tell whether going on is safe"
)
#: A battery level at or below this is low, for a device that reports a level but no fault.
LOW_BATTERY_PCT: Final = 15
#: This many refused commands in a row from one device end the run.
MAX_REFUSALS_IN_A_ROW: Final = 3
#: How long the last word to a lost device may take (wall seconds: a BLE scan runs on them).
STOP_AFTER_LOSS_TIMEOUT_S: Final = 10.0
#: Reconnect tries (with the transport's backoff) to stop a lost device that has no watchdog.
RECONNECT_TO_STOP_ATTEMPTS: Final = 2


class DeviceFault(DeviceError):
    """A device reported a fault that ended the run; every device was stopped."""

    def __init__(self, device: str, fault: str, message: str) -> None:
        super().__init__(message)
        #: The device's name and the fault's (``MOTOR``, ``REFUSED``, ``BATTERY_EMPTY``, ...).
        self.device = device
        self.fault = fault


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the person must be told: a fault that ends the run, or a warning."""

    kind: Literal["fault", "warning"]
    device: str
    message: str
    #: The fault's name (``LOW_BATTERY``, ``BROKEN_FRAMES``, ``MOTOR``, ...).
    fault: str


@dataclass(slots=True)
class _Watched:
    massager: Massager
    faults: frozenset[str] = frozenset()
    battery_low: bool = False
    refusals: int = 0
    bad_frames: int = 0
    retries: int = 0
    warned: set[str] = field(default_factory=set)


class FaultWatch:
    """Watches the devices of one run: calls ``on_notice`` with what the person must be told,
    ``on_end`` once with the fault that ends the run, and ``on_restart`` with a device the run
    must start again."""

    def __init__(
        self,
        devices: Sequence[Massager],
        *,
        on_notice: Callable[[Notice], None],
        on_end: Callable[[DeviceFault], None],
        on_restart: Callable[[Massager], None],
    ) -> None:
        self._watched = [_Watched(m) for m in devices]
        # By identity, for the per-command calls (accepted, refused): a run may have many devices.
        # (The first entry wins, as the linear search it replaces found it.)
        self._by_device: dict[int, _Watched] = {}
        for w in self._watched:
            self._by_device.setdefault(id(w.massager), w)
        self._on_notice = on_notice
        self._on_end = on_end
        self._on_restart = on_restart
        self._unsubscribe: list[Callable[[], None]] = []
        #: The fault that ended the run, once one has.
        self.ended: DeviceFault | None = None

    def start(self) -> None:
        """Look at each device's state now, then follow its changes."""
        for w in self._watched:
            m = w.massager
            w.bad_frames = m.bad_frames
            w.retries = m.retries
            state = m.state
            w.faults = frozenset(state.faults)
            blocking = sorted(f for f in w.faults if f in ENDS_RUN_AT_START or not _known(f))
            if blocking:
                fault = blocking[0]
                self._end(w, fault, _why(fault, state), when=" before the run started")
            self._check_battery(w, state, at_start=True)
            self._unsubscribe.append(m.subscribe(functools.partial(self._on_state, w)))

    def close(self) -> list[Notice]:
        """Stop following the devices; the warnings the end of the run brings: broken frames
        dropped and requests sent again, which the protocol rode out but the person should know
        of (a noisy line, a slow device)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        notices = []
        for w in self._watched:
            name = w.massager.name
            dropped = w.massager.bad_frames - w.bad_frames
            if dropped > 0:
                notices.append(
                    Notice(
                        "warning",
                        name,
                        f"{name}: {_count(dropped, 'broken frame')} from the device dropped "
                        "during the run (a noisy line or link)",
                        "BROKEN_FRAMES",
                    )
                )
            resent = w.massager.retries - w.retries
            if resent > 0:
                notices.append(
                    Notice(
                        "warning",
                        name,
                        f"{name}: {_count(resent, 'request')} sent again during the run "
                        "(answers late or lost)",
                        "RETRIES",
                    )
                )
        for notice in notices:
            self._on_notice(notice)
        return notices

    def refused(self, m: Massager, exc: DeviceRefused) -> None:
        """A command of the run was refused."""
        w = self._find(m)
        w.refusals += 1
        if w.refusals >= MAX_REFUSALS_IN_A_ROW and self.ended is None:
            last = _without_name(str(exc), m)
            self._end(w, "REFUSED", f"{w.refusals} commands refused in a row, the last: {last}")

    def accepted(self, m: Massager) -> None:
        """A command of the run was carried out."""
        self._find(m).refusals = 0

    # --- reacting -----------------------------------------------------------------------------

    def _on_state(self, w: _Watched, state: DeviceState) -> None:
        faults = frozenset(state.faults)
        new, w.faults = faults - w.faults, faults
        for fault in sorted(new):
            if fault in ENDS_RUN or not _known(fault):
                self._end(w, fault, _why(fault, state))
            elif fault == "LOW_BATTERY":
                self._warn_battery(w, state)
            elif fault in WARNS:
                self._warn(w, fault, WARNS[fault])
            elif fault in RESTARTS and self.ended is None:
                if fault not in w.warned:
                    w.warned.add(fault)
                    self._warn(w, fault, RESTARTS[fault])
                self._on_restart(w.massager)
        self._check_battery(w, state, at_start=False)

    def _check_battery(self, w: _Watched, state: DeviceState, *, at_start: bool) -> None:
        battery = state.battery
        if battery is None:
            return
        if battery == 0:
            self._end(w, "BATTERY_EMPTY", "its battery is empty")
        elif battery <= LOW_BATTERY_PCT or (at_start and "LOW_BATTERY" in state.faults):
            self._warn_battery(w, state)

    def _warn_battery(self, w: _Watched, state: DeviceState) -> None:
        if w.battery_low:
            return
        w.battery_low = True
        level = f" ({state.battery} %)" if state.battery is not None else ""
        self._warn(w, "LOW_BATTERY", f"battery low{level}; the run goes on")

    def _warn(self, w: _Watched, fault: str, why: str) -> None:
        name = w.massager.name
        self._on_notice(Notice("warning", name, f"{name}: {fault} — {why}", fault))

    def _end(self, w: _Watched, fault: str, why: str, *, when: str = "") -> None:
        if self.ended is not None:
            return
        name = w.massager.name
        message = f"{name}: {fault} — {why}{when}; the run was ended and every device stopped"
        self.ended = DeviceFault(name, fault, message)
        _log.warning("%s", message)
        self._on_notice(Notice("fault", name, message, fault))
        self._on_end(self.ended)

    def _find(self, m: Massager) -> _Watched:
        w = self._by_device.get(id(m))
        if w is None or w.massager is not m:
            raise KeyError(m.name)
        return w


def _known(fault: str) -> bool:
    return fault in ENDS_RUN or fault in RESTARTS or fault in WARNS


def _why(fault: str, state: DeviceState) -> str:
    """What a fault that ends the run means for the person."""
    if fault == BAD_REPORT:
        return f"it reported what cannot be: {describe(state.bad_values)}"
    return ENDS_RUN.get(fault, UNKNOWN_FAULT)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _without_name(message: str, m: Massager) -> str:
    return message.removeprefix(f"{m.name}: ")


async def stop_after_loss(m: Massager, *, reconnect: bool) -> str | None:
    """Do what can still be done to stop a device whose link is lost; never raises.

    Returns a warning for the person when the device may still be running, else None.
    """
    try:
        async with asyncio.timeout(STOP_AFTER_LOSS_TIMEOUT_S):
            return await _stop_after_loss(m, reconnect=reconnect)
    except (TimeoutError, DeviceError) as exc:
        why = str(exc) or "no connection in time"
        _log.warning("%s: could not stop the device after the link was lost: %s", m.name, why)
        return _may_run(m, f"it could not be reached again ({_without_name(why, m)})")


async def _stop_after_loss(m: Massager, *, reconnect: bool) -> str | None:
    if m.link_up:
        # The device stopped answering, but the link is up: it may well still hear a stop.
        if await m.stop_unanswered():
            _log.info("%s: sent a stop without waiting for an answer", m.name)
        return None
    if m.info.watchdog_s > 0:
        return None  # its own watchdog stops it
    if not reconnect:
        return _may_run(m, "the link is lost")
    _log.info("%s: reconnecting to stop the device (it has no watchdog)", m.name)
    await m.reconnect(attempts=RECONNECT_TO_STOP_ATTEMPTS)
    await m.stop()
    return None


def _may_run(m: Massager, why: str) -> str | None:
    if m.info.watchdog_s > 0:
        return None
    return (
        f"{m.name}: {why}, and the device has no watchdog: it may still be running; "
        "switch it off on the device"
    )


__all__ = [
    "ENDS_RUN",
    "LOW_BATTERY_PCT",
    "MAX_REFUSALS_IN_A_ROW",
    "RESTARTS",
    "WARNS",
    "DeviceFault",
    "FaultWatch",
    "Notice",
    "stop_after_loss",
]
