"""The shipped presets: they load, say where they come from and when not to use them, and keep to
the technique-to-setting rules of docs/programs.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from massagectl.errors import ProgramError
from massagectl.programs.loader import all_programs, get_program, load_program_file
from massagectl.programs.model import Program, Pulse, Repeat, Steady, Step, Use, Wave
from massagectl.resources import data_dir

from .helpers import peak_speed, run_order, total_seconds

ROUTINES = {
    "classic-back": "R5",
    "lower-back": "R3",
    "upper-back": "R3",
    "partner-back": "R1",
    "warm-up-knead": "R4",
    "quick-relief": "R2",
}

#: Words every preset's cautions must contain (case-insensitive).
REQUIRED_CAUTIONS = [
    "inflammation of the spine",
    "wounds",
    "broken skin",
    "recent surgery",
    "painkillers do not touch",
    "numbness",
    "weakness in the legs",
    "bladder or bowel control",
]

PRESETS = sorted(ROUTINES)


@pytest.fixture(params=PRESETS)
def preset(request: pytest.FixtureRequest) -> Program:
    return get_program(request.param)


def test_every_required_preset_ships_sorted_by_name() -> None:
    names = [p.name for p in all_programs()]
    assert set(names) >= set(ROUTINES)
    assert names == sorted(names)


def test_every_preset_file_loads_and_is_named_after_its_file() -> None:
    for path in sorted(data_dir("programs").glob("*.yaml")):
        assert load_program_file(path).name == path.stem


def test_preset_says_which_routine_it_follows(preset: Program) -> None:
    assert preset.title
    assert preset.summary
    assert f"({ROUTINES[preset.name]})" in preset.based_on


def test_preset_lists_the_required_cautions(preset: Program) -> None:
    text = " ".join(preset.cautions).lower()
    missing = [words for words in REQUIRED_CAUTIONS if words not in text]
    assert not missing


def test_preset_steps_resolve_and_every_step_has_a_cue(preset: Program) -> None:
    steps = run_order(preset)
    assert steps
    for step in steps:
        assert step.cue.strip(), step.name


def test_preset_never_asks_for_more_than_85_percent(preset: Program) -> None:
    for step in run_order(preset):
        peak = peak_speed(step)
        assert peak is not None, f"{step.name}: presets use percentages"
        assert peak <= 0.85, step.name


def test_preset_glides_between_phases(preset: Program) -> None:
    for step in run_order(preset):
        assert 2 <= step.ramp <= 10, step.name


def test_preset_heat_is_on_early_at_most_medium_and_off_at_the_end(preset: Program) -> None:
    steps = run_order(preset)
    assert steps[-1].heat.is_off
    assert all(s.heat.name in ("off", "low", "medium") for s in steps)
    heated = [i for i, s in enumerate(steps) if not s.heat.is_off]
    if heated:
        # The warm-up: within the first two steps, and once off the heat stays off.
        assert heated[0] <= 1
        assert heated == list(range(heated[0], heated[0] + len(heated)))


def test_preset_holds_are_short_and_extendable(preset: Program) -> None:
    for step in run_order(preset):
        if step.hold:
            assert step.max_duration is not None
            assert 5 <= step.duration <= step.max_duration <= 30, step.name
            assert peak_speed(step) is not None


@pytest.mark.parametrize("name", ["classic-back", "partner-back", "quick-relief"])
def test_holds_on_a_knot_are_firm_and_steady(name: str) -> None:
    holds = [s for s in run_order(get_program(name)) if s.hold]
    assert holds
    for step in holds:
        assert step.speed is not None
        assert step.speed.fraction is not None
        assert 0.65 <= step.speed.fraction <= 0.80
        assert isinstance(step.pattern, Steady)


def test_patterns_keep_to_the_technique_table(preset: Program) -> None:
    for step in run_order(preset):
        pattern = step.pattern
        if isinstance(pattern, Wave):
            # Circles and kneading: slow swells, never below a light stroke.
            assert 4 <= pattern.period <= 8, step.name
            assert 0.25 <= pattern.low < pattern.high, step.name
        elif isinstance(pattern, Pulse):
            assert (pattern.on, pattern.off) == (0.3, 0.3), step.name
        else:
            assert step.speed is not None
            assert step.speed.fraction is not None
            assert 0.25 <= step.speed.fraction <= 0.80, step.name


def test_preset_lengths() -> None:
    minutes = {p.name: total_seconds(p) / 60 for p in all_programs()}
    assert 45 <= minutes["classic-back"] <= 60
    assert 8 <= minutes["quick-relief"] <= 12
    for name in ROUTINES:
        assert minutes[name] >= 8


def test_classic_back_finishes_in_reverse_through_the_gentle_phases() -> None:
    program = get_program("classic-back")
    *_, fingers, palm_base, palm = program.steps
    assert (fingers, palm_base, palm) == (
        Use(use="reinforced fingers"),
        Use(use="base-of-palm circles"),
        Use(use="open-palm stroking"),
    )
    order = [s.name for s in run_order(program)]
    assert order[:4] == [
        "warming strokes",
        "open-palm stroking",
        "base-of-palm circles",
        "reinforced fingers",
    ]


def test_classic_back_alternates_thumb_cycles_with_two_minutes_of_stroking() -> None:
    program = get_program("classic-back")
    blocks = [i for i in program.steps if isinstance(i, Repeat)]
    thumbs = next(b for b in blocks if any(isinstance(s, Use) for s in b.steps))
    assert thumbs.repeat == 3
    assert Use(use="open-palm stroking") in thumbs.steps
    assert program.step_definitions()["open-palm stroking"].duration == 120


def test_classic_back_presses_a_point_then_holds_deeper() -> None:
    steps = run_order(get_program("classic-back"))
    press = next(i for i, s in enumerate(steps) if s.name == "press the point")
    first, deeper = steps[press], steps[press + 1]
    assert first.duration == 5
    assert not first.hold
    assert deeper.hold
    assert deeper.max_duration is not None
    assert (peak_speed(deeper) or 0) > (peak_speed(first) or 0)


def test_lower_back_ends_with_its_first_step_again() -> None:
    program = get_program("lower-back")
    first = program.steps[0]
    assert isinstance(first, Step)
    assert program.steps[-1] == Use(use=first.name)
    assert len(program.steps) == 6


def test_upper_back_kneads_in_waves_and_holds_counts_of_ten() -> None:
    steps = run_order(get_program("upper-back"))
    assert sum(isinstance(s.pattern, Wave) for s in steps) >= 2
    holds = [s for s in steps if s.hold]
    assert holds
    assert all(s.duration == 10 for s in holds)


def test_partner_back_repeats_steps_two_to_four_and_ends_tapping() -> None:
    program = get_program("partner-back")
    names = [i.name for i in program.steps[1:4] if isinstance(i, Step)]
    uses = [i.use for i in program.steps if isinstance(i, Use)]
    assert uses == names
    last = run_order(program)[-1]
    assert isinstance(last.pattern, Pulse)


def test_warm_up_knead_goes_round_the_back_twice_after_a_heated_warm_up() -> None:
    program = get_program("warm-up-knead")
    first, rounds = program.steps[0], program.steps[1]
    assert isinstance(first, Step)
    assert not first.heat.is_off
    assert isinstance(rounds, Repeat)
    assert rounds.repeat == 2


def test_quick_relief_holds_sensitive_spots_ten_to_thirty_seconds() -> None:
    holds = [s for s in run_order(get_program("quick-relief")) if s.hold]
    assert holds
    assert all((s.duration, s.max_duration) == (10, 30) for s in holds)


def test_get_program_takes_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ntitle: Mine\nsteps:\n  - {name: a, duration: 5s, speed: 20%}\n")
    assert get_program(str(path)).name == "mine"


def test_unknown_program_lists_the_presets() -> None:
    with pytest.raises(ProgramError) as info:
        get_program("back-to-front")
    message = str(info.value)
    assert "back-to-front" in message
    assert all(name in message for name in ROUTINES)
    assert "\n" not in message
