"""Listener fan-out: every listener hears every value, and none can break the others."""

from __future__ import annotations

import logging

import pytest

from massagectl.device.listeners import Listeners


def test_every_listener_hears_every_value_in_order() -> None:
    fan: Listeners[int] = Listeners("dev", "state")
    first: list[int] = []
    second: list[int] = []
    fan.subscribe(first.append)
    fan.subscribe(second.append)
    for value in (1, 2, 3):
        fan.emit(value)
    assert first == second == [1, 2, 3]


def test_a_listener_that_raises_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fan: Listeners[int] = Listeners("dev", "safety")
    heard: list[int] = []

    def broken(value: int) -> None:
        raise RuntimeError("listener bug")

    fan.subscribe(broken)
    fan.subscribe(heard.append)
    with caplog.at_level(logging.ERROR):
        fan.emit(7)
    assert heard == [7]
    assert "dev: safety listener failed" in caplog.text


def test_unsubscribing_twice_or_while_told_is_safe() -> None:
    fan: Listeners[int] = Listeners("dev", "state")
    heard: list[int] = []
    unsubscribe_later = fan.subscribe(heard.append)

    def once(value: int) -> None:
        unsubscribe_once()
        unsubscribe_later()

    unsubscribe_once = fan.subscribe(once)
    fan.emit(1)  # both leave while the value is handed out; the rest of the round is kept
    fan.emit(2)
    unsubscribe_once()
    assert heard == [1]
    assert len(fan) == 0
