"""The simulated RongTai chair: keys in, statuses out at explicit times, the session timer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from massagectl.protocols import rongtai as rt
from massagesim import NO_FAULTS, RongTaiFirmware, SimFault, SimulatedDevice
from massagesim.firmware_rongtai import DEFAULT_SPEED

from .helpers import ManualClock

K = rt.Key


def statuses(wire: bytes) -> list[rt.RongTaiStatus]:
    """Decode what the chair sent, asserting that every status was well formed."""
    items = rt.decode_statuses(wire)
    assert all(isinstance(i, rt.RongTaiStatus) for i in items), items
    return [i for i in items if isinstance(i, rt.RongTaiStatus)]


def press(fw: RongTaiFirmware, key: int, at: float) -> list[rt.RongTaiStatus]:
    """Press a key at a time; the statuses the chair sent."""
    return statuses(fw.receive(rt.key(key), at))


def test_power_switches_on_a_manual_knead_with_a_twenty_minute_session() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    (status,) = press(fw, K.POWER, 5.0)
    assert status == rt.RongTaiStatus(
        running=True,
        technique=rt.Technique.KNEAD,
        speed=DEFAULT_SPEED,
        roller=False,
        heat=False,
        remaining_s=1200,
        preset_minutes=20,
        auto_program=rt.MANUAL_PROGRAM,
    )
    assert (fw.state.speed, fw.state.heat, fw.state.program) == (3, 0, 0)
    last = fw.timeline.states()[-1]
    assert (last.t, last.speed, last.cause) == (5.0, 3, "POWER")
    (off,) = press(fw, K.POWER, 6.0)
    assert (off.running, off.speed, off.auto_program, off.remaining_s) == (False, 0, 0, 0)
    assert fw.state.speed == 0


def test_speed_keys_set_the_speed_and_power_on_from_standby() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    (status,) = press(fw, rt.speed_key(5), 0.0)
    assert (status.running, status.technique, status.speed) == (True, rt.Technique.KNEAD, 5)
    for level in (1, 6, 2):
        (status,) = press(fw, rt.speed_key(level), 1.0)
        assert status.speed == level
    assert [s.speed for s in fw.timeline.states()] == [0, 5, 1, 6, 2]
    assert {s.cause for s in fw.timeline.states()[1:]} == {"SET_SPEED"}


def test_a_technique_key_changes_the_technique_and_keeps_the_speed() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, rt.speed_key(4), 0.0)
    (status,) = press(fw, K.SHIATSU, 1.0)
    assert (status.technique, status.speed) == (rt.Technique.SHIATSU, 4)
    (status,) = press(fw, K.TAPPING, 2.0)
    assert status.technique == rt.Technique.TAPPING
    # No state change: only the status tells.
    assert [s.speed for s in fw.timeline.states()] == [0, 4]


def test_a_technique_key_from_standby_starts_it_at_the_default_speed() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    (status,) = press(fw, K.RHYTHM, 0.0)
    assert (status.running, status.technique, status.speed) == (True, rt.Technique.RHYTHM, 3)


def test_heat_toggles_and_heat_alone_keeps_the_chair_on() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    (status,) = press(fw, K.HEAT, 0.0)
    assert (status.running, status.heat, status.speed, status.auto_program) == (True, True, 0, 0)
    assert (fw.state.speed, fw.state.heat) == (0, 1)
    press(fw, rt.speed_key(2), 1.0)
    (status,) = press(fw, K.HEAT, 2.0)
    assert (status.running, status.heat, status.speed) == (True, False, 2)
    press(fw, K.HEAT, 3.0)
    press(fw, K.RESET, 4.0)
    (status,) = press(fw, K.HEAT, 5.0)  # on again, heat only
    (status,) = press(fw, K.HEAT, 6.0)  # off: nothing runs any more, so standby
    assert (status.running, status.heat) == (False, False)
    assert [(s.heat, s.cause) for s in fw.timeline.states() if s.cause == "SET_HEAT"] == [
        (1, "SET_HEAT"),
        (0, "SET_HEAT"),
        (1, "SET_HEAT"),
        (1, "SET_HEAT"),
        (0, "SET_HEAT"),
    ]


def test_heat_warms_the_heater_towards_its_level() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, K.HEAT, 0.0)
    fw.tick(300.0)  # one time constant
    ambient, target = 22.0, 45.0
    assert fw.state.temperature_c == pytest.approx(target + (ambient - target) * 0.36788, abs=0.01)


def test_an_overheat_cuts_the_heat_and_a_heat_only_chair_goes_to_standby() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, K.HEAT, 0.0)
    (status,) = statuses(fw.set_temperature(51.0, 1.0))
    assert (status.running, status.heat) == (False, False)
    assert SimFault.OVERHEAT in fw.state.faults
    assert press(fw, K.HEAT, 2.0) == []  # refused while hot


def test_an_auto_program_steps_speed_and_technique_by_itself() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    (status,) = press(fw, rt.auto_program_key(1), 10.0)  # Recovery: 30 s steps, 2 3 4 3
    assert (status.running, status.auto_program, status.speed) == (True, 1, 2)
    assert status.technique == rt.Technique.KNEAD
    assert fw.state.program == 1
    wire = fw.tick(10.0 + 30.0)
    assert statuses(wire)[-1].speed == 3
    assert statuses(wire)[-1].technique == rt.Technique.KNOCK
    fw.tick(10.0 + 150.0)
    steps = [(s.t - 10.0, s.speed) for s in fw.timeline.states() if s.cause == "program step"]
    assert steps == [(30.0, 3), (60.0, 4), (90.0, 3), (120.0, 2), (150.0, 3)]
    assert all(s.program == 1 for s in fw.timeline.states()[1:])


def test_a_speed_key_ends_an_auto_program() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, rt.auto_program_key(4), 0.0)
    (status,) = press(fw, rt.speed_key(1), 5.0)
    assert (status.auto_program, status.speed) == (rt.MANUAL_PROGRAM, 1)
    assert (fw.state.program, fw.state.speed) == (0, 1)
    fw.tick(200.0)
    assert fw.state.speed == 1


def test_the_session_ends_in_standby_after_twenty_minutes() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, rt.auto_program_key(3), 100.0)
    press(fw, K.HEAT, 100.0)
    (status,) = statuses(fw.tick(100.0 + 600.0))[-1:]
    assert status.remaining_s == 600
    wire = fw.tick(100.0 + 1200.0)
    assert statuses(wire)[-1] == rt.RongTaiStatus(False, 0, 0, False, False, 0, 20, 0)
    last = fw.timeline.states()[-1]
    assert (last.t, last.speed, last.heat, last.program, last.cause) == (
        1300.0,
        0,
        0,
        0,
        "auto-off",
    )
    # Relax steps every 60 s: the step due at the very end of the session is not taken.
    assert fw.timeline.states()[-2].t < 1300.0
    assert fw.state.faults == SimFault.AUTO_OFF
    press(fw, K.POWER, 1400.0)  # switching on again clears it
    assert fw.state.faults == NO_FAULTS


def test_timer_keys_set_the_session_length() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, K.POWER, 0.0)
    (status,) = press(fw, K.TIMER_10, 60.0)
    assert (status.preset_minutes, status.remaining_s) == (10, 600)
    fw.tick(659.0)
    assert fw.powered
    fw.tick(660.0)
    assert not fw.powered
    # In standby the key only chooses the length of the next session.
    press(fw, K.TIMER_30, 700.0)
    (status,) = press(fw, K.POWER, 800.0)
    assert (status.preset_minutes, status.remaining_s) == (30, 1800)


def test_reset_stops_everything() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, rt.auto_program_key(2), 0.0)
    press(fw, K.HEAT, 1.0)
    (status,) = press(fw, K.RESET, 2.0)
    assert (status.running, status.speed, status.heat, status.auto_program) == (False, 0, False, 0)
    assert (fw.state.speed, fw.state.heat, fw.state.program) == (0, 0, 0)
    assert fw.timeline.states()[-1].cause == "STOP"


def test_status_every_second_while_on_and_never_in_standby() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    assert fw.tick(10.0) == b""
    press(fw, K.POWER, 10.0)
    assert fw.next_due() == pytest.approx(11.0)
    remaining = [s.remaining_s for t in (11.0, 12.0, 13.0) for s in statuses(fw.tick(t))]
    assert remaining == [1199, 1198, 1197]
    press(fw, K.POWER, 13.5)
    assert fw.tick(100.0) == b""


def test_airbag_keys_are_kept_while_on_and_ignored_in_standby() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    assert press(fw, K.AIRBAG_3, 0.0) == []
    assert fw.timeline.commands()[-1].answer == "ignored"
    press(fw, K.POWER, 1.0)
    press(fw, K.AIRBAG_5, 2.0)
    assert fw.airbag == 5
    press(fw, K.AIRBAG_OFF, 3.0)
    assert fw.airbag == 0


def test_unknown_keys_bad_checksums_and_garbage_are_ignored() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    bad = bytearray(rt.key(K.POWER))
    bad[3] ^= 0x01
    assert fw.receive(bytes(bad) + b"\x00\x01junk" + rt.key(0x66), 0.0) == b""
    assert not fw.powered
    assert [(c.type, c.answer) for c in fw.timeline.commands()] == [("0x66", "ignored")]
    # Split across writes, a good key still works.
    wire = rt.key(K.POWER)
    assert fw.receive(wire[:2], 1.0) == b""
    assert statuses(fw.receive(wire[2:], 1.0))[0].running


@given(st.binary(max_size=100))
def test_garbage_never_breaks_the_chair(data: bytes) -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    statuses(fw.receive(data, 0.0))
    fw.new_link()
    assert statuses(fw.receive(rt.key(K.POWER), 0.1))  # power always toggles


def test_a_stalled_motor_stops_the_massage_and_ignores_massage_keys() -> None:
    fw = RongTaiFirmware("rongtai-rt8600s", 0.0)
    press(fw, rt.speed_key(3), 0.0)
    press(fw, K.HEAT, 0.0)
    (status,) = statuses(fw.inject_motor_fault(1.0))
    assert (status.running, status.speed, status.heat, status.technique) == (True, 0, True, 0)
    assert press(fw, rt.speed_key(2), 2.0) == []
    assert press(fw, rt.auto_program_key(1), 2.0) == []
    assert fw.state.speed == 0


async def test_simulated_device_picks_the_rongtai_firmware_and_serves_it() -> None:
    clock = ManualClock(100.0)
    device = SimulatedDevice("rongtai-rt8600s", clock)
    assert isinstance(device.firmware, RongTaiFirmware)
    received = bytearray()
    link = device.connect(received.extend)
    link.feed(rt.key(K.POWER) + rt.key(rt.speed_key(6)))
    assert [s.speed for s in statuses(bytes(received))] == [3, 6]
    received.clear()
    clock.advance(1.0)
    device.tick()
    assert statuses(bytes(received))[0].remaining_s == 1199
