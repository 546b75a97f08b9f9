"""RongTai massage chairs over BLE: key presses written without response, state by notification.

A chair is driven by keys, some of which toggle (power, heat) and none of which sets the speed to
0, so the driver works from the chair's own status: it presses heat only when the heat is not
already as wanted, and stops the massage with reset (which also ends the heat: it presses heat
again when the program still wants it). Nothing is acknowledged, so state comes only from the
status notifications.

The status has no fault field, so the driver reads the chair's own stops from it. Something the
host left running (the chair, the massage, the heat) that the chair has said runs since, and that
it then says has stopped without the host having stopped it, stopped by itself:

- the chair in standby, with its session timer (nearly) run out: its auto-off, the fault
  ``AUTO_OFF``; in standby otherwise, or the massage stopped while the chair stays on:
  :data:`~massagectl.device_types.STOPPED_BY_DEVICE` (its remote, a stalled motor);
- the heat off while the chair stays on: :data:`~massagectl.device_types.HEAT_OFF_BY_DEVICE`
  (its heater cut-out, its remote).

Only a stop after the chair confirmed the host's start counts, so a status from before a key
took effect cannot raise one. Each clears with the host's next command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from ..clock import first_of
from ..device_types import (
    HEAT_OFF_BY_DEVICE,
    STOPPED_BY_DEVICE,
    Command,
    CommandKind,
    DeviceInfo,
    DeviceState,
)
from ..protocols import rongtai
from .base import Driver

_log = logging.getLogger(__name__)

#: A chair that is on reports at least once a second; one in standby may say nothing.
STATUS_WAIT_S = 1.2
#: A chair that goes to standby with at most this much of its session left was switched off by
#: its session timer: the last status of a session says 1 s or less, with a margin for a chair
#: that reports less often.
SESSION_END_MARGIN_S = 2


@dataclass
class _LeftOn:
    """Something the host left running, and whether the chair has said it runs since."""

    wanted: bool = False
    seen: bool = False

    def want(self, on: bool) -> None:
        """The host left it ``on`` (a fresh start must be seen anew)."""
        if not (on and self.wanted):
            self.seen = False
        self.wanted = on

    def see(self, on: bool) -> bool:
        """The chair reports it ``on``; True when it stopped by itself."""
        if on:
            self.seen = self.wanted
            return False
        stopped = self.wanted and self.seen
        if stopped:
            self.wanted = self.seen = False
        return stopped


@dataclass
class RongTaiDriver(Driver):
    """The host's side of the RongTai chair protocol."""

    _heard: asyncio.Future[None] | None = None
    #: What the host left running: the chair, the massage, the heat.
    _chair: _LeftOn = dataclasses.field(default_factory=_LeftOn)
    _massage: _LeftOn = dataclasses.field(default_factory=_LeftOn)
    _heat: _LeftOn = dataclasses.field(default_factory=_LeftOn)
    #: The session time left by the chair's last status while on.
    _remaining_s: int = 0

    async def start(self) -> DeviceInfo:
        """Listen for a status; a chair in standby may stay silent, which means at rest."""
        await self._listen(STATUS_WAIT_S)
        return DeviceInfo.from_profile(self.profile)

    async def execute(self, command: Command) -> None:
        """Keys for speed, heat, auto programs; reset for stop."""
        kind, value = command.kind, command.value
        if kind is CommandKind.SPEED:
            if value > 0:
                await self._press(rongtai.speed_key(value))
                self._assume(speed=value, program=0)
            elif self.state.speed or self.state.program:
                await self._stop_massage_keep_heat()
        elif kind is CommandKind.HEAT:
            if bool(value) != bool(self.state.heat):
                await self._press(rongtai.Key.HEAT)
                self._assume(heat=1 if value else 0)
        elif kind is CommandKind.PROGRAM:
            if value > 0:
                await self._press(rongtai.auto_program_key(value))
                self._assume(program=value)
            elif self.state.program:
                await self._stop_massage_keep_heat()
        elif kind is CommandKind.STOP:
            await self._press(rongtai.Key.RESET)
            self._assume(speed=0, heat=0, program=0)
        elif kind in (CommandKind.STATUS, CommandKind.PING) and self.state.active:
            # No request exists: an active chair reports every second, so listen for it.
            await self._listen(STATUS_WAIT_S)

    def feed(self, data: bytes) -> None:
        """Status notifications."""
        for item in rongtai.decode_statuses(data):
            if isinstance(item, rongtai.BadPacket):
                self.bad_frames += 1
                _log.debug("%s: dropped a notification (%s)", self.name, item.reason)
                continue
            # No program, or a manual massage: program 0. Any other value is the chair's own
            # (1..6, or one it cannot have, which the device layer's check reports rather than
            # this driver hiding it as "no program").
            program = 0 if item.auto_program in (0, rongtai.MANUAL_PROGRAM) else item.auto_program
            faults = self._stopped_by_itself(item)
            self.publish(
                DeviceState(
                    speed=item.speed if item.running else 0,
                    heat=1 if item.heat else 0,
                    program=program,
                    remaining_s=item.remaining_s,
                    faults=faults,
                )
            )
            if self._heard is not None and not self._heard.done():
                self._heard.set_result(None)

    def unanswered_stop(self) -> bytes:
        """The reset key."""
        return rongtai.key(rongtai.Key.RESET)

    def _stopped_by_itself(self, status: rongtai.RongTaiStatus) -> tuple[str, ...]:
        """The faults after this status: what the chair stopped by itself is added."""
        if status.running:
            self._remaining_s = status.remaining_s
        chair = self._chair.see(status.running)
        massage = self._massage.see(status.running and status.speed > 0)
        heat = self._heat.see(status.running and status.heat)
        if chair and self._remaining_s <= SESSION_END_MARGIN_S:
            fault, what = "AUTO_OFF", "its session timer ran out"
        elif chair or massage:
            fault, what = STOPPED_BY_DEVICE, "it stopped its massage by itself"
        elif heat:
            fault, what = HEAT_OFF_BY_DEVICE, "it switched its heat off by itself"
        else:
            return self.state.faults
        _log.warning("%s: %s", self.name, what)
        return self.state.faults if fault in self.state.faults else (*self.state.faults, fault)

    async def _stop_massage_keep_heat(self) -> None:
        heat = self.state.heat
        await self._press(rongtai.Key.RESET)
        self._assume(speed=0, heat=0, program=0)
        if heat:
            await self._press(rongtai.Key.HEAT)
            self._assume(heat=1)

    async def _press(self, k: rongtai.Key) -> None:
        await self.write(rongtai.key(k))

    async def _listen(self, seconds: float) -> None:
        self._heard = heard = asyncio.get_running_loop().create_future()
        try:
            await first_of(self.clock.timer(self.clock.now() + seconds), heard)
        finally:
            self._heard = None

    def _assume(
        self, *, speed: int | None = None, heat: int | None = None, program: int | None = None
    ) -> None:
        # Until the chair's next status, what it was just told is the best knowledge. A key of
        # the host's clears an inferred fault.
        s = self.state
        state = dataclasses.replace(
            s,
            speed=s.speed if speed is None else speed,
            heat=s.heat if heat is None else heat,
            program=s.program if program is None else program,
            faults=(),
        )
        self._chair.want(state.active)
        self._massage.want(state.speed > 0 or state.program > 0)
        self._heat.want(state.heat > 0)
        self.publish(state)
