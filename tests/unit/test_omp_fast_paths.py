"""The OMP/1 codec's fast paths give exactly what the plain paths they short-cut gave.

The frame decoder splits a chunk on its delimiters and decodes a whole frame without copying it
through its buffer; :func:`omp.fault_names` and :func:`omp.parse_device_frame` look up tables.
Each is checked here against a plain rendering of the rule it implements, on any bytes cut into
any chunks.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from massagectl.errors import ProtocolError
from massagectl.protocols import omp


class PlainDecoder:
    """The decoder as it was before its fast path: run by run and delimiter by delimiter, all
    through its buffer (a run is what one chunk holds between two delimiters)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.discarding = False

    def feed(self, data: bytes) -> list[omp.Frame | omp.BadFrame]:
        out: list[omp.Frame | omp.BadFrame] = []
        for piece in _runs_and_delimiters(data):
            if piece == b"\x00":
                if self.discarding:
                    self.discarding = False
                elif self.buf:
                    out.append(omp._decode_block(bytes(self.buf)))
                self.buf.clear()
                continue
            if self.discarding:
                continue
            self.buf += piece
            if len(self.buf) > omp.MAX_UNDELIMITED:
                out.append(omp.BadFrame("more than 32 bytes without a delimiter", bytes(self.buf)))
                self.buf.clear()
                self.discarding = True
        return out


def _runs_and_delimiters(data: bytes) -> list[bytes]:
    pieces: list[bytes] = []
    run = bytearray()
    for byte in data:
        if byte == 0:
            if run:
                pieces.append(bytes(run))
                run.clear()
            pieces.append(b"\x00")
        else:
            run.append(byte)
    if run:
        pieces.append(bytes(run))
    return pieces


frames = st.builds(
    lambda t, seq, payload: omp.Frame(t, seq, payload).encode(),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=omp.MAX_PAYLOAD),
)
#: Good frames, garbage, stray delimiters and over-long runs, in any mix.
streams = st.lists(
    st.one_of(frames, st.binary(max_size=40), st.just(b"\x00"), st.binary(min_size=33)),
    max_size=12,
).map(b"".join)


@given(streams, st.lists(st.integers(1, 50), max_size=20))
def test_decoder_matches_the_plain_decoder_on_any_chunking(data: bytes, cuts: list[int]) -> None:
    fast, plain = omp.FrameDecoder(), PlainDecoder()
    got: list[omp.Frame | omp.BadFrame] = []
    want: list[omp.Frame | omp.BadFrame] = []
    start = 0
    for cut in [*cuts, len(data)]:
        chunk = data[start : start + cut]
        start += cut
        got += fast.feed(chunk)
        want += plain.feed(chunk)
    got += fast.feed(data[start:])
    want += plain.feed(data[start:])
    assert got == want
    assert fast.pending == len(plain.buf)


@given(st.integers(0, 0x1FF))
def test_fault_names_match_the_flag_bits(faults: int) -> None:
    # Every bit set is named, those the protocol does not define by their number.
    plain = [
        omp.Fault(1 << bit).name if 1 << bit in iter(omp.Fault) else f"FAULT_BIT{bit}"
        for bit in range(faults.bit_length())
        if faults >> bit & 1
    ]
    assert omp.fault_names(faults) == plain
    assert omp.fault_names(omp.Fault(faults)) == plain  # the cached answer, as an IntFlag key


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=omp.MAX_PAYLOAD))
def test_parsed_device_frames_match_the_enum_calls(type_: int, seq: int, payload: bytes) -> None:
    frame = omp.Frame(type_, seq, payload)
    try:
        message = omp.parse_device_frame(frame)
    except ProtocolError:
        if type_ == omp.MsgType.ACK and len(payload) == 1:
            assert payload[0] not in {int(c) for c in omp.AckCode}
        return
    if isinstance(message, omp.Ack):
        assert message.code is omp.AckCode(payload[0])
    elif isinstance(message, omp.Status):
        assert message.faults == omp.Fault(payload[6])
        assert type(message.faults) is omp.Fault
