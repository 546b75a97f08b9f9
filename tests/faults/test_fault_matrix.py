"""Every fault on every protocol family: the device ends at rest in a documented time, and the
person is told what happened (or, where the protocol gives the host no way to know, it is
documented that nobody can tell).

One program (:data:`~tests.faults.harness.PROGRAM`: three minutes with speed and heat) runs under
virtual time through the scheduler on one device per family: OMP/1 (``omp-wand-heat``, and the
battery-powered ``omp-neck-rest`` for battery faults) in process and over a real pseudo-terminal;
``theragun-pro``, ``lovense-domi`` and ``rongtai-rt8600s`` through massagesim's bleak backend and
bleak's real client (Lovense also over its serial link, where bytes can be garbled). The fault
goes in at program time 90 s (mid "deep": speed and heat on; the next command after it is the
"ease" step at 120 s), or before the host connects. docs/faults.md has the same matrix as a
table; a test below keeps the two in step.

A fault that cannot happen on a family (no heater, no battery, no auto-off, BLE's own checksum)
is a :class:`NotApplicable` cell: its test shows that the simulator agrees, not a skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from massagectl.errors import LinkLost
from massagectl.programs.events import event_name
from massagesim import SimulatedDevice

from .harness import EASE_AT, PROGRAM_S, FaultRun, Inject, Link, Phase, run_with_fault

FAULT_AT = 90.0

Family = Literal["omp", "theragun", "lovense", "rongtai"]
PROFILES: dict[Family, str] = {
    "omp": "omp-wand-heat",
    "theragun": "theragun-pro",
    "lovense": "lovense-domi",
    "rongtai": "rongtai-rt8600s",
}
#: For battery faults: the OMP/1 model above is mains powered, the family is not.
OMP_ON_BATTERY = "omp-neck-rest"
Ends = Literal["finished", "LinkLost", "DeviceFault"]


@dataclass(frozen=True)
class Expect:
    """How a run with the fault must end.

    ``told`` lists what the person must be told, as (event kind, pattern of its message); no
    other refused/lost/fault/warning event may come. An empty ``told`` with ``finished`` is a
    fault the host cannot know of (the reason is in ``why``).
    """

    ends: Ends
    rest_by: float
    told: tuple[tuple[str, str], ...] = ()
    error: str = ""
    why: str = ""
    #: For a device the run starts again: by when it runs again.
    running_again_by: float | None = None


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: a fault on a family over a link, and what must happen."""

    fault: str
    family: Family
    link: Link
    inject: Inject
    expect: Expect
    at: float = FAULT_AT
    phase: Phase = "run"
    profile: str = ""

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.family}-{self.link}"


@dataclass(frozen=True)
class NotApplicable:
    """A fault the family cannot have, and the simulator's proof of it."""

    fault: str
    family: Family
    why: str
    #: Raises ValueError (matching ``refusal``) on a simulated device of the family.
    attempt: Callable[[SimulatedDevice], None] | None = None
    refusal: str = ""
    id: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", f"{self.fault}-{self.family}-n/a")


# --- the faults ------------------------------------------------------------------------------


def drop(d: SimulatedDevice) -> None:
    d.faults.drop_link()


def garble_all(d: SimulatedDevice) -> None:
    d.faults.garble()


def garble_burst(d: SimulatedDevice) -> None:
    d.faults.garble(count=1)


def late(d: SimulatedDevice) -> None:
    # Between OMP/1's first and second timeout (0.5 s, 1 s), within Lovense's 1 s.
    d.faults.delay_answers(0.75, count=1)


def too_late(d: SimulatedDevice) -> None:
    # Well past OMP/1's three tries (1.5 s) and Lovense's 1 s, with room for a loaded machine.
    d.faults.delay_answers(2.5, count=3)


def mute(d: SimulatedDevice) -> None:
    d.faults.mute()


def refuse(d: SimulatedDevice) -> None:
    d.faults.refuse_next(1)


def overheat(d: SimulatedDevice) -> None:
    d.faults.overheat()


def motor(d: SimulatedDevice) -> None:
    d.faults.motor_fault()


def low_battery(d: SimulatedDevice) -> None:
    d.faults.low_battery()


def battery_empty(d: SimulatedDevice) -> None:
    d.set_battery(0)


def auto_off_in_10s(d: SimulatedDevice) -> None:
    d.faults.auto_off_in(10)


# --- what must happen ------------------------------------------------------------------------

ENDS_AT_ONCE = FAULT_AT + 0.5
AT_THE_END = PROGRAM_S + 0.5
#: The OMP/1 host gives up after three answer timeouts of wall time (no virtual time passes),
#: at the next keepalive (every 0.8 s), and its stop goes out without waiting for an answer.
OMP_LOST_BY = FAULT_AT + 1.0
#: A lost link leaves OMP/1 devices to their watchdog (3 s on the wand, 2 s on the neck rest).
OMP_WATCHDOG_BY = FAULT_AT + 0.8 + 3.0
#: Lovense answers only commands; the next one is at the "ease" step.
LOVENSE_NEXT_COMMAND_BY = EASE_AT + 0.2
#: A BLE device without a watchdog is reconnected to be stopped (backoff 0.5 s).
RECONNECT_BY = FAULT_AT + 1.5

LOST_NO_ANSWER = (("lost", r"no answer to PING after 3 tries"),)
RETRIED = ("warning", r"requests? sent again")
BROKEN = ("warning", r"broken frames? from the device dropped")


def omp_lost(pattern: str, *extra: tuple[str, str], rest_by: float = OMP_LOST_BY) -> Expect:
    return Expect(
        "LinkLost",
        rest_by,
        told=(("lost", pattern), RETRIED, *extra),
        error=r"link lost mid-program: .*" + pattern,
    )


def fault_ends(name: str, rest_by: float = ENDS_AT_ONCE) -> Expect:
    return Expect(
        "DeviceFault",
        rest_by,
        told=(("fault", name),),
        error=rf"{name} — .*the run was ended and every device stopped",
    )


#: The device's own timer is shorter than the program: told, and started again at once.
AUTO_OFF_RESTARTED = Expect(
    "finished",
    AT_THE_END,
    (("warning", r"AUTO_OFF — it switched itself off when its own timer ran out"),),
    running_again_by=FAULT_AT + 0.5,
)


def unnoticed(why: str, rest_by: float = AT_THE_END) -> Expect:
    return Expect("finished", rest_by, why=why)


NO_ANSWER_EXPECTED = (
    "the protocol answers no command: during a run the host waits for nothing, so a device that "
    "stays silent or answers late is not noticed (it still obeys)"
)


def omp_cases(link: Link) -> list[Case]:
    def case(
        fault: str,
        inject: Inject,
        expect: Expect,
        *,
        at: float = FAULT_AT,
        phase: Phase = "run",
        profile: str = "",
    ) -> Case:
        return Case(fault, "omp", link, inject, expect, at=at, phase=phase, profile=profile)

    return [
        case(
            "link-drop",
            drop,
            omp_lost(r"no answer to PING after 3 tries", rest_by=OMP_WATCHDOG_BY),
        ),
        case("garbled", garble_all, omp_lost(r"broken frames came instead", BROKEN)),
        case("garbled-burst", garble_burst, Expect("finished", AT_THE_END, (BROKEN, RETRIED))),
        case("late-answer", late, Expect("finished", AT_THE_END, (RETRIED,))),
        case(
            "too-late",
            too_late,
            # Late answers race the wall-clock retries on a loaded machine: the unanswered STOP
            # usually lands at once, and the device's watchdog bounds it in any case.
            omp_lost(r"no answer to PING after 3 tries", rest_by=OMP_WATCHDOG_BY),
        ),
        case("no-answer", mute, omp_lost(r"no answer to PING after 3 tries")),
        case(
            "refused",
            refuse,
            Expect("finished", AT_THE_END, (("refused", r"refused SET_SPEED 4: REFUSED_FAULT"),)),
        ),
        case("overheat", overheat, fault_ends("OVERHEAT")),
        case("motor-fault", motor, fault_ends("MOTOR")),
        case(
            "low-battery",
            low_battery,
            Expect("finished", AT_THE_END, (("warning", r"LOW_BATTERY — battery low \(15 %\)"),)),
            profile=OMP_ON_BATTERY,
        ),
        case(
            "battery-empty",
            battery_empty,
            Expect(
                "DeviceFault",
                ENDS_AT_ONCE,
                (("fault", "BATTERY_EMPTY"), ("warning", r"battery low \(0 %\)")),
                error=r"BATTERY_EMPTY — its battery is empty",
            ),
            profile=OMP_ON_BATTERY,
        ),
        case("auto-off", auto_off_in_10s, AUTO_OFF_RESTARTED, at=FAULT_AT - 10),
        case(
            "no-answer-at-connect",
            mute,
            Expect("LinkLost", 0.0, error=r"no answer to HELLO after 3 tries"),
            phase="connect",
        ),
        case(
            "low-battery-at-connect",
            low_battery,
            Expect("finished", AT_THE_END, (("warning", r"LOW_BATTERY — battery low"),)),
            phase="connect",
            profile=OMP_ON_BATTERY,
        ),
        case(
            "motor-fault-at-connect",
            motor,
            Expect(
                "DeviceFault",
                0.0,
                (("fault", "MOTOR"),),
                error=r"MOTOR — its motor stalled before the run started",
            ),
            phase="connect",
        ),
    ]


THERAGUN_STOPPED = fault_ends("STOPPED_BY_DEVICE")

THERAGUN = [
    Case(
        "link-drop",
        "theragun",
        "ble",
        drop,
        Expect(
            "LinkLost",
            RECONNECT_BY,
            (("lost", "the device disconnected"),),
            error="link lost mid-program",
        ),
    ),
    Case("late-answer", "theragun", "ble", late, unnoticed(NO_ANSWER_EXPECTED)),
    Case("too-late", "theragun", "ble", too_late, unnoticed(NO_ANSWER_EXPECTED)),
    Case("no-answer", "theragun", "ble", mute, unnoticed(NO_ANSWER_EXPECTED)),
    Case(
        "refused",
        "theragun",
        "ble",
        refuse,
        unnoticed(
            "a gun cannot refuse: it ignores the set speed, and its next status (each second) "
            "shows the speed it kept"
        ),
    ),
    Case("motor-fault", "theragun", "ble", motor, THERAGUN_STOPPED),
    Case(
        "low-battery",
        "theragun",
        "ble",
        low_battery,
        unnoticed("the protocol has no documented battery field"),
    ),
    Case("battery-empty", "theragun", "ble", battery_empty, THERAGUN_STOPPED),
    Case(
        "no-answer-at-connect",
        "theragun",
        "ble",
        mute,
        Expect(
            "LinkLost",
            0.0,
            error=r"no answer to a request for the firmware version and status within 1 s",
        ),
        phase="connect",
    ),
    Case(
        "low-battery-at-connect",
        "theragun",
        "ble",
        low_battery,
        unnoticed("the protocol has no documented battery field"),
        phase="connect",
    ),
    Case(
        "motor-fault-at-connect",
        "theragun",
        "ble",
        motor,
        unnoticed(
            "the stalled gun ignores every set speed and, never having run, never says it "
            "stopped: it stays at rest"
        ),
        phase="connect",
    ),
]

LOVENSE_LOST = Expect(
    "LinkLost",
    LOVENSE_NEXT_COMMAND_BY,
    (("lost", r"no answer to Vibrate:8 within 1 s"),),
    error=r"no answer to Vibrate:8 within 1 s",
)
LOVENSE_ERR = (("refused", r"answered Vibrate:8 with ERR"),)

LOVENSE = [
    Case(
        "link-drop",
        "lovense",
        "ble",
        drop,
        Expect("LinkLost", FAULT_AT, (("lost", "the device disconnected"),), "link lost"),
    ),
    Case(
        "garbled",
        "lovense",
        "serial",
        garble_all,
        Expect(
            "LinkLost",
            LOVENSE_NEXT_COMMAND_BY,
            (LOVENSE_LOST.told[0], BROKEN),
            error=LOVENSE_LOST.error,
        ),
    ),
    Case(
        "garbled-burst",
        "lovense",
        "serial",
        garble_burst,
        Expect(
            "LinkLost",
            LOVENSE_NEXT_COMMAND_BY,
            (LOVENSE_LOST.told[0], BROKEN),
            error=LOVENSE_LOST.error,
        ),
    ),
    Case(
        "late-answer",
        "lovense",
        "ble",
        late,
        unnoticed("0.75 s is within the 1 s the host waits: the answer is in time"),
    ),
    Case("too-late", "lovense", "ble", too_late, LOVENSE_LOST),
    Case("no-answer", "lovense", "ble", mute, LOVENSE_LOST),
    Case("refused", "lovense", "ble", refuse, Expect("finished", AT_THE_END, LOVENSE_ERR)),
    Case("motor-fault", "lovense", "ble", motor, Expect("finished", ENDS_AT_ONCE, LOVENSE_ERR)),
    Case(
        "low-battery",
        "lovense",
        "ble",
        low_battery,
        unnoticed("the host reads the battery only when it connects (and on a status request)"),
    ),
    Case(
        "battery-empty",
        "lovense",
        "ble",
        battery_empty,
        Expect("finished", ENDS_AT_ONCE, LOVENSE_ERR),
    ),
    Case(
        "no-answer-at-connect",
        "lovense",
        "ble",
        mute,
        Expect("LinkLost", 0.0, error=r"no answer to DeviceType within 1 s"),
        phase="connect",
    ),
    Case(
        "low-battery-at-connect",
        "lovense",
        "ble",
        low_battery,
        Expect("finished", AT_THE_END, (("warning", r"battery low \(15 %\)"),)),
        phase="connect",
    ),
    Case(
        "motor-fault-at-connect",
        "lovense",
        "ble",
        motor,
        Expect(
            "DeviceFault",
            0.0,
            (("refused", r"answered Vibrate:\d+ with ERR"), ("fault", "REFUSED")),
            error=r"REFUSED — 3 commands refused in a row",
        ),
        phase="connect",
    ),
]

RONGTAI = [
    Case(
        "link-drop",
        "rongtai",
        "ble",
        drop,
        Expect("LinkLost", RECONNECT_BY, (("lost", "the device disconnected"),), "link lost"),
    ),
    Case("late-answer", "rongtai", "ble", late, unnoticed(NO_ANSWER_EXPECTED)),
    Case("too-late", "rongtai", "ble", too_late, unnoticed(NO_ANSWER_EXPECTED)),
    Case("no-answer", "rongtai", "ble", mute, unnoticed(NO_ANSWER_EXPECTED)),
    Case(
        "refused",
        "rongtai",
        "ble",
        refuse,
        unnoticed(
            "a chair cannot refuse: it ignores the key, and its next status (each second) shows "
            "what it kept"
        ),
    ),
    Case(
        "overheat",
        "rongtai",
        "ble",
        overheat,
        Expect("finished", AT_THE_END, (("warning", "HEAT_OFF_BY_DEVICE"),)),
    ),
    Case("motor-fault", "rongtai", "ble", motor, fault_ends("STOPPED_BY_DEVICE")),
    Case("auto-off", "rongtai", "ble", auto_off_in_10s, AUTO_OFF_RESTARTED, at=FAULT_AT - 10),
    Case(
        "no-answer-at-connect",
        "rongtai",
        "ble",
        mute,
        unnoticed("a chair in standby says nothing anyway, and the host needs no answer"),
        phase="connect",
    ),
    Case(
        "motor-fault-at-connect",
        "rongtai",
        "ble",
        motor,
        # The chair ignores the massage keys and runs the heat alone; when the program switches
        # the heat off it has nothing left to run and goes to standby by itself.
        fault_ends("STOPPED_BY_DEVICE", rest_by=EASE_AT + 0.5),
        phase="connect",
    ),
]


def _no_heater(d: SimulatedDevice) -> None:
    d.faults.overheat()


def _no_battery(d: SimulatedDevice) -> None:
    d.faults.low_battery()


def _no_auto_off(d: SimulatedDevice) -> None:
    d.faults.auto_off_in(10)


BLE_ONLY = (
    "reached over BLE only, whose link layer checks every packet (CRC-24) and sends a broken "
    "one again: bytes arrive whole or not at all"
)

NOT_APPLICABLE = [
    NotApplicable("garbled", "theragun", BLE_ONLY),
    NotApplicable("garbled-burst", "theragun", BLE_ONLY),
    NotApplicable("garbled", "rongtai", BLE_ONLY),
    NotApplicable("garbled-burst", "rongtai", BLE_ONLY),
    NotApplicable("overheat", "theragun", "no heater", _no_heater, "no heater cut-out"),
    NotApplicable("overheat", "lovense", "no heater", _no_heater, "no heater cut-out"),
    NotApplicable("auto-off", "theragun", "no auto-off documented", _no_auto_off, "no auto-off"),
    NotApplicable("auto-off", "lovense", "no auto-off documented", _no_auto_off, "no auto-off"),
    NotApplicable("low-battery", "rongtai", "mains powered", _no_battery, "not battery powered"),
    NotApplicable("battery-empty", "rongtai", "mains powered", _no_battery, "not battery powered"),
    NotApplicable(
        "low-battery-at-connect", "rongtai", "mains powered", _no_battery, "not battery powered"
    ),
]

CASES = [*omp_cases("inproc"), *omp_cases("pty"), *THERAGUN, *LOVENSE, *RONGTAI]
FAULTS = list(dict.fromkeys(c.fault for c in CASES))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_fault_ends_in_a_known_state_the_person_is_told(case: Case) -> None:
    profile = case.profile or PROFILES[case.family]
    run = await run_with_fault(profile, case.link, case.inject, at=case.at, phase=case.phase)
    check_known_state(case, run)
    check_journal_complete(run)


#: Scheduler events the journal records one for one.
JOURNALED = ("step", "refused", "lost", "reconnected", "safety", "warning")


def check_journal_complete(run: FaultRun) -> None:
    """(c) the journal holds the run, ended with how it ended, and every event told."""
    if run.journal is None:
        assert run.error is not None, "no journal record, yet the run started"
        return  # the fault struck at connect: no run began, nothing to journal
    record = run.journal
    assert record.ended_at is not None
    if run.error is None:
        expected = run.outcome
    else:
        expected = "lost" if isinstance(run.error, LinkLost) else "error"
    assert record.outcome == expected, (record.outcome, run.error)
    if run.error is not None:
        assert str(run.error) in record.detail
    for kind in JOURNALED:
        told = sum(1 for e in run.events if event_name(e) == kind)
        kept = sum(1 for e in run.journal_events if e.kind == kind)
        assert kept == told, f"{kind}: {told} told, {kept} in the journal"


def check_known_state(case: Case, run: FaultRun) -> None:
    """(a) the device at rest, by its own record, from the documented time on; (b) the person
    told what the matrix says, and nothing else."""
    expect = case.expect
    state = run.final
    assert (state.speed, state.heat, state.program) == (0, 0, 0), f"not at rest: {state}"
    rest = run.at_rest_from()
    assert rest is not None, f"never at rest for good: {run.states[-6:]}"
    assert rest <= expect.rest_by + 1e-6, (
        f"at rest only from {rest} s, documented by {expect.rest_by} s: {run.states[-6:]}"
    )

    if expect.running_again_by is not None:
        off = [s for s in run.states if s.cause == "auto-off"]
        assert off, "the device never switched itself off"
        assert off[0].t - run.origin == pytest.approx(FAULT_AT)
        assert run.state_at(expect.running_again_by).active, "not started again"

    if expect.ends == "finished":
        assert run.error is None, f"the run failed: {run.error}"
        assert run.outcome == "finished"
    else:
        assert run.error is not None, f"expected {expect.ends}, the run {run.outcome}"
        assert type(run.error).__name__ == expect.ends, repr(run.error)
        assert re.search(expect.error, str(run.error)), str(run.error)
        # The person is told which device: every message names it.
        assert run.name in str(run.error)

    told = run.told()
    for kind, pattern in expect.told:
        assert any(event_name(e) == kind and re.search(pattern, e.message) for e in told), (
            f"not told {kind} /{pattern}/: {[(event_name(e), e.message) for e in told]}"
        )
    for event in told:
        assert any(
            event_name(event) == kind and re.search(pattern, event.message)
            for kind, pattern in expect.told
        ), f"told more than documented: {event_name(event)}: {event.message}"
    if not expect.told and expect.ends == "finished":
        # Nothing to tell, or no way for the host to know: the matrix must say which.
        assert expect.why, case.id


@pytest.mark.parametrize("cell", NOT_APPLICABLE, ids=lambda c: c.id)
async def test_fault_that_cannot_happen_on_a_family_is_refused_by_the_simulator(
    cell: NotApplicable,
) -> None:
    device = SimulatedDevice(PROFILES[cell.family])
    assert cell.why
    if cell.attempt is None:
        # Garbling is for links that carry bytes unchecked: serial lines.
        assert device.profile.transports == ["ble"], cell.why
        return
    with pytest.raises(ValueError, match=cell.refusal):
        cell.attempt(device)


def test_every_fault_is_covered_on_every_family_or_marked_not_applicable() -> None:
    covered = {(c.fault, c.family) for c in CASES} | {(n.fault, n.family) for n in NOT_APPLICABLE}
    missing = [(f, fam) for f in FAULTS for fam in PROFILES if (f, fam) not in covered]
    assert not missing
    # OMP/1 runs in process and over a real pty, every fault.
    for link in ("inproc", "pty"):
        assert {c.fault for c in CASES if c.family == "omp" and c.link == link} == set(FAULTS)


def _doc_table() -> dict[str, dict[str, str]]:
    text = (Path(__file__).parents[2] / "docs" / "faults.md").read_text(encoding="utf-8")
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "fault":
            # "OMP/1" -> "omp": the family's name, as the matrix has it.
            header = [re.sub(r"[^a-z].*", "", c.lower()) for c in cells[1:]]
            continue
        m = re.fullmatch(r"`([a-z-]+)`", cells[0])
        if m and header:
            rows[m[1]] = dict(zip(header, cells[1:], strict=True))
    return rows


def test_the_documented_matrix_matches_the_tested_one() -> None:
    table = _doc_table()
    assert set(table) == set(FAULTS), "docs/faults.md lists other faults than the matrix"
    not_applicable = {(n.fault, n.family) for n in NOT_APPLICABLE}
    for fault, row in table.items():
        for family in PROFILES:
            cell = row[family]
            if (fault, family) in not_applicable:
                assert cell.startswith("n/a"), f"{fault} on {family} is not applicable: {cell}"
            else:
                assert not cell.startswith("n/a"), f"{fault} on {family} is tested: {cell}"
