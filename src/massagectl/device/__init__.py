"""The device layer: a :class:`Massager` composed of its command queue, safety guard and listeners.

Nothing outside this package touches a Massager's driver or transport; see :mod:`.massager`.
"""

from __future__ import annotations

from ..device_types import DeviceInfo, DeviceState
from .massager import STOP_ON_EXIT_TIMEOUT_S, DriverFactory, Massager

__all__ = ["STOP_ON_EXIT_TIMEOUT_S", "DeviceInfo", "DeviceState", "DriverFactory", "Massager"]
