"""Fixtures for end-to-end tests through the real command line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import SimProcess


@pytest.fixture
def percussion() -> Iterator[SimProcess]:
    """A simulated 13-speed percussion massager on a pseudo-terminal."""
    sim = SimProcess("omp-percussion-pro")
    yield sim
    sim.close()


@pytest.fixture
def heat_pad() -> Iterator[SimProcess]:
    """A simulated heating pad on a pseudo-terminal."""
    sim = SimProcess("omp-heat-pad")
    yield sim
    sim.close()
