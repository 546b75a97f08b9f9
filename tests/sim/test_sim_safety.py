"""The firmware's own safety behaviour: watchdog, auto-off, overheat, battery, motor faults."""

from __future__ import annotations

import math

import pytest

from massagectl.protocols.omp import AckCode, Fault, Status
from massagesim import NO_FAULTS, SimFault

from .helpers import Bench, ack_code, answer, make_profile, statuses


def test_watchdog_stops_device_when_host_goes_silent() -> None:
    bench = Bench("omp-percussion-pro")  # watchdog 3.0 s
    bench.send(bench.host.set_speed(6), 10.0)
    bench.tick(12.9)
    assert bench.fw.state.speed == 6
    msgs = bench.tick(13.2)
    stopped = [s for s in statuses(msgs) if s.faults & Fault.WATCHDOG_STOP]
    assert stopped
    assert (stopped[0].speed, stopped[0].heat, stopped[0].program) == (0, 0, 0)
    last = bench.fw.timeline.states()[-1]
    assert (last.t, last.cause, last.speed) == (13.0, "watchdog", 0)


def test_watchdog_stays_quiet_while_the_host_keeps_talking() -> None:
    bench = Bench("omp-percussion-pro")
    bench.send(bench.host.set_speed(6))
    msgs = bench.keepalive(until=30.0, every=2.5)
    assert bench.fw.state.speed == 6
    assert not any(s.faults for s in statuses(msgs))


def test_watchdog_does_not_apply_to_an_idle_device() -> None:
    bench = Bench("omp-percussion-pro")
    bench.send(bench.host.hello())
    assert bench.tick(100.0) == []
    assert bench.fw.state.faults == NO_FAULTS


def test_watchdog_stop_clears_on_the_next_accepted_command_only() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.set_heat(1), 0.0)
    bench.tick(5.0)
    assert bench.fw.state.faults == SimFault.WATCHDOG_STOP
    # Reading the status, pinging or a refused command leave the fault for the host to see.
    bench.send(bench.host.get_status(), 6.0)
    bench.send(bench.host.ping(), 6.1)
    bench.send(bench.host.set_speed(99), 6.2)
    assert bench.fw.state.faults == SimFault.WATCHDOG_STOP
    msgs = bench.send(bench.host.set_speed(2), 6.3)
    assert ack_code(msgs) == AckCode.OK
    assert statuses(msgs)[-1].faults == Fault(0)


def test_auto_off_stops_after_continuous_activity() -> None:
    bench = Bench("omp-percussion-pro")  # auto-off after 900 s
    bench.send(bench.host.set_speed(3), 0.0)
    bench.keepalive(until=100.0, every=2.0)
    status = answer(bench.send(bench.host.get_status(), 100.0))
    assert isinstance(status, Status)
    assert status.remaining_s == 800
    msgs = bench.keepalive(until=902.0, every=2.0)
    off = [s for s in statuses(msgs) if s.faults & Fault.AUTO_OFF]
    assert off
    assert off[0].speed == 0
    assert off[0].remaining_s == 0
    last = bench.fw.timeline.states()[-1]
    assert (last.t, last.cause) == (900.0, "auto-off")
    # AUTO_OFF clears on the next accepted command, and a new activity period starts.
    bench.send(bench.host.set_speed(3), 903.0)
    assert bench.fw.state.faults == NO_FAULTS
    assert bench.fw.status(0).remaining_s == 900


def test_auto_off_counts_continuous_activity_only() -> None:
    bench = Bench("omp-percussion-pro")
    bench.send(bench.host.set_speed(3), 0.0)
    bench.keepalive(until=500.0, every=2.0)
    bench.send(bench.host.set_speed(0), 501.0)
    bench.send(bench.host.set_speed(3), 502.0)
    bench.keepalive(until=1000.0, every=2.0)
    assert bench.fw.state.speed == 3
    assert bench.fw.status(0).remaining_s == 402


def test_overheat_cuts_heat_refuses_heat_and_clears_5_degrees_below() -> None:
    bench = Bench("omp-wand-heat")  # max 60 °C, tau 90 s, ambient 22 °C
    bench.send(bench.host.set_heat(2), 0.0)
    bench.send(bench.host.set_speed(4), 0.0)
    bench.fw.set_temperature(61.0, 1.0)
    s = bench.fw.state
    assert (s.heat, s.speed) == (0, 4)  # the heater is cut, the motor keeps going
    assert SimFault.OVERHEAT in s.faults
    assert ack_code(bench.send(bench.host.set_heat(1), 1.5)) == AckCode.REFUSED_FAULT
    assert ack_code(bench.send(bench.host.set_heat(0), 1.6)) == AckCode.OK
    # It cools towards 22 °C and OVERHEAT clears at 55 °C, at the time the model says.
    cleared_at = 1.0 + 90 * math.log((61 - 22) / (55 - 22))
    bench.keepalive(until=cleared_at - 0.5, every=1.0)
    assert SimFault.OVERHEAT in s.faults
    msgs = bench.keepalive(until=cleared_at + 1.0, every=1.0)
    assert SimFault.OVERHEAT not in s.faults
    assert statuses(msgs)[-1].faults == Fault(0)
    change = bench.fw.timeline.states()[-1]
    assert change.cause == "cooled down"
    assert change.t == pytest.approx(cleared_at)
    assert change.temperature_c == pytest.approx(55.0)
    assert ack_code(bench.send(bench.host.set_heat(1))) == AckCode.OK


def test_runaway_heater_overheats_at_the_cut_out_temperature() -> None:
    bench = Bench("omp-wand-heat")
    bench.fw.set_runaway(80.0, 0.0)
    bench.send(bench.host.set_heat(1), 0.0)
    cut_at = 90 * math.log((80 - 22) / (80 - 60))
    msgs = bench.keepalive(until=cut_at + 2.0, every=1.0)
    hot = [s for s in statuses(msgs) if s.faults & Fault.OVERHEAT]
    assert hot
    assert hot[0].heat == 0
    assert hot[0].temperature_c == pytest.approx(60.0, abs=0.05)
    change = next(c for c in bench.fw.timeline.states() if c.cause == "overheat")
    assert change.t == pytest.approx(cut_at)


def test_heater_warms_exponentially_towards_its_level() -> None:
    bench = Bench("omp-heat-pad")  # level 6 = 55 °C, tau 180 s, watchdog 5 s
    bench.send(bench.host.set_heat(6), 0.0)
    bench.keepalive(until=180.0, every=4.0)
    status = answer(bench.send(bench.host.get_status(), 180.0))
    assert isinstance(status, Status)
    expected = 55 - (55 - 22) * math.exp(-1)
    assert status.temperature_c == pytest.approx(expected, abs=0.05)


def test_battery_drains_with_use() -> None:
    bench = Bench("omp-neck-rest")  # idle 0.5 %/h, full speed 25 %/h, full heat 45 %/h
    bench.tick(3600.0)
    assert bench.fw.state.battery_pct == pytest.approx(99.5)
    bench.send(bench.host.set_speed(5), 3600.0)
    bench.send(bench.host.set_heat(1), 3600.0)
    bench.keepalive(until=3600.0 + 360.0, every=1.5)  # a tenth of an hour at 70.5 %/h
    assert bench.fw.state.battery_pct == pytest.approx(99.5 - 7.05)


def test_low_battery_fault_then_empty_battery_stops_the_device() -> None:
    bench = Bench("omp-neck-rest")  # low at 15 %
    bench.fw.set_battery(16.0, 0.0)
    bench.send(bench.host.set_speed(5), 0.0)
    bench.send(bench.host.set_heat(1), 0.0)
    rate = 70.5 / 3600  # %/s with idle + full speed + full heat
    msgs = bench.keepalive(until=1 / rate + 1.0, every=1.0)
    low = [s for s in statuses(msgs) if s.faults & Fault.LOW_BATTERY]
    assert low
    assert low[0].battery == 15
    change = next(c for c in bench.fw.timeline.states() if c.cause == "low battery")
    assert change.t == pytest.approx(1 / rate)
    # Run it flat: the device stops at 0 % and will not start again.
    t = bench.t
    bench.fw.set_battery(1.0, t)
    assert SimFault.LOW_BATTERY in bench.fw.state.faults
    bench.keepalive(until=t + 1 / rate + 1.0, every=1.0)
    assert bench.fw.state.battery_pct == 0.0
    assert not bench.fw.state.active
    assert ack_code(bench.send(bench.host.set_speed(1))) == AckCode.REFUSED_FAULT
    # A charged battery clears LOW_BATTERY.
    bench.fw.set_battery(90.0, bench.t)
    assert SimFault.LOW_BATTERY not in bench.fw.state.faults
    assert ack_code(bench.send(bench.host.set_speed(1))) == AckCode.OK


def test_set_battery_on_a_mains_device_is_a_mistake() -> None:
    bench = Bench("omp-wand-heat")
    with pytest.raises(ValueError, match="not battery powered"):
        bench.fw.set_battery(50, 0.0)


def test_motor_fault_stops_the_motor_and_refuses_speed() -> None:
    bench = Bench("omp-wand-heat")
    bench.send(bench.host.run_program(2), 0.0)
    bench.send(bench.host.set_heat(1), 0.0)
    out = bench.host.receive(bench.fw.inject_motor_fault(0.5))
    assert [s.faults for s in out if isinstance(s, Status)] == [Fault.MOTOR]
    s = bench.fw.state
    assert (s.speed, s.program, s.heat) == (0, 0, 1)
    assert ack_code(bench.send(bench.host.set_speed(2), 0.6)) == AckCode.REFUSED_FAULT
    assert ack_code(bench.send(bench.host.run_program(1), 0.7)) == AckCode.REFUSED_FAULT
    assert ack_code(bench.send(bench.host.set_heat(2), 0.8)) == AckCode.OK
    bench.fw.clear_motor_fault(0.9)
    assert ack_code(bench.send(bench.host.set_speed(2), 1.0)) == AckCode.OK


def test_custom_profile_without_watchdog_or_auto_off_runs_until_told() -> None:
    bench = Bench(make_profile(limits={"watchdog_s": 0, "max_temp_c": 60}))
    bench.send(bench.host.set_speed(2), 0.0)
    bench.tick(10_000.0)
    assert bench.fw.state.speed == 2
    assert bench.fw.status(0).remaining_s == 0
