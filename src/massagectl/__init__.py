"""massagectl: control vibration, percussion and heat massagers, run massage programs, and test
everything against a simulator.

    import asyncio, massagectl

    async def main() -> None:
        async with massagectl.connect("sim:omp-wand-heat") as m:
            await m.set_speed(0.4)
            await m.set_heat("low")

    asyncio.run(main())

Names are imported on first use, so that ``massagectl --help`` does not pay for pydantic, asyncio
and the protocol stack.
"""

from __future__ import annotations

import importlib

# Not ``from typing import TYPE_CHECKING``: importing typing costs more than the rest of
# ``massagectl --help`` does. mypy treats a name TYPE_CHECKING as True all the same.
TYPE_CHECKING = False

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "DeviceAddress": "address",
    "parse_address": "address",
    "connect": "connection",
    "DeviceInfo": "device",
    "DeviceState": "device",
    "Massager": "device",
    "DeviceError": "errors",
    "DeviceRefused": "errors",
    "LinkError": "errors",
    "LinkLost": "errors",
    "MassagectlError": "errors",
    "ProfileError": "errors",
    "ProgramError": "errors",
    "UsageError": "errors",
    "ValueOutOfRange": "errors",
    "Profile": "profiles",
    "all_profiles": "profiles",
    "get_profile": "profiles",
    "Program": "programs.model",
    "Step": "programs.model",
    "Repeat": "programs.model",
    "Use": "programs.model",
    "Speed": "programs.model",
    "Heat": "programs.model",
    "Steady": "programs.model",
    "Pulse": "programs.model",
    "Wave": "programs.model",
    "get_program": "programs.loader",
    "all_programs": "programs.loader",
    "Timeline": "programs.timeline",
    "DeviceRange": "programs.timeline",
    "Scheduler": "programs.scheduler",
    "run_program": "runtime.one_call",
    "ProgramRun": "runtime.program_run",
    "Settings": "runtime.settings",
    "apply_settings": "runtime.settings",
    "MonotonicClock": "clock",
    "ScaledClock": "clock",
    "VirtualClock": "clock",
}

__all__ = [
    "DeviceAddress",
    "DeviceError",
    "DeviceInfo",
    "DeviceRange",
    "DeviceRefused",
    "DeviceState",
    "Heat",
    "LinkError",
    "LinkLost",
    "MassagectlError",
    "Massager",
    "MonotonicClock",
    "Profile",
    "ProfileError",
    "Program",
    "ProgramError",
    "ProgramRun",
    "Pulse",
    "Repeat",
    "ScaledClock",
    "Scheduler",
    "Settings",
    "Speed",
    "Steady",
    "Step",
    "Timeline",
    "UsageError",
    "Use",
    "ValueOutOfRange",
    "VirtualClock",
    "Wave",
    "__version__",
    "all_profiles",
    "all_programs",
    "apply_settings",
    "connect",
    "get_profile",
    "get_program",
    "parse_address",
    "run_program",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'massagectl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from typing import Any

    from .address import DeviceAddress, parse_address
    from .clock import MonotonicClock, ScaledClock, VirtualClock
    from .connection import connect
    from .device import DeviceInfo, DeviceState, Massager
    from .errors import (
        DeviceError,
        DeviceRefused,
        LinkError,
        LinkLost,
        MassagectlError,
        ProfileError,
        ProgramError,
        UsageError,
        ValueOutOfRange,
    )
    from .profiles import Profile, all_profiles, get_profile
    from .programs.loader import all_programs, get_program
    from .programs.model import Heat, Program, Pulse, Repeat, Speed, Steady, Step, Use, Wave
    from .programs.scheduler import Scheduler
    from .programs.timeline import DeviceRange, Timeline
    from .runtime.one_call import run_program
    from .runtime.program_run import ProgramRun
    from .runtime.settings import Settings, apply_settings
