"""Bounded-memory processing (issue 18): the block path equals the in-memory chain.

The data come from ``blocked.synthetic_source`` (our own generator: EMG-like noise, 50 Hz mains, per-channel
offsets, bursts); the yardstick is the in-memory path (``mode="memory"``), itself tested against SciPy in
tests/dsp. Block sizes and gap positions are chosen so that block boundaries fall inside events and next to gaps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import sosfilt

from perifacial.dsp.filters import design_lowpass
from perifacial.dsp.mains import MainsPlan, mains_frequencies, remove_mains
from perifacial.host.workflow.blocked import BlockSource, column_runs, decay_samples, source_recording, synthetic_source
from perifacial.host.workflow.gapped import finite_runs
from perifacial.host.workflow.process import ProcessOptions, process_recording


def _event_key(e):
    return (e.onset, e.offset, e.kind, e.region, e.channel, e.peak_index, e.flagged, tuple(k for k, _ in e.evidence))


def test_ten_minutes_in_blocks_equal_in_memory(tmp_path):
    fs, seconds = 1000.0, 600
    src = synthetic_source(24, seconds, fs, seed=7)
    x = src.read(0, src.n_samples)
    x[:, 250_321:250_900] = np.nan  # a gap
    x[:, 251_900:252_000] = np.nan  # and a 1 s stretch between gaps: skipped (shorter than 2 s)
    full = BlockSource(24, src.n_samples, fs, lambda a, b: x[:, a:b])
    rec = source_recording(full)
    rec.gaps = finite_runs(np.where(np.isnan(x[:1]), 0.0, np.nan))  # the NaN runs
    mem = process_recording(rec, opts=ProcessOptions(mode="memory", figures=False), source=full)
    blk = process_recording(
        rec, opts=ProcessOptions(mode="blocks", block_s=13.7), source=full, out_dir=tmp_path, stem="blk"
    )
    assert blk.summary["chain"]["mode"] == "blocks" and mem.summary["chain"]["mode"] == "memory"
    assert [(s.start, s.stop, s.ok) for s in blk.segments] == [(s.start, s.stop, s.ok) for s in mem.segments]
    assert [s.ok for s in mem.segments] == [True, False, True]
    # envelopes: NaN in the same columns, equal within 1e-9 of the peak
    e_blk, e_mem = np.asarray(blk.envelope), mem.envelope
    assert np.array_equal(np.isnan(e_blk), np.isnan(e_mem))
    peak = np.nanmax(e_mem)
    assert np.nanmax(np.abs(e_blk - e_mem)) <= 1e-9 * peak
    # events: all of them (expressions, blinks, artefacts), identical
    assert len(mem.events) > 20
    assert [_event_key(e) for e in blk.events] == [_event_key(e) for e in mem.events]
    for eb, em in zip(blk.events, mem.events):  # scores and evidence features: floats, equal within rounding
        assert eb.score == pytest.approx(em.score, rel=1e-9)
        assert [v for _, v in eb.evidence] == pytest.approx([v for _, v in em.evidence], rel=1e-9)
    # quantified rows: same integers and labels, values within rounding
    assert len(blk.rows) == len(mem.rows) > 10
    for rb, rm in zip(blk.rows, mem.rows):
        for k, vm in vars(rm).items():
            vb = getattr(rb, k)
            if isinstance(vm, float) and not (math.isnan(vm) and math.isnan(vb)):
                assert vb == pytest.approx(vm, rel=1e-9, abs=1e-9 * peak), k
            elif k == "evidence":
                assert [kv.split("=")[0] for kv in vb.split()] == [kv.split("=")[0] for kv in vm.split()]
            elif not isinstance(vm, float):
                assert vb == vm, k
    assert blk.summary["counts"] == mem.summary["counts"]
    assert blk.summary["quality"] == mem.summary["quality"]
    assert blk.summary["chain"]["mains"] == mem.summary["chain"]["mains"]
    assert (tmp_path / "blk.regions.png").stat().st_size > 0 and (tmp_path / "blk.events.csv").exists()


def test_overlap_from_the_impulse_response():
    # one real pole r: h[k] = r**k, so the response falls below tol after log(tol) / log(r) samples
    r, tol = 0.99, 1e-13
    sos = np.array([[1.0, 0.0, 0.0, 1.0, -r, 0.0]])
    assert decay_samples(sos, tol) == math.floor(math.log(tol) / math.log(r)) + 1
    # the 6 Hz envelope low-pass at 1 kHz: beyond the decay length its response is below tol of its peak
    lp = design_lowpass(6.0, fs=1000.0, order=2)
    k = decay_samples(lp, tol)
    h = np.abs(sosfilt(lp, np.r_[1.0, np.zeros(4 * k)]))
    assert h[k:].max() <= tol * h.max() < h[k - 1]


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_gap_runs_found_block_by_block(block):
    rng = np.random.default_rng(block)
    x = rng.normal(size=(3, 500))
    for _ in range(12):
        a = rng.integers(0, 500)
        x[rng.integers(0, 3), a : a + rng.integers(1, 30)] = np.nan
    x[:, :3] = np.nan
    src = BlockSource(3, 500, 100.0, lambda a, b: x[:, a:b])
    assert column_runs(src, block) == finite_runs(x)


def test_mains_removed_in_column_ranges_equals_the_whole_array():
    fs = 500.0
    x = synthetic_source(4, 30, fs, seed=2).read(0, 15_000)
    whole = remove_mains(x, fs, freq=50.0)
    plan = MainsPlan.make(x.shape[1], fs, mains_frequencies(50.0, fs))
    for a, b in [(0, 1), (0, 700), (333, 4021), (14_990, 15_000), (7000, 15_000)]:
        np.testing.assert_allclose(
            plan.subtract(lambda lo, hi: x[:, lo:hi], a, b), whole[:, a:b], rtol=0, atol=1e-12 * np.abs(x).max()
        )


def test_process_file_pfr_in_blocks_equals_in_memory(tmp_path, cli_run):
    """A recording of the virtual board: read as codes (``load(data=False)``) and converted block by block in
    block mode; the CSVs of both modes agree (numbers within rounding) and so do the summaries' counts."""
    from perifacial.host.workflow.process import process_file, read_events_csv

    pfr = tmp_path / "s.pfr"
    assert cli_run(["record", "sim://?seed=4", "-o", pfr, "--seconds", 40, "--quiet"]) == 0
    out = {}
    for mode in ("memory", "blocks"):
        summary = process_file(pfr, opts=ProcessOptions(mode=mode, block_s=6.3), out_dir=tmp_path / mode)
        assert summary["chain"]["mode"] == mode
        out[mode] = (summary, read_events_csv(tmp_path / mode / "s.events.csv"))
    (sm, rm), (sb, rb) = out["memory"], out["blocks"]
    assert sb["counts"] == sm["counts"] and sb["quality"] == sm["quality"] and sb["gaps"] == sm["gaps"]
    assert len(rm) == len(rb) > 0
    for a, b in zip(rm, rb):
        assert a.keys() == b.keys()
        for k in a:
            try:
                assert float(b[k]) == pytest.approx(float(a[k]), rel=1e-5), k  # CSV keeps 6 significant digits
            except ValueError:
                if k != "evidence":
                    assert b[k] == a[k], k


def test_mode_is_checked(tmp_path, cli_run, capsys):
    pfr = tmp_path / "x.pfr"
    pfr.write_bytes(b"")
    assert cli_run(["process", pfr, "--ica", "--mode", "blocks"]) != 0
    assert "--mode memory" in capsys.readouterr().err
    rec = source_recording(synthetic_source(2, 5, 500.0))
    with pytest.raises(ValueError, match="mode must be"):
        process_recording(rec, opts=ProcessOptions(mode="stream"), source=synthetic_source(2, 5, 500.0))


def test_low_band_columns_equal_the_whole_segment():
    """Any column range of the EOG low band, filtered with the computed overlap, equals ``low_band`` of the whole
    gap-free segment (SciPy-checked in tests/dsp); the segment's true ends are padded as in memory."""
    from perifacial.dsp.evidence import low_band
    from perifacial.host.workflow.blocked import LowBand, plan_segment

    fs = 250.0
    src = synthetic_source(4, 300, fs, seed=9)
    x = src.read(0, src.n_samples)
    start, stop = 1000, 70_000
    plan = plan_segment(src, start, stop, ProcessOptions(), 5000, low=True)
    ref = low_band(x[:, start:stop], fs)
    lb = LowBand(src, plan)
    lb.append(ref[:, :100])  # a buffer of 100 columns; the rest comes from the source
    peak = np.abs(ref).max()
    for a, b in [(0, 50), (0, 900), (20_000, 20_017), (60_000, stop - start), (stop - start - 3, stop - start)]:
        np.testing.assert_allclose(lb[[0, 2, 3], a:b], ref[[0, 2, 3], a:b], rtol=0, atol=1e-9 * peak)


def test_process_file_pfr_from_disk_store_equals_in_memory_load(tmp_path, monkeypatch):
    """``process_file`` on a .pfr opens it with ``load(store=...)`` (codes on disk, bounded memory) outside mode
    memory; the outputs are byte for byte those of the same block run on today's in-memory ``load`` (reader
    ``store=None``), for a recording with a reboot (two segments) and a silence (gaps); no temporary file is left
    open, also when processing fails."""
    import json
    import os

    from perifacial.host.board import open_board
    from perifacial.host.workflow import process as proc
    from perifacial.host.workflow.process import process_file

    def open_files_in(folder) -> int:
        fds = [os.path.join("/proc/self/fd", f) for f in os.listdir("/proc/self/fd")]
        return sum(os.readlink(f).startswith(f"{folder}{os.sep}") for f in fds if os.path.islink(f))

    pfr = tmp_path / "s.pfr"
    with open_board("sim://?seed=4&reboot_at=8&mute_at=14&mute_s=2") as board:
        board.record(pfr, duration_s=25, progress=False)
    opts = ProcessOptions(mode="blocks", block_s=6.3, figures=False)
    out = {}
    for name, reader in (("disk", None), ("memory", {"store": None})):
        d = tmp_path / name
        summary = process_file(pfr, opts=opts, out_dir=d, reader=reader)
        assert summary["chain"]["mode"] == "blocks" and open_files_in(d) == 0
        assert sorted(os.listdir(d)) == ["s.episodes.csv", "s.events.csv", "s.summary.json"]
        out[name] = summary, {p: (d / p).read_bytes() for p in ("s.events.csv", "s.episodes.csv")}
    (s_disk, f_disk), (s_mem, f_mem) = out["disk"], out["memory"]
    assert f_disk == f_mem and f_mem["s.events.csv"].count(b"\n") > 2
    assert s_mem["gaps"]["count"] == 2

    def comparable(s):
        s = json.loads(json.dumps(s))
        s.pop("files")
        s.pop("processing_s")  # wall time
        return s

    assert comparable(s_disk) == comparable(s_mem)

    def fail(*a, **k):
        raise RuntimeError("processing failed")

    d = tmp_path / "fail"
    monkeypatch.setattr(proc, "process_recording", fail)
    with pytest.raises(RuntimeError, match="processing failed"):
        process_file(pfr, opts=opts, out_dir=d)
    assert open_files_in(d) == 0 and os.listdir(d) == []
