"""Program and profile files, fuzzed: whatever the file says, a clear error or a usable result.

A good program and a good profile (every field on a line of its own) are bent by a script of
mutations (values replaced by odd ones, sections given plain values, lines dropped, doubled and
re-indented, unknown fields, stray bytes, a cut-off end). Loading
the result either gives a valid program or profile, or raises the project's error with one line
that names the file (programs: ``file:line: field: message``; profiles: ``file[:line]: ...``).
A program that loads unrolls to at most ``MAX_STEPS`` steps; a profile that loads and can be
simulated runs its simulator through a burst of commands without an exception.
"""

from __future__ import annotations

import re
from functools import partial

import pytest
from hypothesis import given, settings

from massagectl.errors import ProfileError, ProgramError
from massagectl.profiles import Profile, load_profile_file
from massagectl.programs.loader import load_program_text
from massagectl.programs.model import MAX_STEPS
from massagectl.programs.timeline import flatten
from massagectl.protocols import omp
from massagesim import make_firmware

from .support import FUZZ, FUZZ_EXAMPLES, fuzz_bytes, outcome, script

#: The file tests run fewer cases (YAML and validation cost far more than a frame decoder).
FILES = settings(FUZZ, max_examples=max(1, FUZZ_EXAMPLES // 10))

BASE_PROGRAM = """\
name: fuzz
title: Fuzzed
summary: A program the fuzzer bends
needs: [speed, heat]
cautions: [none]
steps:
  - name: warm
    duration: 90s
    speed: 30%
    heat: low
    ramp: 5s
    cue: hold it here
  - name: tap
    duration: 1m
    speed: {level: 3}
    pattern: {pulse: {on: 0.3s, off: 0.3s}}
  - name: knead
    duration: 2m
    pattern:
      wave: {period: 6s, low: 20%, high: 60%}
  - name: hold
    duration: 20s
    speed: 50%
    hold: true
    max_duration: 1m
  - name: own
    duration: 3m
    device_program: 2
  - repeat: 2
    steps:
      - use: warm
      - name: rest
        duration: 10s
"""
#: Every field a profile has, one per line where YAML allows, so that each can be bent.
BASE_PROFILE = """\
name: bent-model
title: A model the fuzzer bends
kind: vibration
protocol: omp
power: battery
capabilities:
  speed:
    levels: 10
    unit: rpm
    values: [1500, 1800, 2100, 2400, 2700, 3000, 3300, 3600, 3900, 4200]
  heat:
    levels: 2
    celsius: [42, 50]
    time_constant_s: 90
  programs:
    - name: Soothe
      duration_s: 600
      step_s: 4
      levels: [2, 3, 4, 3]
    - name: Tap
      duration_s: 300
      step_s: 1
      levels: [8, 0]
  battery: true
  temperature_sensor: true
limits:
  watchdog_s: 3.0
  auto_off_s: 1200
  max_temp_c: 60
serial:
  baud: 115200
ble:
  name_prefixes: ["OMP-BENT"]
  service_uuids: ["a0490001-a74b-4c3f-b20f-6ff8c69b1e98"]
  write_char: a0490002-a74b-4c3f-b20f-6ff8c69b1e98
  notify_char: a0490003-a74b-4c3f-b20f-6ff8c69b1e98
  write_with_response: false
link:
  min_write_gap_s: 0.02
  keepalive_s: 1
transports: [serial, ble]
simulation:
  ambient_c: 22
  drain_idle_pct_h: 1.0
  drain_speed_pct_h: 30
  drain_heat_pct_h: 40
  low_battery_pct: 15
provenance:
  kind: simulated-model
  source: the fuzz tests
  checked_on_hardware: false
"""

#: Values a person (or a broken editor) might leave in a file.
ODD = (
    "-5s",
    "150%",
    "-1",
    "0",
    "0s",
    "abc",
    "1e400",
    ".nan",
    ".inf",
    "-.inf",
    "1e-300",
    "99999999999999999999",
    "1000000000",
    "~",
    "true",
    "off",
    "[]",
    "{}",
    "[1, 2]",
    "{level: -1}",
    "{level: 1.5}",
    "{level: 99}",
    "{fraction: 2}",
    "{pulse: {on: 0s, off: 1s}}",
    "{wave: {period: 6s, low: 80%, high: 20%}}",
    "!!binary aGk=",
    "!!python/object:os.system x",
    "*nope",
    "&a [*a]",
    "'",
    '"\\x00"',
    "1m1m",
    "1:30",
    "2020-01-01",
    "é",
    "pulse",
    "warm",
    "<<: {a: 1}",
)
KEYS = ("name", "duration", "speed", "heat", "use", "repeat", "steps", "levels", "bogus", "<<")
_KEY_LINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):(.*)$")


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" -"))


def _block_end(lines: list[str], i: int) -> int:
    """The index after line ``i`` and the lines nested under it."""
    end = i + 1
    while end < len(lines) and _depth(lines[end]) > _depth(lines[i]):
        end += 1
    return end


def mutate(base: str, data: bytes) -> str:
    """``base`` bent by the mutation script in ``data`` (most steps keep the YAML readable)."""
    lines = base.splitlines()
    cut: int | None = None
    for op, arg in script(data):
        if not lines:
            break
        a, b = (arg + bytes(2))[:2]
        i = a % len(lines)
        match = _KEY_LINE.match(lines[i])
        indent, key = (match.group(1), match.group(2)) if match else ("", "")
        if op <= 9 and match:
            # A section given a plain value loses its nested lines: a wrong type, not bad YAML.
            lines[i : _block_end(lines, i)] = [f"{indent}{key}: {ODD[b % len(ODD)]}"]
        elif op == 10:
            del lines[i : _block_end(lines, i)]
        elif op == 11:
            lines.insert(i, lines[i])
        elif op == 12:
            lines.insert(i, f"{indent.replace('-', ' ')}{KEYS[b % len(KEYS)]}: 1")
        elif op == 13 and match:
            lines[i] = f"{indent}{KEYS[b % len(KEYS)]}:{match.group(3)}"
        elif op == 14 and match:
            number = int.from_bytes(arg[1:4], "big") - (1 << 23 if b % 2 else 0)
            lines[i] = f"{indent}{key}: {number / 10 if b % 4 > 1 else number}"
        elif op == 15:  # what breaks the YAML itself
            kind = b % 4
            if kind == 0:
                lines[i] = lines[i][2:] if a % 2 else "  " + lines[i]
            elif kind == 1:
                cut = a * 4
            elif kind == 2:
                lines.insert(i, arg[2:].decode("latin-1"))
            else:
                lines[i] = f"{indent}{key}: {arg[2:].decode('latin-1')}"
    text = "\n".join(lines) + "\n"
    return text if cut is None else text[:cut]


@FILES
@given(fuzz_bytes(48))
def test_a_bent_program_loads_or_fails_on_one_line_naming_file_and_line(data: bytes) -> None:
    text = mutate(BASE_PROGRAM, data)
    program = outcome(partial(load_program_text, text, "bent.yaml"), ProgramError)
    if isinstance(program, ProgramError):
        message = str(program)
        assert program.exit_code == 2
        assert "\n" not in message
        found = re.match(r"bent\.yaml:(\d+): ", message)
        assert found, message
        assert 1 <= int(found.group(1)) <= text.count("\n") + 2, message
        return
    assert 1 <= len(flatten(program)) <= MAX_STEPS


def _drive(profile: Profile) -> None:
    """A profile that loads runs its simulator at full range, with time passing."""
    if not profile.simulatable:
        return
    fw = make_firmware(profile)
    programs = len(profile.capabilities.programs)
    t = 0.0
    if profile.protocol == "omp":
        host = omp.OmpHost()
        for request in (
            host.hello(),
            host.set_speed(profile.speed_levels),
            host.set_heat(profile.heat_levels),
            host.run_program(min(programs, 0xFF)),
            host.get_status(),
        ):
            t += 0.5
            fw.receive(request.wire, t)
    for _ in range(4):  # the watchdog, the auto-off, the heater and the battery have their say
        t += 400.0
        fw.tick(t)
    assert 0 <= fw.state.speed <= profile.speed_levels
    assert 0 <= fw.state.heat <= profile.heat_levels
    assert 0 <= fw.state.program <= programs


@FILES
@given(data=fuzz_bytes(48))
def test_a_bent_profile_loads_or_fails_on_one_line_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "bent" / "bent-model.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(mutate(BASE_PROFILE, data), encoding="utf-8")
    profile = outcome(partial(load_profile_file, path), ProfileError)
    if isinstance(profile, ProfileError):
        message = str(profile)
        assert profile.exit_code == 2
        assert "\n" not in message
        assert message.startswith(f"{path}:"), message
        return
    _drive(profile)
