"""Where the shipped data (device profiles, preset programs) lives.

In an installed wheel the folders travel inside the package as ``massagectl/data/``; in a source
checkout (an editable install, or tests run from the repo) they are the repo's top-level
``devices/`` and ``programs/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder of shipped ``devices`` or ``programs``."""
    packaged = _PACKAGE / "data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"massagectl's {name}/ folder is missing from this installation")
