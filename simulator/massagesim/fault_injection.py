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

How the link faults behave in time (late answers, wall time): see :mod:`massagesim.link_faults`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from massagectl.errors import UsageError

from .fault_specs import FaultSpec
from .lies import LIE_FAULTS, lie_problem, tell
from .link_faults import LinkFaults

if TYPE_CHECKING:
    from .device import SimulatedDevice

_LOG = logging.getLogger(__name__)


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

    def refuse_next(self, count: int = 1) -> None:
        """Refuse the next ``count`` commands that start or raise something (never a stop).

        Each device refuses in its protocol's terms: OMP/1 answers ACK REFUSED_FAULT (another
        code: :meth:`massagesim.OmpFirmware.refuse_next`); Lovense ``ERR;``; Theragun and
        RongTai have no way to refuse, so they ignore the command.
        """
        self._device.firmware.refuse_next(count)

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
        self._device.auto_off_in(seconds)

    def set_auto_off(self, seconds: float) -> None:
        """The device's auto-off comes after ``seconds`` of continuous activity from now on."""
        self._device.set_auto_off(seconds)

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
        if name in LIE_FAULTS:
            assert value is not None  # parse_fault: a lie always has its value
            tell(self._device.firmware.lies, name, value)
        else:
            self._by_name()[name](value)
        _LOG.info("%s: fault %s injected", self._device.profile.name, spec.text)

    def _by_name(self) -> dict[str, Callable[[float | None], None]]:
        # Each ``--fault`` name and what it does with its value. parse_fault has already said
        # which names need one, so `_needed` only narrows the type.
        return {
            "garble": lambda v: self.garble(1.0 if v is None else v),
            "late": lambda v: self.delay_answers(_needed(v)),
            "mute": lambda _: self.mute(),
            "refuse": lambda v: self.refuse_next(1 if v is None else int(v)),
            "drop": lambda _: self.drop_link(),
            "overheat": lambda _: self.overheat(),
            "runaway": self.runaway,
            "motor": lambda _: self.motor_fault(),
            "battery": lambda v: self._device.set_battery(_needed(v)),
            "low-battery": lambda _: self.low_battery(),
            "auto-off": lambda v: self.set_auto_off(_needed(v)),
        }

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


def _needed(value: float | None) -> float:
    assert value is not None, "parse_fault requires a value for this fault"
    return value


__all__ = ["FaultInjector"]
