"""What a program run tells as it goes: one frozen dataclass per kind of event, and their union.

The scheduler emits them; every surface (the terminal views, the MQTT gateway, the journal)
dispatches on the class (``match`` or ``isinstance``), never on a string. The one place a kind
becomes a word is :func:`event_name`, for the records that name it: a journal row's ``kind`` and
an MQTT event's ``event``, which keep the words they always had.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .timeline import Levels, Segment


@dataclass(frozen=True, slots=True, kw_only=True)
class _Told:
    """What every event has: where in the program it happened, and what a person is told."""

    #: Program time, in seconds, when it happened.
    position: float
    #: The sentence a view shows (empty when the kind says it all).
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent(_Told):
    """An event about one device (or, for a lost link, the devices named together)."""

    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(_Told):
    """A step began (on time, or because next or previous moved to it)."""

    segment: Segment


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelsSent(DeviceEvent):
    """A device was sent new levels (many a second in a wave)."""

    levels: Levels


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused(_Told):
    """The run paused: program time stands still and the devices rest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(_Told):
    """The run resumed, the speed ramping back in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IntensityChanged(_Told):
    """The intensity scale changed (``message`` is it as a percentage)."""

    intensity: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldChanged(_Told):
    """A hold was extended or ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused(DeviceEvent):
    """A device refused a setting (a fault such as overheat); the run goes on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDropped(DeviceEvent):
    """A device's link dropped (``device`` names every device lost at once)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected(DeviceEvent):
    """The lost devices are back; the run resumes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyCut(DeviceEvent):
    """The safety envelope held a setting back or ended the session."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault(DeviceEvent):
    """A device fault that ends the run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceWarning(DeviceEvent):
    """Something the person should know that does not end the run (a low battery, a device that
    may still be running after the end)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished(_Told):
    """The program ran to its end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Stopped(_Told):
    """The run was stopped before its end."""


#: Everything a run can tell.
RunEvent = (
    StepStarted
    | LevelsSent
    | Paused
    | Resumed
    | IntensityChanged
    | HoldChanged
    | Refused
    | LinkDropped
    | Reconnected
    | SafetyCut
    | Fault
    | DeviceWarning
    | Finished
    | Stopped
)

_NAMES: Final[dict[type[_Told], str]] = {
    StepStarted: "step",
    LevelsSent: "sent",
    Paused: "paused",
    Resumed: "resumed",
    IntensityChanged: "intensity",
    HoldChanged: "hold",
    Refused: "refused",
    LinkDropped: "lost",
    Reconnected: "reconnected",
    SafetyCut: "safety",
    Fault: "fault",
    DeviceWarning: "warning",
    Finished: "finished",
    Stopped: "stopped",
}


def event_name(event: RunEvent) -> str:
    """The word records use for ``event``'s kind (``step``, ``sent``, ``lost``, ...): a journal
    row's ``kind``, an MQTT event's ``event``."""
    return _NAMES[type(event)]
