"""``massagectl devices [NAME]`` and ``massagectl programs``: what is shipped, as tables or JSON.

The JSON shapes are documented in docs/cli.md; a key is only ever added, never renamed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from ..profiles import Profile, all_profiles, get_profile


def _console() -> Console:
    # A pipe gets the whole table rather than rich's 80-column squeeze.
    return Console(width=None if sys.stdout.isatty() else 132)


def profile_json(profile: Profile) -> dict[str, Any]:
    """One profile in full, as ``devices NAME --json`` prints it."""
    return profile.model_dump(mode="json")


def devices_command(name: str | None, *, as_json: bool) -> None:
    """List the profiles, or show the one named ``name`` in full."""
    if name is not None:
        profile = get_profile(name)
        if as_json:
            print(json.dumps(profile_json(profile), indent=2))
            return
        import yaml

        print(f"profile {profile.name}")
        print(yaml.safe_dump(profile_json(profile), sort_keys=False).rstrip())
        return
    profiles = all_profiles()
    if as_json:
        print(json.dumps([profile_json(p) for p in profiles], indent=2))
        return
    from .render import profiles_table

    _console().print(profiles_table(profiles))


def programs_json() -> list[dict[str, Any]]:
    """``programs --json``: one object per preset."""
    from ..programs.loader import all_programs
    from ..programs.timeline import DeviceRange, Timeline

    def length_s(p: Any) -> float:
        return float(Timeline(p, DeviceRange(0, 0)).duration)

    return [
        {
            "name": p.name,
            "title": p.title,
            "summary": p.summary,
            "based_on": p.based_on or None,
            "length_s": length_s(p),
            "needs": [str(n) for n in p.needs],
            "cautions": list(p.cautions),
        }
        for p in all_programs()
    ]
