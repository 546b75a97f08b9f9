"""Brokers for the MQTT tests: real Mosquitto processes, one per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .broker import Mosquitto, make_tls_files

USER, PASSWORD = "gateway", "s3cret-pass"


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """An anonymous broker."""
    b = Mosquitto()
    yield b
    b.close()


@pytest.fixture
def auth_broker() -> Iterator[Mosquitto]:
    """A broker that wants a user name and password (USER / PASSWORD)."""
    b = Mosquitto(users={USER: PASSWORD})
    yield b
    b.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """CA, server certificate and key."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_broker(tls_files: tuple[Path, Path, Path]) -> Iterator[Mosquitto]:
    """A broker that speaks TLS only (its CA is ``tls_files[0]``)."""
    b = Mosquitto(tls=tls_files)
    yield b
    b.close()
