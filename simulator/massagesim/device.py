"""A simulated massager in process: firmware, state and timeline, its own time, and a test handle.

Three parts, as a fake device for tests is best split: the state (:class:`FirmwareState`, what
the device is doing), the protocol service (the firmware, which speaks the protocol's device side
over the state), and the test-facing handle, :class:`SimulatedDevice`, through which a test or a
user's own program reads the state and the recording and changes what the physical world would
change (temperature, battery, a stalled motor, a lie, a dropped link, a fault). Tests go through
the handle; the firmware is reached only to check what the protocol itself says.

:class:`SimulatedDevice` is what tests and ``sim:`` addresses use. It owns one firmware, picked
by the profile's protocol (:func:`~massagesim.firmware_registry.make_firmware`: OMP/1, Theragun,
Lovense or RongTai), and reads its clock for it; a host talks to it through
a :class:`SimLink` (bytes in with :meth:`SimLink.feed`, bytes out through the ``send`` callback),
which is also what the pty and TCP servers in :mod:`massagesim.serve` wrap. Everything the device
sends passes its fault handle (:attr:`SimulatedDevice.faults`, see
:mod:`massagesim.fault_injection`) on the way out, which may swallow, garble or hold it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from massagectl.clock import Clock, MonotonicClock
from massagectl.profiles import Profile
from massagectl.protocols.omp import BadFrame, FrameDecoder

from .fault_injection import FaultInjector
from .firmware import OmpFirmware
from .firmware_base import BaseFirmware, simulatable_profile
from .firmware_registry import make_firmware
from .firmware_state import FirmwareState
from .lies import Lies
from .recording import Recording, StateSnapshot
from .thermal import ThermalModel

_LOG = logging.getLogger(__name__)

#: The firmware's tick, in clock seconds.
TICK_S: Final = 0.05
#: The shortest tick in wall seconds. Under a large speedup, 50 clock ms is a few wall µs, and
#: ticking that often would only burn CPU: events are applied at their exact due times anyway,
#: so a longer tick only delays when unsolicited frames go out, not what they say.
MIN_WALL_TICK_S: Final = 0.001

#: Under a virtual clock, the longest the time loop sleeps without looking at the firmware.
EVENT_DRIVEN_MAX_SLEEP_S: Final = 1.0

Send = Callable[[bytes], None]


class SimLink:
    """One host connection to a :class:`SimulatedDevice`.

    Made by :meth:`SimulatedDevice.connect`. Each link has its own frame buffer. A link that is
    closed, or replaced by a newer one, takes no more bytes and is sent nothing more.
    """

    def __init__(
        self, device: SimulatedDevice, send: Send, on_close: Callable[[], None] | None
    ) -> None:
        self._device = device
        self._send = send
        self._on_close = on_close
        self._decoder = FrameDecoder()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the link was closed or replaced."""
        return self._closed

    def feed(self, data: bytes) -> None:
        """Deliver host-to-device bytes; they are processed at once, at the clock's now."""
        if self._closed:
            _LOG.debug("ignoring %d bytes on a closed link", len(data))
            return
        firmware = self._device.firmware
        if not isinstance(firmware, OmpFirmware):
            self._answer(firmware.receive(data, self._device.clock.now()))
            if firmware.take_hangup():
                _LOG.debug("%s: the device ended the link", self._device.profile.name)
                self.close()
            return
        # OMP/1 frame by frame: the host's send callback may close the link after an answer,
        # and the frames after that one in the same chunk must then not be applied.
        for item in self._decoder.feed(data):
            if isinstance(item, BadFrame):
                _LOG.debug("dropped a broken frame (%s): %s", item.reason, item.data.hex(" "))
                continue
            self._answer(firmware.handle_frame(item, self._device.clock.now()))
            if self._closed:
                return

    def deliver(self, data: bytes) -> None:
        """Send device-to-host bytes over this link, through the device's link faults (nothing
        happens once it is closed)."""
        if not data or self._closed:
            return
        self._device.faults.link.transmit(self, data)

    def _answer(self, data: bytes) -> None:
        # What the device says in reply to what it heard: the only bytes a delay holds back.
        if data and not self._closed:
            self._device.faults.link.transmit(self, data, answer=True)

    def transmit_now(self, data: bytes) -> None:
        """Put bytes on the wire at once, past the link faults (nothing once closed)."""
        if not data or self._closed:
            return
        try:
            self._send(data)
        except Exception:
            # A broken host side must not take the device's time loop down with it.
            _LOG.exception("sending to the host failed; closing the link")
            self.close()

    def close(self) -> None:
        """Close the link; the device keeps running (its watchdog will stop it if active)."""
        if self._closed:
            return
        self._closed = True
        self._device.faults.link.discard(self)
        self._device.detach(self)
        if self._on_close is not None:
            self._on_close()


class SimulatedDevice:
    """A simulated massager of a given profile (any protocol the simulator speaks), on a clock.

    Use it as an async context manager (``async with SimulatedDevice("omp-wand-heat") as dev``)
    to run its time loop, then :meth:`connect` a host. The handle methods
    (:meth:`set_temperature`, :meth:`inject_motor_fault`, ...) change it the way the physical
    world would; :attr:`faults` makes it misbehave (a muted, garbled or late link, refused
    commands, an auto-off, ...); :attr:`state` and :attr:`timeline` show what it is doing and
    has done.
    """

    def __init__(self, profile: Profile | str, clock: Clock | None = None) -> None:
        self.profile: Profile = simulatable_profile(profile)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.state: FirmwareState = FirmwareState()
        self.timeline: Recording = Recording()
        self.thermal: ThermalModel = ThermalModel.from_profile(self.profile)
        self.firmware: BaseFirmware = make_firmware(
            self.profile,
            self.clock.now(),
            state=self.state,
            timeline=self.timeline,
            thermal=self.thermal,
        )
        self._link: SimLink | None = None
        self._task: asyncio.Task[None] | None = None
        #: The test-facing fault handle (see :mod:`massagesim.fault_injection`).
        self.faults: FaultInjector = FaultInjector(self)

    def __repr__(self) -> str:
        return f"<SimulatedDevice {self.profile.name}>"

    # --- links -------------------------------------------------------------------------------

    @property
    def link(self) -> SimLink | None:
        """The live host link, if any."""
        return self._link

    def connect(self, send: Send, *, on_close: Callable[[], None] | None = None) -> SimLink:
        """Open a host link; everything the device sends goes to ``send``, synchronously.

        A new link replaces the live one, which is closed (its ``on_close`` is called).
        """
        old = self._link
        link = SimLink(self, send, on_close)
        self._link = link
        if old is not None:
            old.close()
        self.firmware.new_link()
        _LOG.debug("%s: host connected", self.profile.name)
        return link

    def drop_link(self) -> None:
        """Drop the live link as if the connection broke (a test-facing misbehaviour).

        Unlike a host closing its link, the firmware sees this as an accidental loss
        (:meth:`~massagesim.firmware_base.BaseFirmware.link_lost`): a Lovense device with
        ``AutoSwith`` on stops.
        """
        if self._link is not None:
            self._link.close()
            # Nobody is connected to hear what the device says about it.
            self.firmware.link_lost(self.clock.now())

    def detach(self, link: SimLink) -> None:
        """Forget ``link`` if it is the live one (a link calls this as it closes)."""
        if self._link is link:
            self._link = None
            _LOG.debug("%s: host disconnected", self.profile.name)

    def _deliver(self, data: bytes) -> None:
        if data and self._link is not None:
            self._link.deliver(data)

    # --- time --------------------------------------------------------------------------------

    def tick(self) -> None:
        """Bring the device up to the clock's now at once, sending what falls due.

        :meth:`run` does this every tick; tests on a hand-driven clock call it themselves.
        """
        self._deliver(self.firmware.tick(self.clock.now()))

    async def run(self) -> None:
        """The device's own time loop, until cancelled: a firmware tick every 50 clock ms."""
        if math.isinf(self.clock.speedup):
            await self._run_event_driven()
            return
        period = max(TICK_S, MIN_WALL_TICK_S * self.clock.speedup)
        deadline = self.clock.now()
        while True:
            deadline += period
            await self.clock.sleep_until(deadline)
            now = self.clock.now()
            self._deliver(self.firmware.tick(now))
            if now - deadline > period:
                # Fell behind (a busy loop, a debugger): skip the missed ticks rather than run
                # them in a burst; the firmware has applied every event at its own time anyway.
                deadline = now

    async def _run_event_driven(self) -> None:
        # Under virtual time a tick costs a jump of the whole clock, so the loop wakes only when
        # the firmware has something due (at least once a clock second: a command may have
        # armed an earlier event meanwhile; its effect is still applied at its own due time).
        while True:
            now = self.clock.now()
            due = self.firmware.next_due()
            wake = now + EVENT_DRIVEN_MAX_SLEEP_S
            if due is not None:
                wake = min(wake, max(due, now))
            await self.clock.sleep_until(wake)
            self._deliver(self.firmware.tick(self.clock.now()))

    async def __aenter__(self) -> Self:
        """Start the time loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"massagesim {self.profile.name}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the time loop.

        The link stays: a host tearing down after the device still gets its STOP answered.
        """
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- test-facing handle ------------------------------------------------------------------

    @property
    def lies(self) -> Lies:
        """What the device reports instead of the truth (None fields: the truth); see
        :mod:`massagesim.lies`."""
        return self.firmware.lies

    @property
    def refusals_left(self) -> int:
        """How many more commands the device will refuse (``faults.refuse_next``)."""
        return self.firmware.refusals_left

    def set_temperature(self, celsius: float) -> None:
        """Put the heater element at a temperature now (at or above max_temp_c: overheat)."""
        self._deliver(self.firmware.set_temperature(celsius, self.clock.now()))

    def set_runaway(self, celsius: float | None) -> None:
        """Make the heater aim for ``celsius`` while on (a failed thermostat); None heals it."""
        self._deliver(self.firmware.set_runaway(celsius, self.clock.now()))

    def inject_motor_fault(self) -> None:
        """Stall the motor: MOTOR is set and the motor stops; speed commands are refused."""
        self._deliver(self.firmware.inject_motor_fault(self.clock.now()))

    def clear_motor_fault(self) -> None:
        """Repair the motor: MOTOR clears."""
        self._deliver(self.firmware.clear_motor_fault(self.clock.now()))

    def set_battery(self, percent: float) -> None:
        """Set the battery charge in percent (battery-powered profiles only)."""
        self._deliver(self.firmware.set_battery(percent, self.clock.now()))

    def auto_off_in(self, seconds: float) -> None:
        """The device's auto-off ends its running activity ``seconds`` from now."""
        self._deliver(self.firmware.auto_off_in(seconds, self.clock.now()))

    def set_auto_off(self, seconds: float) -> None:
        """The device's auto-off comes after ``seconds`` of continuous activity from now on."""
        self._deliver(self.firmware.set_auto_off(seconds, self.clock.now()))

    def on_change(self, callback: Callable[[StateSnapshot], None]) -> Callable[[], None]:
        """Call ``callback`` with a snapshot at every change of speed, heat, program or faults.

        Returns a function that unsubscribes.
        """
        return self.timeline.on_state(callback)
