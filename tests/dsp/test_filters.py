"""The filter core (perifacial.dsp.filters) against independent SciPy/NumPy references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss
import scipy_ref as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perifacial.dsp import _design, _iir
from perifacial.dsp import filters as F

DATA = Path(__file__).resolve().parents[1] / "data"
TOL = 1e-9  # zero-phase: max |ours - SciPy| <= TOL * peak |SciPy|


def close(got, want, tol=TOL):
    got = np.asarray(got)
    assert got.dtype == np.float64
    assert got.shape == np.shape(want)
    scale = max(np.max(np.abs(want)), np.finfo(float).tiny)
    err = np.max(np.abs(got - want)) / scale
    assert err <= tol, f"relative error {err:.3g} > {tol:g}"


def emg_like(rng, nch, n, offset=2000.0):
    """Bursty noise with a DC offset and some 50 Hz hum: [nch, n]."""
    t = np.arange(n) / 1000.0
    env = 0.2 + np.abs(np.sin(2 * np.pi * 0.7 * t))[None, :] * rng.uniform(0.5, 3, (nch, 1))
    return offset + 30 * env * rng.standard_normal((nch, n)) + 5 * np.sin(2 * np.pi * 50 * t)


# ----------------------------------------------------------------------------------------------------------- designs


@pytest.mark.parametrize("fs", [100.0, 500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 8])
def test_butter_designs_equal_scipy(fs, order):
    for lo, hi in [(20.0, 45.0), (10.0, fs / 2 - 1), (1.0, 2.0)]:
        want = ss.butter(order, [lo, hi], "bandpass", fs=fs, output="sos")
        np.testing.assert_array_equal(F.design_bandpass(lo, hi, fs=fs, order=order), want)
        np.testing.assert_array_equal(_design.sosfilt_zi(want), ss.sosfilt_zi(want))
    for c in [6.0, 20.0, fs / 2 - 0.5]:
        want = ss.butter(order, c, "lowpass", fs=fs, output="sos")
        np.testing.assert_array_equal(F.design_lowpass(c, fs=fs, order=order), want)
        np.testing.assert_array_equal(_design.sosfilt_zi(want), ss.sosfilt_zi(want))
        hp = ss.butter(order, c, "highpass", fs=fs, output="sos")
        np.testing.assert_allclose(_design.butter_sos(order, c, "highpass", fs), hp, rtol=1e-14, atol=1e-15)


def test_old_argument_orders_still_work_with_a_deprecation_warning():
    """The API contract (docs/conventions.md): designs take ``fs=`` last as in SciPy, and everything after
    ``(x, fs)`` is keyword-only; calls in the old order give the same result and a DeprecationWarning."""
    want = ss.butter(2, [20, 450], "bandpass", fs=1000.0, output="sos")
    with pytest.warns(DeprecationWarning, match="fs comes last"):
        np.testing.assert_array_equal(F.design_bandpass(1000.0, 20.0, 450.0, 2), want)
    with pytest.warns(DeprecationWarning, match="fs comes last"):
        np.testing.assert_array_equal(F.design_lowpass(1000.0, 6.0), ss.butter(2, 6.0, fs=1000.0, output="sos"))
    with pytest.warns(DeprecationWarning, match="fs comes last"):
        np.testing.assert_array_equal(F.design_notch(1000.0, 50.0, 30.0), ref.notch_sos(1000.0, 50.0, 30.0))
    x = np.random.default_rng(0).normal(size=(2, 2000))
    new = F.linear_envelope(x, 1000.0, band=(30.0, 300.0), cutoff=8.0, notch=None, zero_phase=False)
    with pytest.warns(DeprecationWarning, match="band, cutoff, order, notch, zero_phase by keyword"):
        old = F.linear_envelope(x, 1000.0, (30.0, 300.0), 8.0, 2, None, False)
    np.testing.assert_array_equal(old, new)
    with pytest.raises(TypeError, match="multiple values"):
        F.bandpass(x, 1000.0, 30.0, low=30.0)
    with pytest.raises(TypeError, match="positional"):
        F.lowpass(x, 1000.0, 6.0, 2, True, -1, "extra")
    # without fs= a positional call is read in the old order (fs first): the warning says so, the edges fail
    with pytest.warns(DeprecationWarning, match="fs comes last"), pytest.raises(ValueError):
        F.design_bandpass(20.0, 450.0, 1000.0)
    with pytest.raises(TypeError, match="at most 4"):
        F.design_bandpass(1000.0, 20.0, 450.0, 2, 3)


def test_notch_design_and_padlen_equal_scipy():
    for fs, f0, q in [(1000.0, 50.0, 30.0), (1000.0, 60.0, 10.0), (2000.0, 50.0, 35.0)]:
        got = F.design_notch(f0, q, fs=fs, harmonics=3)
        np.testing.assert_array_equal(got, ref.notch_sos(fs, f0, q, harmonics=3))
    with pytest.raises(ValueError, match="Nyquist"):
        F.design_notch(50.0, fs=200.0, harmonics=3)  # 150 Hz >= 100 Hz
    # the envelope's notch keeps the harmonics below the band's upper edge: 50..400 Hz for a 450 Hz edge
    assert F.design_notch(50.0, fs=1000.0, harmonics=100, max_freq=450.0).shape == (8, 6)
    # SciPy's padlen rule: 3 * (2 * n_sections + 1 - trailing zeros), including odd orders
    for sos in [
        ss.butter(2, [20, 450], "bandpass", fs=1000, output="sos"),
        ss.butter(3, 6, fs=1000, output="sos"),
        ss.butter(1, 6, fs=1000, output="sos"),
    ]:
        x = np.zeros(1000)
        edge = F.filtfilt_padlen(sos)
        ss.sosfiltfilt(sos, x[: edge + 1])  # accepted by SciPy
        with pytest.raises(ValueError):
            ss.sosfiltfilt(sos, x[:edge])  # refused by SciPy: so the rule is the same


# ---------------------------------------------------------------------------------------------- zero-phase parity


@pytest.mark.parametrize("nch", [1, 3, 8, 9, 24])
@pytest.mark.parametrize("n", [16, 17, 300, 5000])
def test_linear_envelope_zero_phase_equals_scipy(nch, n):
    x = emg_like(np.random.default_rng(nch * 1000 + n), nch, n)
    close(F.linear_envelope(x, 1000.0), ref.envelope(x, 1000.0))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("notch", [None, 50, 60])
def test_linear_envelope_options_equal_scipy(order, fs, notch):
    x = emg_like(np.random.default_rng(order), 5, 3000)
    band = (20.0, min(450.0, fs / 2 - 20))
    kw = dict(band=band, cutoff=6.0, order=order, notch=notch)
    fk = dict(kw, mains_method="iir")  # the IIR notch cascade is SciPy's; the default remover is tested in test_mains
    close(F.linear_envelope(x, fs, **fk), ref.envelope(x, fs, **kw))
    np.testing.assert_array_equal(
        F.linear_envelope(x, fs, zero_phase=False, **fk), ref.envelope(x, fs, zero_phase=False, **kw)
    )


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_single_filters_equal_scipy(order):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((11, 4000)) * 50 + 3
    fs = 1000.0
    bp = ref.bandpass_sos(fs, 30.0, 300.0, order)
    lp = ref.lowpass_sos(fs, 10.0, order)
    close(F.bandpass(x, fs, low=30.0, high=300.0, order=order), ss.sosfiltfilt(bp, x))
    close(F.lowpass(x, fs, cutoff=10.0, order=order), ss.sosfiltfilt(lp, x))
    np.testing.assert_array_equal(
        F.bandpass(x, fs, low=30.0, high=300.0, order=order, zero_phase=False), ref.causal(bp, x)
    )
    np.testing.assert_array_equal(F.lowpass(x, fs, cutoff=10.0, order=order, zero_phase=False), ref.causal(lp, x))
    nt = ref.notch_sos(fs, 50.0, 30.0, harmonics=order)
    close(F.notch(x, fs, freq=50.0, q=30.0, harmonics=order), ss.sosfiltfilt(nt, x))
    np.testing.assert_array_equal(
        F.notch(x, fs, freq=50.0, q=30.0, harmonics=order, zero_phase=False), ref.causal(nt, x)
    )


def test_remove_dc_and_rectify_equal_numpy():
    rng = np.random.default_rng(3)
    x = rng.integers(-2000, 2000, (4, 999)).astype(np.int16)
    close(F.remove_dc(x), x - x.mean(axis=-1, keepdims=True), 1e-15)
    close(F.remove_dc(x.T, axis=0), (x - x.mean(axis=-1, keepdims=True)).T, 1e-15)
    np.testing.assert_array_equal(F.rectify(x), np.abs(x.astype(float)))
    assert F.rectify(x).dtype == np.float64
    np.testing.assert_array_equal(F.rectify(np.int16(-32768)), 32768.0)  # no int16 overflow


def test_axis_ndim_and_dtypes():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, 2000)) * 400 + 2048).astype(np.int16)
    want = ref.envelope(x.astype(float), 1000.0)
    close(F.linear_envelope(x, 1000.0), want)
    close(F.linear_envelope(x.T, 1000.0, axis=0), want.T)
    close(F.linear_envelope(np.asfortranarray(x.T), 1000.0, axis=0), want.T)
    close(F.linear_envelope(x[1], 1000.0), want[1])
    for dt in (np.int32, np.uint16, np.int64, np.float32):
        xd = x.astype(dt)
        close(F.linear_envelope(xd, 1000.0), ref.envelope(xd.astype(float), 1000.0))
    # a strided view is fine too
    xx = rng.standard_normal((6, 4000))
    close(
        F.bandpass(xx[::2, ::2], 500.0, low=20, high=200),
        ss.sosfiltfilt(ref.bandpass_sos(500.0, 20, 200), xx[::2, ::2]),
    )
    # empty channel axis and empty causal input
    assert F.linear_envelope(np.zeros((0, 100)), 1000.0).shape == (0, 100)
    assert F.linear_envelope(np.zeros((2, 0)), 1000.0, zero_phase=False).shape == (2, 0)


def test_one_compiled_signature_per_kernel():
    x = np.arange(2000, dtype=np.int16).reshape(2, 1000)
    for dt in (np.int16, np.float32, np.float64):
        F.linear_envelope(x.astype(dt), 1000.0)
        F.linear_envelope(x.astype(dt), 1000.0, zero_phase=False)
    for k in (_iir.filtfilt_chain, _iir.causal_chain):
        assert len(k.get().signatures) == 1


def test_large_dc_offset_and_constant_input():
    rng = np.random.default_rng(11)
    x = 1e6 + rng.standard_normal((2, 3000))
    close(F.linear_envelope(x, 1000.0), ref.envelope(x, 1000.0), 1e-8)
    # a constant recording has no EMG: the causal chain (steady-state start) outputs ~0 from the first sample
    c = np.full((2, 500), 2048.0)
    assert np.max(np.abs(F.linear_envelope(c, 1000.0, zero_phase=False, notch=None))) < 1e-9
    assert np.max(np.abs(F.linear_envelope(c, 1000.0))) < 1e-9


# --------------------------------------------------------------------------------------------------- kernels alone


def test_kernel_row_sums_and_first_nonfinite():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 1001))
    np.testing.assert_allclose(_iir.row_sums(x), x.sum(axis=1), rtol=1e-12)
    assert _iir.first_nonfinite(x) == (-1, -1)
    x[3, 700] = np.nan
    x[1, 900] = np.inf
    x[4, 700] = -np.inf
    assert _iir.first_nonfinite(x) == (3, 700)
    bad = np.argwhere(~np.isfinite(x))
    t = bad[:, 1].min()
    assert (bad[bad[:, 1] == t][:, 0].min(), t) == (3, 700)


@pytest.mark.parametrize("last", [_iir.AS_IS, _iir.CLIP])
def test_kernel_filtfilt_chain_multistage_equals_scipy(last):
    """Three stages (notch, band-pass rectified, low-pass kept as is or clipped at 0) straight through the kernel,
    demeaned."""
    rng = np.random.default_rng(4)
    x = np.ascontiguousarray(rng.standard_normal((10, 777)) + 5)
    stages = [ref.notch_sos(1000.0, 50.0, 30.0, 3), ref.bandpass_sos(1000.0, order=3), ref.lowpass_sos(1000.0)]
    sos = np.ascontiguousarray(np.concatenate(stages))
    zi = np.ascontiguousarray(np.concatenate([ss.sosfilt_zi(s) for s in stages]))
    bounds = np.array([0, 3, 6, 7], dtype=np.int64)
    pads = np.array([F.filtfilt_padlen(s) for s in stages], dtype=np.int64)
    post = np.array([_iir.AS_IS, _iir.RECTIFY, last], dtype=np.int64)
    out = np.empty_like(x)
    sums = np.empty(10)
    _iir.filtfilt_chain(x, 1, sos, zi, bounds, pads, post, out, sums, 2)
    want = x - x.mean(axis=1, keepdims=True)
    want = ss.sosfiltfilt(stages[0], want)
    want = np.abs(ss.sosfiltfilt(stages[1], want))
    want = ss.sosfiltfilt(stages[2], want)
    assert want.min() < 0  # the low-pass undershoots at the ends: the clip has something to do
    close(out, np.maximum(want, 0.0) if last == _iir.CLIP else want)
    np.testing.assert_allclose(sums, x.sum(axis=1), rtol=1e-12)


_POST = {_iir.AS_IS: lambda y: y, _iir.RECTIFY: np.abs, _iir.CLIP: lambda y: np.maximum(y, 0.0)}


@pytest.mark.parametrize("orders", [(4, 3), (2, 2)], ids=["generic", "fused-envelope"])
@pytest.mark.parametrize("post", [(_iir.RECTIFY, _iir.AS_IS), (_iir.RECTIFY, _iir.CLIP), (_iir.CLIP, _iir.CLIP)])
def test_kernel_causal_chain_equals_scipy_bitwise(orders, post):
    """Band-pass then low-pass, each stage's output post-processed (abs, clip at 0 or as is), against SciPy's
    ``sosfilt`` and NumPy; (2, 2) takes the one-sweep path of the default envelope."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((13, 1234)) * 100 - 50
    x[:, 600:] *= 1e-3  # a burst that stops: the low-pass undershoots below 0 after it
    x = np.ascontiguousarray(x)
    bp, lp = ref.bandpass_sos(1000.0, order=orders[0]), ref.lowpass_sos(1000.0, order=orders[1])
    sos = np.ascontiguousarray(np.concatenate([bp, lp]))
    zi = np.ascontiguousarray(np.concatenate([ss.sosfilt_zi(bp), ss.sosfilt_zi(lp)]))
    bounds = np.array([0, len(bp), len(bp) + len(lp)], dtype=np.int64)
    state = np.zeros((2, len(sos), 2, _iir.LANES))
    out = np.empty_like(x)
    assert _iir.causal_chain(x, sos, zi, bounds, np.array(post, dtype=np.int64), state, 1, out)
    want = _POST[post[1]](ref.causal(lp, _POST[post[0]](ref.causal(bp, x))))
    if post[1] == _iir.CLIP:
        assert (ref.causal(lp, _POST[post[0]](ref.causal(bp, x))) < 0).any()  # the clip has something to do
    np.testing.assert_array_equal(out, want)


# ------------------------------------------------------------------------------------------------------- streaming


def _stream(x, sizes, **kw):
    s = F.EnvelopeStream(1000.0, x.shape[0], **kw)
    outs, i = [], 0
    for k in sizes:
        outs.append(s.process(x[:, i : i + k]))
        i += k
    outs.append(s.process(x[:, i:]))
    return np.concatenate(outs, axis=1), s


@pytest.mark.parametrize("chunk", [1, 7, 50, 1000])
@pytest.mark.parametrize("notch", [None, 50])
def test_stream_chunks_equal_causal_batch(chunk, notch):
    x = emg_like(np.random.default_rng(chunk), 10, 3001)
    batch = F.linear_envelope(x, 1000.0, zero_phase=False, notch=notch, mains_method="iir")
    np.testing.assert_array_equal(batch, ref.envelope(x, 1000.0, zero_phase=False, notch=notch))
    got, s = _stream(x, [chunk] * (3001 // chunk), notch=notch, mains_method="iir")
    np.testing.assert_array_equal(got, batch)
    assert s.n_samples == 3001


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=12),
    nch=st.integers(min_value=1, max_value=17),
)
def test_stream_ragged_chunks_equal_batch(sizes, nch):
    x = emg_like(np.random.default_rng(nch), nch, 2500).astype(np.float32)
    batch = F.linear_envelope(x, 1000.0, zero_phase=False)
    sizes = [k for k in sizes]
    while sum(sizes) > 2500:
        sizes.pop()
    got, _ = _stream(x, sizes)
    np.testing.assert_array_equal(got, batch)


def test_stream_reset_1d_and_nan_rollback():
    x = emg_like(np.random.default_rng(9), 1, 600)
    s = F.EnvelopeStream(1000.0, 1)
    a = s.process(x[0, :300])
    assert a.ndim == 1
    s.reset()
    np.testing.assert_array_equal(s.process(x[0]), F.linear_envelope(x[0], 1000.0, zero_phase=False))
    # NaN in a chunk: error names channel and absolute sample, and the stream is unchanged
    y = emg_like(np.random.default_rng(10), 4, 400)
    s = F.EnvelopeStream(1000.0, 4)
    first = s.process(y[:, :200])
    bad = y[:, 200:].copy()
    bad[2, 17] = np.nan
    with pytest.raises(ValueError, match=r"channel 2, sample 217"):
        s.process(bad)
    rest = s.process(y[:, 200:])
    np.testing.assert_array_equal(np.concatenate([first, rest], 1), F.linear_envelope(y, 1000.0, zero_phase=False))
    with pytest.raises(ValueError, match=r"\[4, n\]"):
        s.process(y[:3])


# ---------------------------------------------------------------------------------------------------------- errors


def test_errors_band_edges():
    x = np.zeros((2, 1000))
    with pytest.raises(ValueError, match=r"Nyquist.*50 Hz"):
        F.linear_envelope(x, 100.0)
    with pytest.raises(ValueError, match=r"high = 500 Hz .*Nyquist"):
        F.bandpass(x, 1000.0, low=20.0, high=500.0)
    with pytest.raises(ValueError, match=r"low = 0.* must be > 0"):
        F.bandpass(x, 1000.0, low=0.0, high=450.0)
    with pytest.raises(ValueError, match=r"low = -5"):
        F.bandpass(x, 1000.0, low=-5.0, high=450.0)
    with pytest.raises(ValueError, match=r"low < high"):
        F.bandpass(x, 1000.0, low=300.0, high=200.0)
    with pytest.raises(ValueError, match=r"cutoff = 600 Hz .*Nyquist"):
        F.lowpass(x, 1000.0, cutoff=600.0)
    with pytest.raises(ValueError, match="order"):
        F.lowpass(x, 1000.0, order=0)
    with pytest.raises(ValueError, match="fs"):
        F.lowpass(x, -1.0)
    with pytest.raises(ValueError, match="notch"):
        F.linear_envelope(x, 1000.0, notch="50")


def test_errors_short_recording_says_how_many_samples():
    with pytest.raises(ValueError, match=r"15 samples along axis 1.*at least 16 samples"):
        F.linear_envelope(np.zeros((2, 15)), 1000.0)
    with pytest.raises(ValueError, match=r"at least 10 samples"):
        F.lowpass(np.zeros(9), 1000.0)
    F.lowpass(np.zeros(10), 1000.0)  # 10 > padlen 9, as in SciPy
    F.linear_envelope(np.zeros((2, 15)), 1000.0, zero_phase=False)  # causal has no minimum length


def test_errors_nonfinite_say_where():
    x = np.zeros((3, 500))
    x[1, 123] = np.nan
    x[2, 300] = np.inf
    for zp in (True, False):
        with pytest.raises(ValueError, match=r"channel 1, sample 123"):
            F.linear_envelope(x, 1000.0, zero_phase=zp)
    with pytest.raises(ValueError, match=r"channel 1, sample 123"):
        F.remove_dc(x)
    with pytest.raises(ValueError, match=r"sample 77 \(time axis 0\)"):
        y = np.zeros(400)
        y[77] = -np.inf
        F.bandpass(y, 1000.0)
    with pytest.raises(ValueError, match=r"channel 1, sample 123"):
        F.lowpass(x.T, 1000.0, axis=0)


@pytest.mark.parametrize("where", ["inside", "outside"])  # the central stretch that detect_mains analyses
@pytest.mark.parametrize("mains_uv", [0.0, 20.0])
def test_errors_nonfinite_say_where_with_mains_detection(where, mains_uv):
    """The default ``notch="auto"`` detects mains first: a NaN wherever it is (in the analysed stretch or not, with
    or without mains found) gives the same error, naming channel, sample and axis as the user passed them."""
    fs, n = 1000.0, 60_000
    rng = np.random.default_rng(13)
    x = rng.normal(0.0, 5.0, (3, n)) + mains_uv * np.sin(2 * np.pi * 50.0 * np.arange(n) / fs)
    t_bad = n // 2 + 10 if where == "inside" else 100
    x[1, t_bad] = np.nan
    with pytest.raises(ValueError, match=rf"at channel 1, sample {t_bad} \(time axis 1\)"):
        F.linear_envelope(x, fs)
    with pytest.raises(ValueError, match=rf"at channel 1, sample {t_bad} \(time axis 0\)"):
        F.linear_envelope(x.T, fs, axis=0)
    with pytest.raises(ValueError, match=rf"at sample {t_bad} \(time axis 0\)"):
        F.linear_envelope(x[1], fs)


def test_errors_axis_ndim_dtype():
    x = np.zeros((2, 100))
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        F.lowpass(x, 1000.0, axis=2)
    with pytest.raises(ValueError, match="axis must be an integer"):
        F.lowpass(x, 1000.0, axis=1.5)
    with pytest.raises(ValueError, match="3-D"):
        F.lowpass(np.zeros((2, 2, 100)), 1000.0)
    with pytest.raises(ValueError, match="0-D"):
        F.lowpass(np.float64(1.0), 1000.0)
    for bad in (x.astype(complex), x.astype(bool), x.astype(object), np.array([["a"] * 100])):
        with pytest.raises(ValueError, match="dtype"):
            F.linear_envelope(bad, 1000.0)
    with pytest.raises(ValueError, match="n_channels"):
        F.EnvelopeStream(1000.0, 0)


# ------------------------------------------------------------------------------------------------ real recordings


def test_biosppy_excerpt_parity():
    x = np.loadtxt(DATA / "biosppy_emg_1_13-19s.txt", comments="#").astype(np.int16)  # raw 12-bit ADC counts
    assert x.shape == (6000,)
    env = F.linear_envelope(x, 1000.0)
    close(env, ref.envelope(x.astype(float), 1000.0))
    np.testing.assert_array_equal(
        F.linear_envelope(x, 1000.0, zero_phase=False, notch=None),
        ref.envelope(x.astype(float), 1000.0, zero_phase=False),
    )
    close(F.linear_envelope(x, 1000.0, notch=50, mains_method="iir"), ref.envelope(x.astype(float), 1000.0, notch=50))
    # the burst (~14-18 s, i.e. 1-5 s into the excerpt) stands well above the rest at the start
    assert env[2000:4000].mean() > 3 * env[:600].mean()


def test_uci_lower_limb_excerpt_parity():
    x = np.loadtxt(DATA / "uci_lower_limb_5Nmar_1-3.5s.tsv", comments="#")  # [samples, 4] in mV
    assert x.shape == (2500, 4)
    close(F.linear_envelope(x, 1000.0, axis=0), ref.envelope(x.T, 1000.0).T)
    got, _ = _stream(np.ascontiguousarray(x.T), [13, 400, 1, 999], notch=None)
    np.testing.assert_array_equal(got, ref.envelope(x.T, 1000.0, zero_phase=False))


def test_facial_100hz_refuses_450hz_band_but_envelopes_rectified_columns():
    d = np.loadtxt(DATA / "nilsonne_facial_09_60-75s.txt", comments="#")  # 100 Hz, [1500, 4]
    raw, rectified = d[:, :2].T, d[:, 2:].T
    with pytest.raises(ValueError, match=r"high = 450 Hz is at or above the Nyquist frequency fs/2 = 50 Hz"):
        F.linear_envelope(raw, 100.0)
    with pytest.raises(ValueError, match="Nyquist"):
        F.EnvelopeStream(100.0, 2)
    env = F.lowpass(rectified, 100.0, cutoff=6.0)
    close(env, ss.sosfiltfilt(ss.butter(2, 6.0, fs=100.0, output="sos"), rectified))
    assert np.all(np.isfinite(env))


# ------------------------------------------------------------------------------------------- edge handling (clip at 0)


@pytest.mark.parametrize("zero_phase", [True, False])
def test_envelope_clip_at_zero_is_the_only_change_to_the_scipy_chain(zero_phase):
    """The raw chain (before the documented clip) equals SciPy's; the envelope is that chain with values below 0
    set to 0, and the raw chain really does dip below 0 at the start on this input (so the clip is exercised)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, (3, 4000))
    x[:, :150] *= 40.0  # a strong burst right at t = 0 that stops: the low-pass undershoots after it
    stages = F.envelope_stages(1000.0, (20.0, 450.0), 6.0, 2, None, 30.0)
    assert [s.post for s in stages] == [_iir.RECTIFY, _iir.CLIP]  # the clip happens inside the low-pass's sweep
    stages[-1] = dataclasses.replace(stages[-1], post=_iir.AS_IS)
    raw = F.run_stages(stages, x, -1, zero_phase, demean=True)
    want_raw = ref.envelope(x, 1000.0, zero_phase=zero_phase, clip=False)
    close(raw, want_raw, TOL if zero_phase else 1e-12)
    assert want_raw.min() < 0.0  # SciPy's chain itself goes negative here
    env = F.linear_envelope(x, 1000.0, zero_phase=zero_phase, notch=None)  # the chain without mains removal
    np.testing.assert_array_equal(env, np.maximum(raw, 0.0))
    assert env.min() == 0.0
    close(env, ref.envelope(x, 1000.0, zero_phase=zero_phase), TOL if zero_phase else 1e-12)


def test_stream_envelope_never_negative_and_equals_clipped_batch():
    rng = np.random.default_rng(12)
    x = rng.normal(0.0, 1.0, (2, 3000))
    x[:, :150] *= 40.0
    s = F.EnvelopeStream(1000.0, 2)
    got = np.concatenate([s.process(x[:, i : i + 250]) for i in range(0, 3000, 250)], axis=1)
    assert got.min() >= 0.0
    np.testing.assert_array_equal(got, F.linear_envelope(x, 1000.0, zero_phase=False))
