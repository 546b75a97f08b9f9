"""Plots of programs: PNG or SVG files, on any device range, matplotlib loaded only on demand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from massagectl.errors import UsageError
from massagectl.programs.loader import get_program, load_program_text
from massagectl.programs.plot import plot_program
from massagectl.programs.timeline import DeviceRange

WAND = DeviceRange(10, 2, 3)


def test_png(tmp_path: Path) -> None:
    target = tmp_path / "quick.png"
    plot_program(get_program("quick-relief"), WAND, target, device_name="omp-wand-heat")
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000


def test_svg_names_the_program_and_the_device(tmp_path: Path) -> None:
    target = tmp_path / "quick.svg"
    plot_program(get_program("quick-relief"), WAND, target, device_name="omp-wand-heat")
    text = target.read_text(encoding="utf-8")
    assert "<svg" in text
    assert "quick-relief" in text
    assert "omp-wand-heat" in text


@pytest.mark.parametrize("device", [DeviceRange(0, 6, 0), DeviceRange(13, 0, 7)])
def test_devices_without_motor_or_heater(tmp_path: Path, device: DeviceRange) -> None:
    program = load_program_text(
        "name: t\ntitle: T\nsteps:\n"
        "  - {name: warm, duration: 30s, heat: high}\n"
        "  - {name: auto, duration: 30s, device_program: 2}\n",
        "<test>",
    )
    target = tmp_path / "t.png"
    plot_program(program, device, target)
    assert target.stat().st_size > 5_000


def test_other_file_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.png or \.svg"):
        plot_program(get_program("quick-relief"), WAND, tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_unwritable_target_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write"):
        plot_program(get_program("quick-relief"), WAND, tmp_path / "missing" / "x.png")


def test_matplotlib_is_not_loaded_by_the_cli_or_the_programs() -> None:
    code = (
        "import sys, massagectl.cli.app, massagectl.programs.plot, massagectl.programs.check;"
        "print('matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
