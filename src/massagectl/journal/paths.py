"""Where the journal lives: ``--journal PATH``, else ``$MASSAGECTL_JOURNAL``, else the
platform's per-user data directory.

The journal is data the person may want to keep (what ran, when, how it ended), not settings, so
it goes where the platform keeps application data: ``~/.local/share/massagectl`` on Linux
(``$XDG_DATA_HOME``), ``~/Library/Application Support/massagectl`` on macOS,
``%LOCALAPPDATA%\\massagectl`` on Windows, as :mod:`platformdirs` knows them. The safety limits
are settings and live in the configuration directory instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

#: The environment variable that overrides the default path.
ENV_VAR: Final = "MASSAGECTL_JOURNAL"
#: The journal's file name in the data directory.
FILE_NAME: Final = "journal.sqlite3"


def default_journal_path() -> Path:
    """The journal's path when neither ``--journal`` nor ``$MASSAGECTL_JOURNAL`` is given."""
    import platformdirs

    # appauthor=False: no vendor folder above ours on Windows (massagectl\massagectl).
    return platformdirs.user_data_path("massagectl", appauthor=False) / FILE_NAME


def journal_path(option: str | None = None) -> Path:
    """The journal to use: ``option`` (``--journal``), else the environment, else the default."""
    chosen = option if option else os.environ.get(ENV_VAR)
    return Path(chosen).expanduser() if chosen else default_journal_path()
