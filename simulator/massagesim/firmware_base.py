"""What every simulated firmware shares: its own time, state, physics, timeline and test handles.

A firmware is sans-I/O: it is handed bytes and the time, and hands back the bytes the device
sends. It never reads a clock; whoever drives it (:class:`massagesim.SimulatedDevice`, or a test
with explicit times) says what time it is. :class:`BaseFirmware` holds everything that is not
protocol: the protocol firmwares (:mod:`.firmware` for OMP/1, :mod:`.firmware_theragun`,
:mod:`.firmware_lovense`, :mod:`.firmware_rongtai`) subclass it and keep the one
:class:`~massagesim.firmware_state.FirmwareState` in the same terms, so that a recording means
the same thing whatever the protocol: speed is a level in the profile's speed range, heat a level,
program the 1-based index of a built-in program (0 = none).

Time is event-driven: on every call the firmware walks forward from where it was to ``now``
through each due event in order (a program step, the watchdog, auto-off, the heater crossing
the cut-out temperature, the battery running low or empty, and whatever a protocol adds),
applying each at its own due time. The thermal model and the battery drain are solved exactly
between events. So the timeline records a program step at the step's time, not at the tick that
happened to notice it, and a test may jump far ahead in one call and still see every change.

Shared rules (the OMP/1 firmware documents them against its spec; the others follow them too):

- LOW_BATTERY is set at or below ``simulation.low_battery_pct`` and clears only when the
  battery is set above it again. At 0 % the device stops and refuses to start anything until
  the battery is set above 0.
- MOTOR (a stalled motor, injected by a test) stops the motor and any program; while it is set
  the motor cannot be started. Heat still works.
- The heater's temperature is modelled on every device with heat; the cut-out at
  ``limits.max_temp_c`` (when above 0) cuts the heat and sets OVERHEAT, which clears 5 °C lower.
- Injected refusals (:meth:`BaseFirmware.refuse_next`) apply only to commands that would start
  or raise something (a level or a program above 0): a command that stops is always obeyed, so
  that a host can always bring the device to rest. Each protocol refuses in its own way (OMP/1:
  an ACK with a refusal code, REFUSED_FAULT unless a test picks another; Lovense: ``ERR;``;
  Theragun and RongTai, which never answer a command: the command is ignored).
- The auto-off (:attr:`BaseFirmware.auto_off_s`) is the profile's ``limits.auto_off_s`` unless a
  test changes it (:meth:`BaseFirmware.set_auto_off`) or brings the next one forward
  (:meth:`BaseFirmware.auto_off_in`); a device without one gets none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .firmware_core import (
    OVERHEAT_HYSTERESIS_C,
    Decoder,
    FirmwareCore,
    simulatable_profile,
)
from .sim_faults import CLEARED_BY_COMMAND, SimFault

_LOG = logging.getLogger(__name__)


class BaseFirmware(FirmwareCore):
    """One simulated device's firmware, whatever its protocol; protocols subclass it.

    Its state, time and physics are :class:`FirmwareCore`'s. The protocol surface every
    firmware offers: :meth:`receive` (bytes from the host), :meth:`tick` (let time pass),
    :meth:`next_due`, :meth:`new_link`, :meth:`link_lost` and :meth:`take_hangup`; each call
    returns the bytes the device sends, in order. The test-facing handle
    (:meth:`set_temperature`, :meth:`set_battery`, :meth:`inject_motor_fault`, ...) is the same
    for every protocol.
    """

    # --- the protocol surface -----------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> bytes:
        """Bytes from the host, received at ``now``; returns the bytes the device sends back:
        first what fell due before ``now``, then each command's answer, in order."""
        self._advance(now)
        chunks = [self._flush()]
        for item in self._decode(data):
            if isinstance(item, self.dropped):
                _LOG.debug("%s: dropped broken input: %r", self.profile.name, item)
                continue
            chunks.append(self._handle(item))
        return b"".join(chunks)

    def _decode(self, data: bytes) -> Sequence[object]:
        """Feed the protocol's decoder; the commands (and broken input) it completes."""
        return self._decoder.feed(data)

    def _handle(self, item: Any) -> bytes:
        """Carry out one decoded command; the bytes the device sends in answer."""
        raise NotImplementedError

    def tick(self, now: float) -> bytes:
        """Let time pass up to ``now``; returns the unsolicited bytes the device sends."""
        self._advance(now)
        period = self.status_period_s
        # Compared as "now has reached last + period", the very sum next_due() reports, so
        # that waking exactly at that due time always emits (a difference could fall a
        # rounding error short and leave the status due forever).
        if (
            period is not None
            and self._status_wanted()
            and (self._last_status_at is None or self._t >= self._last_status_at + period)
        ):
            self._emit_status()
        return self._flush()

    def next_due(self) -> float | None:
        """When the device next has something to do by itself (an event or a periodic status)."""
        event = self._next_event()
        due = event[0] if event is not None else None
        period = self.status_period_s
        if period is not None and self._status_wanted():
            last = self._last_status_at if self._last_status_at is not None else self._t
            status_at = last + period
            due = status_at if due is None else min(due, status_at)
        return due

    def new_link(self) -> None:
        """A new host connection: forget any half message from the previous one."""
        self._decoder = self.decoder()
        self._on_new_link()

    def _on_new_link(self) -> None:
        """What else the protocol forgets with a new host connection."""

    def link_lost(self, now: float) -> bytes:
        """The host's link dropped by accident at ``now`` (not a host closing it on purpose)."""
        self._advance(now)
        self._on_link_lost()
        self._commit("link lost")
        self._settle()
        return self._flush()

    def take_hangup(self) -> bool:
        """Whether the device has ended the link itself (e.g. powered off); asks once."""
        hangup, self._hangup = self._hangup, False
        return hangup

    # --- test-facing handle (each returns the bytes the device sends as a result) ------------

    def set_temperature(self, celsius: float, now: float) -> bytes:
        """Put the heater element at a temperature at once (to provoke or end an overheat)."""
        self._advance(now)
        self.thermal.set_temperature(celsius)
        self.state.temperature_c = self.thermal.temperature_c
        self._settle()
        return self._flush()

    def set_runaway(self, celsius: float | None, now: float) -> bytes:
        """Make the heater aim for ``celsius`` while it is on (a failed thermostat); None heals."""
        self._advance(now)
        self.thermal.runaway_c = celsius
        self._settle()
        return self._flush()

    def set_battery(self, percent: float, now: float) -> bytes:
        """Set the battery charge (a battery-powered device only)."""
        if self.state.battery_pct is None:
            raise ValueError(f"{self.profile.name} is not battery powered")
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"battery charge {percent} % is outside 0..100")
        self._advance(now)
        self.state.battery_pct = float(percent)
        if percent > self.profile.simulation.low_battery_pct:
            self.state.faults &= ~SimFault.LOW_BATTERY
        self._commit("battery set")
        self._settle()
        return self._flush()

    def inject_motor_fault(self, now: float) -> bytes:
        """Stall the motor: MOTOR is set, the motor and any program stop."""
        self._advance(now)
        _LOG.info("%s: motor fault injected", self.profile.name)
        self.state.faults |= SimFault.MOTOR
        self._on_motor_fault()
        self._commit("motor fault")
        self._settle()
        return self._flush()

    def clear_motor_fault(self, now: float) -> bytes:
        """Repair the motor: MOTOR clears."""
        self._advance(now)
        self.state.faults &= ~SimFault.MOTOR
        self._commit("motor repaired")
        self._settle()
        return self._flush()

    def refuse_next(self, count: int = 1) -> None:
        """Refuse the next ``count`` commands that would start or raise something.

        Each protocol refuses in its own terms: OMP/1 answers an ACK with a refusal code (see
        :meth:`massagesim.OmpFirmware.refuse_next`), Lovense ``ERR;``, and Theragun and RongTai,
        which never answer a command, ignore it. Commands that stop are never refused.
        ``refuse_next(0)`` cancels what is left.
        """
        if count < 0:
            raise ValueError(f"cannot refuse {count} commands")
        self._refusals = count

    @property
    def refusals_left(self) -> int:
        """How many more commands :meth:`refuse_next` will refuse."""
        return self._refusals

    def set_auto_off(self, seconds: float, now: float) -> bytes:
        """Make the auto-off ``seconds`` of continuous activity (counted from its start).

        Only for a device that has an auto-off: giving one to a device without would invent a
        behaviour that the real model does not have.
        """
        self._check_auto_off(seconds)
        self._advance(now)
        self.auto_off_s = float(seconds)
        self._commit("auto-off set")
        self._settle()
        return self._flush()

    def auto_off_in(self, seconds: float, now: float) -> bytes:
        """Bring the auto-off forward: the running activity ends ``seconds`` from now.

        Later activity gets the normal auto-off again. The device must be active (an idle
        device has nothing to switch off) and have an auto-off.
        """
        self._check_auto_off(seconds)
        self._advance(now)
        if not self.state.active:
            raise ValueError(f"{self.profile.name} is idle: there is nothing to switch off")
        self._auto_off_due = self._t + seconds
        self._settle()
        return self._flush()

    def _check_auto_off(self, seconds: float) -> None:
        if self.auto_off_s is None:
            raise ValueError(f"{self.profile.name} has no auto-off (its profile sets none)")
        if not seconds >= 0:
            raise ValueError(f"auto-off after {seconds} s: expected 0 or more seconds")

    def _take_refusal(self) -> bool:
        """Use up one injected refusal, if any is left: whether to refuse this command."""
        if self._refusals <= 0:
            return False
        self._refusals -= 1
        _LOG.info("%s: refusing a command (injected fault)", self.profile.name)
        return True


__all__ = [
    "CLEARED_BY_COMMAND",
    "OVERHEAT_HYSTERESIS_C",
    "BaseFirmware",
    "Decoder",
    "simulatable_profile",
]
