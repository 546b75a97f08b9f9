"""Fan-out of what a device reports to whoever listens, none of them able to take it down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Listeners"]

_log = logging.getLogger(__name__)

T = TypeVar("T")


class Listeners(Generic[T]):
    """Callbacks that each get every value :meth:`emit` is given, in the order they came."""

    def __init__(self, owner: str, what: str) -> None:
        #: Named in the log when a listener fails: the device, and what it was told of.
        self._owner = owner
        self._what = what
        self._listeners: list[Callable[[T], None]] = []

    def subscribe(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Call ``listener`` with every value from now on; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            # Safe to call twice (a cleanup path and a finally block often both do).
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, value: T) -> None:
        """Hand ``value`` to every listener; one that raises is logged and the rest still hear."""
        # A copy: a listener may unsubscribe (itself or another) while it is called.
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception:  # a listener's bug must not take the device down
                _log.exception("%s: %s listener failed", self._owner, self._what)

    def __len__(self) -> int:
        return len(self._listeners)
