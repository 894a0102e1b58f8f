"""Mains detection and removal (perifacial.dsp.mains) against SciPy references and a NumPy reference of the kernel."""

import numpy as np
import pytest
import scipy.signal as ss

from perifacial.dsp import filters as F
from perifacial.dsp import mains as M

FS = 1000.0


def _emg(rng, c, n):
    return ss.sosfilt(ss.butter(2, [20, 300], "bandpass", fs=FS, output="sos"), rng.standard_normal((c, n))) * 10


def _mains(n, f0, amps=(6.0, 2.0, 2.0), phase=0.3, drift=0.0):
    t = np.arange(n) / FS
    f = f0 + drift * np.sin(2 * np.pi * 0.05 * t)  # slow drift of the line frequency
    ph = 2 * np.pi * np.cumsum(f) / FS
    return sum(a * np.sin((2 * h + 1) * ph + phase * h) for h, a in enumerate(amps))  # 1st, 3rd, 5th


@pytest.mark.parametrize("f0", [50.0, 60.0, 49.97])
def test_detect_finds_the_line_and_its_odd_harmonics(f0):
    rng = np.random.default_rng(1)
    x = _emg(rng, 4, 20000) + _mains(20000, f0) + 300.0
    info = M.detect_mains(x, FS, max_freq=450.0)
    assert info is not None and abs(info.freq - f0) < 0.05
    assert {1, 3, 5} <= set(info.harmonics)
    assert M.detect_mains(_emg(rng, 4, 20000), FS) is None  # broadband EMG alone has no line


def _edge_error(env, clean, k):
    d = np.abs(env - clean)
    return max(d[:, :k].mean(), d[:, -k:].mean()) / clean.mean()


def test_envelope_removes_mains_without_edge_ring_up_unlike_the_scipy_notch():
    rng = np.random.default_rng(2)
    emg = _emg(rng, 6, 12000)
    x = emg + _mains(12000, 50.0, drift=0.1)
    clean = F.linear_envelope(emg, FS, notch=None)
    auto = F.linear_envelope(x, FS)  # default: detect + subtract
    # SciPy reference: the iirnotch cascade with sosfiltfilt (its odd extension rings at both ends)
    nt = np.concatenate([np.r_[ss.iirnotch(f, 30.0, fs=FS)].reshape(1, 6) for f in range(50, 450, 50)])
    y = ss.sosfiltfilt(nt, x - x.mean(axis=1, keepdims=True))
    bp = ss.butter(2, [20, 450], "bandpass", fs=FS, output="sos")
    lp = ss.butter(2, 6, "lowpass", fs=FS, output="sos")
    iir = ss.sosfiltfilt(lp, np.abs(ss.sosfiltfilt(bp, y)))
    # (the envelope is that chain clipped at 0: see linear_envelope's Notes)
    np.testing.assert_allclose(
        F.linear_envelope(x, FS, notch=50, mains_method="iir"), np.maximum(iir, 0.0), rtol=1e-9, atol=1e-9
    )
    raw = F.linear_envelope(x, FS, notch=None)
    k = 100  # first and last 0.1 s
    e_auto, e_iir, e_raw = (_edge_error(e, clean, k) for e in (auto, iir, raw))
    assert e_auto < 0.06 and e_iir > 0.1 and e_raw > 0.15  # measured 0.032, 0.14, 0.22 of the mean envelope
    mid = slice(600, -600)
    assert np.abs(auto - clean)[:, mid].mean() / clean.mean() < 0.03  # measured 0.014 (IIR notch: 0.14)
    assert np.abs(raw - clean)[:, mid].mean() / clean.mean() > 0.15  # there was mains to remove
    # what is left at 50 Hz (residual line + the EMG the fit took away) is > 20 dB below the line
    f, p_in = ss.welch(x - emg, FS, nperseg=4000)
    r = M.remove_mains(x, FS) - emg
    _, p_out = ss.welch(r, FS, nperseg=4000)
    i50 = np.argmin(np.abs(f - 50))
    assert (p_out[:, i50] < 1e-2 * p_in[:, i50]).all()  # measured 23-26 dB


def test_no_mains_means_the_plain_chain_bit_for_bit_and_forced_frequency():
    rng = np.random.default_rng(3)
    x = _emg(rng, 3, 5000)
    np.testing.assert_array_equal(F.linear_envelope(x, FS), F.linear_envelope(x, FS, notch=None))
    # an explicit frequency forces removal even when it would not be detected
    assert not np.array_equal(F.linear_envelope(x, FS, notch=60), F.linear_envelope(x, FS, notch=None))
    with pytest.raises(ValueError, match="notch"):
        F.linear_envelope(x, FS, notch="fifty")
    with pytest.raises(ValueError, match="mains_method"):
        F.linear_envelope(x, FS, mains_method="fft")


def _rls_reference(x, freqs, tau_n):
    """Plain NumPy transcription: canceller with cos/sin references (+ a constant), exponentially weighted RLS."""
    C, n = x.shape
    K = 2 * len(freqs) + 1
    lam = 1 - 1 / tau_n
    w = np.zeros((C, K))
    scale = np.zeros(C)
    P = np.eye(K) * 1e4
    out = np.empty_like(x)
    for t in range(n):
        ph = 2 * np.pi * freqs / FS * t
        r = np.ones(K)
        r[0:-1:2], r[1:-1:2] = np.cos(ph), np.sin(ph)
        g = P @ r / (lam + r @ P @ r)
        P = (P - np.outer(g, r @ P)) / lam
        e = x[:, t] - w @ r
        # start-up gate: nothing subtracted for 4 K samples, then ramped in linearly until 8 K
        gate = 1.0 if t >= 8 * K else max(0.0, (t - 4 * K) / (4 * K))
        out[:, t] = x[:, t] - gate * (w[:, :-1] @ r[:-1])
        if t >= FS:  # Huber: clip at 2 x the running mean |error| (exponential, 10 s) after 1 s of plain mean
            e = np.clip(e, -2 * scale, 2 * scale)
            scale += (np.abs(e) - scale) / (10 * FS)
        else:
            scale += (np.abs(e) - scale) / (t + 1.0)
        w += e[:, None] * g[None, :]
    return out


def test_causal_canceller_equals_numpy_reference_and_removes_mains():
    rng = np.random.default_rng(4)
    emg = _emg(rng, 3, 3000)
    x = emg + _mains(3000, 60.0) + 50.0
    got = M.cancel_mains(x, FS, freq=60.0, max_freq=450.0)
    freqs = M.mains_frequencies(60.0, FS, max_freq=450.0)
    np.testing.assert_allclose(got, _rls_reference(x, freqs, 0.3 * FS), atol=1e-6)
    s = M.MainsCanceller(FS, 3, freq=60.0, max_freq=450.0)
    np.testing.assert_array_equal(
        np.concatenate([s.process(x[:, :7]), s.process(x[:, 7:1500]), s.process(x[:, 1500:])], axis=1), got
    )
    # the canceller is linear in x (LMS weights are linear in the input): look at the line's own residual
    line = _mains(3000, 60.0)[None, :] + 50.0
    r = M.cancel_mains(line, FS, freq=60.0, max_freq=450.0) - 50.0
    K = 2 * len(M.mains_frequencies(60.0, FS, max_freq=450.0)) + 1
    assert np.abs(r[:, 8 * K :]).max() < 1e-3 * line.std()  # fully cancelled once the start-up ramp (8 K) ends
    mid = r[:, 6 * K - 20 : 6 * K + 20]  # half way up the ramp: about half removed
    assert 0.3 * line.std() < np.sqrt(np.mean(mid**2)) < 0.7 * line.std()
    # periodic gain table (after 20 time constants) = the full RLS recursion
    long = _emg(rng, 2, 9000) + _mains(9000, 50.0)
    c = M.MainsCanceller(FS, 2, freq=50.0, max_freq=450.0)
    assert c._gain_table is not None
    c._gain_table = None  # force the O(K^2) recursion all the way
    np.testing.assert_allclose(M.cancel_mains(long, FS, freq=50.0, max_freq=450.0), c.process(long), atol=1e-6)
    # the stream's default (both 50 and 60 Hz families) removes it too, with no start-up burst in the envelope
    env = F.EnvelopeStream(FS, 3).process(x)
    clean = F.linear_envelope(emg, FS, zero_phase=False, notch=None)
    assert np.abs(env - clean)[:, 300:].max() < 0.25 * clean.mean()  # after the start-up ramp (8 K = 264)


def test_a_short_strong_burst_is_not_smeared_over_its_block():
    """A blink-like burst (0.1 s, 100 uV RMS, broadband) over 1 uV of noise and 50/100 Hz mains: the line fit of
    the burst's blocks leaves the burst out, so the mains-free signal equals the known clean signal around it as
    elsewhere (error within a few tenths of the noise). The plain fit took up the burst's own 50 Hz content and
    subtracted it from the whole 1 s block: 1.1-4 uV of error there, a 4x wider blink in the envelope."""
    rng = np.random.default_rng(1)
    n = 10_000
    t = np.arange(n) / FS
    clean = rng.normal(0.0, 1.0, (2, n))
    clean[:, 5000:5100] += rng.normal(0.0, 100.0, (2, 100))
    x = clean + 20.0 * np.sin(2 * np.pi * 50.0 * t + 0.3) + 5.0 * np.sin(2 * np.pi * 100.0 * t)
    err = M.remove_mains(x, FS, freq=50.0) - clean
    rms = lambda a, b: float(np.sqrt(np.mean(err[:, a:b] ** 2)))  # noqa: E731
    quiet = rms(1000, 3000)
    assert quiet < 0.25
    assert rms(4000, 4950) < 1.5 * quiet and rms(5150, 6000) < 1.5 * quiet
    # the blocked evaluation gives the same numbers (MainsPlan.subtract on column ranges with context)
    plan = M.MainsPlan.make(n, FS, M.mains_frequencies(50.0, FS), 1.0)
    parts = [plan.subtract(lambda a, b: x[:, a:b], a, min(n, a + 2345)) for a in range(0, n, 2345)]
    np.testing.assert_allclose(np.hstack(parts), clean + err, rtol=0, atol=1e-9)
