"""RongTai massage chairs over BLE: key presses written without response, state by notification.

A chair is driven by keys, some of which toggle (power, heat) and none of which sets the speed to
0, so the driver works from the chair's own status: it presses heat only when the heat is not
already as wanted, and stops the massage with reset (which also ends the heat: it presses heat
again when the program still wants it). Nothing is acknowledged, so state comes only from the
status notifications.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from ..clock import first_of
from ..protocols import rongtai
from .base import Command, CommandKind, DeviceInfo, DeviceState, Driver

_log = logging.getLogger(__name__)

#: A chair that is on reports at least once a second; one in standby may say nothing.
STATUS_WAIT_S = 1.2


@dataclass
class RongTaiDriver(Driver):
    """The host's side of the RongTai chair protocol."""

    _heard: asyncio.Future[None] | None = None

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
            program = item.auto_program if 1 <= item.auto_program <= 6 else 0
            self.publish(
                DeviceState(
                    speed=item.speed if item.running else 0,
                    heat=1 if item.heat else 0,
                    program=program,
                    remaining_s=item.remaining_s,
                )
            )
            if self._heard is not None and not self._heard.done():
                self._heard.set_result(None)

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
        # Until the chair's next status, what it was just told is the best knowledge.
        s = self.state
        self.publish(
            dataclasses.replace(
                s,
                speed=s.speed if speed is None else speed,
                heat=s.heat if heat is None else heat,
                program=s.program if program is None else program,
            )
        )
