"""massagesim: simulated massagers that speak the device side of their protocols.

Three separate things, in the manner of pyatv's fake devices:

- the device's state and physics: :class:`FirmwareState`, :class:`ThermalModel`, and the
  simulator's own fault vocabulary, :class:`SimFault`, which each firmware says in its
  protocol's terms;
- the firmware that serves the protocol (sans-I/O), picked by the profile's protocol
  (:func:`make_firmware`): :class:`OmpFirmware`, :class:`TheragunFirmware`,
  :class:`LovenseFirmware`, :class:`RongTaiFirmware`, all on :class:`BaseFirmware`;
- the test-facing handle: :class:`SimulatedDevice`, which owns the other two, runs the device's
  own time, records a :class:`Recording`, and can be told to overheat, stall or run flat; its
  :class:`FaultInjector` (``device.faults``) makes it misbehave on the link or refuse commands.

:func:`serve_pty` and :func:`serve_tcp` put a device where any program can reach it.
"""

from __future__ import annotations

from .device import SimLink, SimulatedDevice
from .fault_injection import FaultInjector
from .fault_specs import FAULTS, FaultSpec, parse_fault
from .firmware import OmpFirmware
from .firmware_base import BaseFirmware, simulatable_profile
from .firmware_lovense import LovenseFirmware
from .firmware_registry import FIRMWARES, make_firmware
from .firmware_rongtai import RongTaiFirmware
from .firmware_state import FirmwareState
from .firmware_theragun import TheragunFirmware
from .link_faults import LinkFaults
from .recording import CommandRecord, Recording, StateSnapshot
from .serve import serve_pty, serve_tcp
from .sim_faults import NO_FAULTS, SimFault
from .thermal import ThermalModel

__all__ = [
    "FAULTS",
    "FIRMWARES",
    "NO_FAULTS",
    "BaseFirmware",
    "CommandRecord",
    "FaultInjector",
    "FaultSpec",
    "FirmwareState",
    "LinkFaults",
    "LovenseFirmware",
    "OmpFirmware",
    "Recording",
    "RongTaiFirmware",
    "SimFault",
    "SimLink",
    "SimulatedDevice",
    "StateSnapshot",
    "TheragunFirmware",
    "ThermalModel",
    "make_firmware",
    "parse_fault",
    "serve_pty",
    "serve_tcp",
    "simulatable_profile",
]
