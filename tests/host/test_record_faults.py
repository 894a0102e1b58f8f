"""`record` when the board reboots, goes silent, or the disk fills up.

Times are the fast virtual board's virtual seconds (deterministic); nothing here waits on or asserts wall time.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from perifacial import cli
from perifacial.errors import StorageError
from perifacial.host import rawlog
from perifacial.host.board import open_board
from perifacial.host.recording import SilenceError, load


def _record_virtual(url, path, seconds):
    """Record ``seconds`` of the virtual board at ``url`` to ``path``: (virtual board, summary, virtual seconds it
    took)."""
    with open_board(url) as board:
        vb = board.transport.board
        t0 = vb.now_s
        summary = board.record(path, duration_s=seconds, progress=False)
        return vb, summary, vb.now_s - t0


def test_reboot_mid_recording_ends_on_time_keeps_both_parts(tmp_path):
    path = tmp_path / "r.pfr"
    vb, summary, elapsed = _record_virtual("sim://?seed=1&reboot_at=5", path, 10)
    assert vb.reboots == 1
    assert elapsed <= 12.0  # virtual seconds: it used to run forever at 0 Hz
    assert [e["event"] for e in summary.events] == ["reboot"] and summary.segments == 2
    rec = load(path, data=False)
    assert [s.reason for s in rec.segments] == ["start", "restart"]
    a, b = rec.segments
    assert a.stop - a.start > 4000 and b.stop - b.start > 4000  # both parts, ~5 s each
    assert rec.gaps == [(a.stop, b.start)]  # the boundary is a gap
    assert rec.stats["writer"]["board_events"][0]["event"] == "reboot"
    assert rec.info["board_events"][0]["event"] == "reboot"  # the note written when it happened


def test_reboot_via_cli_is_reported(tmp_path, capsys):
    path = tmp_path / "c.pfr"
    rc = cli.main(["record", "sim://?seed=2&reboot_at=3", "-o", str(path), "--seconds", "6", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1 and "board rebooted" in out and "2 acquisition segments" in out
    assert len(load(path, data=False).segments) == 2


def test_silent_board_becomes_a_gap_and_the_recording_ends(tmp_path):
    path = tmp_path / "s.pfr"
    _vb, summary, elapsed = _record_virtual("sim://?seed=3&mute_at=3&mute_s=3", path, 9)
    assert elapsed <= 11.0  # virtual seconds
    assert summary.events and summary.events[0]["event"] == "silent"
    rec = load(path, data=False)
    assert rec.lost_samples >= 2900  # the 3 s of silence (the board kept counting: one gap)
    assert rec.n_samples - rec.lost_samples > 5000


def test_max_silence_fails_and_keeps_the_file(tmp_path, capsys):
    path = tmp_path / "m.pfr"
    rc = cli.main(
        [
            "record",
            "sim://?seed=3&mute_at=2&mute_s=30",
            "-o",
            str(path),
            "--seconds",
            "20",
            "--quiet",
            "--max-silence",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "max-silence" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    rec = load(path, data=False)
    assert rec.stats["complete"] and 1500 < rec.n_samples < 2100
    with pytest.raises(SilenceError):
        with open_board("sim://?seed=3&mute_at=1&mute_s=30") as board:
            board.record(tmp_path / "m2.pfr", duration_s=20, progress=False, max_silence_s=0.5)


class _Full:
    """``os.write`` that takes ``limit`` bytes in total, then fails with ENOSPC (like a full disk)."""

    def __init__(self, limit):
        self.left = limit
        self.real = os.write

    def __call__(self, fd, data):
        if self.left <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), self.left)
        self.left -= n
        return self.real(fd, bytes(data[:n]))


def test_disk_full_is_one_line_and_keeps_what_was_written(tmp_path, capsys, monkeypatch):
    path = tmp_path / "d.pfr"
    full = _Full(600_000)
    monkeypatch.setattr(rawlog, "_os_write", full)
    rc = cli.main(["record", "sim://?seed=4", "-o", str(path), "--seconds", "30", "--quiet"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert rc == 2 and "disk is full" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert path.stat().st_size == 600_000  # everything the "disk" took is there
    rec = load(path, data=False)  # and loads: the torn end is just cut
    assert rec.n_samples > 6000 and not rec.stats["complete"]


def test_writer_raises_storage_error_once_then_closes(tmp_path, monkeypatch):
    w = rawlog.RawLogWriter(tmp_path / "w.pfr", buffer_size=10)
    monkeypatch.setattr(rawlog, "_os_write", _Full(100))
    with pytest.raises(StorageError) as ei:
        w.write(rawlog.K_RAW, bytes(500), 1.0)
    assert ei.value.errno == errno.ENOSPC and w.failed is not None
    monkeypatch.undo()
    with pytest.raises(StorageError):
        w.write(rawlog.K_RAW, b"x", 1.0)
    w.close()
    assert w.closed and (tmp_path / "w.pfr").stat().st_size == len(rawlog.FILE_MAGIC) + 100


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics checked on Linux")
def test_file_size_limit_in_a_subprocess(tmp_path):
    """The issue's reproduction (`ulimit -f`): a real EFBIG from the kernel, no traceback, exit 2."""
    import resource

    path = tmp_path / "f.pfr"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    p = subprocess.run(
        [sys.executable, "-m", "perifacial", "record", "sim://?seed=5", "-o", str(path), "--seconds", "30", "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "size limit" in p.stderr
    assert path.stat().st_size == 400_000
    rec = load(path, data=False)
    assert rec.n_samples > 4000 and np.all(rec.codes[:, :10] != 0)


def test_stop_start_in_one_file_keeps_every_sample_and_places_markers(tmp_path):
    """Issue 14, point 5: a stop/start through the API restarts the board's index; load used to overwrite."""
    from perifacial.host.recording import Recorder, session_header

    path = tmp_path / "ss.pfr"
    got = []
    with open_board("sim://?seed=8") as board:
        rec = Recorder(path, session_header(board)).attach(board)
        for part in range(2):
            board.start()
            n = 0
            while n < 3000:
                blk = board.read(2.0)
                n += blk.n
                got.append(blk.codes)
            rec.marker(part, f"part {part}")
            board.stop()
        rec.close()
    r = load(path, data=False)
    assert [s.reason for s in r.segments] == ["start", "restart"]
    received = np.concatenate(got, axis=1)
    valid = r.codes[:, r.valid]
    assert valid.shape[1] >= received.shape[1]  # nothing overwritten: all received samples are there, in order
    assert np.array_equal(valid[:, : received.shape[1]], received)
    (m0, m1) = sorted(r.markers, key=lambda m: m["value"])
    a, b = r.segments
    assert a.start + 3000 <= m0["sample"] <= a.stop and b.start + 3000 <= m1["sample"] <= b.stop
