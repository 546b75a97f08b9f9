"""Settings for the whole test suite."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_config_dir() -> Iterator[None]:
    """Keep the tests off the developer's own safety limits (and journal): a private config
    directory, inherited by every CLI the tests start."""
    with tempfile.TemporaryDirectory(prefix="massagectl-test-config-") as path:
        old = os.environ.get("MASSAGECTL_CONFIG_DIR")
        os.environ["MASSAGECTL_CONFIG_DIR"] = path
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("MASSAGECTL_CONFIG_DIR", None)
            else:
                os.environ["MASSAGECTL_CONFIG_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def _private_journal() -> Iterator[None]:
    """Keep the runs the tests make out of the developer's own session journal (which lives in
    the data directory, not the config one): a private journal, inherited by every CLI."""
    with tempfile.TemporaryDirectory(prefix="massagectl-test-journal-") as path:
        old = os.environ.get("MASSAGECTL_JOURNAL")
        os.environ["MASSAGECTL_JOURNAL"] = os.path.join(path, "journal.sqlite3")
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("MASSAGECTL_JOURNAL", None)
            else:
                os.environ["MASSAGECTL_JOURNAL"] = old
