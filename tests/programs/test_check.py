"""Capability analysis: what a program becomes on a device, what is skipped or clamped, how long
the heater is on, and which simulated model a program runs on by default."""

from __future__ import annotations

import pytest

from massagectl.errors import ProfileError
from massagectl.profiles import get_profile
from massagectl.programs.check import (
    analyse,
    default_profile_for,
    heat_exposure,
    profile_range,
    requirements,
)
from massagectl.programs.loader import all_programs, load_program_text
from massagectl.programs.model import Program
from massagectl.programs.timeline import DeviceRange

WAND = DeviceRange(speed_levels=10, heat_levels=2, program_count=3)
PERCUSSION = DeviceRange(speed_levels=13, heat_levels=0, program_count=7)
HEAT_PAD = DeviceRange(speed_levels=0, heat_levels=6, program_count=0)


def program(steps: str, *, needs: str = "[speed]") -> Program:
    return load_program_text(f"name: t\ntitle: T\nneeds: {needs}\nsteps:\n{steps}", "<test>")


WARM = program(
    """\
  - name: warm
    duration: 60s
    speed: 30%
    heat: medium
  - name: strokes
    duration: 120s
    speed: 40%
""",
    needs="[speed, heat]",
)


def test_profile_range_comes_from_the_profile() -> None:
    assert profile_range(get_profile("omp-wand-heat")) == WAND
    assert profile_range(get_profile("omp-percussion-pro")) == PERCUSSION
    assert profile_range(get_profile("omp-heat-pad")) == HEAT_PAD


def test_profile_that_defers_to_the_device_has_no_range() -> None:
    with pytest.raises(ProfileError, match="from the device"):
        profile_range(get_profile("omp"))


def test_levels_per_step_on_a_device_with_heat() -> None:
    report = analyse(WARM, WAND)
    warm, strokes = report.steps
    assert (warm.speed_low, warm.speed_high, warm.heat) == (3, 3, 1)
    assert (strokes.speed_low, strokes.speed_high, strokes.heat) == (4, 4, 0)
    assert report.issues == []
    assert report.warnings == ()


def test_heat_is_skipped_on_a_device_without_heater() -> None:
    report = analyse(WARM, PERCUSSION)
    warm = report.steps[0]
    assert warm.heat == 0
    assert [str(i) for i in warm.issues] == ["heat skipped: not on this device (no heater)"]
    assert report.steps[1].issues == ()
    assert report.warnings == ("t needs heat, and this device has no heater",)
    assert report.heat.total_s == 0


def test_speed_is_skipped_on_a_device_without_motor() -> None:
    report = analyse(WARM, HEAT_PAD)
    assert all(str(s.issues[0]).startswith("speed skipped") for s in report.steps)
    assert report.steps[0].heat == 4  # medium: two thirds of 6
    assert report.warnings == ("t needs speed, and this device has no motor",)


def test_levels_beyond_the_range_are_clamped() -> None:
    report = analyse(
        program(
            """\
  - name: hard
    duration: 10s
    speed: {level: 15}
    heat: {level: 4}
"""
        ),
        WAND,
    )
    (step,) = report.steps
    assert (step.speed_high, step.heat) == (10, 2)
    assert [str(i) for i in step.issues] == [
        "speed level 15 clamped to 10 (the device's top)",
        "heat level 4 clamped to 2 (the device's top)",
    ]


def test_device_program_beyond_the_count_is_skipped() -> None:
    auto = program("  - name: auto\n    duration: 30s\n    device_program: 5\n")
    on_wand = analyse(auto, WAND).steps[0]
    assert on_wand.program == 0
    assert on_wand.speed_high == 0  # the motor rests rather than guess
    assert str(on_wand.issues[0]) == "device program 5 skipped: the device has 3; motor off"
    on_percussion = analyse(auto, PERCUSSION).steps[0]
    assert on_percussion.program == 5
    assert on_percussion.issues == ()


def test_wave_gives_a_range_and_pulse_its_on_level() -> None:
    report = analyse(
        program(
            """\
  - name: knead
    duration: 30s
    pattern: {wave: {period: 6s, low: 40%, high: 80%}}
  - name: tap
    duration: 10s
    speed: 50%
    pattern: {pulse: {on: 0.3s, off: 0.3s}}
"""
        ),
        WAND,
    )
    knead, tap = report.steps
    assert (knead.speed_low, knead.speed_high) == (4, 8)
    assert tap.pulsed
    assert (tap.speed_low, tap.speed_high) == (5, 5)


def test_a_ramp_is_not_part_of_the_step_range() -> None:
    report = analyse(
        program(
            """\
  - name: gentle
    duration: 20s
    speed: 20%
  - name: firm
    duration: 20s
    speed: 80%
    ramp: 5s
"""
        ),
        WAND,
    )
    assert (report.steps[1].speed_low, report.steps[1].speed_high) == (8, 8)


def test_intensity_scales_the_levels() -> None:
    assert analyse(WARM, WAND, intensity=0.5).steps[1].speed_high == 2


def test_heat_exposure_without_a_device_counts_the_heated_steps() -> None:
    exposure = heat_exposure(WARM)
    assert exposure.total_s == 60
    assert exposure.longest_s == 60
    assert exposure.total_max_s == 60


def test_heat_exposure_on_a_device_includes_the_glide_out() -> None:
    glide = program(
        """\
  - name: warm
    duration: 60s
    speed: 30%
    heat: high
  - name: cool
    duration: 60s
    speed: 30%
    ramp: 10s
""",
        needs="[speed, heat]",
    )
    exposure = analyse(glide, WAND).heat
    # High (2 of 2) glides to 0 over 10 s, and any heat above 0 is at least level 1: the
    # heater stays on for the whole glide.
    assert exposure.total_s == pytest.approx(70)
    assert exposure.longest_s == exposure.total_s
    assert exposure.peak_level == 2


def test_heat_exposure_counts_holds_at_their_longest() -> None:
    held = program(
        """\
  - name: warm hold
    duration: 10s
    max_duration: 30s
    hold: true
    speed: 60%
    heat: low
  - name: rest
    duration: 10s
    speed: 30%
  - name: warm again
    duration: 20s
    speed: 30%
    heat: low
""",
        needs="[speed, heat]",
    )
    exposure = analyse(held, WAND).heat
    assert exposure.total_s == pytest.approx(30)
    assert exposure.longest_s == pytest.approx(20)
    assert exposure.total_max_s == pytest.approx(50)
    assert heat_exposure(held).total_max_s == pytest.approx(50)


def test_requirements() -> None:
    req = requirements(WARM)
    assert req.motor
    assert req.heat
    assert not req.heat_only
    heat_only = requirements(program("  - name: warm\n    duration: 5m\n    heat: high\n"))
    assert heat_only.heat_only


@pytest.mark.parametrize("preset", [p.name for p in all_programs()])
def test_presets_default_to_the_wand(preset: str) -> None:
    (p,) = [p for p in all_programs() if p.name == preset]
    assert default_profile_for(p).name == "omp-wand-heat"


def test_default_profile_for_what_the_program_needs() -> None:
    speed_only = program("  - name: a\n    duration: 5s\n    speed: 50%\n")
    assert default_profile_for(speed_only).name == "omp-wand-heat"
    assert default_profile_for(WARM).name == "omp-wand-heat"
    auto = program("  - name: a\n    duration: 5s\n    device_program: 6\n")
    assert default_profile_for(auto).name == "omp-percussion-pro"
    small_auto = program("  - name: a\n    duration: 5s\n    device_program: 2\n")
    assert default_profile_for(small_auto).name == "omp-wand-heat"
    heat_only = program("  - name: warm\n    duration: 5m\n    heat: {level: 5}\n")
    assert default_profile_for(heat_only).name == "omp-heat-pad"
    needs_heat_only = program("  - name: warm\n    duration: 5m\n    heat: low\n", needs="[heat]")
    assert default_profile_for(needs_heat_only).name == "omp-heat-pad"


def test_default_profile_can_do_what_the_program_needs() -> None:
    for p in all_programs():
        report = analyse(p, profile_range(default_profile_for(p)))
        assert report.issues == [], p.name
        assert report.warnings == (), p.name
