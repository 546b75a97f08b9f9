"""The device's side of the Theragun generation 4 protocol, as the simulator runs it (sans-I/O).

What the gun does is documented only as far as docs/real-devices.md goes: set speed (rpm, 0
stops), status request → status notification, version request → version notification. The
rest is the simulator's choice, made so that a host can rely on it, and checked on no hardware:

- Speed is kept in rpm: the state's speed level *is* the rpm, the profile's ``speed.levels``
  the model's top speed (Pro/Elite 3616, Prime 3584). A set speed above it is ignored (no
  notification) and logged; so is a set speed above 0 while the motor is stalled (MOTOR) or the
  battery is empty. Any rpm from 1 up to the top is taken as it is: the gun's own minimum, if
  it has one, is not documented.
- A status notification (:data:`~massagectl.protocols.theragun.NOTIFICATION_LEN` bytes, unknown
  bytes zero) goes out on every change of rpm (and so of "running"), in answer to a status
  request, and every :data:`STATUS_PERIOD_S` while the motor runs.
- The version answer is :data:`FIRMWARE_VERSION`.
- No keepalive is documented, so there is no watchdog unless the profile sets one (the shipped
  ones do not), and no auto-off unless the profile sets ``limits.auto_off_s`` (the shipped ones
  do not: the product's own shut-off, if any, is not documented).
- The battery drains as the profile's ``simulation`` says; the protocol has no documented
  battery field, so only the timeline and the state show it.
- Recording causes: ``SET_SPEED`` for an accepted set speed (the host's stop is set speed 0).
- An injected refusal (``refuse_next``) makes the gun ignore a set speed above 0, as it ignores
  one it cannot take: the protocol has no way to refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Final

from massagectl.protocols.theragun import (
    BadPacket,
    CommandDecoder,
    DeviceCommand,
    SetSpeed,
    StatusRequest,
    TheragunStatus,
    TheragunVersion,
)

from .firmware_base import BaseFirmware
from .sim_faults import CLEARED_BY_COMMAND

_LOG = logging.getLogger(__name__)

#: How often a running gun sends its status by itself (a simulator choice).
STATUS_PERIOD_S: Final = 1.0
#: The firmware version the simulated guns report (a simulator choice).
FIRMWARE_VERSION: Final = TheragunVersion(2, 4, 1)


class TheragunFirmware(BaseFirmware):
    """A simulated Theragun gen 4 gun: set speed in rpm, status and version notifications."""

    protocol = "theragun"
    status_period_s = STATUS_PERIOD_S

    decoder = CommandDecoder
    dropped = (BadPacket,)

    @property
    def max_rpm(self) -> int:
        """The fastest speed this model accepts."""
        return self.profile.speed_levels

    def status(self) -> TheragunStatus:
        """The status notification for the state as of :attr:`now`."""
        return self.lies.theragun(
            TheragunStatus(running=self.state.speed > 0, rpm=self.state.speed)
        )

    # --- the protocol side --------------------------------------------------------------------

    def _handle(self, command: DeviceCommand) -> bytes:
        self.state.last_frame_at = self._t
        if isinstance(command, SetSpeed):
            self._set_speed(command.rpm)
        elif isinstance(command, StatusRequest):
            self._emit_status()
            self._record("STATUS_REQUEST", None, "STATUS")
        else:
            self._out.append(FIRMWARE_VERSION.encode())
            self._record("VERSION_REQUEST", None, "VERSION")
        self._settle()
        return self._flush()

    def _set_speed(self, rpm: int) -> None:
        if rpm > self.max_rpm:
            _LOG.warning(
                "%s: set speed %d rpm is above the model's %d: ignored",
                self.profile.name,
                rpm,
                self.max_rpm,
            )
            self._record("SET_SPEED", rpm, "ignored")
            return
        if rpm > 0 and self._motor_blocked():
            _LOG.info("%s: motor cannot start (fault or empty battery)", self.profile.name)
            self._record("SET_SPEED", rpm, "ignored")
            return
        if rpm > 0 and self._take_refusal():
            self._record("SET_SPEED", rpm, "ignored")
            return
        self.state.speed = rpm
        self.state.faults &= ~CLEARED_BY_COMMAND
        self._record("SET_SPEED", rpm, "none")
        self._commit("SET_SPEED")

    # --- status ------------------------------------------------------------------------------

    def _status_wanted(self) -> bool:
        return self.state.speed > 0

    def _announce_key(self) -> Hashable:
        return self.state.speed

    def _status_bytes(self) -> bytes:
        return self.status().encode()
