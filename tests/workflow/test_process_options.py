"""process: video frames from sync observations (board-driven display), notch and ICA paths."""

from __future__ import annotations

import math

import pytest

from perifacial.host.recording import load
from perifacial.host.workflow.process import ProcessOptions, process_recording, read_events_csv


@pytest.fixture(scope="module")
def synced(tmp_path_factory, cli_run):
    d = tmp_path_factory.mktemp("synced")
    assert (
        cli_run(["record", "sim://?seed=3", "-o", d / "v.pfr", "--seconds", 30, "--display", "board", "--quiet"]) == 0
    )
    return d


def test_frames_from_sync_observations(synced, cli_run):
    from perifacial.host.sync.mapping import Observation, write_observations_csv

    rec = load(synced / "v.pfr")
    assert len(rec.sync) > 100 and rec.sync["kind"][0] == "sampled"
    # the camera starts 2 s after the recording; every frame shows the counter value of its sample
    fps, t_video0 = 30.0, 2.0
    vals, samples = rec.sync["value"], rec.sync["sample"]
    obs = []
    for f in range(int((rec.duration_s - t_video0 - 0.5) * fps)):
        s = (t_video0 + f / fps) * rec.fs
        k = int((samples <= s).sum()) - 1
        obs.append(Observation(f, int(vals[k]) % 10000))
    write_observations_csv(synced / "obs.csv", obs)
    assert (
        cli_run(
            [
                "process",
                synced / "v.pfr",
                "--sync-observations",
                synced / "obs.csv",
                "--no-figures",
                "--out",
                synced / "o",
                "--quiet",
            ]
        )
        == 0
    )
    rows = read_events_csv(synced / "o" / "v.events.csv")
    assert rows
    for r in rows:
        expect = (int(r["onset_sample"]) / rec.fs - t_video0) * fps
        assert abs(int(r["onset_frame"]) - math.floor(expect)) <= 1
    import json

    assert json.loads((synced / "o" / "v.summary.json").read_text())["video"]["frames_from"] == "sync fit"


def test_notch_and_ica_paths(synced):
    rec = load(synced / "v.pfr")
    for opts in (ProcessOptions(figures=False, notch=50.0), ProcessOptions(figures=False, ica=True)):
        res = process_recording(rec, None, opts)
        assert res.envelope.shape == rec.data.shape and res.rows
        assert res.summary["chain"]["notch_hz"] == opts.notch and res.summary["chain"]["ica"] == opts.ica


def test_link_drop_gap_on_virtual_board(tmp_path):
    from perifacial.host.board import open_board

    board = open_board("sim://?seed=1")
    dropped = []

    def drop_once(blk):
        if not dropped and blk.first_sample > 8000:
            dropped.append(blk.first_sample)
            board.transport.board.link_down(700)  # no peer for 0.7 s: the board drops frames -> a gap

    board.add_block_listener(drop_once)
    try:
        board.record(tmp_path / "g.pfr", duration_s=20, progress=False)
    finally:
        board.close()
    rec = load(tmp_path / "g.pfr")
    assert len(rec.gaps) == 1
    res = process_recording(rec, None, ProcessOptions(figures=False))
    ((a, b),) = rec.gaps
    assert res.summary["gaps"]["count"] == 1 and "segment" in res.summary["gaps"]["note"]
    assert all(r.offset_sample < a or r.onset_sample >= b for r in res.rows)


def test_default_mains_removal_has_no_ring_up_at_segment_ends(synced):
    """The virtual board carries 50 Hz mains. The default chain detects it and subtracts it (dsp.mains): no ring-up
    at the ends, unlike the zero-phase IIR notch (which rings for ~3 q/(pi f0) s at each end, filters.notch)."""
    import numpy as np

    from perifacial.dsp.filters import linear_envelope
    from perifacial.host.workflow.process import notch_edge_samples

    rec = load(synced / "v.pfr")
    edge = notch_edge_samples(rec.fs, 50.0)
    assert edge == round(3 * 30 / (math.pi * 50) * rec.fs) and notch_edge_samples(rec.fs, None) == 0
    res = process_recording(rec, None, ProcessOptions(figures=False))
    assert res.summary["chain"]["mains"]["freq_hz"] == pytest.approx(50.0, abs=0.1)
    x = rec.data
    auto = linear_envelope(x, rec.fs)
    iir = linear_envelope(x, rec.fs, notch=50, mains_method="iir")
    # quiet reference level per channel: median of the envelope; the edge zone's excess over it
    med = np.median(auto, axis=1)
    excess_auto = np.max(auto[:, : edge // 3].mean(axis=1) / med)
    excess_iir = np.max(iir[:, : edge // 3].mean(axis=1) / np.median(iir, axis=1))
    assert excess_auto < 1.3 < excess_iir, (excess_auto, excess_iir)  # first 0.2 s, worst channel
