"""CASMEMG baseline: pinned against a line-by-line 1-based transcription of the lab's MATLAB code."""

import numpy as np
import pytest
from scipy.signal import butter, lfilter, lfilter_zi

from perifacial.dsp.spot_casmemg import PAPER_NAMES, casmemg_params
from perifacial.dsp.spotting import CasmemgParams, casmemg_clip, casmemg_envelope, spot, spot_casmemg


def ours(params):
    """The paper's parameter names (used by the MATLAB transcription below) -> spot_casmemg's keywords."""
    return {PAPER_NAMES.get(k, k): v for k, v in params.items()}


def _findpeaks(x1):
    """MATLAB findpeaks on a 1-based list (x1[0] unused) of isolated 0/1 marks: strict local maxima, no ends."""
    n = len(x1) - 1
    return [i for i in range(2, n) if x1[i] > x1[i - 1] and x1[i] > x1[i + 1]]


def matlab_reference(env, W_L=60, S_L=30, k=1.0, S_n=5, W_f=2, W_b=6, gate=1.0):
    """emg_onset_offset_detection.m + window_split.m + feature_calculation.m, 1-based as written.
    Returns the kept (onset, offset) pairs as 1-based sample indices."""
    L = len(env)
    e = np.concatenate([[np.nan], env])  # e[1..L]
    frags = [None]
    s = 1
    while s <= L - W_L:  # for s = 1:S_L:L-W_L
        frags.append(np.concatenate([[np.nan], e[s : s + W_L + 1]]))  # env(s:s+W_L)
        s += S_L
    N = len(frags) - 1
    E = [None] + [np.mean(frags[j][1:]) for j in range(1, N + 1)]
    T = k * np.mean(env)
    mark = [None] + [1 if E[j] >= T else 0 for j in range(1, N + 1)]
    onset_mark = [0] * (N + 1)  # 1-based (index 0 unused): MATLAB length N
    offset_mark = [0] * (N + 2)  # 1-based: MATLAB length N+1
    p = 2
    while p < N:
        m = 1
        while mark[p] == 1:
            if p + m > N:
                break
            if mark[p + m] == 1:
                m = m + 1
            else:
                break
        if m >= S_n:
            onset_mark[p] = 1
            offset_mark[p + m - 1] = 1
            p = p + m
        else:
            p = p + 1
    On = _findpeaks(onset_mark)
    Off = _findpeaks(offset_mark)
    assert len(On) == len(Off)
    kept = []
    for n in range(len(On)):
        w = On[n] - W_f
        if w < 1:
            w = On[n]
        onset = (w - 1) * S_L + (int(np.argmin(frags[w][1:])) + 1)
        w = Off[n] + W_b
        matlab_length_offset_mark = len(offset_mark) - 1  # = N + 1
        if w > matlab_length_offset_mark - 1:
            w = Off[n]
        offset = (w - 1) * S_L + (int(np.argmin(frags[w][1:])) + 1)
        if np.sum(e[onset : offset + 1]) >= gate:  # sum(env(onset:offset))
            kept.append((onset, offset))
    return kept


def _smooth_env(rng, L, n_bumps):
    x = 1.0 + 0.3 * np.abs(np.convolve(rng.standard_normal(L + 200), np.ones(60) / 60, mode="same"))[100:-100]
    for _ in range(n_bumps):
        a = int(rng.integers(0, L - 50))
        d = int(rng.integers(50, 900))
        t = np.arange(min(d, L - a))
        x[a : a + t.size] += rng.uniform(0.5, 4) * np.sin(np.pi * t / d) ** 2
    return x


@pytest.mark.parametrize("seed", range(25))
def test_equals_matlab_transcription_on_random_envelopes(seed):
    rng = np.random.default_rng(seed)
    L = int(rng.integers(200, 6000))
    env = _smooth_env(rng, L, int(rng.integers(0, 5)))
    params = dict(
        W_L=int(rng.choice([20, 40, 60, 80, 100])),
        S_L=int(rng.choice([10, 20, 30])),
        k=float(rng.choice([1.0, 1.5, 2.0])),
        S_n=int(rng.integers(2, 6)),
        W_f=int(rng.integers(2, 7)),
        W_b=int(rng.integers(2, 7)),
        gate=float(rng.choice([1.0, 0.0, 300.0])),
    )
    ref = matlab_reference(env, **params)
    got = spot_casmemg(env, 1000.0, merge=False, **ours(params))
    # 0-based mapping: sample i (MATLAB) -> i - 1
    assert sorted((e.onset, e.offset) for e in got) == sorted((a - 1, b - 1) for a, b in ref)
    hull = spot_casmemg(env, 1000.0, merge=True, **ours(params))
    if ref:
        assert [(h.onset, h.offset) for h in hull] == [(min(a for a, _ in ref) - 1, max(b for _, b in ref) - 1)]
    else:
        assert hull == []


SMALL = dict(W_L=4, S_L=2, k=1.0, S_n=2, W_f=1, W_b=0, gate=0.0)


def test_windows_hold_WL_plus_1_samples():
    env = np.ones(41)
    env[21:30] = 5.0
    env[20] = 0.5  # unique minimum of window 8 (samples 16..20): its 5th sample, only there with W_L+1 samples
    (ev,) = spot_casmemg(env, 1000.0, **ours(SMALL))
    assert ev.onset == 20
    assert matlab_reference(env, **SMALL) == [(21, ev.offset + 1)]


def test_threshold_is_mean_of_all_clip_samples_not_of_window_energies():
    env = np.ones(42)  # 19 windows cover samples 0..40; sample 41 is in no window
    env[20:30] = 5.0
    assert spot_casmemg(env, 1000.0, **ours(SMALL))
    env[41] = 300.0  # never inside a window, but it lifts mean(env) above every window mean
    assert spot_casmemg(env, 1000.0, **ours(SMALL)) == []
    # a threshold from the mean of the window energies would still have detected the burst
    starts = np.arange(19) * 2
    E = np.array([env[s : s + 5].mean() for s in starts])
    assert (E >= E.mean()).sum() >= 2


def test_first_window_never_starts_a_run():
    p = dict(SMALL, S_n=3)
    env = np.ones(41)
    env[0:6] = 5.0  # windows 0, 1, 2 are marked: a run of 3 only if window 0 could start it
    assert spot_casmemg(env, 1000.0, **ours(p)) == []
    env2 = np.roll(env, 10)  # same burst later: detected
    assert len(spot_casmemg(env2, 1000.0, **ours(p))) == 1


def test_trough_search_uses_one_window_W_f_before_the_run():
    p = dict(SMALL, W_f=2)
    env = np.ones(61)
    env[30:40] = 6.0
    env[26] = 0.9  # the shallower minimum, in window 12 (24..28) = 2 windows before the run's first (14)
    env[29] = 0.1  # a deeper minimum in window 13 (26..30), between them: not searched
    ref = matlab_reference(env, **p)
    (ev,) = spot_casmemg(env, 1000.0, **ours(p))
    assert ev.onset + 1 == ref[0][0]
    assert ev.onset == 26  # argmin of window 12, not 29


def test_hull_merge_and_all_detections():
    env = np.ones(400)
    env[60:90] = 5.0
    env[250:290] = 5.0
    all_ = spot_casmemg(env, 1000.0, merge=False, **ours(SMALL))
    hull = spot_casmemg(env, 1000.0, merge=True, **ours(SMALL))
    assert len(all_) == 2 and len(hull) == 1
    assert (hull[0].onset, hull[0].offset) == (all_[0].onset, all_[1].offset)
    assert hull[0].kind == "expression" and hull[0].peak == 5.0


def test_gate_on_envelope_sum():
    env = np.ones(400)
    env[60:90] = 5.0
    (ev,) = spot_casmemg(env, 1000.0, merge=False, **ours(SMALL))
    s = env[ev.onset : ev.offset + 1].sum()
    assert spot_casmemg(env, 1000.0, merge=False, **ours(dict(SMALL, gate=s)))
    assert spot_casmemg(env, 1000.0, merge=False, **ours(dict(SMALL, gate=s + 1e-9))) == []


def test_rate_conversion_scales_sample_counts():
    assert CasmemgParams().at_rate(2000) == (120, 60)
    assert CasmemgParams().at_rate(500) == (30, 15)
    rng = np.random.default_rng(3)
    env = _smooth_env(rng, 5000, 3)
    a = spot_casmemg(env, 2000.0, merge=False)
    b = spot_casmemg(env, 1000.0, merge=False, window_length=120, step_length=60)
    assert [(e.onset, e.offset) for e in a] == [(e.onset, e.offset) for e in b]
    with pytest.raises(ValueError, match="min_run"):
        spot_casmemg(env, 1000.0, min_run=1)


def test_paper_parameter_names_still_work_with_a_deprecation_warning():
    rng = np.random.default_rng(5)
    env = _smooth_env(rng, 4000, 3)
    paper = {"W_L": 40, "S_L": 20, "S_n": 3, "W_f": 3, "W_b": 4}
    with pytest.warns(DeprecationWarning) as caught:
        old = spot_casmemg(env, 1000.0, merge=False, **paper)
    assert sorted(str(w.message) for w in caught) == sorted(
        f"CASMEMG parameter {a}= is deprecated; use {b}=" for a, b in PAPER_NAMES.items()
    )
    new = spot_casmemg(env, 1000.0, merge=False, **ours(paper))
    assert old and [(e.onset, e.offset) for e in old] == [(e.onset, e.offset) for e in new]
    # the paper's MATLAB transcription agrees with either spelling
    assert sorted((e.onset + 1, e.offset + 1) for e in new) == sorted(matlab_reference(env, **paper, gate=1.0))
    with pytest.raises(TypeError, match="unexpected keyword"):
        spot_casmemg(env, 1000.0, window_len=40)
    with pytest.raises(TypeError, match="given twice"), pytest.warns(DeprecationWarning):
        casmemg_params(S_n=3, min_run=3)


def test_multichannel_and_spot_dispatch():
    rng = np.random.default_rng(4)
    env = np.stack([_smooth_env(rng, 3000, 1) for _ in range(24)])
    ev = spot(env, 1000.0, method="casmemg")
    assert all(e.region is not None for e in ev)
    for e in ev:
        (one,) = spot_casmemg(env[e.channel], 1000.0)
        assert (one.onset, one.offset) == (e.onset, e.offset)
    with pytest.raises(ValueError):
        spot(env, 1000.0, method="nope")


def _filtfilt_matlab_reference(b, a, x):
    """MATLAB filtfilt for (b, a): nfact = 3*(nfilt-1) odd reflection, zi*first, forward, reverse, forward."""
    nfilt = max(len(a), len(b))
    nfact = 3 * (nfilt - 1)
    b = np.concatenate([b, np.zeros(nfilt - len(b))])
    a = np.concatenate([a, np.zeros(nfilt - len(a))])
    zi = lfilter_zi(b, a)
    y = np.concatenate([2 * x[0] - x[nfact:0:-1], x, 2 * x[-1] - x[-2 : -nfact - 2 : -1]])
    y, _ = lfilter(b, a, y, zi=zi * y[0])
    y = y[::-1]
    y, _ = lfilter(b, a, y, zi=zi * y[0])
    return y[::-1][nfact:-nfact]


def test_casmemg_envelope_is_the_lab_chain():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(1500) * 20 + 100  # one clip with an offset
    b1, a1 = butter(2, [20 / 500, 450 / 500], "bandpass")
    y = _filtfilt_matlab_reference(b1, a1, x)
    y = np.abs(y - y.mean())  # mean removed after the band-pass, then rectified
    b2, a2 = butter(2, 6 / 500, "low")
    ref = _filtfilt_matlab_reference(b2, a2, y)
    got = casmemg_envelope(x, 1000.0)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    # multichannel along the last axis
    got2 = casmemg_envelope(np.stack([x, 2 * x]), 1000.0)
    np.testing.assert_allclose(got2[1], 2 * ref, rtol=1e-9, atol=1e-9)
    # differs from SciPy's default padding near the ends, which is why it exists
    from scipy.signal import filtfilt

    yd = filtfilt(b1, a1, x)
    yd = np.abs(yd - yd.mean())
    assert not np.allclose(filtfilt(b2, a2, yd)[:20], ref[:20], rtol=1e-6)


def test_clip_bounds_like_the_code():
    # GT 2.0-2.4 s at 1 kHz in a 60 s recording: 0-based [1500, 2900) (0.5 s each side)
    assert casmemg_clip(2000, 2399, 60000, 1000.0) == (1500, 2900)
    assert casmemg_clip(300, 700, 60000, 1000.0) == (0, 1201)  # clip_begin = 1 when t_on*1000 <= 500
    assert casmemg_clip(59000, 59400, 60000, 1000.0) == (58500, 60000)  # t_off*1000 + 1000 >= length: to the end
