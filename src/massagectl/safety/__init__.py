"""The safety envelope: limits below the scheduler that no program, command or surface can pass.

Per profile and per user: the highest heat level, the longest continuous heat, the longest session
and the highest intensity (speed as a share of the device's range).
"""

from .envelope import Cut, SafetyEnvelope
from .limits import SafetyLimits, limits_for, load_user_limits, safety_file

__all__ = ["Cut", "SafetyEnvelope", "SafetyLimits", "limits_for", "load_user_limits", "safety_file"]
