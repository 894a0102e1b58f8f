"""``load(path, store=...)`` (codes on disk, bounded memory; issue 18) returns what ``load(path)`` returns.

The reference is today's in-memory ``load`` of the same file; the files hold what makes loading non-trivial: a
reboot (two segments), a silence (a gap), dropped frames, repeated frames (the repeat check compares codes read
back from disk), a restart of the sample counter, a link drop, host and board markers, sync rows and byte damage.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from perifacial.host import rawlog
from perifacial.host.board import open_board
from perifacial.host.diskarray import DiskColumns
from perifacial.host.recording import Recorder, load
from perifacial.host.sim.frames import synth_frames

SESSION = {"format": "perifacial-raw", "fs": 1000.0, "labels": [f"CH{i + 1}" for i in range(24)], "gains": [24.0] * 24}


def open_files_in(folder) -> int:
    """Files of this process open in ``folder`` (deleted or not: a disk store left open)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        n += target.startswith(str(folder) + os.sep)
    return n


def assert_same_recording(a, b) -> None:
    """Every field of two recordings equal (``repr`` for the nested ones: NaN equals NaN)."""
    assert isinstance(b.codes, DiskColumns) and isinstance(b.status, DiskColumns)
    assert a.codes.shape == b.codes.shape and a.status.shape == b.status.shape
    assert np.array_equal(a.codes, np.asarray(b.codes)) and np.array_equal(a.status, np.asarray(b.status))
    assert b.data.size == 0
    for k in ("fs", "labels", "gaps", "first_sample", "n_samples", "link_events", "device_logs", "info"):
        assert repr(getattr(a, k)) == repr(getattr(b, k)), k
    for k in ("fs_measured", "fs_device"):
        assert repr(getattr(a, k)) == repr(getattr(b, k)), k
    assert np.array_equal(a.gains, b.gains)
    assert repr(a.markers) == repr(b.markers) and repr(a.sync.tolist()) == repr(b.sync.tolist())
    assert [s.to_dict() for s in a.segments] == [s.to_dict() for s in b.segments] or repr(a.segments) == repr(
        b.segments
    )
    assert repr(a.stats) == repr(b.stats)
    assert repr(a.clock) == repr(b.clock)


def _check(path, tmp_path, monkeypatch, in_place: bool | None = None) -> None:
    """``load(store=tmp_path)`` equals ``load``; ``in_place``: the arrival-order files are (True) or are not
    (False) the recording's own (every block at its arrival position: nothing copied)."""
    from perifacial.host import diskarray

    made = []
    orig = diskarray._File.__init__
    monkeypatch.setattr(diskarray._File, "__init__", lambda self, *a, **k: (made.append(1), orig(self, *a, **k))[1])
    ref = load(path, data=False)
    rec = load(path, store=tmp_path)
    if in_place is not None:
        assert len(made) == (2 if in_place else 4)
    assert_same_recording(ref, rec)
    assert open_files_in(tmp_path) == 2  # the column files (the arrival-order files are closed)
    # windows of the store read the same columns as the in-memory arrays
    n = ref.n_samples
    for a, b in [(0, 1), (0, n), (n // 3, n // 2), (max(0, n - 7), n)]:
        assert np.array_equal(rec.codes[:, a:b], ref.codes[:, a:b])
        assert np.array_equal(rec.status[1, a:b], ref.status[1, a:b])
    rec.codes.close()
    rec.status.close()
    assert open_files_in(tmp_path) == 0 and os.listdir(tmp_path) == []  # unlinked at once, closed at the end


def test_reboot_and_silence_on_the_virtual_board(tmp_path, monkeypatch):
    path = tmp_path / "r.pfr"
    with open_board("sim://?seed=1&reboot_at=2&mute_at=4&mute_s=1.5") as board:
        board.record(path, duration_s=7, progress=False)
    store = tmp_path / "store"
    store.mkdir()
    ref = load(path, data=False)
    assert len(ref.segments) == 2 and len(ref.gaps) >= 2  # the file has what this test is about
    _check(path, store, monkeypatch, in_place=False)


def test_board_and_host_markers_and_sync(tmp_path, monkeypatch):
    path = tmp_path / "m.pfr"
    with open_board("sim://?seed=2") as board:
        rec = Recorder(path, SESSION).attach(board)
        board.start()
        for i, _ in enumerate(board.blocks(n_samples=3000)):
            if i % 3 == 1:
                board.marker(i)
                rec.marker(i, "host")
                rec.sync(i)
        board.stop()
        rec.close()
    ref = load(path, data=False)
    assert {m["source"] for m in ref.markers} == {"host", "board"} and ref.sync.size and not ref.gaps
    store = tmp_path / "store"
    store.mkdir()
    _check(path, store, monkeypatch, in_place=True)


def _faulty_stream_file(path) -> None:
    """Frames with drops, repeats (a run sent twice), a restart of the counter and a link drop, in records of
    random sizes, with host markers and sync rows."""
    rng = np.random.default_rng(7)
    a = synth_frames(20_000, seed=1, first_sample=500)
    b = synth_frames(5_000, seed=2, first_sample=0, seq0=9)  # the counter restarts (a reboot)
    frames = list(a.frames)
    del frames[300:320]  # 200 samples lost
    frames[900:900] = frames[850:880]  # a repeat of 300 samples already sent
    frames += list(b.frames)
    rec = Recorder(path, SESSION, fsync_interval=1e9, session_every=1 << 18)
    t, i, dropped = 50.0, 0, False
    while i < len(frames):
        k = int(rng.integers(1, 60))
        chunk = b"".join(frames[i : i + k])
        rec.raw(chunk, t)
        i += k
        t += k * 10 / 1000.0
        if rng.random() < 0.1:
            rec.marker(int(rng.integers(100)), "m", sample=500 + i * 10, host_time=t)
            rec.sync(i, sample=500 + i * 10, host_time=t)
        if i >= 1200 and not dropped:
            dropped = True
            rec.link("lost", t)
            rec.link("ok", t + 0.5)
            t += 0.5
    rec.close({"note": "faults"})


def test_drops_repeats_restart_and_link_drop(tmp_path, monkeypatch):
    path = tmp_path / "f.pfr"
    _faulty_stream_file(path)
    ref = load(path, data=False)
    assert ref.stats["repeated_blocks"] > 0 and len(ref.segments) == 2 and ref.gaps and ref.link_events
    store = tmp_path / "store"
    store.mkdir()
    _check(path, store, monkeypatch, in_place=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_damaged_bytes(tmp_path, monkeypatch, seed):
    path = tmp_path / "f.pfr"
    _faulty_stream_file(path)
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for pos in rng.integers(len(rawlog.FILE_MAGIC), len(raw), 40):
        raw[pos] ^= 1 << int(rng.integers(8))
    path.write_bytes(bytes(raw[: len(raw) - int(rng.integers(0, 5000))]))
    store = tmp_path / "store"
    store.mkdir()
    _check(path, store, monkeypatch)


def test_store_true_uses_the_system_temp_folder(tmp_path):
    path = tmp_path / "f.pfr"
    _faulty_stream_file(path)
    rec = load(path, store=True)
    assert_same_recording(load(path, data=False), rec)
    rec.codes.close()


def test_clean_file_cut_at_the_requested_length(tmp_path, monkeypatch):
    """A gap-free file (the arrival files are the recording's) whose writer noted a requested length shorter than
    what was sent: the store is cut like the in-memory arrays."""
    path = tmp_path / "c.pfr"
    sf = synth_frames(3000, seed=3, first_sample=77)
    rec = Recorder(path, SESSION, fsync_interval=1e9)
    rec.note(duration_samples={"first_sample": 77, "n_samples": 2345})
    for i in range(0, len(sf.frames), 7):
        rec.raw(b"".join(sf.frames[i : i + 7]), 10.0 + i / 100)
    rec.close()
    ref = load(path, data=False)
    assert ref.n_samples == 2345 and ref.stats["samples_after_requested_end"] == 655
    store = tmp_path / "store"
    store.mkdir()
    _check(path, store, monkeypatch, in_place=True)


@pytest.mark.parametrize("seed", [0, 3])
def test_reader_releasing_pages_reads_what_a_whole_file_read_gives(tmp_path, monkeypatch, seed):
    """``rawlog.read_records`` maps the file and drops the pages behind it; with a window of one page (pages
    dropped all the time, also while damaged regions are searched) the records equal those parsed from the whole
    file's bytes in memory (the reader before issue 18), on a damaged file."""
    path = tmp_path / "f.pfr"
    _faulty_stream_file(path)
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for pos in rng.integers(len(rawlog.FILE_MAGIC), len(raw), 30):
        raw[pos] ^= 0xFF
    path.write_bytes(bytes(raw))
    ref_report, report = rawlog.ReadReport(), rawlog.ReadReport()
    ref = [(r.kind, r.payload, r.offset, r.damaged) for r in rawlog._read_data(bytes(raw), ref_report, path)]
    monkeypatch.setattr(rawlog._Mapped, "WINDOW", 0)
    released = []
    orig = rawlog._Mapped.release
    monkeypatch.setattr(rawlog._Mapped, "release", lambda self, i: (orig(self, i), released.append(self.released)))
    got = [(r.kind, r.payload, r.offset, r.damaged) for r in rawlog.read_records(path, report)]
    assert got == ref and report == ref_report and ref_report.damaged
    assert released[-1] > len(raw) // 2  # pages were released as the reader went


@pytest.mark.parametrize("positional", [True, False])
def test_disk_columns_against_an_array(monkeypatch, positional):
    """DiskColumns reads what was written, as an in-memory array would (positional I/O, or seek + read where the
    platform has no ``pread``/``pwrite``); unwritten columns read 0; views see their columns."""
    from perifacial.host import diskarray

    monkeypatch.setattr(diskarray, "_POSITIONAL", positional)
    rng = np.random.default_rng(4)
    ref = np.zeros((5, 1000), dtype=np.int32)
    x = DiskColumns(5, 1000, np.int32)
    for a, b in [(0, 10), (990, 1000), (300, 700), (10, 11)]:
        v = rng.integers(-(1 << 23), 1 << 23, (5, b - a), dtype=np.int32)
        ref[:, a:b] = v
        x[:, a:b] = v
    assert np.array_equal(np.asarray(x), ref) and np.asarray(x).flags.c_contiguous
    assert np.array_equal(x[2, 295:705], ref[2, 295:705]) and np.array_equal(x[[0, 4], -3:], ref[[0, 4], -3:])
    w = x.window(300, 700)
    assert w.shape == (5, 400) and w.offset == 300 and np.array_equal(w[:, 5:9], ref[:, 305:309])
    y = DiskColumns(5, 0, np.int32)
    v1 = y.append(ref[:, :7])
    v2 = y.append(ref[:, 7:20])
    assert y.shape == (5, 20) and v2.offset == 7 and np.array_equal(v1[:, :], ref[:, :7])
    assert np.array_equal(v2[:, 1:], ref[:, 8:20])
    with pytest.raises(IndexError):
        x[:, ::2]
    x.close()
    y.close()
