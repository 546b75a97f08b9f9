"""The simulator's faults are its own (``massagesim.SimFault``), whatever the device's protocol.

Every family holds the same words in its state and its timeline; only when a firmware reports
does a fault become its protocol's: OMP/1 STATUS bits, nothing at all for a status without a
fault field.
"""

from __future__ import annotations

import pytest

from massagectl.protocols.omp import Fault, OmpHost, Status
from massagesim import NO_FAULTS, SimFault, SimulatedDevice

from .helpers import ManualClock


@pytest.mark.parametrize(
    "profile", ["omp-wand-heat", "theragun-pro", "lovense-domi", "rongtai-rt8600s"]
)
def test_every_family_holds_a_stalled_motor_in_the_simulators_own_terms(profile: str) -> None:
    device = SimulatedDevice(profile, ManualClock())
    assert device.state.faults is NO_FAULTS
    device.faults.motor_fault()
    assert device.state.faults == SimFault.MOTOR
    # Not a protocol's bits in disguise: an OMP/1 fault byte is not what the state holds.
    assert not isinstance(device.state.faults, int)
    assert device.timeline.states()[-1].faults == SimFault.MOTOR
    device.faults.clear_motor_fault()
    assert device.state.faults == NO_FAULTS


def test_omp_status_says_each_fault_with_the_bit_of_the_same_name() -> None:
    clock = ManualClock()
    device = SimulatedDevice("omp-neck-rest", clock)  # motor, heater, battery
    host, received = OmpHost(), bytearray()
    link = device.connect(received.extend)
    link.feed(host.set_heat(1).wire)
    device.faults.overheat()
    device.faults.motor_fault()
    device.faults.low_battery()
    assert device.state.faults == SimFault.OVERHEAT | SimFault.MOTOR | SimFault.LOW_BATTERY
    received.clear()
    link.feed(host.get_status().wire)
    (status,) = [m for m in host.receive(bytes(received)) if isinstance(m, Status)]
    assert status.faults == Fault.OVERHEAT | Fault.MOTOR | Fault.LOW_BATTERY
    assert type(status.faults) is Fault
