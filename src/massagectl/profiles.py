"""Device profiles: what a massager model can do, how to reach it, and where the facts come from.

Profiles are data (``devices/*.yaml``), validated by the pydantic models here. A loading error
names the file and the field, so a person editing a profile sees at once what to fix.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ProfileError
from .programs.model import Duration, Heat, Percent
from .resources import data_dir
from .safe_yaml import load_data, read_text


class _Model(BaseModel):
    # No .inf or .nan anywhere: the simulator's physics and the timers cannot run on them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ProvenanceKind(StrEnum):
    """How much the facts in a profile can be trusted."""

    SIMULATED_MODEL = "simulated-model"
    DOCUMENTED = "documented"
    REVERSE_ENGINEERED = "reverse-engineered"


class Provenance(_Model):
    """Where a profile's facts come from."""

    kind: ProvenanceKind
    source: str
    checked_on_hardware: bool = False
    note: str = ""


class SpeedCapability(_Model):
    """Speed settings of the motor."""

    #: Up to 65535: a protocol that sets rpm directly (Theragun) has one level per rpm.
    levels: Annotated[int, Field(ge=1, le=0xFFFF)]
    #: What a level means physically, e.g. percussions per minute; one value per level.
    unit: str = ""
    values: list[float] = []

    @model_validator(mode="after")
    def _values_match_levels(self) -> SpeedCapability:
        if self.values and len(self.values) != self.levels:
            raise ValueError(f"values has {len(self.values)} entries for {self.levels} levels")
        return self


class HeatCapability(_Model):
    """Heat settings of the heater."""

    levels: Annotated[int, Field(ge=1, le=255)]
    #: The temperature the heater settles at on each level, °C (the cut-out's range, 0..255).
    celsius: list[Annotated[float, Field(ge=0, le=255)]]
    #: The heater's time constant in seconds (first-order model; used by the simulator).
    time_constant_s: Annotated[float, Field(gt=0)] = 120.0

    @model_validator(mode="after")
    def _celsius_match_levels(self) -> HeatCapability:
        if len(self.celsius) != self.levels:
            raise ValueError(f"celsius has {len(self.celsius)} entries for {self.levels} levels")
        return self


class BuiltinProgram(_Model):
    """One of the device's own auto programs."""

    name: str
    duration_s: Annotated[float, Field(gt=0)]
    #: Speed levels the program steps through, one every ``step_s`` seconds, on a loop.
    levels: Annotated[list[int], Field(min_length=1)]
    step_s: Annotated[float, Field(gt=0)] = 2.0


class Capabilities(_Model):
    """What the device can do."""

    speed: SpeedCapability | None = None
    heat: HeatCapability | None = None
    programs: list[BuiltinProgram] = []
    battery: bool = False
    temperature_sensor: bool = False

    @model_validator(mode="after")
    def _program_levels_in_range(self) -> Capabilities:
        top = self.speed.levels if self.speed else 0
        for p in self.programs:
            bad = [lvl for lvl in p.levels if not 0 <= lvl <= top]
            if bad:
                raise ValueError(f"program {p.name!r} uses speed levels {bad} outside 0..{top}")
        return self


class Limits(_Model):
    """The device's own safety behaviour."""

    #: Seconds without a frame after which an active device stops itself; 0 = no watchdog.
    watchdog_s: Annotated[float, Field(ge=0, le=25.5)] = 0.0
    #: Seconds of continuous activity after which the device stops itself; None = never.
    auto_off_s: Annotated[float, Field(gt=0)] | None = None
    #: Heater cut-out temperature, °C.
    max_temp_c: Annotated[int, Field(ge=0, le=255)] = 0


class SerialSettings(_Model):
    """Serial line defaults."""

    baud: Annotated[int, Field(gt=0)] = 115200


class BleSettings(_Model):
    """How the device shows itself over BLE, and the GATT characteristics its protocol uses."""

    #: Advertised names that identify the model: a prefix (``LVS-``) or an exact name (``Pro``).
    name_prefixes: list[str] = []
    #: Exact advertised names (Theragun guns advertise ``Pro``, ``Elite``, ``Prime``).
    names: list[str] = []
    service_uuids: list[str] = []
    #: The characteristic the host writes commands to, and the one it gets notifications from.
    write_char: str | None = None
    notify_char: str | None = None
    #: Whether commands are written with response (acknowledged by the link layer).
    write_with_response: bool = True


class LinkSettings(_Model):
    """How often a host may talk to the device, and whether it must keep talking."""

    #: Shortest gap between two writes; a newer value waiting for the gap replaces an older one.
    min_write_gap_s: Annotated[float, Field(ge=0)] = 0.02
    #: While the device is active, send something at least this often (None: not needed).
    keepalive_s: Annotated[float, Field(gt=0)] | None = None


class Simulation(_Model):
    """Extra facts only the simulator needs."""

    #: The room's temperature, °C.
    ambient_c: Annotated[float, Field(ge=-50, le=60)] = 22.0
    #: Battery drain, percent per hour, idle and at full speed and full heat.
    drain_idle_pct_h: Annotated[float, Field(ge=0)] = 1.0
    drain_speed_pct_h: Annotated[float, Field(ge=0)] = 30.0
    drain_heat_pct_h: Annotated[float, Field(ge=0)] = 40.0
    low_battery_pct: Annotated[int, Field(ge=0, le=100)] = 15


class SafetyOverride(_Model):
    """Safety limits from one source (a profile, the person's file); unset ones fall through.

    See :mod:`massagectl.safety.limits` for how the sources combine.
    """

    max_heat: Heat | None = None
    max_continuous_heat: Annotated[Duration, Field(gt=0)] | None = None
    heat_rest: Annotated[Duration, Field(ge=0)] | None = None
    max_session: Annotated[Duration, Field(gt=0)] | None = None
    session_rest: Annotated[Duration, Field(ge=0)] | None = None
    max_intensity: Percent | None = None


class Profile(_Model):
    """A massager model."""

    name: str
    title: str
    kind: Literal["percussion", "vibration", "heat", "chair", "any"]
    protocol: Literal["omp", "theragun", "lovense", "rongtai"]
    #: What the device calls its model in the protocol, where it says (Lovense ``DeviceType;``
    #: answers with a model letter: ``W`` for the Domi); empty when the protocol has no such query.
    model_code: str = ""
    #: True when the capabilities come from the device itself (OMP/1 INFO) rather than here.
    capabilities_from_device: bool = False
    capabilities: Capabilities = Capabilities()
    limits: Limits = Limits()
    serial: SerialSettings = SerialSettings()
    ble: BleSettings = BleSettings()
    link: LinkSettings = LinkSettings()
    #: The model's own safety limits (see massagectl.safety); unset ones use the defaults.
    safety: SafetyOverride | None = None
    #: How the model can be reached, the usual way first (``sim:`` simulates it that way).
    transports: Annotated[list[Literal["serial", "ble"]], Field(min_length=1)] = ["serial", "ble"]
    power: Literal["mains", "battery", "any"] = "any"
    simulation: Simulation = Simulation()
    provenance: Provenance

    @model_validator(mode="after")
    def _levels_fit_protocol(self) -> Profile:
        # OMP/1 carries levels in one byte; the other protocols have their own ranges.
        if self.protocol == "omp" and self.speed_levels > 0xFF:
            raise ValueError(f"OMP/1 has at most 255 speed levels, not {self.speed_levels}")
        return self

    @property
    def speed_levels(self) -> int:
        """Speed levels, 0 when the device has no motor."""
        return self.capabilities.speed.levels if self.capabilities.speed else 0

    @property
    def heat_levels(self) -> int:
        """Heat levels, 0 when the device has no heater."""
        return self.capabilities.heat.levels if self.capabilities.heat else 0

    @property
    def simulatable(self) -> bool:
        """Whether the simulator can stand in for this model."""
        return not self.capabilities_from_device


def load_profile_file(path: Path) -> Profile:
    """Load and validate one profile file; errors name the file and the field."""
    # Bounded reading and parsing (size, depth, no aliases): see massagectl.safe_yaml.
    text = read_text(path, ProfileError)
    assert text is not None  # not missing_ok: a missing file is an error
    raw = load_data(text, str(path), ProfileError)
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile is a mapping of fields")
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        message = message.removeprefix("Value error, ")
        raise ProfileError(f"{path}: field {field}: {message}") from None
    if profile.name != path.stem:
        raise ProfileError(f"{path}: field name: {profile.name!r} must match the file name")
    return profile


@cache
def _shipped() -> dict[str, Profile]:
    folder = data_dir("devices")
    return {p.stem: load_profile_file(p) for p in sorted(folder.glob("*.yaml"))}


def all_profiles() -> list[Profile]:
    """Every shipped profile, by name."""
    return list(_shipped().values())


def get_profile(name: str) -> Profile:
    """A shipped profile by name, or a profile file by path."""
    if name.endswith((".yaml", ".yml")):
        return load_profile_file(Path(name))
    try:
        return _shipped()[name]
    except KeyError:
        known = ", ".join(_shipped())
        raise ProfileError(f"unknown device profile {name!r}; known: {known}") from None
