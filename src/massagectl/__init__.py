"""massagectl: control vibration, percussion and heat massagers, run massage programs, and test
everything against a simulator.

    import asyncio, massagectl

    async def main() -> None:
        async with massagectl.connect("sim:omp-wand-heat") as m:
            await m.set_speed(0.4)
            await m.set_heat("low")

    asyncio.run(main())
"""

from .address import DeviceAddress, parse_address
from .connect import connect
from .device import DeviceInfo, DeviceState, Massager
from .errors import (
    DeviceError,
    DeviceRefused,
    LinkError,
    LinkLost,
    MassagectlError,
    ProfileError,
    UsageError,
    ValueOutOfRange,
)
from .profiles import Profile, all_profiles, get_profile

__version__ = "0.1.0"

__all__ = [
    "DeviceAddress",
    "DeviceError",
    "DeviceInfo",
    "DeviceRefused",
    "DeviceState",
    "LinkError",
    "LinkLost",
    "MassagectlError",
    "Massager",
    "Profile",
    "ProfileError",
    "UsageError",
    "ValueOutOfRange",
    "__version__",
    "all_profiles",
    "connect",
    "get_profile",
    "parse_address",
]
