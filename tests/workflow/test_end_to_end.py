"""mvc -> record -> process on the virtual board: files, F1 against the simulator's ground truth, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perifacial.dsp.metrics import spotting_scores
from perifacial.dsp.spotting import Event
from perifacial.host.recording import load
from perifacial.host.sim.truth import sim_ground_truth, sim_seed
from perifacial.host.workflow.process import EVENT_COLUMNS, ProcessOptions, process_recording, read_events_csv


def test_files_written(session_dir):
    out = session_dir / "out"
    for name in (
        "s01.events.csv",
        "s01.summary.json",
        "s01.preprocessing.png",
        "s01.regions.png",
        "s01.mvc_duration.png",
    ):
        assert (out / name).stat().st_size > 0, name
    rows = read_events_csv(out / "s01.events.csv")
    assert rows and tuple(rows[0]) == EVENT_COLUMNS
    r = rows[0]
    assert float(r["peak_mvc_pct"]) > 0 and float(r["iemg_pct_s"]) > 0
    assert r["kind"] in ("ME", "MaE") and r["candidate_aus"].startswith("AU")
    assert int(r["onset_frame"]) <= int(r["apex_frame"]) <= int(r["offset_frame"])
    s = json.loads((out / "s01.summary.json").read_text())
    assert s["counts"]["expressions"] == len(rows)
    assert {(x["kind"], x["quantity"]) for x in s["statistics"]} >= {("ME", "duration_s"), ("MaE", "peak_mvc_pct")}
    mae = next(x for x in s["statistics"] if x["kind"] == "MaE" and x["quantity"] == "duration_s")
    assert mae["n"] >= 2 and mae["ci_low"] < mae["mean"] < mae["ci_high"]
    q = s["quality"]
    assert len(q) == 24 and all(c["noise_rms_uv"] > 0 and c["mains_uv"] > 0 for c in q)
    assert all(c["gap_fraction"] == 0 for c in q)


def test_mvc_calibration_matches_simulator(session_dir, sim_seed_used):
    from perifacial.dsp.mvc import MvcCalibration
    from perifacial.dsp.synth import SynthStream

    cal = MvcCalibration.load(session_dir / "p01.mvc.json")
    assert cal.participant == "P01" and len(cal.labels) == 24
    # the simulated participant: 85-100 % effort per repetition, crosstalk of co-activated muscles
    ratio = cal.mvc / SynthStream(sim_seed_used).mvc_uv
    assert np.all((ratio > 0.75) & (ratio < 1.2)), ratio
    d = json.loads((session_dir / "p01.mvc.json").read_text())
    assert d["session"]["movement_per_channel"]["LU1"] in ("brow_raise", "frown")
    assert (session_dir / "p01.mvc.pfr").exists()


def test_f1_against_ground_truth(session_dir, sim_seed_used):
    rec = load(session_dir / "s01.pfr")
    assert sim_seed(rec) == sim_seed_used
    truth = sim_ground_truth(rec)
    assert len(truth) >= 10
    pred = [
        Event(int(r["onset_sample"]), int(r["offset_sample"]), region=r["region"])
        for r in read_events_csv(session_dir / "out" / "s01.events.csv")
    ]
    sc = spotting_scores([(pred, truth)], rec.fs, by="region")
    print("workflow F1", sc.as_row())
    assert sc.f1 >= 0.8
    # MVC % of the simulator's expressions is recovered (MaE drawn at 15-35 % MVC, ME at 5.5-11 %)
    rows = read_events_csv(session_dir / "out" / "s01.events.csv")
    mae = [float(r["peak_mvc_pct"]) for r in rows if r["kind"] == "MaE"]
    assert 12 < np.median(mae) < 40


def test_figures_have_expected_axes(session_dir):
    rec = load(session_dir / "s01.pfr")
    res = process_recording(rec, None, ProcessOptions(), session_dir / "figs", "s01", keep_figures=True)
    f = res.figures
    assert [a.get_title(loc="left").split(" (")[0] for a in f["preprocessing"].axes] == [
        "raw",
        "DC removed",
        "band-passed",
        "rectified",
        "linear envelope",
    ]
    titles = [a.get_title(loc="left") for a in f["regions"].axes]
    assert len(titles) == 6 and titles[0].startswith("left_upper") and titles[-1].startswith("right_lower")
    assert sum(len(a.patches) for a in f["regions"].axes) >= len(res.rows)  # shaded intervals
    ax = f["mvc_duration"].axes[0]
    assert ax.get_xlabel() == "duration (s)" and "µV" in ax.get_ylabel()  # no calibration here
    assert len(ax.collections) == 2 and len(ax.lines) == 1  # ME, MaE scatters and the 0.5 s split
    for name in ("preprocessing", "regions", "mvc_duration"):
        assert res.files[name].stat().st_size > 10_000


def test_gaps_are_segmented(session_dir):
    rec = load(session_dir / "s01.pfr")
    a, b = 30_000, 31_000
    rec.data[:, a:b] = np.nan
    rec.gaps = [(a, b)]
    rec.data[:, 60_000:60_500] = np.nan
    rec.gaps.append((60_000, 60_500))
    rec.data[:, 60_600:61_000] = np.nan  # leaves a 100-sample island between two gaps: skipped
    rec.gaps.append((60_600, 61_000))
    res = process_recording(rec, None, ProcessOptions(figures=False))
    assert not np.isfinite(res.envelope[:, a:b]).any()
    assert [(s.start, s.stop) for s in res.segments if not s.ok] == [(60_500, 60_600)]
    for r in res.rows:
        for ga, gb in rec.gaps:
            assert r.offset_sample < ga or r.onset_sample >= gb
    assert res.summary["gaps"]["count"] == 3 and res.summary["gaps"]["skipped_segments"] == [[60_500, 60_600]]
    assert res.summary["quality"][0]["gap_fraction"] == pytest.approx(1900 / rec.n_samples)


def _peak_mvc_errors(d) -> list[float]:
    """|relative error| of the reported peak %MVC of every simulated expression matched by an unflagged reported
    expression of its region (the strongest if several), against the simulator's truth (% of the true MVC)."""
    rec = load(d / "s01.pfr")
    rows = read_events_csv(d / "out" / "s01.events.csv")
    errs = []
    for t in sim_ground_truth(rec):
        m = [
            r
            for r in rows
            if r["region"] == t.region
            and int(r["onset_sample"]) <= t.offset
            and int(r["offset_sample"]) >= t.onset
            and r["flagged"] == "False"
        ]
        if m:
            r = max(m, key=lambda r: float(r["peak_mvc_pct"]))
            errs.append(abs(float(r["peak_mvc_pct"]) - t.peak) / t.peak)
    return errs


def test_peak_mvc_within_10_percent_of_truth(session_dir, session_argv, tmp_path):
    """Issue 15: %MVC with the noise floor power-subtracted from the event and from the MVC reference, the peak
    taken as the event's plateau, the MVC the highest calibration repetition (the simulated participant gives
    85-100 % effort per repetition), against the simulator's truth: median |relative error| over the matched
    expressions of 6 sessions (the fixture's seed 11 and the fresh seeds 21-25, each its own MVC session and 90 s
    recording) <= 10 %. Measured: 7.5 % pooled (n = 140; 7.3 % with n = 139 before mains detection moved to the
    central 24 s, 7.6 % before the last spotting changes, when seeds 0-13
    gave 7.2 % pooled, 5-11 % per session: a 90 s session holds only ~25 expressions). With the mean of the
    repetitions instead (the rule before) seed 11 gave 12.8 %."""
    import os
    import subprocess
    import sys

    procs = []
    for seed in range(21, 26):
        d = tmp_path / f"seed{seed}"
        d.mkdir()
        script = (
            f"import sys; from perifacial import cli; sys.exit(any(cli.main(a) for a in {session_argv(d, seed)!r}))"
        )
        env = {**os.environ, "MPLBACKEND": "Agg"}
        p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        procs.append((d, p))
    errs = _peak_mvc_errors(session_dir)
    for d, p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
        errs += _peak_mvc_errors(d)
    print("median |rel err| of peak %MVC:", np.median(errs), "n =", len(errs))
    assert len(errs) >= 100 and np.median(errs) <= 0.10


def test_artefact_overlaps_are_flagged(session_dir):
    """Issue 15: every reported expression that overlaps an electrode artefact (contact change) on its region is
    flagged (or typed artefact)."""
    from perifacial.dsp.montage import default_montage
    from perifacial.dsp.synth import SynthStream

    rec = load(session_dir / "s01.pfr")
    rows = read_events_csv(session_dir / "out" / "s01.events.csv")
    st = SynthStream(sim_seed(rec), fs=rec.fs)
    first = int(rec.first_sample)
    mont = default_montage()
    # visible contact changes: DC steps of at least 30 uV (a 2 uV step with a noise change is not an artefact)
    arts = [
        (a - first, ch) for a, b, ch, k in st.artifacts_until(first + rec.n_samples, min_step_uv=30.0) if a >= first
    ]
    # within 0.1 s of the event (the 6 Hz envelope spreads a step by about that much; an expression kept over an
    # artefact takes its extent from the other electrodes, so it may start just after the step)
    tol = int(0.1 * rec.fs)
    checked = 0
    for r in rows:
        on, off = int(r["onset_sample"]), int(r["offset_sample"])
        hit = [a for a, ch in arts if on - tol <= a <= off + tol and mont.region_of(ch).name == r["region"]]
        if hit:
            checked += 1
            assert r["flagged"] == "True", r
    assert checked >= 1  # this session has one (12 visible contact steps in 90 s; the others hit no expression)
