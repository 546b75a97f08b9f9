"""Massage programs: the format (YAML or Python), the presets, and the timeline they make."""

from .model import (
    Heat,
    Program,
    Pulse,
    Repeat,
    Speed,
    Steady,
    Step,
    Use,
    Wave,
)

__all__ = ["Heat", "Program", "Pulse", "Repeat", "Speed", "Steady", "Step", "Use", "Wave"]
