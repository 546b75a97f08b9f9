"""Any valid program, written out as YAML and read back, is the same program."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from massagectl.programs.loader import all_programs, dump_program, load_program_text
from massagectl.programs.model import (
    HEAT_OFF,
    Heat,
    Pattern,
    Program,
    Pulse,
    Repeat,
    Speed,
    Steady,
    Step,
    StepItem,
    Use,
    Wave,
)

# Percentages as people write them, with up to two decimals: "0.00".."100.00".
percent_texts = st.integers(0, 10_000).map(lambda n: f"{n // 100}.{n % 100:02d}%")
fractions = percent_texts.map(lambda text: Speed.model_validate(text).fraction)
durations = st.one_of(
    st.integers(1, 100_000).map(float),
    st.floats(min_value=0.001, max_value=100_000, allow_nan=False, allow_infinity=False),
)
texts = st.text(max_size=40)
heats = st.one_of(
    st.just(HEAT_OFF),
    st.sampled_from(["low", "medium", "high"]).map(lambda n: Heat(name=n)),
    st.integers(0, 20).map(lambda n: Heat(level=n)),
)
speeds = st.one_of(
    fractions.map(lambda f: Speed(fraction=f)),
    st.integers(0, 30).map(lambda n: Speed(level=n)),
)


@st.composite
def waves(draw: st.DrawFn) -> Wave:
    low, high = sorted([draw(percent_texts), draw(percent_texts)], key=lambda t: float(t[:-1]))
    return Wave(period=draw(durations), low=low, high=high)


@st.composite
def steps(draw: st.DrawFn, taken: set[str]) -> Step:
    name = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in taken))
    duration = draw(durations)
    kind = draw(st.sampled_from(["steady", "still", "pulse", "wave", "device"]))
    speed: Speed | None = None
    pattern: Pattern = Steady()
    device_program = None
    if kind == "steady":
        speed = draw(speeds)
    elif kind == "pulse":
        speed = draw(speeds)
        pattern = Pulse(on=draw(durations), off=draw(durations))
    elif kind == "wave":
        pattern = draw(waves())
    elif kind == "device":
        device_program = draw(st.integers(1, 20))
    hold = draw(st.booleans())
    max_duration = duration + draw(st.floats(0, 1000)) if hold else None
    ramp = draw(st.one_of(st.just(0.0), st.floats(0, duration)))
    return Step(
        name=name,
        duration=duration,
        speed=speed,
        heat=draw(heats),
        ramp=ramp,
        pattern=pattern,
        cue=draw(texts),
        hold=hold,
        max_duration=max_duration,
        device_program=device_program,
    )


@st.composite
def step_items(draw: st.DrawFn, taken: set[str], depth: int = 0) -> list[StepItem]:
    items: list[StepItem] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["step", "step", "use", "repeat"]))
        if kind == "use" and taken:
            items.append(Use(use=draw(st.sampled_from(sorted(taken)))))
        elif kind == "repeat" and depth < 2:
            items.append(
                Repeat(repeat=draw(st.integers(1, 9)), steps=draw(step_items(taken, depth + 1)))
            )
        else:
            step = draw(steps(taken))
            taken.add(step.name)
            items.append(step)
    return items


@st.composite
def programs(draw: st.DrawFn) -> Program:
    return Program(
        name=draw(st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,15}\Z")),
        title=draw(st.text(min_size=1, max_size=40)),
        summary=draw(texts),
        based_on=draw(texts),
        needs=draw(st.lists(st.sampled_from(["speed", "heat"]), max_size=2)),
        cautions=draw(st.lists(texts, max_size=3)),
        steps=draw(step_items(set())),
    )


@settings(max_examples=300, deadline=None)
@given(programs())
def test_a_dumped_program_loads_back_equal(program: Program) -> None:
    text = dump_program(program)
    assert load_program_text(text, "<roundtrip>") == program


@given(programs())
def test_a_dump_is_plain_yaml(program: Program) -> None:
    data = yaml.safe_load(dump_program(program))
    assert data["name"] == program.name
    assert len(data["steps"]) == len(program.steps)


def test_every_preset_survives_a_round_trip() -> None:
    for program in all_programs():
        assert load_program_text(dump_program(program), program.name) == program
