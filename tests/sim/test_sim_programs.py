"""Built-in programs, the unsolicited STATUS, and the timeline the device records."""

from __future__ import annotations

import itertools

import pytest

from massagectl.profiles import get_profile
from massagectl.protocols.omp import AckCode, Status

from .helpers import Bench, ack_code, statuses


def test_builtin_program_changes_speed_by_itself_and_ends_at_zero() -> None:
    bench = Bench("omp-percussion-pro")
    program = get_profile("omp-percussion-pro").capabilities.programs[0]  # Warm-up
    assert (program.duration_s, program.step_s, program.levels) == (300, 10, [2, 3, 4, 5, 6])
    msgs = bench.send(bench.host.run_program(1), 0.0)
    assert ack_code(msgs) == AckCode.OK
    msgs += bench.keepalive(until=305.0, every=1.0)
    changes = [(s.speed, s.program) for s in statuses(msgs)]
    # Every step shows up in an unsolicited STATUS, with the program's index, then the end.
    expected = [(program.levels[k % 5], 1) for k in range(30)] + [(0, 0)]
    deduplicated = [c for i, c in enumerate(changes) if i == 0 or c != changes[i - 1]]
    assert deduplicated == expected
    assert not bench.fw.state.active


def test_program_steps_land_on_their_due_times_in_the_timeline() -> None:
    bench = Bench("omp-percussion-pro", t0=1000.0)
    bench.send(bench.host.run_program(4), 1000.0)  # Wave: 2 s steps, 480 s
    bench.keepalive(until=1000.0 + 480.0 + 3.0, every=1.5)
    snaps = [s for s in bench.fw.timeline.states() if s.cause in ("RUN_PROGRAM", "program step")]
    levels = [2, 4, 6, 8, 10, 8, 6, 4]
    assert [s.t for s in snaps] == pytest.approx([1000.0 + 2.0 * k for k in range(240)])
    assert [s.speed for s in snaps] == [levels[k % 8] for k in range(240)]
    end = next(s for s in bench.fw.timeline.states() if s.cause == "program end")
    assert (end.t, end.speed, end.program) == (1480.0, 0, 0)


def test_set_speed_ends_a_program_set_heat_does_not() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.run_program(2), 0.0)
    bench.send(bench.host.set_heat(1), 1.0)
    assert (bench.fw.state.program, bench.fw.state.heat) == (2, 1)
    bench.send(bench.host.set_speed(5), 2.0)
    assert (bench.fw.state.program, bench.fw.state.speed) == (0, 5)
    bench.keepalive(until=30.0)
    assert bench.fw.state.speed == 5  # no program step overrides the manual speed


def test_run_program_zero_stops_the_program_and_its_motor() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.run_program(3), 0.0)
    assert bench.fw.state.speed == 8
    assert ack_code(bench.send(bench.host.run_program(0), 0.5)) == AckCode.OK
    assert (bench.fw.state.program, bench.fw.state.speed) == (0, 0)


def test_a_program_counts_as_active_even_at_speed_zero() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.run_program(3), 0.0)  # Tap: [8, 0] every second
    bench.tick(1.0)
    assert bench.fw.state.speed == 0
    assert bench.fw.state.active
    status = bench.fw.status(0)
    assert (status.program, status.remaining_s) == (3, 1199)


def test_periodic_status_at_least_once_a_second_while_active() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.set_speed(2), 0.0)
    times: list[float] = [0.0]
    t = 0.0
    for i in range(1, 101):  # 5 s of 50 ms ticks, feeding the watchdog now and then
        t = i * 0.05
        if i % 20 == 0:
            bench.send(bench.host.ping(), t)
        times += [t for _ in statuses(bench.tick(t))]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 5
    assert max(gaps) <= 1.0


def test_no_periodic_status_while_idle() -> None:
    bench = Bench("omp-wand-heat")
    for i in range(1, 60):
        assert bench.tick(i * 0.5) == []


def test_unsolicited_status_reflects_the_moment_of_the_change() -> None:
    bench = Bench("omp-heat-pad")
    msgs = bench.send(bench.host.set_heat(3), 0.0)
    assert len(statuses(msgs)) == 1
    status = statuses(msgs)[0]
    assert isinstance(status, Status)
    assert (status.seq, status.heat, status.temperature_c) == (0, 3, 22.0)
    assert status.remaining_s == 5400


def test_timeline_records_commands_and_changes_with_their_times() -> None:
    bench = Bench("omp-wand-heat", t0=50.0)
    bench.send(bench.host.hello(), 50.0)
    bench.send(bench.host.set_speed(4), 51.0)
    bench.send(bench.host.set_speed(40), 51.5)
    bench.send(bench.host.set_heat(2), 52.0)
    bench.send(bench.host.stop(), 53.0)
    commands = bench.fw.timeline.commands()
    assert [(c.t, c.type, c.seq, c.value, c.answer) for c in commands] == [
        (50.0, "HELLO", 1, 1, "INFO"),
        (51.0, "SET_SPEED", 2, 4, "OK"),
        (51.5, "SET_SPEED", 3, 40, "BAD_VALUE"),
        (52.0, "SET_HEAT", 4, 2, "OK"),
        (53.0, "STOP", 5, None, "OK"),
    ]
    assert commands[1].ack is AckCode.OK
    assert commands[0].ack is None
    states = bench.fw.timeline.states()
    assert [(s.t, s.speed, s.heat, s.cause) for s in states] == [
        (50.0, 0, 0, "power on"),
        (51.0, 4, 0, "SET_SPEED"),
        (52.0, 4, 2, "SET_HEAT"),
        (53.0, 0, 0, "STOP"),
    ]
    at = bench.fw.timeline.state_at
    assert (at(10.0).speed, at(51.0).speed, at(51.99).heat, at(52.0).heat) == (0, 4, 0, 2)
    assert at(1e9).cause == "STOP"
    assert states[2].temperature_c == pytest.approx(22.0)
    assert states[3].temperature_c > 22.0  # a second of heat at level 2
