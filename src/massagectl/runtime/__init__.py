"""What every surface (the CLI, the MQTT gateway, the Python API) runs on: one program run with
its typed events, and one call that applies settings."""

from ..programs.events import RunEvent, event_name
from .program_run import ProgramRun

__all__ = ["ProgramRun", "RunEvent", "event_name"]
