"""``--json`` on ``devices``, ``programs``, ``show`` and ``check`` in the shapes of docs/cli.md,
and ``devices NAME``, through the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _massagectl(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "massagectl"
    if not script.exists():
        pytest.fail("no massagectl console script: install the project first (README Quick start)")
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)


def _json(*args: str) -> Any:
    done = _massagectl(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _types(doc: dict[str, Any]) -> dict[str, type]:
    return {key: type(value) for key, value in doc.items()}


def test_programs_json_lists_every_preset_with_its_documented_keys() -> None:
    doc = _json("programs", "--json")
    assert isinstance(doc, list)
    names = [p["name"] for p in doc]
    assert "warm-up-knead" in names
    assert names == sorted(names)
    for entry in doc:
        assert set(entry) == {
            "name",
            "title",
            "summary",
            "based_on",
            "length_s",
            "needs",
            "cautions",
        }
        assert isinstance(entry["title"], str)
        assert isinstance(entry["length_s"], float)
        assert entry["length_s"] > 0
        assert all(isinstance(n, str) for n in entry["needs"])
    knead = next(p for p in doc if p["name"] == "warm-up-knead")
    assert knead["length_s"] == 1320.0


def test_devices_json_lists_the_profiles_and_name_shows_one_in_full() -> None:
    listing = _json("devices", "--json")
    names = [p["name"] for p in listing]
    assert "omp-wand-heat" in names
    one = _json("devices", "omp-wand-heat", "--json")
    assert one == next(p for p in listing if p["name"] == "omp-wand-heat")
    for key in ("name", "title", "kind", "protocol", "capabilities", "limits"):
        assert key in one, key
    assert one["capabilities"]["heat"] is not None


def test_devices_name_prints_the_profile_and_refuses_an_unknown_one() -> None:
    done = _massagectl("devices", "omp-wand-heat")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("profile omp-wand-heat\n")
    assert "protocol:" in done.stdout
    assert "limits:" in done.stdout
    bad = _massagectl("devices", "no-such-profile")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("massagectl: error: unknown device profile 'no-such-profile'")


def test_show_json_has_the_steps_on_the_profile() -> None:
    doc = _json("show", "warm-up-knead", "--profile", "omp-wand-heat", "--json")
    assert _types(doc) == {
        "program": str,
        "title": str,
        "device": str,
        "levels": dict,
        "length_s": float,
        "steps": list,
        "warnings": list,
        "heat": dict,
        "plot": type(None),
    }
    assert doc["device"] == "omp-wand-heat"
    assert set(doc["levels"]) == {"speed_levels", "heat_levels", "program_count"}
    assert set(doc["heat"]) == {"total_s", "longest_s", "total_max_s", "peak_level"}
    first = doc["steps"][0]
    assert set(first) == {
        "index",
        "label",
        "start_s",
        "duration_s",
        "speed_low",
        "speed_high",
        "pulsed",
        "heat",
        "program",
        "issues",
    }
    assert first["index"] == 0
    assert first["start_s"] == 0.0
    starts = [s["start_s"] for s in doc["steps"]]
    assert starts == sorted(starts)


def test_check_json_lists_what_a_device_skips() -> None:
    # A heat pad has no motor: every speed of a back massage is skipped, and said so.
    doc = _json("check", "classic-back", "--profile", "omp-heat-pad", "--json")
    assert doc["ok"] is True
    assert doc["device"] == "omp-heat-pad"
    assert doc["levels"]["speed_levels"] == 0
    assert doc["issues"], doc
    issue = doc["issues"][0]
    assert set(issue) == {"step", "label", "issue"}
    assert "speed skipped" in issue["issue"]
    assert isinstance(doc["safety"], list)


def test_check_json_without_a_device() -> None:
    doc = _json("check", "warm-up-knead", "--json")
    assert doc["ok"] is True
    assert doc["device"] is None
    assert doc["levels"] is None
    assert doc["steps"] > 0
    assert doc["heat"]["total_s"] > 0
