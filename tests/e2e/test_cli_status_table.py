"""End to end: ``massagectl status`` shows each feature of the device in its own unit."""

from __future__ import annotations

import json
import re

from .support import massagectl


def _rows(stdout: str) -> dict[str, str]:
    """The table's rows, ``what`` to ``value``, from rich's box drawing."""
    rows: dict[str, str] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line) if c.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_a_theragun_reads_rpm_and_is_never_mains() -> None:
    done = massagectl("status", "--device", "sim:theragun-pro")
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert rows["speed"] == "0 of 3616 rpm"
    # The gun runs on a battery its protocol does not report: unknown, not mains.
    assert rows["battery"] == "-"
    assert "mains" not in done.stdout
    # No heater, no sensor: no temperature row.
    assert "temperature" not in rows
    assert rows["connected"] == "yes"


def test_a_battery_device_reads_its_charge_in_percent_and_its_link() -> None:
    done = massagectl("status", "--device", "sim:omp-neck-rest")
    assert done.returncode == 0, done.stderr
    rows = _rows(done.stdout)
    assert re.fullmatch(r"\d{1,3}%", rows["battery"]), rows
    assert rows["speed"] == "0 of 5"
    # Every feature has its row, the link too (as Home Assistant shows it).
    assert rows["connected"] == "yes"


def test_setting_a_guns_speed_says_rpm() -> None:
    done = massagectl("set", "--device", "sim:theragun-pro", "--speed", "2000")
    assert done.returncode == 0, done.stderr
    assert "speed 2000/3616 rpm" in done.stdout


def test_status_json_says_a_guns_speed_is_rpm() -> None:
    done = massagectl("status", "--device", "sim:theragun-pro", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["speed"], doc["speed_levels"], doc["speed_unit"]) == (0, 3616, "rpm")
    plain = json.loads(massagectl("status", "--device", "sim:omp-wand-heat", "--json").stdout)
    assert plain["speed_unit"] == ""  # levels 1..10, each its own percussions/min
