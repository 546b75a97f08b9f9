"""Device profiles: the shipped ones load, and a broken one names its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from massagectl.errors import ProfileError
from massagectl.profiles import all_profiles, get_profile, load_profile_file

REQUIRED = {"omp", "omp-percussion-pro", "omp-wand-heat", "omp-neck-rest", "omp-heat-pad"}


def test_every_required_profile_ships() -> None:
    assert {p.name for p in all_profiles()} >= REQUIRED


def test_simulated_models_say_so() -> None:
    # The omp-* models exist only in the simulator; the others are real devices whose protocol
    # comes from public reverse engineering, and say that nobody here checked it on hardware.
    for p in all_profiles():
        if p.simulatable and p.protocol == "omp":
            assert p.provenance.kind == "simulated-model"
        elif p.protocol != "omp":
            assert p.provenance.kind == "reverse-engineered"
        assert not p.provenance.checked_on_hardware


def test_percussion_pro_shape() -> None:
    p = get_profile("omp-percussion-pro")
    assert (p.speed_levels, p.heat_levels, len(p.capabilities.programs)) == (13, 0, 7)
    assert p.power == "mains"
    assert p.limits.auto_off_s == 15 * 60


def test_wand_heat_shape() -> None:
    p = get_profile("omp-wand-heat")
    assert (p.speed_levels, p.heat_levels, len(p.capabilities.programs)) == (10, 2, 3)


def test_neck_rest_and_heat_pad_shape() -> None:
    neck = get_profile("omp-neck-rest")
    assert (neck.speed_levels, neck.heat_levels, neck.power) == (5, 1, "battery")
    pad = get_profile("omp-heat-pad")
    assert (pad.speed_levels, pad.heat_levels) == (0, 6)
    assert pad.capabilities.temperature_sensor
    assert pad.limits.auto_off_s == 90 * 60


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="omp-wand-heat"):
        get_profile("omp-toaster")


def test_broken_profile_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ntitle: Bad\nkind: heat\nprotocol: omp\n"
        "capabilities:\n  heat: {levels: 3, celsius: [30, 40]}\n"
        "provenance: {kind: simulated-model, source: test}\n"
    )
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(path) in str(info.value)
    assert "capabilities.heat" in str(info.value)


def test_unknown_field_in_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text(
        "name: extra\ntitle: X\nkind: heat\nprotocol: omp\nturbo: true\n"
        "provenance: {kind: simulated-model, source: test}\n"
    )
    with pytest.raises(ProfileError, match="turbo"):
        load_profile_file(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("name: syntax\ntitle: [unclosed\n")
    with pytest.raises(ProfileError, match=r"syntax\.yaml:\d+"):
        load_profile_file(path)
