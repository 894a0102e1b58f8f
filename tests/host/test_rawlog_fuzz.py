"""File fuzzer for the ``.pfr`` raw log: single-bit flips anywhere, truncations, dropped and duplicated records.

The recording is 60 s of 24-channel DATA frames at 1 kHz built straight from the wire format
(:mod:`perifacial.host.sim.frames`, pseudo-random codes), written by today's :class:`Recorder` in link-sized chunks
of random length (so frames straddle records), with markers, sync rows and the session header copies. The yardstick
is independent of the reader: from the chunking we know the file bytes of every frame, so after each mutation we
know which frames are still intact. ``load`` must never raise, never return a sample that differs from what was
sent, and recover every sample of an intact frame (goal >= 99.9 %, printed).
"""

from __future__ import annotations

import numpy as np
import pytest

from perifacial.errors import RecordingError
from perifacial.host import rawlog
from perifacial.host.recording import Recorder, load
from perifacial.host.sim.frames import synth_frames

FS = 1000.0
N = 60_000


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    sf = synth_frames(N, fs=FS, n_chips=3, per_frame=10, seed=5, first_sample=1234)
    stream = sf.stream()
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("fuzz") / "r.pfr"
    session = {"format": "perifacial-raw", "fs": FS, "labels": [f"CH{i + 1}" for i in range(24)], "gains": [24.0] * 24}
    rec = Recorder(path, session, fsync_interval=1e9, session_every=2 << 20)
    rec_stream = []  # (stream start, length, payload file offset) per raw record
    pos = 0
    t = 100.0
    while pos < len(stream):
        n = int(rng.integers(2000, 40000))
        chunk = stream[pos : pos + n]
        off = rec.writer.bytes_written + rawlog.REC_HDR_SIZE
        rec.raw(chunk, t)
        rec_stream.append((pos, len(chunk), off))
        pos += len(chunk)
        t += len(chunk) / 81000.0
        if rng.random() < 0.05:
            rec.marker(int(rng.integers(100)), "m", sample=1234 + pos // 822 * 10, host_time=t)
    rec.close({"note": "fuzz"})
    frame_len = len(sf.frames[0])
    nf = len(sf.frames)
    f_start = np.arange(nf, dtype=np.int64) * frame_len  # stream offsets
    rs = np.array([r[0] for r in rec_stream], dtype=np.int64)
    rl = np.array([r[1] for r in rec_stream], dtype=np.int64)
    ro = np.array([r[2] for r in rec_stream], dtype=np.int64)
    return dict(
        path=path,
        data=path.read_bytes(),
        codes=sf.codes,
        first=1234,
        per_frame=10,
        frame_len=frame_len,
        f_start=f_start,
        rs=rs,
        rl=rl,
        ro=ro,
    )


def _file_to_frame(R, x: int) -> int:
    """The frame whose bytes include file offset ``x`` (-1: not a payload byte)."""
    ro, rl, rs = R["ro"], R["rl"], R["rs"]
    k = int(np.searchsorted(ro, x, side="right")) - 1
    if k < 0 or x >= ro[k] + rl[k]:
        return -1
    return int((rs[k] + x - ro[k]) // R["frame_len"])


def _stream_to_file(R, s: np.ndarray) -> np.ndarray:
    k = np.searchsorted(R["rs"], s, side="right") - 1
    return R["ro"][k] + (s - R["rs"][k])


def _check(R, path, intact_frames: np.ndarray, tally: dict) -> None:
    try:
        rec = load(path, data=False)  # must not raise...
    except RecordingError:  # ...unless nothing at all is left (a file cut inside its first records)
        assert not intact_frames.any()
        return
    codes = R["codes"]
    got = np.zeros(codes.shape[1], dtype=bool)
    have = rec.valid
    for seg in rec.segments:
        cols = np.arange(seg.start, seg.stop)
        cols = cols[have[cols]]
        dev = cols - seg.start + seg.first_sample - R["first"]
        assert np.all((dev >= 0) & (dev < codes.shape[1])), "a sample index that was never sent"
        assert np.array_equal(rec.codes[:, cols], codes[:, dev]), "wrong samples returned"
        got[dev] = True
    want = np.repeat(intact_frames, R["per_frame"])
    tally["intact"] += int(want.sum())
    tally["recovered"] += int((want & got).sum())
    tally["missed_loads"] += int(bool((want & ~got).any()))


def test_fuzz_flips_truncations_drops_duplicates(recording, tmp_path):
    R = recording
    data = R["data"]
    nf = R["f_start"].size
    rng = np.random.default_rng(2026)
    p = tmp_path / "m.pfr"
    tally = {"intact": 0, "recovered": 0, "missed_loads": 0}
    # 500 single-bit flips anywhere in the file
    for _ in range(500):
        x = int(rng.integers(len(data)))
        b = bytearray(data)
        b[x] ^= 1 << int(rng.integers(8))
        p.write_bytes(b)
        intact = np.ones(nf, dtype=bool)
        fr = _file_to_frame(R, x)
        if fr >= 0:
            intact[fr] = False
        _check(R, p, intact, tally)
    # 100 random truncations, and cuts inside the first records
    last_byte = _stream_to_file(R, R["f_start"] + R["frame_len"] - 1)
    r0 = int(R["ro"][0])
    for cut in rng.integers(len(data), size=100).tolist() + [0, 3, 8, 9, 31, 32, r0 - 1, r0, r0 + 900, r0 + 5000]:
        p.write_bytes(data[:cut])
        _check(R, p, last_byte < cut, tally)
    # 50 dropped or duplicated records (raw records; 24-byte header + payload + 4-byte CRC)
    for i in range(50):
        k = int(rng.integers(1, R["ro"].size - 1))
        a = int(R["ro"][k]) - rawlog.REC_HDR_SIZE
        e = int(R["ro"][k] + R["rl"][k]) + 4
        intact = np.ones(nf, dtype=bool)
        if i % 2:
            p.write_bytes(data[:e] + data[a:e] + data[e:])
        else:
            p.write_bytes(data[:a] + data[e:])
            s0, s1 = R["rs"][k], R["rs"][k] + R["rl"][k]
            intact &= ~((R["f_start"] < s1) & (R["f_start"] + R["frame_len"] > s0))
        _check(R, p, intact, tally)
    frac = tally["recovered"] / tally["intact"]
    print(
        f"\nfuzz: recovered {tally['recovered']:,} of {tally['intact']:,} samples in intact frames "
        f"({100 * frac:.4f} %); loads missing any: {tally['missed_loads']}"
    )
    assert frac >= 0.999


def test_one_flip_in_a_length_field_loses_one_record_at_most(recording, tmp_path):
    """Issue 14, point 1: a flipped length bit used to drop the rest of the file."""
    R = recording
    b = bytearray(R["data"])
    k = R["ro"].size // 3
    b[int(R["ro"][k]) - rawlog.REC_HDR_SIZE + 4 + 3] ^= 0x01  # top byte of the length: points far past the end
    p = tmp_path / "len.pfr"
    p.write_bytes(b)
    rec = load(p, data=False)
    assert rec.stats["file_damaged"] == 1 and rec.stats["complete"]
    assert rec.gaps == [] and rec.n_samples == N  # the damaged record's frames were salvaged, nothing lost


def test_every_session_copy_damaged_still_loads_with_defaults(recording, tmp_path):
    R = recording
    b = bytearray(R["data"])
    for r in rawlog.read_records(R["path"]):
        if r.kind == rawlog.K_SESSION:
            b[r.offset + rawlog.REC_HDR_SIZE + 5] ^= 0x10  # inside the JSON payload
    p = tmp_path / "nohdr.pfr"
    p.write_bytes(b)
    rec = load(p, data=False)
    assert not rec.stats["session_header"] and rec.fs == 1000.0 and rec.labels[0] == "CH1"
    assert rec.n_samples == N and rec.gaps == []


def test_first_session_copy_damaged_uses_another(recording, tmp_path):
    R = recording
    b = bytearray(R["data"])
    b[8 + rawlog.REC_HDR_SIZE + 3] ^= 0x04  # the first session header's payload (issue 14, point 2)
    p = tmp_path / "h.pfr"
    p.write_bytes(b)
    rec = load(p, data=False)
    assert rec.stats["session_header"] and rec.stats["session_copies"] >= 2
    assert rec.info["fs"] == FS and rec.n_samples == N
