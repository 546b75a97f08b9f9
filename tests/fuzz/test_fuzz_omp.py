"""OMP/1, fuzzed on both sides: whatever bytes arrive, nothing breaks.

Host side: :class:`FrameDecoder`, :meth:`OmpHost.receive`, :func:`parse_device_frame` and the
host driver's ``feed``. Device side: the simulator firmware's ``receive`` (the same frame
decoder, then its command handling). Nothing raises (``parse_device_frame`` raises only
``ProtocolError``, as documented), every item has a documented type, the delimiter ``0x00`` (the
host's resync byte) puts a decoder back in step after any garbage, and the simulated device
never leaves its profile's range nor sends a frame the host cannot read.
"""

from __future__ import annotations

from functools import partial

from hypothesis import given

from massagectl.clock import MonotonicClock
from massagectl.device_types import DeviceState
from massagectl.drivers.omp import OmpDriver
from massagectl.errors import ProtocolError
from massagectl.profiles import all_profiles, get_profile
from massagectl.protocols import omp
from massagesim import OmpFirmware

from .support import FUZZ, WAIT, NoWrites, fuzz_bytes, outcome, padded, script, wait_s

_DEVICE_LEN = {omp.MsgType.ACK: 1, omp.MsgType.INFO: 7, omp.MsgType.STATUS: 9}
_DEVICE_TYPES = tuple(_DEVICE_LEN)
_HOST_LEN = {
    omp.MsgType.HELLO: 1,
    omp.MsgType.SET_SPEED: 1,
    omp.MsgType.SET_HEAT: 1,
    omp.MsgType.RUN_PROGRAM: 1,
    omp.MsgType.STOP: 0,
    omp.MsgType.GET_STATUS: 0,
    omp.MsgType.PING: 0,
}
_HOST_TYPES = tuple(_HOST_LEN)
#: Good device frames, one of which follows the garbage.
_LAST_FRAMES = (
    omp.Status(0, 3, 1, 0, 360, 80, omp.Fault.OVERHEAT, 900).to_frame(),
    omp.Info(7, 1, 13, 2, 7, 60, 30, 0b11).to_frame(),
    omp.Frame(omp.MsgType.ACK, 9, bytes((omp.AckCode.REFUSED_FAULT,))),
)
OMP_MODELS = [p.name for p in all_profiles() if p.protocol == "omp" and p.simulatable]


def _frame_wire(op: int, frame: omp.Frame) -> bytes:
    """A frame as sent (op 14: one byte flipped; op 15: its delimiter missing)."""
    wire = frame.encode()
    if op == 14:
        i = frame.seq % (len(wire) - 1)
        return wire[:i] + bytes((wire[i] ^ 0x5A,)) + wire[i + 1 :]
    return wire[:-1] if op == 15 else wire


def _to_host(op: int, arg: bytes) -> bytes:
    """What a broken device might send, for one script step: garbage or frames of any kind."""
    if op <= 5:
        return arg
    kind, seq = padded(arg, 2)
    if op <= 11:
        type_ = _DEVICE_TYPES[kind % len(_DEVICE_TYPES)]
        return _frame_wire(op, omp.Frame(type_, seq, padded(arg[2:], _DEVICE_LEN[type_])))
    return _frame_wire(op, omp.Frame(kind, seq, arg[2 : 2 + omp.MAX_PAYLOAD]))


def _to_device(op: int, arg: bytes) -> bytes:
    """What a broken host might send, for one script step: garbage or frames of any kind."""
    if op <= 5:
        return arg
    kind, seq, value = padded(arg, 3)
    if op <= 11:
        type_ = _HOST_TYPES[kind % len(_HOST_TYPES)]
        # Mostly values near the devices' ranges; ops 10 and 11 any byte.
        payload = bytes((value if op >= 10 else value % 16,)) + arg[3:]
        return _frame_wire(op, omp.Frame(type_, seq, padded(payload, _HOST_LEN[type_])))
    return _frame_wire(op, omp.Frame(kind, seq, arg[2 : 2 + omp.MAX_PAYLOAD]))


def _check_message(item: object) -> None:
    assert isinstance(item, omp.Ack | omp.Info | omp.Status)
    assert 0 <= item.seq <= 0xFF
    if isinstance(item, omp.Ack):
        assert isinstance(item.code, omp.AckCode)
    elif isinstance(item, omp.Status):
        assert isinstance(item.faults, omp.Fault)
        assert all(isinstance(n, str) for n in omp.fault_names(item.faults))
        assert item.temperature_c is None or isinstance(item.temperature_c, float)
        assert item.battery_percent is None or 0 <= item.battery_percent < omp.MAINS
    else:
        assert isinstance(item.watchdog_s, float)


def _check_state(state: DeviceState) -> None:
    for level in (state.speed, state.heat, state.program):
        assert isinstance(level, int)
        assert 0 <= level <= 0xFF
    assert all(isinstance(f, str) for f in state.faults)
    assert 0 <= state.remaining_s <= 0xFFFF


def host_side(data: bytes, cut: int) -> None:
    """The host's decoders and driver, fed what a broken device might send."""
    chunks = [_to_host(op, arg) for op, arg in script(data) if op != WAIT]
    stream = b"".join(chunks)

    # The frame decoder: how the bytes are cut changes nothing (but the diagnostics).
    whole = omp.FrameDecoder().feed(stream)
    decoder = omp.FrameDecoder()
    pieces = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    assert decoder.pending <= omp.MAX_UNDELIMITED
    assert [i for i in pieces if isinstance(i, omp.Frame)] == [
        i for i in whole if isinstance(i, omp.Frame)
    ]
    for item in pieces:
        if isinstance(item, omp.BadFrame):
            assert item.reason
            assert isinstance(item.data, bytes)
            continue
        assert isinstance(item, omp.Frame)
        assert len(item.payload) <= omp.MAX_PAYLOAD
        # ProtocolError is the one exception it documents.
        message = outcome(partial(omp.parse_device_frame, item), ProtocolError)
        if isinstance(message, ProtocolError):
            assert str(message).startswith("OMP/1 frame type")
        else:
            _check_message(message)

    # The host's receive and the driver's feed, chunk by chunk.
    host = omp.OmpHost()
    states: list[DeviceState] = []
    driver = OmpDriver(NoWrites(), get_profile("omp"), MonotonicClock(), "fuzz", states.append)
    for chunk in chunks:
        for received in host.receive(chunk):
            if not isinstance(received, omp.BadFrame):
                _check_message(received)
        driver.feed(chunk)
    for state in states:
        _check_state(state)

    # After the resync byte the next frame is read, whatever came before.
    last = _LAST_FRAMES[len(data) % len(_LAST_FRAMES)]
    assert decoder.feed(omp.RESYNC + last.encode())[-1] == last
    assert host.receive(omp.RESYNC + last.encode())[-1] == omp.parse_device_frame(last)
    driver.feed(omp.RESYNC + _LAST_FRAMES[0].encode())
    assert (driver.state.speed, driver.state.heat, driver.state.faults) == (3, 1, ("OVERHEAT",))


def _in_range(fw: OmpFirmware) -> None:
    s, p = fw.state, fw.profile
    assert 0 <= s.speed <= p.speed_levels
    assert 0 <= s.heat <= p.heat_levels
    assert 0 <= s.program <= len(p.capabilities.programs)


def device_side(model: str, data: bytes) -> None:
    """The simulated device, fed what a broken host might send, with time passing."""
    fw = OmpFirmware(model, 0.0)
    reader = omp.OmpHost()
    now = 0.0
    for op, arg in script(data):
        if op == WAIT:
            now += wait_s(arg)
            out = fw.tick(now)
        else:
            out = fw.receive(_to_device(op, arg), now)
        # The device only ever sends frames a host can read.
        for item in reader.receive(out):
            assert not isinstance(item, omp.BadFrame), item
            _check_message(item)
        _in_range(fw)

    # After the resync byte the device is back in step: it takes a command and answers it.
    p = fw.profile
    wanted = omp.MsgType.SET_SPEED if p.speed_levels else omp.MsgType.SET_HEAT
    level = 1 + len(data) % (p.speed_levels or p.heat_levels)
    out = fw.receive(
        omp.RESYNC
        + omp.Frame(omp.MsgType.PING, 0xFD).encode()  # so that the next is no retry
        + omp.Frame(wanted, 0xFE, bytes((level,))).encode()
        + omp.Frame(omp.MsgType.GET_STATUS, 0xFF).encode(),
        now + 0.1,
    )
    answers = {m.seq: m for m in reader.receive(out) if not isinstance(m, omp.BadFrame)}
    assert answers[0xFD] == omp.Ack(0xFD, omp.AckCode.OK)
    status = answers[0xFF]
    assert isinstance(status, omp.Status)
    if answers[0xFE] == omp.Ack(0xFE, omp.AckCode.REFUSED_FAULT):
        # The one refusal a host's bytes can cause: heat while the heater cools off.
        assert wanted is omp.MsgType.SET_HEAT
        assert omp.Fault.OVERHEAT in status.faults
    else:
        assert answers[0xFE] == omp.Ack(0xFE, omp.AckCode.OK)
        assert (status.speed if wanted is omp.MsgType.SET_SPEED else status.heat) == level
    _in_range(fw)


@FUZZ
@given(fuzz_bytes())
def test_omp_decoders_on_both_sides_survive_anything(data: bytes) -> None:
    # The model and where to cut the stream come from the data too: one draw is cheaper.
    model = OMP_MODELS[len(data) % len(OMP_MODELS)]
    cut = data[-1] if data else 0
    host_side(data, cut)
    device_side(model, data)
