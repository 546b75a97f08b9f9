"""The Python API a script writer uses: build a program in code and run it."""

from __future__ import annotations

import massagectl
from massagectl import Heat, Program, Pulse, Speed, Step, Use, VirtualClock
from massagectl.programs.events import event_name


def gentle_then_tap() -> Program:
    return Program(
        name="gentle-then-tap",
        title="Gentle strokes, then tapping",
        needs=["speed", "heat"],
        steps=[
            Step(name="warm", duration=60, speed=Speed(fraction=0.3), heat=Heat(name="low")),
            Step(
                name="tap",
                duration=30,
                speed=Speed(fraction=0.5),
                pattern=Pulse(on=0.5, off=0.5),
                ramp=2,
            ),
            Use(use="warm"),
        ],
    )


async def test_program_built_in_code_runs_on_a_simulated_device() -> None:
    clock = VirtualClock()
    events: list[str] = []
    async with clock.running(), massagectl.connect("sim:omp-wand-heat", clock=clock) as m:
        outcome = await massagectl.run_program(
            gentle_then_tap(), [m], clock=clock, on_event=lambda e: events.append(event_name(e))
        )
        device = m.transport.device  # type: ignore[attr-defined]
        speeds = [s.speed for s in device.timeline.states()]
        assert device.state.speed == 0
        assert device.state.heat == 0
    assert outcome == "finished"
    assert events.count("step") == 3
    assert 3 in speeds  # 30 % of 10 levels
    assert 5 in speeds  # the pulse's on phase
    assert 150 <= clock.now() <= 151  # 60 + 30 + 60 s of program


async def test_run_program_connects_addresses_and_takes_preset_names() -> None:
    clock = VirtualClock()
    async with clock.running():
        outcome = await massagectl.run_program(
            "quick-relief", ["sim:omp-wand-heat"], clock=clock, intensity=0.8
        )
    assert outcome == "finished"
    assert (
        clock.now()
        >= massagectl.Timeline(
            massagectl.get_program("quick-relief"), massagectl.DeviceRange(10, 2)
        ).duration
    )


def test_exported_names_are_not_shadowed_by_submodules() -> None:
    # Importing a submodule binds its name on the package; an export of the same name would
    # then turn into the module (massagectl.connect once did).
    import importlib
    import pkgutil
    import types

    for info in pkgutil.walk_packages(massagectl.__path__, "massagectl."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in massagectl.__all__:
        assert not isinstance(getattr(massagectl, name), types.ModuleType), name
