"""The vectorised decoder against the firmware's own frame checks (``wire.check``) and a pure-Python reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import refdecode
from _hostframes import Stream, data_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perifacial.firmware import wire
from perifacial.host.decoder import Decoder, codes_to_uv, lsb_uv


def decode_all(data: bytes, chunk: int | None = None):
    d = Decoder()
    blocks, other = [], []
    step = chunk or max(1, len(data))
    for i in range(0, len(data), step):
        r = d.feed(data[i : i + step])
        blocks += r.blocks
        other += r.responses + r.statuses + r.events + r.logs
    r = d.flush()
    blocks += r.blocks
    other += r.responses + r.statuses + r.events + r.logs
    return d, blocks, other


def samples_of(blocks) -> dict[int, list[int]]:
    out = {}
    for b in blocks:
        for k in range(b.n):
            out[(b.first_sample + k) & 0xFFFFFFFF] = b.codes[:, k].tolist()
    return out


def test_clean_stream_exact_in_any_chunking():
    s = Stream(3000, per_frame=10, seed=3, leadoff_every=5)
    for chunk in (None, 1, 7, 836, 4096):
        d, blocks, other = decode_all(s.data, chunk)
        codes = np.concatenate([b.codes for b in blocks], axis=1)
        status = np.concatenate([b.status for b in blocks], axis=1)
        assert np.array_equal(codes, s.codes)
        assert np.array_equal(status, s.status)
        st_ = d.stats
        assert st_.frames == len(s.frames)
        assert st_.data_frames == s.kinds.count(wire.T_DATA)
        assert st_.responses == st_.status_frames == st_.events == st_.logs == s.kinds.count(wire.T_LOG)
        assert (st_.crc_errors, st_.truncated, st_.resyncs, st_.skipped_bytes, st_.seq_gaps, st_.sample_gaps) == (
            0,
        ) * 6
        assert st_.samples == 3000 and st_.bytes_in == len(s.data) and st_.status_misaligned == 0
        assert blocks[0].first_sample == 0


def test_leadoff_bits_and_uv_conversion():
    codes = np.zeros((24, 2), dtype=np.int64)
    codes[0] = [1, -1]
    codes[23] = [(1 << 23) - 1, -(1 << 23)]
    status = np.full((3, 2), 0xC00000, dtype=np.int64)
    status[1, 0] |= 1 << (12 + 2)  # chip 1, LOFF_STATP bit 2 -> channel 10
    status[2, 1] |= 1 << (4 + 7)  # chip 2, LOFF_STATN bit 7 -> channel 23
    d = Decoder()
    (b,) = d.feed(data_frame(0, 5, codes, status)).blocks
    assert b.first_sample == 5
    assert np.array_equal(b.codes, codes)
    lp, ln = b.leadoff_p, b.leadoff_n
    assert lp.sum() == 1 and lp[10, 0] and ln.sum() == 1 and ln[23, 1]
    assert b.leadoff_channels.tolist() == [i in (10, 23) for i in range(24)]
    # [channels, n] like SampleBlock.leadoff
    assert b.leadoff.shape == (24, 2) and b.leadoff.sum() == 2 and b.leadoff[10, 0] and b.leadoff[23, 1]
    uv = codes_to_uv(b.codes, [24] * 24)
    assert uv[0, 0] == pytest.approx(2 * 4.5e6 / 24 / 2**24)
    assert uv[23, 1] == pytest.approx(-4.5e6 / 24)  # -full scale = -VREF/gain
    assert lsb_uv(1) == pytest.approx(9e6 / 2**24)


def test_misaligned_status_and_device_flags_counted():
    codes = np.zeros((24, 3), dtype=np.int64)
    status = np.full((3, 3), 0xC00000, dtype=np.int64)
    status[0, 1] = 0x400000  # lost the 0xC nibble
    f = data_frame(0, 0, codes, status, flags=wire.FLAG_OVERRUN | wire.FLAG_STATUS_ERROR)
    d = Decoder()
    d.feed(f)
    assert d.stats.status_misaligned == 1
    assert d.stats.overrun_frames == 1 and d.stats.device_status_errors == 1


def test_sequence_and_sample_gaps_with_u32_wrap():
    first = (1 << 32) - 15
    s = Stream(60, per_frame=10, seed=1, first_sample=first, seq0=(1 << 32) - 3, extras=False)
    frames = list(s.frames)
    del frames[3]  # lose one frame: 10 samples, 1 sequence number
    d, blocks, _ = decode_all(b"".join(frames))
    assert d.stats.seq_gaps == 1 and d.stats.lost_frames == 1
    assert d.stats.sample_gaps == 1 and d.stats.lost_samples == 10
    assert blocks[0].first_sample == first
    assert [b.first_sample for b in blocks] == [first, first + 40]
    assert blocks[-1].stop_sample == first + 60  # unwrapped past 2**32
    assert d.stats.seq_repeats == 0 and d.stats.sample_repeats == 0


def test_duplicates_and_reordering_are_counted():
    s = Stream(50, per_frame=10, seed=2, extras=False)
    f = s.frames
    data = f[0] + f[1] + f[1] + f[3] + f[2] + f[4]
    d, blocks, _ = decode_all(data)
    assert d.stats.frames == 6
    assert d.stats.seq_repeats == 2  # the duplicate and the late frame
    assert d.stats.sample_repeats == 2
    assert samples_of(blocks) == {k: s.codes[:, k].tolist() for k in range(50)}


def test_non_data_frames():
    frames = [
        wire.encode(wire.T_RESPONSE, 0, json.dumps({"id": 7, "ok": True, "x": [1, 2]}).encode()),
        wire.encode(wire.T_STATUS, 1, wire.pack_status(list(range(1, 10)))),
        wire.encode(wire.T_EVENT, 2, wire.pack_event(wire.EV_DISPLAY, 42, 1000, 77)),
        wire.encode(wire.T_LOG, 3, bytes([wire.LOG_WARNING]) + "ohm \u03a9".encode()),
        wire.encode(wire.T_RESPONSE, 4, b"not json"),
    ]
    d = Decoder()
    r = d.feed(b"".join(frames))
    assert r.responses[0]["id"] == 7 and r.responses[0]["x"] == [1, 2]
    assert r.statuses[0].values == dict(zip(wire.STATUS_FIELDS, range(1, 10)))
    ev = r.events[0]
    assert (ev.kind, ev.value, ev.sample, ev.device_time_us) == (wire.EV_DISPLAY, 42, 1000, 77)
    assert r.logs[0].level == wire.LOG_WARNING and r.logs[0].text == "ohm \u03a9"
    assert d.stats.malformed == 1 and d.stats.frames == 5


def test_resync_within_one_frame_after_garbage():
    s = Stream(100, per_frame=10, seed=4, extras=False)
    garbage = bytes([0xA5, 0x5A, 1, 1, 0xFF, 0x00]) + b"\xa5\x5a" * 3 + bytes(range(50))
    data = s.frames[0] + garbage + b"".join(s.frames[1:])
    d, blocks, _ = decode_all(data, chunk=13)
    assert samples_of(blocks) == {k: s.codes[:, k].tolist() for k in range(100)}
    assert d.stats.resyncs == 1 and d.stats.skipped_bytes == len(garbage)


def test_truncated_frame_is_counted_and_the_next_one_recovered():
    s = Stream(30, per_frame=10, seed=5, extras=False)
    data = s.frames[0] + s.frames[1][:200] + s.frames[2]
    d, blocks, _ = decode_all(data)
    assert d.stats.truncated == 1 and d.stats.crc_errors == 0
    assert [b.first_sample for b in blocks] == [0, 20]
    assert d.stats.lost_samples == 10 and d.stats.seq_gaps == 1
    # a truncated tail at the end of the stream is counted by flush()
    d2 = Decoder()
    d2.feed(s.frames[0] + s.frames[1][:-3])
    assert d2.pending == len(s.frames[1]) - 3
    d2.flush()
    assert d2.stats.truncated == 1 and d2.pending == 0


def test_bit_flip_is_a_crc_error():
    s = Stream(30, per_frame=10, seed=6, extras=False)
    bad = bytearray(s.frames[1])
    bad[100] ^= 0x10
    d, blocks, _ = decode_all(s.frames[0] + bytes(bad) + s.frames[2])
    assert d.stats.crc_errors == 1 and d.stats.truncated == 0
    assert [b.first_sample for b in blocks] == [0, 20]


def _reference_view(data: bytes):
    frames, samples = refdecode.decode_stream(data)
    return frames, samples


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.integers(3, 600))
def test_random_bytes_never_raise(data, chunk):
    d, blocks, other = decode_all(data, chunk)
    assert d.stats.bytes_in == len(data)
    frames, _ = _reference_view(data)
    assert d.stats.frames == len(frames)


_OPS = st.sampled_from(["keep", "keep", "keep", "flip", "truncate", "duplicate", "swap", "garbage", "drop"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(_OPS, min_size=5, max_size=25),
    per_frame=st.integers(1, 12),
    chunk=st.integers(16, 4000),
    rnd=st.randoms(use_true_random=False),
)
def test_damaged_streams_recover_every_intact_frame(ops, per_frame, chunk, rnd):
    s = Stream(len(ops) * per_frame, per_frame=per_frame, seed=rnd.randint(0, 1000), extras=False)
    frames = list(s.frames)
    out = []
    intact = set()  # indices of frames that reach the stream unmodified
    damaged = 0
    i = 0
    while i < len(frames):
        op = ops[i % len(ops)]
        f = frames[i]
        if op == "flip":
            b = bytearray(f)
            pos = rnd.randrange(len(b))
            b[pos] ^= 1 << rnd.randrange(8)
            out.append(bytes(b))
            damaged += 1
        elif op == "truncate":
            out.append(f[: rnd.randrange(1, len(f))])
            damaged += 1
        elif op == "duplicate":
            out += [f, f]
            intact.add(i)
        elif op == "swap" and i + 1 < len(frames):
            out += [frames[i + 1], f]
            intact.update((i, i + 1))
            i += 1
        elif op == "garbage":
            out += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))) + b"\xa5\x5a\x01", f]
            intact.add(i)
        elif op == "drop":
            pass
        else:
            out.append(f)
            intact.add(i)
        i += 1
    data = b"".join(out)
    d, blocks, _ = decode_all(data, chunk)
    got = samples_of(blocks)
    # every intact frame recovered, bit-exact
    for k in intact:
        s0 = k * per_frame
        for j in range(s0, min(s0 + per_frame, s.codes.shape[1])):
            assert got[j] == s.codes[:, j].tolist()
    # identical to the byte-by-byte reference decoder
    frames_ref, samples_ref = _reference_view(data)
    assert d.stats.frames == len(frames_ref)
    assert got == samples_ref
    # damage is accounted: every modified frame shows up somewhere
    st_ = d.stats
    if damaged:
        assert st_.crc_errors + st_.truncated + st_.skipped_bytes > 0
    nbytes = sum(len(f.payload) + wire.OVERHEAD for f in frames_ref)
    assert st_.skipped_bytes == len(data) - nbytes


def test_bogus_long_header_does_not_hide_the_frames_behind_it():
    s = Stream(20, per_frame=10, seed=8, extras=False)
    bogus = wire.MAGIC + bytes([wire.VERSION, wire.T_DATA]) + (8000).to_bytes(2, "little") + bytes(4)
    d = Decoder()
    got = d.feed(s.frames[0]).blocks
    got += d.feed(bogus + s.frames[1]).blocks  # held: the bogus header might still complete
    got += d.flush().blocks  # end of stream: it cannot, so the frame behind it is decoded
    assert [b.first_sample for b in got] == [0, 10]
    assert d.stats.truncated == 1 and d.stats.skipped_bytes == len(bogus)
