"""The facts the EMG chain is built on, in one place: every other module imports them from here.

* :data:`EMG_BAND`: the surface-EMG band-pass, 20-450 Hz (Li et al. 2024 [arXiv:2409.00017], seed-003 chain).
* :data:`MAX_EDGE_FRACTION`: a filter edge or mains harmonic is kept below ``0.45 fs`` (a little under Nyquist, so a
  2nd-order Butterworth edge is still well defined at 500 SPS, where 450 Hz would be above Nyquist).
* :func:`emg_band`: :data:`EMG_BAND` (or a given band) with its top lowered to ``0.45 fs``.
* :data:`ME_MAX_DURATION_S`: an expression shorter than 0.5 s is a micro-expression (ME), else a macro-expression
  (MaE) (Li et al. 2024 sec. 2, 5.1.3); :data:`ME_MAX_DURATION_MS` is the same in ms.

This module imports nothing from perifacial (it is imported by dsp and host alike).
"""

from __future__ import annotations

__all__ = ["EMG_BAND", "MAX_EDGE_FRACTION", "ME_MAX_DURATION_S", "ME_MAX_DURATION_MS", "emg_band", "max_edge"]

#: Surface-EMG band-pass edges (low, high), Hz.
EMG_BAND: tuple[float, float] = (20.0, 450.0)
#: Highest filter edge / mains harmonic as a fraction of the sample rate (0.45 fs, i.e. 0.9 of Nyquist).
MAX_EDGE_FRACTION: float = 0.45
#: Micro-expression (ME) vs macro-expression (MaE) cut-off: shorter than this is an ME, s.
ME_MAX_DURATION_S: float = 0.5
#: :data:`ME_MAX_DURATION_S` in ms.
ME_MAX_DURATION_MS: float = ME_MAX_DURATION_S * 1000.0


def max_edge(fs: float, high: float | None = None) -> float:
    """The highest usable filter edge at ``fs`` (Hz): ``0.45 fs``, or ``min(high, 0.45 fs)`` when ``high`` is given.

    >>> max_edge(500.0), max_edge(2000.0, 450.0), max_edge(500.0, 450.0)
    (225.0, 450.0, 225.0)
    """
    top = MAX_EDGE_FRACTION * float(fs)
    return top if high is None else min(float(high), top)


def emg_band(fs: float, band: tuple[float, float] = EMG_BAND) -> tuple[float, float]:
    """``band`` (Hz, default :data:`EMG_BAND`) with its upper edge lowered to ``0.45 fs`` (sample rate ``fs``, Hz).

    >>> emg_band(1000.0), emg_band(500.0), emg_band(2000.0, (10.0, 300.0))
    ((20.0, 450.0), (20.0, 225.0), (10.0, 300.0))
    """
    return float(band[0]), max_edge(fs, band[1])
