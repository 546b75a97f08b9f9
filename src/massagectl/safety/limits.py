"""Safety limits: built-in defaults, a profile's own, and the person's config file.

The config file is ``safety.yaml`` in the platform's config directory (``~/.config/massagectl``
on Linux; ``MASSAGECTL_CONFIG_DIR`` overrides it)::

    max_heat: high             # off, low, medium, high, or {level: N}
    max_continuous_heat: 30m   # then the heat goes off and stays off for heat_rest
    heat_rest: 10m
    max_session: 90m           # then the device is stopped, and nothing starts for session_rest
    session_rest: 30m
    max_intensity: 100%        # the fastest speed, as a share of the device's range
    profiles:                  # tighter (or looser) limits for one model
      omp-heat-pad:
        max_heat: medium
        max_continuous_heat: 20m

The most specific setting wins: the file's entry for the profile, then the file's general entry,
then the profile's ``safety`` block, then the built-in default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UsageError
from ..profiles import Profile, SafetyOverride
from ..programs.model import Heat
from ..safe_yaml import load_data, read_text

DEFAULT_MAX_CONTINUOUS_HEAT_S = 30 * 60.0
DEFAULT_HEAT_REST_S = 10 * 60.0
DEFAULT_MAX_SESSION_S = 90 * 60.0
DEFAULT_SESSION_REST_S = 30 * 60.0


class UserSafety(SafetyOverride):
    """The person's safety file: general limits and per-profile ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: dict[str, SafetyOverride] = Field(default_factory=dict)


class SafetyLimits(BaseModel):
    """The limits in force for one device."""

    model_config = ConfigDict(frozen=True)

    max_heat: Heat = Heat(name="high")
    max_continuous_heat_s: float = DEFAULT_MAX_CONTINUOUS_HEAT_S
    heat_rest_s: float = DEFAULT_HEAT_REST_S
    max_session_s: float = DEFAULT_MAX_SESSION_S
    session_rest_s: float = DEFAULT_SESSION_REST_S
    max_intensity: float = 1.0

    @classmethod
    def resolve(cls, *layers: SafetyOverride | None) -> SafetyLimits:
        """Combine override layers, most specific first."""
        values: dict[str, Any] = {}
        names = {
            "max_heat": "max_heat",
            "max_continuous_heat": "max_continuous_heat_s",
            "heat_rest": "heat_rest_s",
            "max_session": "max_session_s",
            "session_rest": "session_rest_s",
            "max_intensity": "max_intensity",
        }
        for layer in reversed([layer for layer in layers if layer is not None]):
            for source, target in names.items():
                value = getattr(layer, source)
                if value is not None:
                    values[target] = value
        return cls(**values)

    def max_heat_level(self, heat_levels: int) -> int:
        """The highest heat level allowed on a device with ``heat_levels``."""
        from ..mapping import HEAT_NAMES, fraction_to_level

        if self.max_heat.name is not None:
            return fraction_to_level(HEAT_NAMES[self.max_heat.name], heat_levels)
        return min(heat_levels, self.max_heat.level or 0)

    def max_speed_level(self, speed_levels: int) -> int:
        """The highest speed level allowed on a device with ``speed_levels``."""
        from ..mapping import fraction_to_level

        return fraction_to_level(self.max_intensity, speed_levels)


def safety_file() -> Path:
    """Where the person's safety limits live."""
    base = os.environ.get("MASSAGECTL_CONFIG_DIR")
    if base:
        return Path(base) / "safety.yaml"
    import typer

    return Path(typer.get_app_dir("massagectl")) / "safety.yaml"


def load_user_limits(path: Path | None = None) -> UserSafety:
    """The person's limits (none if the file does not exist); errors name the file and field."""
    path = path or safety_file()
    # Bounded reading and parsing (size, depth, no aliases): see massagectl.safe_yaml.
    text = read_text(path, UsageError, missing_ok=True)
    if text is None:
        return UserSafety()
    raw = load_data(text, str(path), UsageError) or {}
    try:
        return UserSafety.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise UsageError(f"{path}: field {field}: {first['msg']}") from None


def limits_for(profile: Profile, user: UserSafety | None = None) -> SafetyLimits:
    """The limits in force for a device of ``profile``."""
    user = user if user is not None else load_user_limits()
    return SafetyLimits.resolve(user.profiles.get(profile.name), user, profile.safety)
