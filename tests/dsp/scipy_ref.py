"""Independent SciPy references for the filter core (used by tests/dsp and bench/)."""

from __future__ import annotations

import numpy as np
import scipy.signal as ss


def bandpass_sos(fs, low=20.0, high=450.0, order=2):
    return ss.butter(order, [low, high], "bandpass", fs=fs, output="sos")


def lowpass_sos(fs, cutoff=6.0, order=2):
    return ss.butter(order, cutoff, "lowpass", fs=fs, output="sos")


def notch_sos(fs, freq=50.0, q=30.0, harmonics=1, below=None):
    rows = []
    for h in range(1, harmonics + 1):
        f = h * freq
        if f >= (fs / 2 if below is None else min(below, fs / 2)):
            break
        b, a = ss.iirnotch(f, q, fs=fs)
        rows.append(np.r_[b, a])
    return np.asarray(rows)


def causal(sos, x):
    """``sosfilt`` along the last axis starting in the steady state of the first sample (the documented convention)."""
    x = np.asarray(x, dtype=np.float64)
    zi = ss.sosfilt_zi(sos)  # [n_sections, 2]
    zi = zi.reshape((zi.shape[0],) + (1,) * (x.ndim - 1) + (2,)) * x[..., :1]
    return ss.sosfilt(sos, x, axis=-1, zi=zi)[0]


def envelope(x, fs, band=(20.0, 450.0), cutoff=6.0, order=2, notch=None, zero_phase=True, clip=True):
    """The Li et al. 2024 chain written with plain NumPy/SciPy calls; ``clip`` applies the documented edge handling
    (values below 0 set to 0 after the low-pass), ``clip=False`` gives the raw SciPy chain."""
    env = _envelope(x, fs, band, cutoff, order, notch, zero_phase)
    return np.maximum(env, 0.0) if clip else env


def _envelope(x, fs, band, cutoff, order, notch, zero_phase):
    x = np.asarray(x, dtype=np.float64)
    bp = bandpass_sos(fs, band[0], band[1], order)
    lp = lowpass_sos(fs, cutoff, order)
    stages = []
    if notch is not None:
        stages.append(notch_sos(fs, notch, 30.0, harmonics=100, below=band[1]))
    stages.append(bp)
    if zero_phase:
        y = x - x.mean(axis=-1, keepdims=True)
        for sos in stages:
            y = ss.sosfiltfilt(sos, y, axis=-1)
        return ss.sosfiltfilt(lp, np.abs(y), axis=-1)
    y = x
    for sos in stages:
        y = causal(sos, y)
    return causal(lp, np.abs(y))
