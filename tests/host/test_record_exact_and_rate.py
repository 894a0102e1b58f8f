"""Recording length and rates (issue 16): ``duration_s`` gives exactly that many samples, a host-clock "rate" of a
source running faster than real time is not reported as a sample rate, and the live status goes through tqdm
(nothing written when the output is not a terminal)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from perifacial.host import Decoder, Recorder, load, open_board
from perifacial.host import recording as R


@pytest.mark.parametrize("seconds", [0.25, 1.0])
def test_record_duration_is_exact_and_the_data_are_the_first_samples(tmp_path, seconds):
    path = tmp_path / "s.pfr"
    with open_board("sim://?seed=3") as board:
        summary = board.record(path, duration_s=seconds, progress=False)
    n = int(round(seconds * 1000))
    rec = load(path)
    assert summary.samples == n and rec.n_samples == n and rec.gaps == []
    # the samples the board sent before its stop took effect stay in the raw file and are counted
    assert rec.stats["samples_after_requested_end"] >= 0
    with open_board("sim://?seed=3") as board:  # the virtual board is deterministic by seed
        board.start()
        want = np.hstack([b.codes for b in board.blocks(n_samples=n)])[:, :n]
        board.stop()
    np.testing.assert_array_equal(rec.codes, want)


def _rewrite_with_host_times(src_path, dst_path, fs_true):
    """Copy a recording's raw bytes into a new file whose host arrival times say the samples arrived at
    ``fs_true`` samples per host second (deterministic: times come from sample counts, not from the clock)."""
    from perifacial.host import rawlog

    session = None
    chunks = []
    for r in rawlog.read_records(src_path, rawlog.ReadReport()):
        if r.kind == rawlog.K_SESSION:
            session = r.json()
        elif r.kind == rawlog.K_RAW:  # re-split into link-sized reads
            chunks.extend(r.payload[i : i + 256] for i in range(0, len(r.payload), 256))
    rec = Recorder(dst_path, session)
    dec, t, done = Decoder(), 100.0, 0
    for c in chunks:
        res = dec.feed(c)
        if res.blocks:
            done = res.blocks[-1].stop_sample
            t = 100.0 + done / fs_true
        rec.raw(c, t)
    rec.close()
    return done


def test_host_clock_rate_kept_for_real_time_and_dropped_for_faster_sources(tmp_path):
    src = tmp_path / "src.pfr"
    with open_board("sim://?seed=2") as board:
        board.record(src, duration_s=3.0, progress=False)
    _rewrite_with_host_times(src, tmp_path / "real.pfr", fs_true=1001.5)  # a board 0.15 % fast: a sample rate
    real = load(tmp_path / "real.pfr")
    assert real.fs_measured == pytest.approx(1001.5, rel=2e-3)
    _rewrite_with_host_times(src, tmp_path / "fast.pfr", fs_true=84_000.0)  # 84x real time: not a sample rate
    fast = load(tmp_path / "fast.pfr")
    assert np.isnan(fast.fs_measured)
    assert fast.fs == 1000.0 and fast.fs_device == pytest.approx(1000.0)  # the board's own clock still is one
    from perifacial.host import export

    pytest.importorskip("edfio")
    for rec, name in ((fast, "fast.bdf"), (real, "real.bdf")):
        bdf = export.to_bdf(rec, tmp_path / name)
        header = bdf.read_bytes()[: 256 * 30]
        assert (b"fs_measured" in header) == (name == "real.bdf")


class _Board:
    fs = 1000.0
    gaps: list = []
    link = "up"

    class stats:  # noqa: N801 - a stand-in for DecoderStats
        crc_errors = 0


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_silent_when_not_a_terminal_and_no_rate_for_faster_sources(monkeypatch):
    log = io.StringIO()  # a log file or a pipe
    p = R.Progress(_Board(), stream=log, total=1000)
    p.update(500, force=True)
    p.done(1000)
    assert log.getvalue() == ""
    now = [0.0]  # injected host clock
    monkeypatch.setattr(R.time, "monotonic", lambda: now[0])
    tty = _Tty()
    p = R.Progress(_Board(), stream=tty, total=None, interval=0.0)
    for k in range(1, 5):
        now[0] = 0.5 * k
        p.update(k * 40_000, force=True)  # 40,000 samples per 0.5 s of host time: 80x real time
    p.done(160_000)
    out = tty.getvalue()
    assert "80.0x real time" in out and " Hz" not in out and "160000 samples" in out
    tty = _Tty()
    p = R.Progress(_Board(), stream=tty, total=4000, interval=0.0)
    for k in range(1, 5):
        now[0] = 10.0 + 0.5 * k
        p.update(k * 500, force=True)  # real time
    p.done(2000)
    assert "rate 1,000.0 Hz" in tty.getvalue() and "2000/4000 samples" in tty.getvalue()
    p = R.Progress(_Board(), stream=_Tty(), enabled=False)  # --quiet
    assert p.bar.disable
