"""Walking a program the way it runs: repeats unrolled, ``use`` replaced by the step it names."""

from __future__ import annotations

from collections.abc import Iterator

from massagectl.programs.model import Program, Repeat, Step, StepItem, Use, Wave


def run_order(program: Program) -> list[Step]:
    """Every step in the order it runs."""
    defined = program.step_definitions()

    def walk(items: list[StepItem]) -> Iterator[Step]:
        for item in items:
            if isinstance(item, Step):
                yield item
            elif isinstance(item, Use):
                yield defined[item.use]
            else:
                assert isinstance(item, Repeat)
                for _ in range(item.repeat):
                    yield from walk(item.steps)

    return list(walk(program.steps))


def total_seconds(program: Program) -> float:
    """The program's length with every hold at its planned duration."""
    return sum(step.duration for step in run_order(program))


def peak_speed(step: Step) -> float | None:
    """The highest fraction of the range a step asks for (None for levels and device programs)."""
    if isinstance(step.pattern, Wave):
        return step.pattern.high
    if step.speed is not None:
        return step.speed.fraction
    return None
