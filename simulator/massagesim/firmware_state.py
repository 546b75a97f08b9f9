"""What a simulated massager is doing: its levels, program, temperature, battery and faults.

Plain data. The firmware (:mod:`massagesim.firmware`) is the only writer; tests read it through
:attr:`massagesim.SimulatedDevice.state` and change it only through the device's handle methods,
so that every change goes through the same rules and lands in the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sim_faults import NO_FAULTS, SimFault


@dataclass(slots=True)
class FirmwareState:
    """The live state of one simulated device."""

    #: Motor speed level, 0 = off.
    speed: int = 0
    #: Heat level, 0 = off.
    heat: int = 0
    #: Index of the running built-in program (1-based), 0 = none.
    program: int = 0
    #: Clock time the running program started, None when no program runs.
    program_started_at: float | None = None
    #: Which step of the running program's level list is playing (counts up, not wrapped).
    program_step: int = 0
    #: Temperature of the heater element, °C (modelled even when the device reports no sensor).
    temperature_c: float = 22.0
    #: Battery charge in percent; None for a mains-powered device.
    battery_pct: float | None = None
    #: The faults the device is in, in the simulator's own terms (each protocol reports them
    #: in its own, see :mod:`massagesim.sim_faults`).
    faults: SimFault = NO_FAULTS
    #: Clock time continuous activity began (for auto-off), None while idle.
    active_since: float | None = None
    #: Clock time of the last valid frame from the host (feeds the watchdog), None before any.
    last_frame_at: float | None = None
    #: Clock time the state was last brought up to date.
    updated_at: float = 0.0

    @property
    def active(self) -> bool:
        """Whether the device is active in the OMP/1 sense: speed, heat or a program on."""
        return self.speed > 0 or self.heat > 0 or self.program > 0
