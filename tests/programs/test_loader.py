"""Loading programs from YAML: a malformed program gives one line naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from massagectl.errors import ProgramError, UsageError
from massagectl.programs.loader import load_program_file, load_program_text
from massagectl.programs.model import Heat, Program, Pulse, Speed, Step, Wave

HEADER = "name: bad\ntitle: Bad\nsteps:\n"  # the steps start on line 4


def load(tmp_path: Path, body: str, *, name: str = "bad") -> Program:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return load_program_file(path)


def error(tmp_path: Path, body: str, *, name: str = "bad") -> str:
    with pytest.raises(ProgramError) as info:
        load(tmp_path, body, name=name)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / name}.yaml:")
    return message.removeprefix(f"{tmp_path / name}.yaml:")


def only_step(program: Program) -> Step:
    (step,) = program.steps
    assert isinstance(step, Step)
    return step


def test_program_error_is_a_usage_error() -> None:
    assert issubclass(ProgramError, UsageError)
    assert ProgramError.exit_code == 2


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n    colour: red\n"
    assert error(tmp_path, body) == "6: steps[0].colour: unknown field"


def test_negative_duration(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    speed: 20%\n    duration: -5s\n"
    message = error(tmp_path, body)
    assert message.startswith("6: steps[0].duration: ")
    assert "negative" in message


def test_speed_over_100_percent(tmp_path: Path) -> None:
    body = HEADER + (
        "  - name: a\n    duration: 5s\n"
        "  - name: b\n    duration: 5s\n"
        "  - name: c\n    duration: 5s\n    speed: 150%\n"
    )
    message = error(tmp_path, body)
    assert message.startswith("10: steps[2].speed: Input should be less than or equal to 1")
    assert "150%" in message


def test_speed_over_100_percent_inside_a_repeat(tmp_path: Path) -> None:
    body = HEADER + (
        "  - name: a\n    duration: 5s\n"
        "  - repeat: 2\n    steps:\n      - name: b\n        duration: 5s\n"
        "        speed: 150%\n"
    )
    assert error(tmp_path, body).startswith("10: steps[1].steps[0].speed: ")


def test_use_of_an_unknown_step_names_the_line_of_the_use(tmp_path: Path) -> None:
    body = HEADER + (
        "  - name: a\n    duration: 5s\n"
        "  - repeat: 2\n    steps:\n      - name: b\n        duration: 5s\n"
        "      - use: warm-up\n"
    )
    message = error(tmp_path, body)
    assert message.startswith("10: steps[1].steps[1].use: ")
    assert "'warm-up'" in message


def test_use_of_a_later_step_is_an_error(tmp_path: Path) -> None:
    body = HEADER + "  - use: a\n  - name: a\n    duration: 5s\n"
    assert error(tmp_path, body).startswith("4: steps[0].use: ")


def test_a_step_name_defined_twice(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n  - name: a\n    duration: 9s\n"
    assert error(tmp_path, body).startswith("6: steps[1].name: ")


def test_repeat_zero(tmp_path: Path) -> None:
    body = HEADER + "  - repeat: 0\n    steps:\n      - name: a\n        duration: 5s\n"
    assert error(tmp_path, body) == (
        "4: steps[0].repeat: Input should be greater than or equal to 1 (got 0)"
    )


def test_yaml_syntax_error_is_one_line_with_its_line(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n   speed: 20%\n"
    message = error(tmp_path, body)
    assert message.startswith("6: not valid YAML: ")


def test_unclosed_bracket(tmp_path: Path) -> None:
    body = HEADER + "  - {name: a, duration: 5s\n\n"
    assert ": not valid YAML: " in error(tmp_path, body)


def test_duplicate_key_names_the_second_line(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n    speed: 20%\n    speed: 40%\n"
    assert error(tmp_path, body) == "7: steps[0].speed: duplicate key (first given on line 6)"


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    body = HEADER + "  - {name: a, duration: 5s}\ntitle: Again\n"
    assert error(tmp_path, body) == "5: title: duplicate key (first given on line 2)"


def test_top_level_list(tmp_path: Path) -> None:
    message = error(tmp_path, "- name: a\n  duration: 5s\n")
    assert message.startswith("1: a program is a mapping")


@pytest.mark.parametrize("body", ["", "\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, body: str) -> None:
    assert error(tmp_path, body).startswith("1: the file is empty")


def test_name_must_match_the_file(tmp_path: Path) -> None:
    body = "title: Bad\nname: other\nsteps:\n  - {name: a, duration: 5s}\n"
    message = error(tmp_path, body)
    assert message.startswith("2: name: 'other' must be the file name")


def test_missing_steps(tmp_path: Path) -> None:
    assert error(tmp_path, "name: bad\ntitle: Bad\n") == "1: steps: Field required"


def test_hold_without_max_duration_names_the_step(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n  - name: b\n    duration: 9s\n    hold: true\n"
    message = error(tmp_path, body)
    assert message.startswith("6: steps[1]: ")
    assert "max_duration" in message


def test_bad_pulse_names_the_missing_field(tmp_path: Path) -> None:
    body = (
        HEADER + "  - name: a\n    duration: 5s\n    speed: 40%\n    pattern: {pulse: {on: 1s}}\n"
    )
    assert error(tmp_path, body) == "7: steps[0].pattern.pulse.off: Field required"


@pytest.mark.parametrize(
    ("pattern", "field"),
    [
        ("{wave: {period: 6s, low: 30%, high: 170%}}", "steps[0].pattern.wave.high"),
        ("{kind: wave, period: 6s, low: 30%, high: 170%}", "steps[0].pattern.high"),
    ],
)
def test_bad_wave_names_the_field_as_written(tmp_path: Path, pattern: str, field: str) -> None:
    body = HEADER + f"  - name: a\n    duration: 5s\n    pattern: {pattern}\n"
    assert error(tmp_path, body).startswith(f"6: {field}: ")


def test_unknown_heat_name(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n    heat: toasty\n"
    message = error(tmp_path, body)
    assert message.startswith("6: steps[0].heat: ")
    assert "toasty" in message


def test_unquoted_off_heat_loads_as_off(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n    speed: 20%\n    heat: off\n"
    assert only_step(load(tmp_path, body)).heat == Heat(name="off")


def test_level_speed_and_heat(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: 5s\n    speed: {level: 3}\n    heat: {level: 3}\n"
    step = only_step(load(tmp_path, body))
    assert (step.speed, step.heat) == (Speed(level=3), Heat(level=3))


@pytest.mark.parametrize(
    "pattern",
    [
        "{wave: {period: 6s, low: 30%, high: 70%}}",
        "{kind: wave, period: 6s, low: 30%, high: 70%}",
        "\n      kind: wave\n      period: 6s\n      low: 30%\n      high: 70%",
    ],
)
def test_wave_in_either_form(tmp_path: Path, pattern: str) -> None:
    body = HEADER + f"  - name: a\n    duration: 5s\n    pattern: {pattern}\n"
    assert only_step(load(tmp_path, body)).pattern == Wave(period=6, low="30%", high="70%")


def test_pulse_on_and_off_stay_keys_despite_yaml_1_1(tmp_path: Path) -> None:
    body = HEADER + (
        "  - name: a\n    duration: 5s\n    speed: 40%\n"
        "    pattern: {kind: pulse, on: 0.3s, off: 0.3s}\n"
    )
    assert only_step(load(tmp_path, body)).pattern == Pulse(on=0.3, off=0.3)


def test_merge_keys_copy_a_mapping_and_lines_still_point_at_the_right_place(
    tmp_path: Path,
) -> None:
    body = HEADER + (
        "  - name: a\n    duration: 5s\n    speed: 30%\n"
        "  - <<: {duration: 5s, speed: 30%}\n    name: b\n    speed: 90%\n"
    )
    program = load(tmp_path, body)
    b = program.step_definitions()["b"]
    assert (b.duration, b.speed) == (5, Speed(fraction=0.9))
    broken = body.replace("{duration: 5s", "{duration: -5s")
    assert error(tmp_path, broken).startswith("7: steps[1].duration: ")


def test_anchors_and_aliases_are_refused_on_their_line(tmp_path: Path) -> None:
    body = HEADER + (
        "  - &base\n    name: a\n    duration: 5s\n    speed: 30%\n"
        "  - <<: *base\n    name: b\n    speed: 90%\n"
    )
    assert error(tmp_path, body) == (
        "4: YAML anchors and aliases (&name, *name) are not allowed; write the value out"
    )


def test_a_value_yaml_cannot_build(tmp_path: Path) -> None:
    body = HEADER + "  - name: a\n    duration: !!int five\n"
    assert error(tmp_path, body).startswith("5: steps[0].duration: ")


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match=r"missing\.yaml: cannot read"):
        load_program_file(tmp_path / "missing.yaml")


def test_text_source_names_the_error_and_skips_the_name_check() -> None:
    text = "name: anything\ntitle: T\nsteps:\n  - {name: a, duration: 5s, speed: 2%}\n"
    assert load_program_text(text, "<stdin>").name == "anything"
    with pytest.raises(ProgramError, match=r"^<stdin>:4: steps\[0\]\.bogus: unknown field$"):
        load_program_text(text.replace("speed: 2%", "bogus: 1"), "<stdin>")


def test_inline_text_meets_the_same_limits_as_a_file() -> None:
    # Programs sent over MQTT arrive as text, not as a file: the same bounds hold.
    deep = "name: d\ntitle: D\nsteps: " + "[" * 600 + "]" * 600 + "\n"
    with pytest.raises(ProgramError, match=r"^<mqtt>:3: nested more than 64 lists or mappings"):
        load_program_text(deep, "<mqtt>")
    aliased = "name: a\ntitle: A\nsteps:\n  - &a {name: a, duration: 5s}\n  - *a\n"
    with pytest.raises(ProgramError, match=r"^<mqtt>:4: YAML anchors and aliases"):
        load_program_text(aliased, "<mqtt>")
    big = "name: b\ntitle: B\nsummary: '" + "x" * 300_000 + "'\nsteps: []\n"
    with pytest.raises(ProgramError, match=r"^<mqtt>: larger than 256 KiB"):
        load_program_text(big, "<mqtt>")
