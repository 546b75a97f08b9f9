"""The safety envelope: below the scheduler, so nothing above it gets past."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from massagectl.clock import VirtualClock
from massagectl.connection import connect
from massagectl.device import Massager
from massagectl.device_types import CommandKind, DeviceInfo
from massagectl.errors import UsageError
from massagectl.profiles import SafetyOverride, get_profile
from massagectl.programs.events import RunEvent, event_name
from massagectl.programs.model import Heat, Program
from massagectl.programs.scheduler import Scheduler
from massagectl.safety import Cut, SafetyEnvelope, SafetyLimits
from massagectl.safety.limits import limits_for, load_user_limits
from massagectl.transports.inprocess import InProcessTransport
from massagesim import SimulatedDevice

PAD = DeviceInfo(0, 6, 0, 60, 5.0, False, True)


def test_most_specific_limit_wins() -> None:
    limits = SafetyLimits.resolve(
        SafetyOverride(max_heat=Heat(name="low")),
        SafetyOverride(max_heat=Heat(name="medium"), max_session=3600),
        SafetyOverride(max_continuous_heat=600),
    )
    assert limits.max_heat == Heat(name="low")
    assert limits.max_session_s == 3600
    assert limits.max_continuous_heat_s == 600
    assert limits.max_intensity == 1.0  # the default


def test_heat_and_speed_are_capped_and_the_cut_says_so() -> None:
    envelope = SafetyEnvelope(
        SafetyLimits(max_heat=Heat(name="medium"), max_intensity=0.5),
        DeviceInfo(10, 6, 0, 60, 3, False, True),
    )
    heat, cut = envelope.admit(CommandKind.HEAT, 6, 0.0)
    assert heat == 4
    assert cut is not None
    assert "capped at 4" in cut.message
    speed, cut = envelope.admit(CommandKind.SPEED, 9, 0.0)
    assert speed == 5
    assert cut is not None
    assert cut.kind == "speed"
    assert envelope.admit(CommandKind.SPEED, 3, 0.0) == (3, None)
    assert envelope.admit(CommandKind.STOP, 0, 0.0) == (0, None)


async def test_heat_goes_off_after_its_longest_continuous_run_and_rests() -> None:
    clock = VirtualClock()
    cuts: list[Cut] = []
    limits = SafetyLimits(max_continuous_heat_s=30 * 60, heat_rest_s=10 * 60)
    async with clock.running(), connect("sim:omp-heat-pad", clock=clock) as m:
        m._limits = limits
        device = m.transport.device  # type: ignore[attr-defined]
        m.subscribe_safety(cuts.append)
        start = clock.now()
        await m.set_heat("high")
        await clock.sleep_until(start + 40 * 60)
        off = [s for s in device.timeline.states() if s.t > start and s.heat == 0]
        assert off, "the heat was never switched off"
        assert off[0].t - start == pytest.approx(30 * 60, abs=2.0)
        assert [c.kind for c in cuts] == ["heat-time"]
        # During the rest the heat is refused (and the person told); after it, allowed.
        assert await m.set_heat("high") == 0
        assert cuts[-1].kind == "heat-rest"
        await clock.sleep_until(off[0].t + 10 * 60 + 1)
        assert await m.set_heat("high") == 6
        assert device.state.heat == 6


async def test_session_longest_stops_the_device_and_starts_nothing_more() -> None:
    clock = VirtualClock()
    limits = SafetyLimits(max_session_s=10 * 60)
    cuts: list[Cut] = []

    profile = get_profile("omp-wand-heat")
    async with (
        clock.running(),
        SimulatedDevice(profile, clock) as device,
        Massager(InProcessTransport(device, clock=clock), profile, limits=limits) as m,
    ):
        m.subscribe_safety(cuts.append)
        start = clock.now()
        await m.set_speed(0.6)
        await clock.sleep_until(start + 11 * 60)
        assert device.state.speed == 0
        stopped = [s for s in device.timeline.states() if s.t > start and s.speed == 0]
        assert stopped[0].t - start == pytest.approx(10 * 60, abs=1.0)
        assert stopped[0].cause == "STOP"
        assert await m.set_speed(0.6) == 0
        assert device.state.speed == 0
        assert [c.kind for c in cuts] == ["session", "session"]


async def run_capped(
    profile_name: str, program: Program, limits: SafetyLimits
) -> tuple[list[RunEvent], list[tuple[float, int, int]]]:
    """Run ``program`` on a simulated device under ``limits``; the events and the device's
    (time from the start, speed, heat) record."""
    clock = VirtualClock()
    events: list[RunEvent] = []
    profile = get_profile(profile_name)
    async with (
        clock.running(),
        SimulatedDevice(profile, clock) as device,
        Massager(InProcessTransport(device, clock=clock), profile, limits=limits) as m,
    ):
        origin = clock.now()
        await Scheduler(program, [m], clock=clock, on_event=events.append).run()
    return events, [(s.t - origin, s.speed, s.heat) for s in device.timeline.states()]


def one_step(speed: str | None, heat: str, duration: str) -> Program:
    step = {"name": "all out", "duration": duration, "heat": heat}
    if speed is not None:
        step["speed"] = speed
    return Program.model_validate({"name": "hot", "title": "Hot", "steps": [step]})


async def test_a_program_cannot_get_past_the_speed_cap() -> None:
    events, record = await run_capped(
        "omp-wand-heat", one_step("100%", "off", "2m"), SafetyLimits(max_intensity=0.7)
    )
    assert max(speed for _, speed, _ in record) == 7  # 70 % of 10 levels, never 10
    assert any("capped at 7" in e.message for e in events if event_name(e) == "safety")


async def test_a_program_cannot_keep_the_heat_on_past_its_longest() -> None:
    events, record = await run_capped("omp-heat-pad", one_step(None, "high", "45m"), SafetyLimits())
    on = next(t for t, _, heat in record if heat > 0)
    off = next(t for t, _, heat in record if t > on and heat == 0)
    assert off - on == pytest.approx(30 * 60, abs=2.0)
    assert off < 45 * 60  # cut by the envelope, not the program's own end
    assert any("without a break" in e.message for e in events if event_name(e) == "safety")


def test_user_file_limits_per_profile(tmp_path: Path) -> None:
    (tmp_path / "safety.yaml").write_text(
        "max_heat: high\n"
        "profiles:\n"
        "  omp-heat-pad:\n"
        "    max_heat: medium\n"
        "    max_continuous_heat: 20m\n"
    )
    user = load_user_limits(tmp_path / "safety.yaml")
    pad = limits_for(get_profile("omp-heat-pad"), user)
    assert pad.max_heat_level(6) == 4
    assert pad.max_continuous_heat_s == 1200
    wand = limits_for(get_profile("omp-wand-heat"), user)
    assert wand.max_heat_level(2) == 2


def test_broken_user_file_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "safety.yaml").write_text("max_session: forever\n")
    with pytest.raises(UsageError, match=r"safety\.yaml: field max_session"):
        load_user_limits(tmp_path / "safety.yaml")


def test_cli_refuses_to_start_with_a_broken_safety_file(tmp_path: Path) -> None:
    (tmp_path / "safety.yaml").write_text("max_heat: scorching\n")
    env = dict(os.environ, MASSAGECTL_CONFIG_DIR=str(tmp_path))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "massagectl",
            "set",
            "--device",
            "sim:omp-wand-heat",
            "--speed",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert "safety.yaml: field max_heat" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_report_says_what_the_envelope_will_cut() -> None:
    from massagectl.programs.timeline import DeviceRange, Timeline
    from massagectl.safety.report import envelope_report

    program = one_step("100%", "high", "100m")
    device = DeviceRange(10, 2)
    lines = envelope_report(
        Timeline(program, device),
        device,
        SafetyLimits(max_intensity=0.5, max_heat=Heat(name="low")),
    )
    text = "\n".join(lines)
    assert "speed levels 10 will be capped at 5" in text
    assert "heat levels 2 will be capped at 1" in text
    assert "switched off at 30m" in text
    assert "stopped at 1h30m" in text
    assert (
        envelope_report(
            Timeline(program, device),
            device,
            SafetyLimits(max_session_s=7200, max_continuous_heat_s=7200),
        )
        == []
    )
