"""Lovense vibration massagers (the Domi wand) over BLE or a serial line: text commands ending
in ``;``, each answered in order.

There is no status notification: the host knows what it last told the device, and asks for the
battery. The device has no watchdog either, so on connecting the driver switches on the device's
own "stop when the link drops" (``AutoSwith``): the nearest thing Lovense offers to one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from dataclasses import dataclass, field

from ..device_types import Command, CommandKind, DeviceInfo
from ..errors import DeviceRefused, LinkLost
from ..protocols import lovense
from .base import Driver

_log = logging.getLogger(__name__)

#: How long to wait for an answer (Buttplug's own timeouts are of this order).
ANSWER_TIMEOUT_S = 1.0


@dataclass
class LovenseDriver(Driver):
    """The host's side of the Lovense text protocol."""

    _host: lovense.LovenseHost = field(default_factory=lovense.LovenseHost)
    _waiters: deque[asyncio.Future[lovense.Answer]] = field(default_factory=deque)
    model: str = ""

    async def start(self) -> DeviceInfo:
        """Who it is, its battery, and stop-on-link-loss switched on."""
        self._host.reset()
        answer = await self._ask(lovense.device_type())
        if isinstance(answer, lovense.DeviceType):
            self.model = answer.model
            expected = self.profile.model_code
            if expected and answer.model != expected:
                _log.warning(
                    "%s: the device says it is a %r, profile %s expects %r",
                    self.name,
                    answer.model,
                    self.profile.name,
                    expected,
                )
        await self._read_battery()
        await self._expect_ok(lovense.auto_switch(True, False))
        return DeviceInfo.from_profile(self.profile)

    async def execute(self, command: Command) -> None:
        """Vibrate, Preset, and Vibrate:0 / Preset:0 for stop."""
        kind, value = command.kind, command.value
        if kind is CommandKind.SPEED:
            await self._expect_ok(lovense.vibrate(value))
            self._assume(speed=value, program=0)
        elif kind is CommandKind.PROGRAM:
            await self._expect_ok(lovense.preset(value))
            self._assume(speed=0, program=value)
        elif kind is CommandKind.STOP:
            if self.state.program:
                await self._expect_ok(lovense.preset(0))
            await self._expect_ok(lovense.vibrate(0))
            self._assume(speed=0, program=0)
        elif kind in (CommandKind.STATUS, CommandKind.PING):
            await self._read_battery()
        # HEAT can only be 0 here (no heater): nothing to send.

    def feed(self, data: bytes) -> None:
        """Answers, matched to the oldest command still waiting."""
        for item in self._host.receive(data):
            if isinstance(item, lovense.Reply):
                if self._waiters:
                    waiter = self._waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(item.answer)
            else:
                self.bad_frames += 1
                _log.debug("%s: unexpected from the device: %r", self.name, item)

    def unanswered_stop(self) -> bytes:
        """``Preset:0;`` if a pattern runs, then ``Vibrate:0;``."""
        preset = lovense.preset(0).wire if self.state.program else b""
        return preset + lovense.vibrate(0).wire

    def link_lost(self, exc: LinkLost) -> None:
        """Fail every command still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)

    async def _ask(self, cmd: lovense.Command) -> lovense.Answer:
        waiter: asyncio.Future[lovense.Answer] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await self.write(self._host.send(cmd))
        try:
            return await self.wait_answer(waiter, cmd.text, ANSWER_TIMEOUT_S)
        except LinkLost:
            # A late answer must not be taken for the next command's.
            self._host.expire_oldest()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    async def _expect_ok(self, cmd: lovense.Command) -> None:
        answer = await self._ask(cmd)
        if not isinstance(answer, lovense.Ok):
            # Named as on the wire (ERR), which is what the protocol's documentation calls it.
            shown = (
                f"an unexpected {answer.text!r}"
                if isinstance(answer, lovense.Unexpected)
                else answer.encode().decode("ascii").rstrip(";")
            )
            raise DeviceRefused(f"{self.name}: the device answered {cmd.text} with {shown}")

    async def _read_battery(self) -> None:
        answer = await self._ask(lovense.battery())
        if isinstance(answer, lovense.BatteryLevel):
            self.publish(dataclasses.replace(self.state, battery=answer.percent))

    def _assume(self, *, speed: int, program: int) -> None:
        # No status notifications: what the device acknowledged is what it does.
        self.publish(dataclasses.replace(self.state, speed=speed, program=program))
