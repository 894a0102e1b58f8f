"""NumPy-only IIR designs (Butterworth, notch) as second-order sections, equal to SciPy's.

Why not call :mod:`scipy.signal`? Importing it costs about 1.1 s on the 2-core reference machine, which alone would
break the "fresh process: import + one envelope < 1.5 s" budget. The few routines the filter core needs are short, so
they are re-implemented here following SciPy's algorithms step by step (``buttap`` -> ``lp2lp_zpk`` / ``lp2hp_zpk`` /
``lp2bp_zpk`` -> ``bilinear_zpk`` -> ``zpk2sos(pairing='nearest')``, ``iirnotch``, ``sosfilt_zi``, and the
``sosfiltfilt`` padding rule), so the coefficients agree with SciPy's to the last bits; ``tests/dsp`` checks this
against SciPy itself.

Adapted from SciPy (``scipy/signal/_filter_design.py``, ``_signaltools.py``), BSD-3-Clause,
Copyright (c) 2001-2002 Enthought, Inc. and 2003-2024 SciPy Developers.

All frequencies are in Hz; ``fs`` is the sampling rate in Hz. An SOS array has shape ``[n_sections, 6]`` with rows
``[b0, b1, b2, a0, a1, a2]`` and ``a0 == 1``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "butter_sos",
    "notch_sos",
    "sosfilt_zi",
    "filtfilt_padlen",
]


def _positive(value, not_a_number: str, not_positive: str) -> float:
    """``value`` as a finite float > 0; else ValueError ``"<not_a_number>, got <value>"`` (no number) or
    ``"<not_positive>, got <float(value)>"`` (NaN, inf, <= 0)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{not_a_number}, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{not_positive}, got {v!r}")
    return v


def check_fs(fs: float) -> float:
    return _positive(fs, "fs must be a positive number in Hz", "fs must be a positive, finite sampling rate in Hz")


def _check_order(order: int) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive integer (as in scipy.signal.butter), got {order!r}")
    return int(order)


def check_edge(f: float, fs: float, name: str) -> float:
    """Validate one critical frequency ``f`` (Hz) against ``0 < f < fs/2`` and return it as float."""
    try:
        f = float(f)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a frequency in Hz, got {f!r}") from None
    nyq = fs / 2.0
    if not math.isfinite(f) or f <= 0.0:
        raise ValueError(f"{name} = {f!r} Hz must be > 0 Hz")
    if f >= nyq:
        raise ValueError(
            f"{name} = {f:g} Hz is at or above the Nyquist frequency fs/2 = {nyq:g} Hz (fs = {fs:g} Hz); "
            f"choose {name} < {nyq:g} Hz, or use data sampled faster than {2 * f:g} Hz"
        )
    return f


# --- SciPy's zpk machinery, digital only --------------------------------------------------------------------------


def _poly(zeros: np.ndarray) -> np.ndarray:
    zeros = np.atleast_1d(np.asarray(zeros))
    if zeros.shape[0] == 0:
        return np.asarray(1.0, dtype=np.real(zeros).dtype)
    a = np.ones((1,), dtype=zeros.dtype)
    one = np.ones_like(zeros[0])
    for zero in zeros:
        a = np.convolve(a, np.stack((one, -zero)), mode="full")
    if np.iscomplexobj(a):
        roots = np.asarray(zeros, dtype=np.complex128)
        if np.all(np.sort(np.imag(roots)) == np.sort(np.imag(np.conj(roots)))):
            a = np.real(a).copy()
    return a


def _zpk2tf(z, p, k):
    z = np.atleast_1d(np.asarray(z))
    b = np.multiply(k, _poly(z))
    a = np.atleast_1d(_poly(np.asarray(p)))
    return b, a


def _single_zpksos(z, p, k) -> np.ndarray:
    sos = np.zeros(6)
    b, a = _zpk2tf(z, p, k)
    b = np.atleast_1d(b)
    sos[3 - len(b) : 3] = b
    sos[6 - len(a) : 6] = a
    return sos


def _cplxreal(z):
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp = z[z.imag > 0]
    zn = z[z.imag < 0]
    if len(zp) != len(zn):
        raise ValueError("Array contains complex value with no matching conjugate.")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    run_starts = np.nonzero(diffs > 0)[0]
    run_stops = np.nonzero(diffs < 0)[0]
    for i in range(len(run_starts)):
        start = run_starts[i]
        stop = run_stops[i] + 1
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("Array contains complex value with no matching conjugate.")
    zc = (zp + zn.conj()) / 2
    return zc, zr


def _nearest_real_complex_idx(fro, to, which):
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return order[0]
    mask = np.isreal(fro[order])
    if which == "complex":
        mask = ~mask
    return order[np.nonzero(mask)[0][0]]


def _zpk2sos(z, p, k) -> np.ndarray:
    """SciPy's ``zpk2sos(z, p, k, pairing='nearest')`` for digital filters."""
    z, p = np.asarray(z), np.asarray(p)
    k = float(np.real(k))
    if len(z) == len(p) == 0:
        return np.asarray([[k, 0.0, 0.0, 1.0, 0.0, 0.0]])
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p = np.concatenate((p, [0.0]))
        z = np.concatenate((z, [0.0]))
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))

    def idx_worst(p):
        return np.argmin(np.abs(1 - np.abs(p)))

    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        p1_idx = idx_worst(p)
        p1 = p[p1_idx]
        p = np.delete(p, p1_idx)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            z1_idx = _nearest_real_complex_idx(z, p1, "real")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _single_zpksos([z1, 0], [p1, 0], 1)
        elif len(p) + 1 == len(z) and not np.isreal(p1) and np.isreal(p).sum() == 1 and np.isreal(z).sum() == 1:
            z1_idx = _nearest_real_complex_idx(z, p1, "complex")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _single_zpksos([z1, z1.conj()], [p1, p1.conj()], 1)
        else:
            if np.isreal(p1):
                prealidx = np.flatnonzero(np.isreal(p))
                p2_idx = prealidx[idx_worst(p[prealidx])]
                p2 = p[p2_idx]
                p = np.delete(p, p2_idx)
            else:
                p2 = p1.conj()
            if len(z) > 0:
                z1_idx = _nearest_real_complex_idx(z, p1, "any")
                z1 = z[z1_idx]
                z = np.delete(z, z1_idx)
                if not np.isreal(z1):
                    sos[si] = _single_zpksos([z1, z1.conj()], [p1, p2], 1)
                elif len(z) > 0:
                    z2_idx = _nearest_real_complex_idx(z, p1, "real")
                    z2 = z[z2_idx]
                    z = np.delete(z, z2_idx)
                    sos[si] = _single_zpksos([z1, z2], [p1, p2], 1)
                else:
                    sos[si] = _single_zpksos([z1], [p1, p2], 1)
            else:
                sos[si] = _single_zpksos([], [p1, p2], 1)
    sos[0][:3] *= k
    return sos


def butter_sos(order: int, freqs, btype: str, fs: float) -> np.ndarray:
    """Digital Butterworth design, equal to ``scipy.signal.butter(order, freqs, btype, fs=fs, output='sos')``.

    ``freqs`` is one edge (Hz) for ``'lowpass'``/``'highpass'`` or ``(low, high)`` (Hz) for ``'bandpass'``; the
    result has shape ``[n_sections, 6]`` (``ceil(order/2)`` sections, ``order`` for a band-pass).
    Raises ValueError for an edge <= 0 or >= fs/2 (naming Nyquist) or low >= high.
    """
    fs = check_fs(fs)
    order = _check_order(order)
    if btype == "bandpass":
        low, high = freqs
        low = check_edge(low, fs, "low")
        high = check_edge(high, fs, "high")
        if not low < high:
            raise ValueError(f"band edges must satisfy low < high, got low = {low:g} Hz, high = {high:g} Hz")
        wn = np.array([low, high]) / (fs / 2)
    elif btype in ("lowpass", "highpass"):
        wn = np.array([check_edge(freqs, fs, "cutoff")]) / (fs / 2)
    else:
        raise ValueError(f"btype must be 'lowpass', 'highpass' or 'bandpass', got {btype!r}")
    # buttap
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    p = -np.exp(1j * np.pi * m / (2 * order))
    z = np.asarray([], dtype=np.float64)
    k = 1.0
    fs2 = 2.0
    warped = 2 * fs2 * np.tan(np.pi * wn / fs2)
    degree = len(p) - len(z)
    if btype == "lowpass":
        wo = float(warped[0])
        z, p, k = wo * z, wo * p, k * wo**degree
    elif btype == "highpass":
        wo = float(warped[0])
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z, p = wo / z, wo / p
        z = np.concatenate((z, np.zeros(degree)))
    else:
        bw = float(warped[1] - warped[0])
        wo = float(np.sqrt(warped[0] * warped[1]))
        z_lp = (z * bw / 2).astype(np.complex128)
        p_lp = (p * bw / 2).astype(np.complex128)
        z = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2)))
        p = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
        z = np.concatenate((z, np.zeros(degree)))
        k = k * bw**degree
    # bilinear_zpk with fs = 2
    degree = len(p) - len(z)
    fs2x = 2.0 * fs2
    z_z = (fs2x + z) / (fs2x - z)
    p_z = (fs2x + p) / (fs2x - p)
    z_z = np.concatenate((z_z, -np.ones(degree)))
    k_z = k * np.real(np.prod(fs2x - z) / np.prod(fs2x - p))
    return _zpk2sos(z_z, p_z, k_z)


def notch_sos(freq: float, q: float, fs: float, harmonics: int = 1, max_freq: float | None = None) -> np.ndarray:
    """Mains notch as SOS: one ``scipy.signal.iirnotch(f, q, fs)`` section per harmonic ``f = freq, 2 freq, ...``.

    ``harmonics`` is the number of multiples of ``freq`` (Hz) to notch; multiples at or above ``max_freq`` (Hz,
    default: Nyquist) are left out. Returns shape ``[n_sections, 6]``.
    """
    fs = check_fs(fs)
    freq = check_edge(freq, fs, "notch frequency")
    q = _positive(
        q, "q must be a positive number", "q (quality factor, centre frequency / -3 dB bandwidth) must be > 0"
    )
    if isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer)) or harmonics < 1:
        raise ValueError(f"harmonics must be a positive integer (1 = the fundamental only), got {harmonics!r}")
    limit = fs / 2 if max_freq is None else min(float(max_freq), fs / 2)
    rows = []
    for h in range(1, int(harmonics) + 1):
        f = h * freq
        if f >= limit:
            break
        w0 = 2 * f / fs
        bw = w0 / q * math.pi
        w0 = w0 * math.pi
        beta = math.tan(bw / 2.0)
        gain = 1.0 / (1.0 + beta)
        rows.append([gain, gain * -2.0 * math.cos(w0), gain, 1.0, -2.0 * gain * math.cos(w0), 2.0 * gain - 1.0])
    if not rows:
        raise ValueError(f"notch frequency {freq:g} Hz is not below the limit {limit:g} Hz")
    return np.asarray(rows, dtype=np.float64)


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """Steady-state initial conditions per unit step (``scipy.signal.sosfilt_zi``); shape ``[n_sections, 2]``."""
    sos = np.asarray(sos, dtype=np.float64)
    n_sections = sos.shape[0]
    zi = np.empty((n_sections, 2))
    scale = 1.0
    for s in range(n_sections):
        b = sos[s, :3]
        a = sos[s, 3:]
        if a[0] != 1.0:
            b = b / a[0]
            a = a / a[0]
        # I - companion(a).T for a = [1, a1, a2]
        i_minus_a = np.eye(2) - np.array([[-a[1], 1.0], [-a[2], 0.0]])
        zi[s] = scale * np.linalg.solve(i_minus_a, b[1:] - a[1:] * b[0])
        scale *= np.sum(sos[s, :3]) / np.sum(sos[s, 3:])
    return zi


def filtfilt_padlen(sos: np.ndarray) -> int:
    """Number of samples ``scipy.signal.sosfiltfilt`` pads on each side by default (odd extension)."""
    sos = np.asarray(sos)
    n_sections = sos.shape[0]
    ntaps = 2 * n_sections + 1
    ntaps -= min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * ntaps
