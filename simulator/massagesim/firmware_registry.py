"""Which firmware simulates which protocol: the one place that maps ``profile.protocol`` to code."""

from __future__ import annotations

from typing import Final

from massagectl.errors import ProfileError
from massagectl.profiles import Profile

from .firmware import OmpFirmware
from .firmware_base import BaseFirmware, simulatable_profile
from .firmware_lovense import LovenseFirmware
from .firmware_rongtai import RongTaiFirmware
from .firmware_state import FirmwareState
from .firmware_theragun import TheragunFirmware
from .recording import Recording
from .thermal import ThermalModel

#: The firmware class for each protocol a profile may name.
FIRMWARES: Final[dict[str, type[BaseFirmware]]] = {
    "omp": OmpFirmware,
    "theragun": TheragunFirmware,
    "lovense": LovenseFirmware,
    "rongtai": RongTaiFirmware,
}


def firmware_class(profile: Profile) -> type[BaseFirmware]:
    """The firmware that speaks ``profile.protocol``."""
    try:
        return FIRMWARES[profile.protocol]
    except KeyError:
        raise ProfileError(
            f"device profile {profile.name!r}: the simulator has no firmware for the "
            f"{profile.protocol} protocol"
        ) from None


def make_firmware(
    profile: Profile | str,
    now: float = 0.0,
    *,
    state: FirmwareState | None = None,
    timeline: Recording | None = None,
    thermal: ThermalModel | None = None,
) -> BaseFirmware:
    """A firmware for a simulatable profile, picked by its protocol."""
    resolved = simulatable_profile(profile)
    cls = firmware_class(resolved)
    return cls(resolved, now, state=state, timeline=timeline, thermal=thermal)
