"""A bad link: lost frames are sent again, a silent device is given up on, noise is survived."""

from __future__ import annotations

import asyncio
import time

import pytest

from massagectl.device import Massager
from massagectl.errors import LinkLost
from massagectl.protocols.omp import Frame, MsgType
from massagesim import SimulatedDevice

from .support import FaultyLink, wait_until


async def test_a_lost_frame_is_sent_again_with_the_same_seq() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        link.drop_sends(MsgType.SET_SPEED, times=1)
        async with Massager(link, dev.profile) as m:
            started = time.monotonic()
            assert await m.set_speed(0.5) == 5
            assert time.monotonic() - started >= 0.45  # the answer came on the retry
            first, retry = link.frames_of(MsgType.SET_SPEED)
            assert first.dropped
            assert not retry.dropped
            assert retry.wire == first.wire  # same SEQ, same bytes
            assert 0.45 <= retry.t - first.t <= 0.7
            received = [c for c in dev.timeline.commands() if c.type == "SET_SPEED"]
            assert [(c.seq, c.value, c.retry) for c in received] == [(first.frame.seq, 5, False)]
            assert dev.state.speed == 5


async def test_a_lost_answer_is_answered_again_without_applying_twice() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        link.drop_answers_to(MsgType.RUN_PROGRAM, times=1)
        async with Massager(link, dev.profile) as m:
            await m.run_program(3)
            first, retry = link.frames_of(MsgType.RUN_PROGRAM)
            assert retry.wire == first.wire
            received = [c for c in dev.timeline.commands() if c.type == "RUN_PROGRAM"]
            assert [(c.seq, c.retry) for c in received] == [
                (first.frame.seq, False),
                (first.frame.seq, True),
            ]
            # Applied once: one program start, not a second restart by the retry.
            starts = [s for s in dev.timeline.states() if s.cause == "RUN_PROGRAM"]
            assert len(starts) == 1
            assert dev.state.program == 3


async def test_a_device_that_never_answers_fails_connect_naming_hello() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        link.silent = True
        m = Massager(link, dev.profile)
        started = time.monotonic()
        with pytest.raises(LinkLost, match="no answer to HELLO after 3 tries"):
            await m.connect()
        elapsed = time.monotonic() - started
        assert 1.45 <= elapsed <= 2.0
        hellos = link.frames_of(MsgType.HELLO)
        assert len(hellos) == 3  # the first try and two retries, no more
        assert {h.wire for h in hellos} == {hellos[0].wire}
        assert link.is_lost  # the link was closed again


async def test_a_device_that_stops_answering_is_given_up_on() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            await m.set_speed(0.3)
            link.silent = True
            started = time.monotonic()
            with pytest.raises(LinkLost, match="no answer to SET_SPEED"):
                await m.set_speed(0.5)
            assert 1.45 <= time.monotonic() - started <= 2.0
            assert m.link_lost.is_set()
            assert not m.state.connected
            with pytest.raises(LinkLost):  # later commands fail at once
                await m.set_heat("low")
            sent_before_exit = len(link.sent)
        # No STOP on exit through a link already known to be dead.
        assert len(link.sent) == sent_before_exit


async def test_closing_with_a_command_in_flight_fails_it_instead_of_hanging() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        link.drop_sends(MsgType.SET_SPEED)  # every try is lost: the command stays in flight
        async with Massager(link, dev.profile) as m:
            m.release()
            pending = asyncio.create_task(m.set_speed(0.5))
            await wait_until(lambda: bool(link.frames_of(MsgType.SET_SPEED)))
        with pytest.raises(LinkLost, match="closed"):
            await asyncio.wait_for(pending, 1.0)


async def test_garbage_from_the_device_is_counted_and_the_session_goes_on() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            link.inject(b"\x05\x11\x22\x33\x44\x00")  # a block with a wrong CRC
            link.inject(b"\xff" * 40 + b"\x00")  # a run of noise without a delimiter
            link.inject(Frame(0x42, 0).encode())  # a sound frame that is no device message
            link.inject(b"\x00\x00")  # empty blocks clear a line; they are not errors
            assert await m.set_speed(0.5) == 5
            assert m.bad_frames == 3
            assert dev.state.speed == 5
            assert m.state.speed == 5
            assert not m.link_lost.is_set()


async def test_noise_that_spoils_an_answer_costs_one_retry() -> None:
    async with SimulatedDevice("omp-wand-heat") as dev:
        link = FaultyLink(dev)
        async with Massager(link, dev.profile) as m:
            link.inject(b"\x13\x37")  # no delimiter: it runs into the next answer
            assert await m.set_speed(0.5) == 5
            assert m.bad_frames == 1
            received = [c for c in dev.timeline.commands() if c.type == "SET_SPEED"]
            assert [c.retry for c in received] == [False, True]
            assert dev.state.speed == 5
            await m.set_heat("high")  # and the line is clean again
            assert m.bad_frames == 1
