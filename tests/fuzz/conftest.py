"""The fuzz tests drive the simulator through millions of refused commands: its log stays quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _quiet_simulator() -> Iterator[None]:
    # Each refused command logs a warning; capturing tens of thousands of them would cost more
    # time than the fuzzing itself and show nothing a failing case does not.
    loggers = [logging.getLogger(name) for name in ("massagesim", "massagectl")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL)
    yield
    for log, level in zip(loggers, levels, strict=True):
        log.setLevel(level)
