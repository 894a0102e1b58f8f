"""Old files keep loading; sample-index restarts and absurd jumps become bounded segments.

``data/legacy_v1.pfr`` was written by the format-1 writer (before issue 14) from the virtual board (1 chip, 500 SPS,
5 samples per frame); ``legacy_v1_expected.npz`` holds what that version's ``load`` returned for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perifacial.host import rawlog
from perifacial.host.recording import Recorder, load
from perifacial.host.sim.frames import synth_frames

DATA = Path(__file__).parent / "data"


def test_format_1_file_loads_as_before():
    rec = load(DATA / "legacy_v1.pfr")
    ref = np.load(DATA / "legacy_v1_expected.npz")
    assert rec.stats["file_format"] == 1 and rec.stats["complete"]
    assert rec.first_sample == int(ref["first_sample"])
    assert np.array_equal(rec.codes, ref["codes"]) and np.array_equal(rec.status, ref["status"])
    assert rec.fs == 500.0 and rec.gaps == [] and len(rec.segments) == 1
    (m,) = rec.markers
    assert (m["value"], m["label"], m["sample"]) == (7, "m", 85)
    assert rec.sync["value"].tolist() == [3] and rec.sync["sample"].tolist() == [85]


def test_format_1_damaged_length_resynchronises(tmp_path):
    data = bytearray((DATA / "legacy_v1.pfr").read_bytes())
    recs = list(rawlog.read_records(DATA / "legacy_v1.pfr"))
    raw = [r for r in recs if r.kind == rawlog.K_RAW]
    r = raw[len(raw) // 2]
    data[r.offset + 4 + 2] ^= 0x40  # length now points past the end: used to be taken for a torn tail
    p = tmp_path / "v1.pfr"
    p.write_bytes(bytes(data))
    rec = load(p)
    ref = np.load(DATA / "legacy_v1_expected.npz")
    assert rec.stats["complete"] and rec.stats["file_damaged"] == 1
    assert np.array_equal(rec.codes, ref["codes"]) and rec.gaps == []  # every frame salvaged


def _write(path, streams, t0=100.0, dt_between=2.0):
    session = {"fs": 1000.0, "labels": [f"CH{i + 1}" for i in range(8)], "gains": [24.0] * 8}
    rec = Recorder(path, session)
    t = t0
    for s in streams:
        data = s.stream()
        for i in range(0, len(data), 5000):
            rec.raw(data[i : i + 5000], t)
            t += 5000 / 30000
        t += dt_between
    rec.close()


def test_restart_of_the_sample_index_starts_a_segment(tmp_path):
    a = synth_frames(3000, n_chips=1, seed=1, first_sample=0)
    b = synth_frames(2000, n_chips=1, seed=2, first_sample=0, seq0=300)  # stop/start: index back to 0
    c = synth_frames(1000, n_chips=1, seed=3, first_sample=40)  # reboot: sequence numbers restart too
    p = tmp_path / "r.pfr"
    _write(p, [a, b, c])
    rec = load(p)
    assert [s.reason for s in rec.segments] == ["start", "restart", "restart"]
    parts = [a.codes, b.codes, c.codes]
    for s, ref in zip(rec.segments, parts):
        assert s.stop - s.start == ref.shape[1]
        assert np.array_equal(rec.codes[:, s.start : s.stop], ref)
    # the boundaries are gaps (the host-measured silence, >= 1 column), every sample is there once
    assert rec.n_samples - rec.lost_samples == 6000
    assert len(rec.gaps) == 2 and all(1 <= g1 - g0 <= 2500 for g0, g1 in rec.gaps)
    assert rec.stats["segments"] == 3


@pytest.mark.parametrize("jump,reason", [((1 << 31) + 1000, "restart"), (1 << 30, "jump"), (20_000, "jump")])
def test_absurd_index_jump_is_bounded(tmp_path, jump, reason):
    """A crafted index jump (2**31 used to ask for 192 GiB): a new segment, not a gap the clock cannot explain.
    (+2**31 is read as a step back by the u32 unwrapping, hence a restart.)"""
    a = synth_frames(1000, n_chips=1, seed=1, first_sample=0)
    b = synth_frames(1000, n_chips=1, seed=2, first_sample=1000 + jump, seq0=100)
    p = tmp_path / "j.pfr"
    _write(p, [a, b], dt_between=0.0)
    rec = load(p, data=False)
    assert rec.n_samples < 5000  # not `jump` columns
    assert [s.reason for s in rec.segments] == ["start", reason]
    s1 = rec.segments[1]
    assert np.array_equal(rec.codes[:, s1.start : s1.stop], b.codes)


def test_crafted_annotation_records_do_not_stop_load(tmp_path):
    """Issue 14, point 7: a marker that is not a JSON object used to raise; any JSON value in any field is ignored
    or defaulted, and counted."""
    a = synth_frames(2000, n_chips=1, seed=4)
    p = tmp_path / "c.pfr"
    rec = Recorder(p, {"fs": "fast", "labels": None, "gains": [float("nan")] * 8})
    data = a.stream()
    rec.raw(data[: len(data) // 2], 1.0)
    rec.writer.write(rawlog.K_MARKER, b"[1, 2, 3]", 1.1)
    rec.writer.write(rawlog.K_SYNC, b'{"value": "x", "sample": "abc"}', 1.2)
    rec.writer.write(rawlog.K_LINK, b'"lost"', 1.3)
    rec.writer.write(rawlog.K_NOTE, b"\xff\xfe not utf-8", 1.4)
    rec.raw(data[len(data) // 2 :], 1.5)
    rec.close()
    r = load(p)
    assert np.array_equal(r.codes, a.codes) and r.gaps == []
    assert r.fs == 1000.0 and r.labels[0] == "CH1" and np.all(r.gains == 24.0)  # defaults for nonsense values
    assert r.markers == [] and sorted(r.stats["bad_records"]) == ["link", "marker", "note"]
    assert r.sync["value"].tolist() == [0] and r.sync["sample"].tolist() == [-1]


def test_format_1_duplicated_record_is_a_repeat_not_a_segment(tmp_path):
    """Format 1 has no record numbers: a duplicated raw record reaches the decoder, and the repeated samples are
    recognised by their codes (same codes at the same indices), not taken for a restart."""
    data = (DATA / "legacy_v1.pfr").read_bytes()
    raw = [r for r in rawlog.read_records(DATA / "legacy_v1.pfr") if r.kind == rawlog.K_RAW]
    r = raw[len(raw) // 2]
    end = r.offset + rawlog.REC_HDR_SIZE_V1 + len(r.payload) + 4
    p = tmp_path / "dup.pfr"
    p.write_bytes(data[:end] + data[r.offset : end] + data[end:])
    rec = load(p)
    ref = np.load(DATA / "legacy_v1_expected.npz")
    assert len(rec.segments) == 1 and rec.gaps == [] and np.array_equal(rec.codes, ref["codes"])
    assert rec.stats["repeated_blocks"] >= 1
