"""MVC calibration, normalisation and iEMG (perifacial.dsp.mvc)."""

import json
import sys
import types

import numpy as np
import pytest
from scipy import integrate, signal

from perifacial.dsp.mvc import MvcCalibration, calibrate_mvc, iemg, normalize_mvc

FS = 1000.0


def scipy_envelope(x, fs, band=(20.0, 450.0), cutoff=6.0, order=2, notch=None, zero_phase=True, axis=-1):
    """Independent reference of the seed-003 chain: DC removal, band-pass, |.|, low-pass, all sosfiltfilt."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=axis, keepdims=True)
    bp = signal.butter(order, band, btype="bandpass", fs=fs, output="sos")
    lp = signal.butter(order, cutoff, btype="lowpass", fs=fs, output="sos")
    return signal.sosfiltfilt(lp, np.abs(signal.sosfiltfilt(bp, x, axis=axis)), axis=axis)


@pytest.fixture
def linear_envelope(monkeypatch):
    """perifacial.dsp.filters.linear_envelope, or the SciPy reference installed in its place if the module is not
    there yet (the library imports it lazily)."""
    try:
        from perifacial.dsp.filters import linear_envelope as le

        return le
    except ImportError:
        mod = types.ModuleType("perifacial.dsp.filters")
        mod.linear_envelope = scipy_envelope
        monkeypatch.setitem(sys.modules, "perifacial.dsp.filters", mod)
        return scipy_envelope


def plateau_envelope(levels, noise=1.0, fs=FS, rep_s=1.5, gap_s=1.0):
    """Envelope [channels, samples]: ``noise`` uV everywhere plus, for channel c, three flat contractions of
    ``levels[c][r]`` uV lasting ``rep_s``; returns the envelope and the repetitions' (start, stop)."""
    levels = np.asarray(levels, dtype=float)
    n_rep = levels.shape[1]
    L, G = int(rep_s * fs), int(gap_s * fs)
    n = G + n_rep * (L + G)
    env = np.full((levels.shape[0], n), float(noise))
    reps = []
    for r in range(n_rep):
        a = G + r * (L + G)
        env[:, a : a + L] += levels[:, r : r + 1]
        reps.append((a - 200, a + L + 200))  # the segments may include some rest around the contraction
    return env, reps


def test_mvc_is_highest_repetition_peak_or_mean(tmp_path, caplog):
    levels = np.array([[100.0, 120.0, 110.0], [40.0, 50.0, 60.0], [300.0, 200.0, 250.0]])
    env, reps = plateau_envelope(levels)
    with caplog.at_level("WARNING", logger="perifacial.dsp.mvc"):
        cal = calibrate_mvc(env, FS, reps, labels=["LU1", "LU2", "LU3"])
    np.testing.assert_allclose(cal.mvc, 1.0 + levels.max(axis=1), rtol=1e-12)
    assert "highest of the 3 repetitions" in cal.method
    # LU2 (41 vs 61 uV) and LU3 (201 vs 301 uV) spread by more than 1/0.7; LU1 does not
    (msg,) = [r.getMessage() for r in caplog.records]
    assert "LU2" in msg and "LU3" in msg and "LU1" not in msg and "submaximal" in msg
    with pytest.raises(ValueError, match="combine"):
        calibrate_mvc(env, FS, reps, combine="median")
    cal = calibrate_mvc(
        env,
        FS,
        reps,
        participant="P07",
        date="2026-11-22",
        labels=["LU1", "LU2", "LU3"],
        chain={"band": [20, 450], "cutoff": 6.0},
        combine="mean",
    )
    np.testing.assert_allclose(cal.mvc, 1.0 + levels.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(np.array(cal.peaks_uv), 1.0 + levels, rtol=1e-12)
    np.testing.assert_allclose(cal.noise_uv, 1.0, rtol=1e-12)  # default: 5th percentile of the 0.5 s means
    assert "mean of the 3 repetitions" in cal.method and "0.5 s" in cal.method
    path = tmp_path / "mvc.json"
    cal.save(path)
    back = MvcCalibration.load(path)
    assert back == cal
    d = json.loads(path.read_text())
    assert d["participant"] == "P07" and d["labels"] == ["LU1", "LU2", "LU3"] and d["chain"]["cutoff"] == 6.0
    d["format"] = "x"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="format"):
        MvcCalibration.load(path)
    with pytest.raises(ValueError, match="JSON"):
        (tmp_path / "bad.json").write_text("{")
        MvcCalibration.load(tmp_path / "bad.json")


def test_mvc_moving_mean_takes_a_robust_peak():
    """A 50 ms spike does not make the MVC: the peak is that of the 0.5 s moving mean."""
    env, reps = plateau_envelope([[100.0, 100.0, 100.0]])
    a = reps[0][0] + 400
    env[0, a : a + 50] += 1000.0
    cal = calibrate_mvc(env, FS, reps, labels=["LM1"], combine="mean")
    # brute-force reference of the rule: max over windows of 500 samples inside repetition 1
    seg = env[0, reps[0][0] : reps[0][1]]
    ref1 = max(seg[i : i + 500].mean() for i in range(seg.size - 499))
    assert cal.peaks_uv[0][0] == pytest.approx(ref1, rel=1e-12)
    assert cal.peaks_uv[0][0] < 101.0 + 1000.0 * 50 / 500 + 1e-9
    assert cal.mvc_uv[0] == pytest.approx((ref1 + 202.0) / 3, rel=1e-12)


def test_rest_segment_and_per_channel_repetitions():
    levels = np.array([[80.0, 90.0, 100.0], [30.0, 30.0, 30.0]])
    env, reps = plateau_envelope(levels, noise=2.0)
    env[1] += 0.5  # channel 1 has a higher floor
    cal = calibrate_mvc(env, FS, {"A": reps, 1: reps[:2]}, rest=(0, 800), labels=["A", "B"])
    np.testing.assert_allclose(cal.noise_uv, [2.0, 2.5])
    np.testing.assert_allclose(cal.mvc, [102.0, 32.5])
    assert len(cal.peaks_uv[1]) == 2
    with pytest.raises(ValueError, match="channel.*B"):
        calibrate_mvc(env, FS, {"A": reps}, labels=["A", "B"])


def test_channel_without_contraction_is_named():
    levels = np.zeros((24, 3))
    levels[:, :] = 50.0
    levels[6, :] = 0.0  # LM3: electrode never saw its muscle contract
    levels[13, 1] = 2.0  # RU2: repetition 2 missed
    env, reps = plateau_envelope(levels, noise=1.0)
    with pytest.raises(ValueError, match=r"LM3 .*repetition\(s\) 1, 2, 3.*RU2 .*repetition\(s\) 2"):
        calibrate_mvc(env, FS, reps)  # 24 channels: labels of the default montage
    cal = calibrate_mvc(env[[0, 1]], FS, reps, labels=["LU1", "LU2"], noise_floor=[1.0, 1.0])
    assert cal.noise_uv == (1.0, 1.0)
    with pytest.raises(ValueError, match="LU2"):
        calibrate_mvc(env[[0, 6]], FS, reps, labels=["LU1", "LU2"], noise_floor=1.0)


def test_default_montage_labels_and_name():
    env, reps = plateau_envelope(np.full((24, 3), 60.0))
    cal = calibrate_mvc(env, FS, reps)
    assert cal.labels[0] == "LU1" and cal.labels[23] == "RL4" and cal.montage
    assert cal.n_channels == 24 and cal.index("RM2") == 17


def test_raw_input_uses_the_linear_envelope(linear_envelope):
    rng = np.random.default_rng(0)
    amp = np.full((2, 9000), 2.0)
    reps = [(1000, 2500), (4000, 5500), (7000, 8500)]
    for r, (a, b) in enumerate(reps):
        amp[0, a:b] = 100.0 + 10 * r
        amp[1, a:b] = 40.0
    raw = amp * rng.standard_normal(amp.shape) + 500.0  # DC offset as off an ADS1299
    cal = calibrate_mvc(raw, FS, reps, kind="raw", labels=["x", "y"], envelope_kwargs={"cutoff": 5.0})
    ref = calibrate_mvc(scipy_envelope(raw, FS, cutoff=5.0), FS, reps, labels=["x", "y"])
    np.testing.assert_allclose(cal.mvc, ref.mvc, rtol=1e-6)
    assert cal.chain["cutoff"] == 5.0 and cal.chain["order"] == 2 and list(cal.chain["band"]) == [20.0, 450.0]
    # MVC of the rectified-smoothed Gaussian carrier: amplitude x sqrt(2/pi), within the band-pass's loss
    assert cal.mvc[1] == pytest.approx(40.0 * np.sqrt(2 / np.pi), rel=0.15)


def test_calibration_bad_inputs():
    env, reps = plateau_envelope([[50.0, 50.0, 50.0]])
    for kw, match in [
        (dict(data=np.zeros((1, 2, 3))), "channels, samples"),
        (dict(repetitions=[(0, 10**9)]), "inside"),
        (dict(repetitions=[(100, 300)]), "shorter than"),
        (dict(repetitions=[]), "no repetitions"),
        (dict(fs=0.0), "fs"),
        (dict(kind="rms"), "kind"),
        (dict(labels=["a", "b"]), "labels"),
        (dict(rest=(0, 100), noise_floor=1.0), "either"),
    ]:
        args = dict(data=env, fs=FS, repetitions=reps)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            calibrate_mvc(**args)
    bad = env.copy()
    bad[0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        calibrate_mvc(bad, FS, reps)
    with pytest.raises(ValueError, match="> 0"):
        MvcCalibration("p", "d", "", ("a",), (0.0,), (1.0,), FS)


def test_normalize_mvc():
    cal = MvcCalibration("p", "2026-01-01", "m", ("a", "b", "c"), (50.0, 200.0, 10.0), (1.0, 1.0, 1.0), FS)
    env = np.array([[25.0, 50.0], [20.0, 400.0], [1.0, 0.0]])
    np.testing.assert_allclose(normalize_mvc(env, cal), [[50.0, 100.0], [10.0, 200.0], [10.0, 0.0]])
    np.testing.assert_allclose(normalize_mvc(env[1], cal, channels="b"), [10.0, 200.0])
    np.testing.assert_allclose(normalize_mvc(env[[2, 0]], cal, channels=[2, "a"]), [[10.0, 0.0], [50.0, 100.0]])
    with pytest.raises(ValueError, match="3 channels"):
        normalize_mvc(env[:2], cal)
    with pytest.raises(KeyError):
        normalize_mvc(env[0], cal, channels="zz")


@pytest.mark.parametrize("onset, offset", [(0, 0), (0, 1), (17, 333), (5, 999)])
def test_iemg_parity_with_scipy_trapezoid(onset, offset):
    rng = np.random.default_rng(onset + offset)
    x = rng.gamma(2.0, 5.0, size=(3, 1000))
    x[1, ::7] *= -1  # eq. 7 integrates |Norm(E)|
    ref = integrate.trapezoid(np.abs(x[:, onset : offset + 1]), dx=1 / FS, axis=-1)
    np.testing.assert_allclose(iemg(x, FS, onset, offset), ref, rtol=1e-14, atol=0)
    assert iemg(x[0], FS, onset, offset) == pytest.approx(ref[0], rel=1e-14, abs=0)
    ref_signed = integrate.trapezoid(x[1, onset : offset + 1], dx=1 / FS)
    assert iemg(x[1], FS, onset, offset, absolute=False) == pytest.approx(ref_signed, rel=1e-12, abs=1e-15)


def test_iemg_known_value_and_errors():
    x = np.full(2001, 20.0)  # 20 %MVC held for 2 s
    assert iemg(x, 1000.0, 0, 2000) == pytest.approx(40.0)  # %MVC.s
    for onset, offset in [(-1, 5), (5, 4), (0, 2001)]:
        with pytest.raises(ValueError, match="onset"):
            iemg(x, 1000.0, onset, offset)
    with pytest.raises(ValueError, match="fs"):
        iemg(x, 0.0, 0, 5)
    with pytest.raises(ValueError, match="1-D"):
        iemg(np.zeros((2, 2, 2)), 1000.0, 0, 1)
