"""Per-channel signal quality of a recording or a live buffer.

All amplitudes in uV. Inputs are raw EMG ``[channels, samples]`` at ``fs`` Hz; NaN columns (gaps) are ignored.

* ``noise_rms_uv``: RMS of the 20-450 Hz band-passed signal (mains removed) in the quietest 1 s windows (10th
  percentile of the per-window RMS): the electrode/amplifier noise floor a contraction must rise above.
* ``mains_uv``: amplitude (peak, uV) of the mains fundamental, from a least-squares sine fit on DC-removed data.
* ``leadoff_fraction``: share of received samples with the P or N lead-off bit set (NaN if unknown).
* ``gap_fraction``: share of samples never received (same for every channel of one recording).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from perifacial.dsp.defaults import emg_band
from perifacial.dsp.intervals import runs

log = logging.getLogger(__name__)

__all__ = ["ChannelQuality", "channel_quality", "mains_amplitude", "noise_rms"]


@dataclass(frozen=True)
class ChannelQuality:
    """Quality of one channel (units in the field names)."""

    label: str
    noise_rms_uv: float
    mains_uv: float
    leadoff_fraction: float
    gap_fraction: float

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def mains_amplitude(x: np.ndarray, fs: float, mains_hz: float = 50.0) -> np.ndarray:
    """Peak amplitude (uV) of the ``mains_hz`` sine in each row of ``x`` ``[channels, n]`` (finite samples only;
    least-squares fit of sin/cos and a constant, so baseline offsets do not leak in)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    ok = np.isfinite(x).all(axis=0)
    if ok.sum() < int(fs / mains_hz) * 4:
        return np.full(x.shape[0], math.nan)
    t = np.flatnonzero(ok) / fs
    w = 2 * math.pi * mains_hz * t
    basis = np.vstack([np.sin(w), np.cos(w), np.ones_like(w), t - t.mean()]).T  # [n, 4]
    coef, *_ = np.linalg.lstsq(basis, x[:, ok].T, rcond=None)
    return np.hypot(coef[0], coef[1])


def noise_rms(
    x: np.ndarray, fs: float, mains_hz: float | None = 50.0, window_s: float = 1.0, percentile: float = 10.0
) -> np.ndarray:
    """Noise floor (uV RMS) per row of ``x`` ``[channels, n]``: band-pass 20-450 Hz (clipped below Nyquist),
    optional mains notch, then the ``percentile`` of the RMS over non-overlapping ``window_s`` windows that hold
    no gap. NaN if no whole window."""
    from perifacial.dsp.filters import bandpass, notch

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    C, n = x.shape
    w = max(1, int(round(window_s * fs)))
    out = np.full(C, math.nan)
    ok = np.isfinite(x).all(axis=0)
    rms_all: list[np.ndarray] = []
    for a, b in runs(ok):
        if b - a < max(2 * w, int(fs)):
            continue
        seg = x[:, a:b] - np.mean(x[:, a:b], axis=1, keepdims=True)
        lo, hi = emg_band(fs)
        seg = bandpass(seg, fs, low=lo, high=hi)
        if mains_hz:
            seg = notch(seg, fs, freq=mains_hz, harmonics=max(1, int(hi // mains_hz)))
        k = (b - a) // w
        seg = seg[:, : k * w].reshape(C, k, w)
        rms_all.append(np.sqrt(np.mean(seg * seg, axis=2)))
    if rms_all:
        out = np.percentile(np.concatenate(rms_all, axis=1), percentile, axis=1)
    return out


def channel_quality(
    x: np.ndarray,
    fs: float,
    labels,
    mains_hz: float = 50.0,
    leadoff: np.ndarray | None = None,
    max_samples: int | None = None,
) -> list[ChannelQuality]:
    """Quality of every channel of ``x`` ``[channels, n]`` (uV, NaN in gaps). ``leadoff``: bool ``[channels, n]``
    lead-off bits (optional). ``max_samples``: analyse at most this many samples from the start (speed)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    gap_frac = float(1.0 - np.isfinite(x).all(axis=0).mean()) if n else math.nan
    xs = x if max_samples is None else x[:, :max_samples]
    nrms = noise_rms(xs, fs, mains_hz)
    mains = mains_amplitude(xs, fs, mains_hz)
    if leadoff is not None and leadoff.size:
        valid = np.isfinite(x).all(axis=0)
        lo = leadoff[:, valid].mean(axis=1) if valid.any() else np.full(x.shape[0], math.nan)
    else:
        lo = np.full(x.shape[0], math.nan)
    return [
        ChannelQuality(str(labels[c]), float(nrms[c]), float(mains[c]), float(lo[c]), gap_frac)
        for c in range(x.shape[0])
    ]
