"""The simulator's own words for what is wrong with a device, whatever its protocol.

:class:`SimFault` is what :attr:`FirmwareState.faults <massagesim.FirmwareState.faults>` holds
for every family. Each firmware says it in its protocol's terms when it reports: the OMP/1
firmware maps it to the STATUS fault bits (:func:`massagesim.firmware.omp_fault_bits`); the
Theragun, Lovense and RongTai status messages have no fault field, so those devices show a
fault only by what they do (they stop, or ignore a command).
"""

from __future__ import annotations

import enum
from typing import Final


class SimFault(enum.Flag):
    """A fault the simulated device is in; several can hold at once.

    A plain :class:`enum.Flag`, not an int: its values are no protocol's bits, so it cannot be
    sent by mistake where a protocol's fault byte belongs.
    """

    #: The heater reached its cut-out temperature; it is off until it has cooled down.
    OVERHEAT = enum.auto()
    #: The watchdog ran out (no frame from the host in time) and stopped the device.
    WATCHDOG_STOP = enum.auto()
    #: The battery is at or below the profile's low-battery level.
    LOW_BATTERY = enum.auto()
    #: The motor is stalled: it stopped and cannot start until repaired.
    MOTOR = enum.auto()
    #: The device stopped itself after its longest continuous activity.
    AUTO_OFF = enum.auto()


#: No fault at all.
NO_FAULTS: Final = SimFault(0)
#: The faults that a command the device accepts clears.
CLEARED_BY_COMMAND: Final = SimFault.WATCHDOG_STOP | SimFault.AUTO_OFF
#: Every fault, in the order :func:`fault_labels` names them.
_ORDER: Final = tuple(SimFault)


def fault_labels(faults: SimFault) -> list[str]:
    """The names of the faults in ``faults``, in declaration order (``[]`` for none)."""
    return [f.name for f in _ORDER if f in faults and f.name is not None]


__all__ = ["CLEARED_BY_COMMAND", "NO_FAULTS", "SimFault", "fault_labels"]
