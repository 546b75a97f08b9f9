"""The safety memory of each real device, kept across massagectl runs (and bridge restarts).

A session that reached its longest, or heat that is resting, must not be forgotten because the
person started massagectl again. The memory of each device reached over a serial line, TCP or
BLE is kept in a small SQLite file beside the session journal (``safety.sqlite3`` in the same
directory), one row per device, written whenever it changes.

Why not inside the journal file itself: the journal may be switched off (``--no-journal``) or
pointed elsewhere for one run (``--journal``), and ``set`` and the bridge do not write it; the
safety memory must be there whatever the journal does. Kept beside it, it follows the same
place (``$MASSAGECTL_JOURNAL``'s directory, else the data directory).

A ``sim:`` device is a new simulated device in each process, with nothing to remember, and a
device behind a bridge (``mqtt://``) is remembered by the bridge that drives it. Times are
stored as wall-clock seconds; in the process they are on the monotonic clock of the device
layer.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from ..address import DeviceAddress
from ..errors import UsageError
from .memory import SafetyMemory

_log = logging.getLogger(__name__)

#: The file's name, in the journal's directory.
FILE_NAME: Final = "safety.sqlite3"
#: The address schemes whose devices are remembered across runs.
REMEMBERED_SCHEMES: Final = frozenset({"serial", "tcp", "ble"})
#: How long a write waits for another massagectl's write.
BUSY_TIMEOUT_S: Final = 0.5

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS device_safety ("
    " device TEXT PRIMARY KEY, memory TEXT NOT NULL, saved_at REAL NOT NULL)"
)
_FIELDS: Final = (
    "heat_on_s",
    "heat_on_since",
    "heat_off_since",
    "heat_rest_until",
    "session_since",
    "idle_since",
    "session_over_at",
    "seen_at",
)


class SafetyStoreError(UsageError):
    """The safety memory file cannot be opened or read."""


def store_path() -> Path:
    """Where the safety memory lives: beside the session journal."""
    from ..journal.paths import journal_path

    return journal_path().parent / FILE_NAME


def device_key(addr: DeviceAddress) -> str | None:
    """The name a device is remembered by (None: not remembered across runs)."""
    if addr.scheme not in REMEMBERED_SCHEMES:
        return None
    # The link and the device, not the options (a baud rate or a profile named differently
    # is still the same device on the same line).
    return f"{addr.scheme}:{addr.target}"


class SafetyStore:
    """The safety memory file at ``path`` (created when first written)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or store_path()
        # Opened once and kept: the memory is written on the event loop as the device's state
        # changes (a pulse pattern turns the motor on and off several times a second).
        self._db: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # A commit in the WAL outlives the process at NORMAL; a power cut may lose the last
            # few, which the device's own watchdog has made moot (it stopped with its host).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SafetyStoreError(f"safety memory {self.path}: cannot be opened ({exc})") from None
        self._db = db
        return db

    def close(self) -> None:
        """Close the file (it opens again when next used)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def load(self, key: str) -> SafetyMemory:
        """The memory of device ``key`` on this process's monotonic clock (empty if none)."""
        db = self._open()
        try:
            row = db.execute("SELECT memory FROM device_safety WHERE device = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise SafetyStoreError(f"safety memory {self.path}: cannot be read ({exc})") from None
        if row is None:
            return SafetyMemory()
        try:
            raw: dict[str, Any] = json.loads(row[0])
            v = {name: _number(raw.get(name)) for name in _FIELDS}
            wall = SafetyMemory(
                heat_on_s=v["heat_on_s"] or 0.0,
                heat_on_since=v["heat_on_since"],
                heat_off_since=v["heat_off_since"],
                heat_rest_until=_or_never(v["heat_rest_until"]),
                session_since=v["session_since"],
                idle_since=v["idle_since"],
                session_over_at=v["session_over_at"],
                seen_at=v["seen_at"],
            )
        except (ValueError, TypeError):
            # A damaged row must not leave the device unlimited: treat the session as over now,
            # so the person sees why and can reset it.
            _log.warning("safety memory %s: the row for %s is damaged", self.path, key)
            wall = SafetyMemory(session_since=time.time(), session_over_at=time.time())
        memory = wall.shifted(time.monotonic() - time.time())
        # What was on when the last massagectl let go of the device has ended since: that
        # process closed the device (and stopped it) or died (and the device's watchdog did).
        memory.ended_unseen()
        return memory

    def save(self, key: str, memory: SafetyMemory) -> None:
        """Keep the memory of device ``key`` (times on this process's monotonic clock)."""
        wall = memory.shifted(time.time() - time.monotonic())
        doc = {name: _finite(getattr(wall, name)) for name in _FIELDS}
        db = self._open()
        try:
            db.execute(
                "INSERT INTO device_safety (device, memory, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT(device) DO UPDATE SET memory = excluded.memory, "
                "saved_at = excluded.saved_at",
                (key, json.dumps(doc), time.time()),
            )
        except sqlite3.Error as exc:
            why = f"safety memory {self.path}: cannot be written ({exc})"
            raise SafetyStoreError(why) from None

    def forget_session(self, key: str) -> bool:
        """The person's reset: the device's session is forgotten; whether there was one."""
        memory = self.load(key)
        had = memory.session_since is not None or memory.session_over_at is not None
        memory.reset_session()
        self.save(key, memory)
        return had


def remembered(addr: DeviceAddress) -> SafetyMemory | None:
    """The memory of the device at ``addr``, kept in the store as it changes; None for a device
    that is not remembered across runs. A store that cannot be used is warned of, and the device
    is then limited from what this run sees."""
    key = device_key(addr)
    if key is None:
        return None
    store = SafetyStore()
    try:
        memory = store.load(key)
    except SafetyStoreError as exc:
        _log.warning("%s; limits count from this run only", exc)
        return None

    def keep(changed: SafetyMemory) -> None:
        try:
            store.save(key, changed)
        except SafetyStoreError as exc:
            _log.warning("%s", exc)

    memory.on_change = keep
    return memory


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _or_never(value: float | None) -> float:
    return float("-inf") if value is None else value


def _finite(value: float | None) -> float | None:
    # JSON has no infinity: "no rest pending" is stored as null.
    if value is None or value == float("-inf"):
        return None
    return value
