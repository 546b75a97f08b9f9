"""Theragun generation 4 guns over BLE: speed as rpm, status by request and by notification.

The protocol has no answers to commands (BLE's write response is the only acknowledgement) and no
documented keepalive. Speed levels are rpm, so the project's mapping rule turns a program's
fraction straight into rpm.

The protocol reports no faults either. A gun that has said it runs since the host started it,
and then says it does not, without the host having stopped it, stopped by itself (its own
button, a stalled motor, a flat battery): the driver reports that as the fault
:data:`~massagectl.device_types.STOPPED_BY_DEVICE`, so that a program does not start it again
unasked. A status from before the gun took the host's start cannot raise it: only a stop after a
confirmed start counts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..device_types import STOPPED_BY_DEVICE, Command, CommandKind, DeviceInfo, DeviceState
from ..errors import LinkLost
from ..protocols import theragun
from .base import Driver

_log = logging.getLogger(__name__)

#: How long to wait for a status or version notification after asking for one.
ANSWER_TIMEOUT_S = 1.0


@dataclass
class TheragunDriver(Driver):
    """The host's side of the Theragun gun protocol."""

    _status_waiter: asyncio.Future[None] | None = None
    version: theragun.TheragunVersion | None = None
    #: The host left the gun running; and the gun has said it runs since the host started it.
    _started: bool = False
    _confirmed: bool = False

    async def start(self) -> DeviceInfo:
        """Ask for the firmware version and the status; capabilities come from the profile."""
        await self.write(theragun.request_version())
        await self._request_status("the firmware version and status")
        return DeviceInfo.from_profile(self.profile)

    async def execute(self, command: Command) -> None:
        """Speed is rpm; stop is rpm 0; the guns have no heater and no programs."""
        kind = command.kind
        if kind is CommandKind.SPEED:
            await self._set_speed(command.value)
            self._assume(speed=command.value)
        elif kind is CommandKind.STOP:
            await self._set_speed(0)
            self._assume(speed=0)
        elif kind in (CommandKind.STATUS, CommandKind.PING):
            await self._request_status("a status")
        # HEAT and PROGRAM can only be 0 here (the device layer checked the range): nothing to do.

    def feed(self, data: bytes) -> None:
        """Status and version notifications."""
        for item in theragun.decode_notifications(data):
            if isinstance(item, theragun.BadPacket):
                self.bad_frames += 1
                _log.debug("%s: dropped a notification (%s)", self.name, item.reason)
            elif isinstance(item, theragun.TheragunStatus):
                faults = self.state.faults
                if item.running:
                    self._confirmed = self._started
                elif self._started and self._confirmed:
                    _log.warning("%s: the gun stopped by itself", self.name)
                    self._started = self._confirmed = False
                    faults = (STOPPED_BY_DEVICE,)
                self.publish(DeviceState(speed=item.rpm if item.running else 0, faults=faults))
                if self._status_waiter is not None and not self._status_waiter.done():
                    self._status_waiter.set_result(None)
            elif isinstance(item, theragun.TheragunVersion):
                self.version = item
                _log.info("%s: firmware %s", self.name, item)

    def unanswered_stop(self) -> bytes:
        """Set speed 0."""
        return theragun.set_speed(0)

    def link_lost(self, exc: LinkLost) -> None:
        """Fail a status request in flight."""
        if self._status_waiter is not None and not self._status_waiter.done():
            self._status_waiter.set_exception(exc)

    async def _set_speed(self, rpm: int) -> None:
        # What the host started is noted before the write: the gun may report the change
        # before a write with response returns, and a "not running" for the host's own stop
        # must not be taken for the gun stopping by itself. Undone if the write fails.
        before = self._started, self._confirmed
        if rpm == 0 or not self._started:
            self._confirmed = False
        self._started = rpm > 0
        try:
            await self.write(theragun.set_speed(rpm))
        except BaseException:
            self._started, self._confirmed = before
            raise

    async def _request_status(self, what: str) -> None:
        self._status_waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            await self.write(theragun.request_status())
            await self.wait_answer(waiter, f"a request for {what}", ANSWER_TIMEOUT_S)
        finally:
            self._status_waiter = None

    def _assume(self, *, speed: int) -> None:
        # The gun confirms with a status notification; until then the host's best knowledge is
        # what it just told the gun. A command of the host's clears an inferred fault.
        self.publish(DeviceState(speed=speed))
