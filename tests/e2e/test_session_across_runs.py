"""A session that reached its longest is remembered when massagectl is started again: nothing
starts on that device until it has rested or the person resets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import SimProcess, massagectl


def test_a_new_massagectl_does_not_start_a_device_whose_session_is_over(
    percussion: SimProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "safety.yaml").write_text("max_session: 2s\nsession_rest: 1h\n")
    monkeypatch.setenv("MASSAGECTL_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("MASSAGECTL_JOURNAL", str(tmp_path / "journal.sqlite3"))
    address = percussion.address()

    held = massagectl("set", "--device", address, "--speed", "50%", "--for", "4s")
    assert held.returncode == 0, held.stderr
    assert "session reached its longest (2s)" in held.stderr
    percussion.wait_for(lambda line: line.speed == 0)

    # massagectl again: the session is remembered, and the person is told what ends the rest.
    again = massagectl("set", "--device", address, "--speed", "50%", "--for", "1s")
    assert again.returncode == 4, again.stderr
    assert "massagectl: error: " in again.stderr
    assert "lasted its longest" in again.stderr
    assert "Traceback" not in again.stderr
    assert "safety-reset" in again.stderr
    started = [line for line in percussion.drain() if line.speed > 0]
    assert not started, started

    reset = massagectl("safety-reset", "--device", address)
    assert reset.returncode == 0, reset.stderr
    assert "session reset" in reset.stdout

    after = massagectl("set", "--device", address, "--speed", "50%", "--for", "1s")
    assert after.returncode == 0, after.stderr
    assert "longest" not in after.stderr
    percussion.wait_for(lambda line: line.speed > 0)


def test_a_new_massagectl_honours_the_heat_rest(
    heat_pad: SimProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "safety.yaml").write_text("max_continuous_heat: 2s\nheat_rest: 1h\n")
    monkeypatch.setenv("MASSAGECTL_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("MASSAGECTL_JOURNAL", str(tmp_path / "journal.sqlite3"))
    address = heat_pad.address()

    held = massagectl("set", "--device", address, "--heat", "high", "--for", "4s")
    assert held.returncode == 0, held.stderr
    assert "heat was on for 2s without a break" in held.stderr
    heat_pad.wait_for(lambda line: line.heat == 0)

    # massagectl again, within the rest: the heat stays off, and the person is told.
    again = massagectl("set", "--device", address, "--heat", "high", "--for", "1s")
    assert "heat stays off for 59m" in again.stderr, again.stderr
    heated = [line for line in heat_pad.drain() if line.heat > 0]
    assert not heated, heated
