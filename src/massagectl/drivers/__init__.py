"""Host-side drivers: one per protocol, each turning device commands into that protocol's bytes
over a transport, and what the device sends back into state."""

from ..device_types import Command, CommandKind
from .base import Driver, driver_for

__all__ = ["Command", "CommandKind", "Driver", "driver_for"]
