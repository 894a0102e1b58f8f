import numpy as np
import pytest

from perifacial.host.sync import (
    AmbiguousDigit,
    Observation,
    SyncLog,
    convert_events,
    fit_sync,
    frame_to_sample_range,
    samples_to_frames,
)
from perifacial.host.sync.mapping import robust_line


def _log(n=400, spc=120, cap=100, kind="sampled"):
    rows = [(v, 1000 + v * spc, 10.0 + v * spc / 1000, kind, v % cap) for v in range(n)]
    return SyncLog.from_rows(rows)


def test_sync_log_capacity_csv_and_candidates(tmp_path):
    log = _log()
    assert log.capacity == 100  # inferred from the shown column
    log.write_csv(tmp_path / "s.csv")
    back = SyncLog.read_csv(tmp_path / "s.csv")
    assert back.capacity == 100 and back.kind == "sampled"
    assert np.array_equal(back.samples, log.samples)
    assert log.candidates(7).tolist() == [7, 107, 207, 307]
    assert SyncLog.from_rows([(0, 0, 0.0, "received"), (1, 10, 0.01, "received")]).capacity == 10**4
    assert log.sample_of([0, 1.5, 399, 400]).tolist()[:3] == [1000, 1180, 1000 + 399 * 120]
    assert np.isnan(log.sample_of(400))
    with pytest.raises(ValueError):
        SyncLog.from_rows([(0, 0, 0.0, "received"), (1, 10, 0.0, "sampled")])


def test_lookup_needs_fit_when_wrapped():
    log = _log()
    with pytest.raises(AmbiguousDigit):
        frame_to_sample_range(0, 7, log)
    # exact samples: video time t <-> sample 1000 + 1000 t (no drift); a change every 120 samples = 3.6 frames
    frames = np.arange(0, 1400)
    true_sample = 1000 + frames / 30 * 1000
    values = ((true_sample - 1000) // 120).astype(int)
    obs = [Observation(int(f), int(v) % 100) for f, v in zip(frames, values)]
    fit = fit_sync(obs, log, 30.0, rate=1000.0)
    assert abs(fit.drift_ppm) < 30 and not fit.rejected
    r = frame_to_sample_range(1000, int(values[1000]) % 100, log, fit)
    assert r.value == values[1000] and r.start <= true_sample[1000] < r.stop
    lo, hi = samples_to_frames(true_sample[500] + 1, true_sample[600] - 1, fit)
    assert lo <= 500 and hi >= 600 and hi - lo <= 102


def test_convert_events_both_ways():
    log = _log()
    frames = np.arange(0, 1400)
    values = ((frames / 30 * 1000) // 120).astype(int)
    fit = fit_sync(([int(f) for f in frames], [int(v) % 100 for v in values]), log, 30.0, rate=1000.0)
    header, rows = convert_events([{"id": "a", "onset": "300", "apex": "", "offset": "330"}], fit, unit="frames")
    assert header == ["id", "onset", "apex", "offset", "onset_sample", "apex_sample", "offset_sample"]
    assert rows[0]["apex_sample"] == "" and abs(rows[0]["onset_sample"] - 11000) <= 20
    header, rows = convert_events([{"onset_sample": "11000", "offset_sample": "12000"}], fit)
    assert rows[0]["onset_frame"] <= 300 and rows[0]["offset_frame"] >= 330
    with pytest.raises(ValueError):
        convert_events([{"id": "x", "onset": "1"}], fit)


def test_robust_line_rejects_outliers():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 100, 300)
    y = 5 + 2 * x + rng.uniform(-1, 1, 300)
    y[::10] += rng.choice([-500, 500], 30)
    a, b, inl, sd = robust_line(x, y, floor=1.0)
    assert abs(b - 2) < 0.005 and abs(a - 5) < 0.5
    assert not inl[::10].any() and inl.sum() == 270


def test_eight_digit_readings_with_default_capacity():
    # a log without the shown column: capacity defaults to 10**4; full 8-digit readings still map right
    log = SyncLog.from_rows([(v, 1000 + v * 120, 0.12 * v, "received") for v in range(9000, 12000)])
    assert log.capacity == 10**4
    frames = np.arange(0, 6000)
    true_sample = 1000 + 9000 * 120 + frames / 30 * 1000
    values = ((true_sample - 1000) // 120).astype(int)
    fit = fit_sync((frames, values), log, 30.0, rate=1000.0)
    assert abs(fit.drift_ppm) < 10 and not fit.rejected
    r = frame_to_sample_range(100, int(values[100]), log, fit)
    assert r.value == values[100] and r.start <= true_sample[100] < r.stop
