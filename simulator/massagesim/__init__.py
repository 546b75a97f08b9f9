"""massagesim: simulated massagers that speak the device side of OMP/1.

Three separate things, in the manner of pyatv's fake devices:

- the device's state and physics: :class:`DeviceState`, :class:`ThermalModel`;
- the firmware that serves the protocol: :class:`OmpFirmware` (sans-I/O);
- the test-facing handle: :class:`SimulatedDevice`, which owns the other two, runs the device's
  own time, records a :class:`Timeline`, and can be told to overheat, stall or run flat.

:func:`serve_pty` and :func:`serve_tcp` put a device where any program can reach it.
"""

from __future__ import annotations

from .device import SimLink, SimulatedDevice
from .firmware import OmpFirmware, simulatable_profile
from .serve import serve_pty, serve_tcp
from .state import DeviceState
from .thermal import ThermalModel
from .timeline import CommandRecord, StateSnapshot, Timeline

__all__ = [
    "CommandRecord",
    "DeviceState",
    "OmpFirmware",
    "SimLink",
    "SimulatedDevice",
    "StateSnapshot",
    "ThermalModel",
    "Timeline",
    "serve_pty",
    "serve_tcp",
    "simulatable_profile",
]
