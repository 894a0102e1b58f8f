"""EMG pre-processing chain of Li et al. 2024 [arXiv:2409.00017] (sec. 3.1.3): DC removal -> Butterworth band-pass ->
full-wave
rectification -> linear envelope (Butterworth low-pass), plus a mains notch.

Conventions
-----------
* Arrays are ``[channels, samples]`` or 1-D ``[samples]``; ``axis`` (default -1) names the time axis. Input may be
  any integer or floating dtype; results are float64 with the input's shape.
* ``fs`` and all frequencies are in Hz. Output amplitude is in the input's unit (e.g. mV or ADC counts).
* ``order`` means what it means for ``scipy.signal.butter(order, ...)``: a band-pass of order 2 has 4 poles
  (2 second-order sections), a low-pass of order 2 has 2 poles (1 section).
* **Zero-phase** (``zero_phase=True``, the offline default) equals SciPy's ``sosfiltfilt(sos, x)`` with its default
  padding (odd extension of ``3 * ntaps`` samples on each side, ``ntaps = 2 * n_sections + 1`` minus the trailing
  zero coefficients, exactly as SciPy counts them) and steady-state initial conditions. The recording must be longer
  than that padding.
* **Causal** (``zero_phase=False``, and :class:`EnvelopeStream`) equals SciPy's
  ``sosfilt(sos, x, zi=sosfilt_zi(sos) * x[..., :1])`` for every stage: each stage starts in the steady state of
  its own first input sample ("as if the first value had always been there"), so a DC offset in the first sample
  produces no start-up transient. The causal chain does not subtract the recording mean (a causal filter cannot know
  it); the band-pass started in steady state removes the offset instead.
* ``linear_envelope`` with ``zero_phase=True`` is, in SciPy terms::

      x = x - x.mean(axis, keepdims=True)
      x = sosfiltfilt(notch_sos, x)              # only if notch=50/60
      x = abs(sosfiltfilt(bandpass_sos, x))
      env = sosfiltfilt(lowpass_sos, x)
      env = np.maximum(env, 0)                   # edge handling: the low-pass's undershoot is clipped at 0

  and with ``zero_phase=False`` the same with ``sosfilt`` (steady state at the first sample) and no mean removal.

The numba kernels live in :mod:`perifacial.dsp._iir`; the designs (NumPy only, equal to SciPy's) in
:mod:`perifacial.dsp._design`.
"""

from __future__ import annotations

import logging
import math
import operator
from dataclasses import dataclass

import numba
import numpy as np

from . import EXPORTS, _iir
from ._api import fs_keyword, keyword_only
from ._design import butter_sos, check_fs, filtfilt_padlen, notch_sos, sosfilt_zi
from .defaults import EMG_BAND, emg_band

# the public names are listed once, in the package's lazy export table; the SciPy-style helpers are extra
__all__ = [*EXPORTS["filters"], "filtfilt_padlen", "sosfilt_zi"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------------------- designs


@fs_keyword("low", "high", "order")
def design_bandpass(low: float = EMG_BAND[0], high: float = EMG_BAND[1], *, fs: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass ``low``-``high`` Hz at sampling rate ``fs`` Hz as SOS ``[n_sections, 6]``.

    Equal to ``scipy.signal.butter(order, [low, high], 'bandpass', fs=fs, output='sos')``. Raises ValueError if an
    edge is <= 0 or >= fs/2 (Nyquist) or ``low >= high``.

    The argument order is SciPy's (``fs`` a keyword, as in ``scipy.signal.butter``). The old order
    ``design_bandpass(fs, low, high, order)`` still works and raises a DeprecationWarning.

    Parameters
    ----------
    low, high : float
        Band edges, Hz.
    fs : float
        Sampling rate, Hz (keyword-only).
    order : int
        Butterworth order.

    Returns
    -------
    sos : ndarray ``[order, 6]``
        Second-order sections, float64.

    Examples
    --------
    >>> from perifacial.dsp import design_bandpass
    >>> sos = design_bandpass(fs=1000.0, low=20.0, high=450.0, order=2)
    >>> sos.shape                      # 2 second-order sections
    (2, 6)
    >>> import numpy as np, scipy.signal
    >>> bool(np.allclose(sos, scipy.signal.butter(2, [20, 450], "bandpass", fs=1000.0, output="sos")))
    True
    """
    return butter_sos(order, (low, high), "bandpass", fs)


@fs_keyword("cutoff", "order")
def design_lowpass(cutoff: float = 6.0, *, fs: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass at ``cutoff`` Hz as SOS ``[n_sections, 6]``; equal to
    ``scipy.signal.butter(order, cutoff, 'lowpass', fs=fs, output='sos')``.

    The old order ``design_lowpass(cutoff, fs=fs, order=order)`` still works and raises a DeprecationWarning.

    Parameters
    ----------
    cutoff : float
        -3 dB frequency, Hz.
    fs, order
        As in :func:`design_bandpass`.

    Returns
    -------
    sos : ndarray ``[ceil(order / 2), 6]``
        Second-order sections, float64.

    Examples
    --------
    >>> from perifacial.dsp import design_lowpass
    >>> design_lowpass(fs=1000.0, cutoff=6.0).shape
    (1, 6)
    """
    return butter_sos(order, cutoff, "lowpass", fs)


@fs_keyword("freq", "q", "harmonics", "max_freq")
def design_notch(
    freq: float = 50.0, q: float = 30.0, *, fs: float, harmonics: int = 1, max_freq: float | None = None
) -> np.ndarray:
    """Notch at ``freq`` Hz and its multiples as SOS ``[n_harmonics, 6]``, one ``scipy.signal.iirnotch(h*freq, q,
    fs=fs)`` section per harmonic ``h = 1 .. harmonics``.

    If ``max_freq`` (Hz) is given, harmonics at or above it are silently left out (that is how the envelope chain
    keeps only the harmonics inside its band); otherwise a harmonic at or above Nyquist is an error.

    The argument order is ``scipy.signal.iirnotch``'s (``w0, Q, fs=``). The old order
    ``design_notch(fs, freq, q, harmonics, max_freq)`` still works and raises a DeprecationWarning.

    Parameters
    ----------
    freq : float
        Fundamental, Hz.
    q : float
        Quality factor.
    fs : float
        Sampling rate, Hz (keyword-only).
    harmonics : int
        Number of multiples ``h * freq``, ``h = 1 .. harmonics``.
    max_freq : float, optional
        Leave out harmonics at or above this frequency, Hz.

    Returns
    -------
    sos : ndarray ``[n_harmonics, 6]``
        One ``iirnotch`` section per harmonic, float64.

    Examples
    --------
    >>> from perifacial.dsp import design_notch
    >>> design_notch(fs=1000.0, freq=50.0, harmonics=3).shape   # 50, 100 and 150 Hz
    (3, 6)
    """
    fs = check_fs(fs)
    if max_freq is None:
        try:
            top = float(freq) * int(harmonics)
        except (TypeError, ValueError):
            top = None
        if top is not None and math.isfinite(top) and top >= fs / 2 and float(freq) < fs / 2:
            raise ValueError(
                f"notch harmonic {int(harmonics)} x {float(freq):g} Hz = {top:g} Hz is at or above the Nyquist "
                f"frequency fs/2 = {fs / 2:g} Hz; lower harmonics= (at most {math.ceil(fs / 2 / float(freq)) - 1})"
            )
    return notch_sos(freq, q, fs, harmonics=harmonics, max_freq=max_freq)


# ------------------------------------------------------------------------------------------------- input handling


@dataclass(frozen=True)
class Stage:
    """One filter of a chain: its SOS cascade, a name for error messages, and what is done to its output
    (``post``: ``_iir.AS_IS``, ``_iir.RECTIFY`` or ``_iir.CLIP``, applied inside the kernels' last sweep)."""

    sos: np.ndarray
    name: str
    post: int = _iir.AS_IS


def _numeric(x, what: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(
            f"{what} must hold integer or real floating-point samples, got dtype {x.dtype}; "
            "convert it first, e.g. np.asarray(x, dtype=float)"
        )
    return x


def as_2d(x, axis) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Validate ``x`` and return ``(x2, shape, axis)`` with ``x2`` float64 C-contiguous ``[channels, samples]``."""
    x = _numeric(x)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"x must be 1-D [samples] or 2-D [channels, samples], got {x.ndim}-D with shape {x.shape}; "
            "reshape it (e.g. x.reshape(-1, n_samples))"
        )
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(f"axis must be an integer, got {axis!r}") from None
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for a {x.ndim}-D array of shape {x.shape}")
    axis %= x.ndim
    x2 = np.moveaxis(x, axis, -1) if x.ndim == 2 else x[None, :]
    x2 = np.ascontiguousarray(x2, dtype=np.float64)
    return x2, x.shape, axis


def restore_shape(y2: np.ndarray, shape, axis: int) -> np.ndarray:
    if len(shape) == 1:
        return y2[0]
    return np.moveaxis(y2, -1, axis)


def _raise_nonfinite(x2: np.ndarray, axis: int, ndim: int, offset: int = 0) -> None:
    c, t = _iir.first_nonfinite(x2)
    if c < 0:
        raise ValueError(
            "the filter state overflowed (input values too large for float64 arithmetic); scale the input down"
        )
    where = f"sample {t + offset}" if ndim == 1 else f"channel {c}, sample {t + offset}"
    raise ValueError(
        f"input holds a non-finite value ({x2[c, t]}) at {where} (time axis {axis}); remove or interpolate "
        "NaN/inf samples before filtering"
    )


def check_finite(x2: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    sums = _iir.row_sums(x2)
    if not np.isfinite(sums).all():
        _raise_nonfinite(x2, axis, ndim)
    return sums


def _pack(stages: list[Stage]):
    sos = np.ascontiguousarray(np.concatenate([s.sos for s in stages]), dtype=np.float64)
    zi = np.ascontiguousarray(np.concatenate([sosfilt_zi(s.sos) for s in stages]), dtype=np.float64)
    bounds = np.zeros(len(stages) + 1, dtype=np.int64)
    bounds[1:] = np.cumsum([s.sos.shape[0] for s in stages])
    post = np.array([s.post for s in stages], dtype=np.int64)
    pads = np.array([filtfilt_padlen(s.sos) for s in stages], dtype=np.int64)
    return sos, zi, bounds, pads, post


def run_stages(stages: list[Stage], x, axis, zero_phase: bool, demean: bool) -> np.ndarray:
    x2, shape, axis = as_2d(x, axis)
    nch, n = x2.shape
    sos, zi, bounds, pads, post = _pack(stages)
    out = np.empty((nch, n), dtype=np.float64)
    if nch == 0 or (n == 0 and not zero_phase):
        return restore_shape(out, shape, axis)
    if zero_phase:
        need = int(pads.max())
        if n <= need:
            k = int(np.argmax(pads))
            raise ValueError(
                f"recording too short for zero-phase filtering: {n} samples along axis {axis}, but the "
                f"{stages[k].name} pads {need} samples on each side (SciPy's sosfiltfilt default) and needs at "
                f"least {need + 1} samples; use a longer recording or zero_phase=False"
            )
        sums = np.empty(nch)
        _iir.filtfilt_chain(x2, int(demean), sos, zi, bounds, pads, post, out, sums, numba.get_num_threads())
        if not np.isfinite(sums).all():
            _raise_nonfinite(x2, axis, len(shape))
    else:
        state = np.zeros(((nch + _iir.LANES - 1) // _iir.LANES, sos.shape[0], 2, _iir.LANES))
        if not _iir.causal_chain(x2, sos, zi, bounds, post, state, 1, out):
            _raise_nonfinite(x2, axis, len(shape))
    return restore_shape(out, shape, axis)


def mains_mode(notch, mains_method):
    """(subtractive fundamental(s) or None, IIR notch frequency or None) for ``linear_envelope``'s options."""
    if mains_method not in ("fit", "iir"):
        raise ValueError(f"mains_method must be 'fit' (subtractive, no ring-up) or 'iir' (notch), got {mains_method!r}")
    if notch is None:
        return None, None
    if isinstance(notch, str):
        if notch != "auto":
            raise ValueError(f"notch must be 'auto', None or the mains frequency in Hz (50 or 60), got {notch!r}")
        if mains_method == "iir":
            raise ValueError("notch='auto' needs mains_method='fit'; give the frequency (50 or 60) for the IIR notch")
        return "auto", None
    if isinstance(notch, bool) or not isinstance(notch, (int, float, np.integer, np.floating)) or not notch > 0:
        raise ValueError(f"notch must be 'auto', None or the mains frequency in Hz (50 or 60), got {notch!r}")
    return (float(notch), None) if mains_method == "fit" else (None, float(notch))


def envelope_stages(fs, band, cutoff, order, notch, notch_q) -> list[Stage]:
    try:
        low, high = band
    except (TypeError, ValueError):
        raise ValueError(f"band must be a pair (low, high) in Hz, got {band!r}") from None
    stages = []
    bp = design_bandpass(low, high, fs=fs, order=order)
    if notch is not None:
        if isinstance(notch, bool) or not isinstance(notch, (int, float, np.integer, np.floating)) or notch <= 0:
            raise ValueError(f"notch must be None or the mains frequency in Hz (50 or 60), got {notch!r}")
        n_harm = max(1, int(math.ceil(float(high) / float(notch))) - 1)
        stages.append(Stage(design_notch(notch, notch_q, fs=fs, harmonics=n_harm, max_freq=high), "notch"))
    stages.append(Stage(bp, f"{order}-order {low:g}-{high:g} Hz band-pass", post=_iir.RECTIFY))
    # the envelope's edge handling (see linear_envelope's Notes): negative values to 0 as the low-pass stores them
    lp = design_lowpass(cutoff, fs=fs, order=order)
    stages.append(Stage(lp, f"{order}-order {cutoff:g} Hz low-pass", post=_iir.CLIP))
    return stages


# ------------------------------------------------------------------------------------------------------ public API


def remove_dc(x, axis: int = -1) -> np.ndarray:
    """Subtract each channel's mean over time: ``x - x.mean(axis, keepdims=True)``; float64, same shape as ``x``.

    Parameters
    ----------
    x, axis
        As in :func:`bandpass`: the signal ``[channels, samples]`` or ``[samples]`` and its time axis.

    Returns
    -------
    ndarray
        ``x`` minus its per-channel mean: float64, the shape and unit of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import remove_dc
    >>> remove_dc(np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 13.0]]))
    array([[-1.,  0.,  1.],
           [-1., -1.,  2.]])
    """
    x2, shape, axis = as_2d(x, axis)
    if x2.shape[1] == 0:
        return restore_shape(x2, shape, axis)
    check_finite(x2, axis, len(shape))
    return restore_shape(x2 - x2.mean(axis=-1, keepdims=True), shape, axis)


def rectify(x) -> np.ndarray:
    """Full-wave rectification ``|x|`` as float64 (any shape).

    Parameters
    ----------
    x : array_like
        Any shape, any real dtype.

    Returns
    -------
    ndarray
        float64 ``|x|``, the shape of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import rectify
    >>> rectify(np.array([-2, 0, 3]))
    array([2., 0., 3.])
    """
    x = _numeric(x)
    return np.abs(x.astype(np.float64, copy=False))


@keyword_only("low", "high", "order", "zero_phase", "axis")
def bandpass(
    x,
    fs: float,
    *,
    low: float = EMG_BAND[0],
    high: float = EMG_BAND[1],
    order: int = 2,
    zero_phase: bool = True,
    axis: int = -1,
) -> np.ndarray:
    """Butterworth band-pass ``low``-``high`` Hz of ``x`` ``[channels, samples]`` sampled at ``fs`` Hz.

    Zero-phase: ``sosfiltfilt(design_bandpass(...), x)``; causal: ``sosfilt`` from the steady state at the first
    sample. No mean removal (see :func:`linear_envelope`). Returns float64, same shape as ``x``.

    Parameters
    ----------
    x : array_like ``[channels, samples]`` or ``[samples]``
        Signal, any unit (uV for EMG); any real dtype.
    fs : float
        Sampling rate, Hz.
    low, high : float
        Band edges, Hz (``0 < low < high < fs/2``).
    order : int
        Butterworth order as in ``scipy.signal.butter`` (a band-pass of order 2 has 4 poles).
    zero_phase : bool
        True: forward-backward (``sosfiltfilt``); False: causal (``sosfilt``, steady state at the first sample).
    axis : int
        The time axis (default -1).

    Returns
    -------
    ndarray
        float64, the shape of ``x``, in the unit of ``x``.

    Raises
    ------
    ValueError
        Band edges outside ``(0, fs/2)``, a recording not longer than the zero-phase padding, NaN/inf (the message
        names channel and sample), a bad ``axis`` or dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import bandpass
    >>> t = np.arange(2000) / 1000.0
    >>> x = 100.0 + np.sin(2 * np.pi * 80 * t)          # uV: an offset plus an 80 Hz tone, 2 s at 1 kHz
    >>> y = bandpass(x, fs=1000.0)                        # 20-450 Hz, zero-phase
    >>> bool(abs(y[500:1500].mean()) < 1e-3), round(float(y[500:1500].std() * np.sqrt(2)), 2)   # offset gone, tone kept
    (True, 1.0)
    """
    stage = Stage(design_bandpass(low, high, fs=fs, order=order), f"{order}-order {low:g}-{high:g} Hz band-pass")
    return run_stages([stage], x, axis, zero_phase, demean=False)


@keyword_only("cutoff", "order", "zero_phase", "axis")
def lowpass(
    x, fs: float, *, cutoff: float = 6.0, order: int = 2, zero_phase: bool = True, axis: int = -1
) -> np.ndarray:
    """Butterworth low-pass at ``cutoff`` Hz of ``x`` ``[channels, samples]`` sampled at ``fs`` Hz (e.g. the linear
    envelope of an already rectified signal). Zero-phase or causal as in :func:`bandpass`; float64, same shape.

    Parameters
    ----------
    x, fs, zero_phase, axis
        As in :func:`bandpass`.
    cutoff : float
        -3 dB frequency, Hz.
    order : int
        Butterworth order.

    Returns
    -------
    y : ndarray
        ``x`` low-passed: float64, the shape and unit of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import lowpass
    >>> x = np.r_[np.zeros(1000), np.ones(1000)]            # a step, 2 s at 1 kHz
    >>> y = lowpass(x, fs=1000.0, cutoff=6.0)               # zero-phase: the step stays centred at sample 1000,
    >>> # with the Butterworth's small undershoot before it and overshoot after it
    >>> round(float(y[900]), 2), round(float(y[1000]), 1), round(float(y[1100]), 2)
    (-0.03, 0.5, 1.03)
    """
    stage = Stage(design_lowpass(cutoff, fs=fs, order=order), f"{order}-order {cutoff:g} Hz low-pass")
    return run_stages([stage], x, axis, zero_phase, demean=False)


@keyword_only("freq", "q", "harmonics", "zero_phase", "axis")
def notch(
    x, fs: float, *, freq: float = 50.0, q: float = 30.0, harmonics: int = 1, zero_phase: bool = True, axis: int = -1
) -> np.ndarray:
    """Mains notch at ``freq`` Hz and its first ``harmonics`` multiples (``q`` = centre / -3 dB bandwidth), as one
    cascade of ``scipy.signal.iirnotch`` sections (see :func:`design_notch`). Zero-phase or causal as in
    :func:`bandpass`; float64, same shape as ``x``.

    Edge transient: a narrow notch rings for about ``q / (pi * freq)`` s (0.19 s at 50 Hz, q = 30). Zero-phase
    filtering with SciPy's odd extension flips the phase of the mains component at each end of the recording, so the
    first and last ~3 time constants (about 0.6 s at the defaults) carry a mains ring-up that the envelope shows as a
    small burst -- exactly as ``scipy.signal.sosfiltfilt`` does. Discard them (or filter a longer stretch and cut)
    before spotting near the ends of a recording.

    Parameters
    ----------
    x, fs, zero_phase, axis
        As in :func:`bandpass`.
    freq : float
        Mains frequency, Hz (50 or 60).
    q : float
        Quality factor: centre frequency / -3 dB bandwidth.
    harmonics : int
        How many multiples of ``freq`` to notch (1 = the fundamental only).

    Returns
    -------
    y : ndarray
        ``x`` without ``freq`` and its notched harmonics: float64, the shape and unit of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import notch
    >>> t = np.arange(4000) / 1000.0
    >>> x = 5.0 * np.sin(2 * np.pi * 50 * t)                # 50 Hz mains, 5 uV, 4 s at 1 kHz
    >>> y = notch(x, fs=1000.0, freq=50.0)
    >>> bool(np.abs(y[1000:3000]).max() < 0.05)              # away from the ends (ring-up), mains is gone
    True
    """
    stage = Stage(design_notch(freq, q, fs=fs, harmonics=harmonics), f"{freq:g} Hz notch")
    return run_stages([stage], x, axis, zero_phase, demean=False)


@keyword_only("band", "cutoff", "order", "notch", "zero_phase", "axis", "notch_q", "mains_method")
def linear_envelope(
    x,
    fs: float,
    *,
    band: tuple[float, float] = EMG_BAND,
    cutoff: float = 6.0,
    order: int = 2,
    notch: float | str | None = "auto",
    zero_phase: bool = True,
    axis: int = -1,
    notch_q: float = 30.0,
    mains_method: str = "fit",
) -> np.ndarray:
    """Linear envelope of raw surface EMG ``x`` ``[channels, samples]`` sampled at ``fs`` Hz (Li et al. 2024 chain).

    DC removal (zero-phase only) -> mains removal -> Butterworth band-pass ``band`` Hz of ``order`` ->
    full-wave rectification -> Butterworth low-pass ``cutoff`` Hz of ``order``. Each filter is zero-phase
    (``sosfiltfilt``) or causal (``sosfilt``, steady state at its first input sample); see the module docstring for
    the exact SciPy equivalent. Returns float64, same shape as ``x``, in the input's unit, never negative.

    Mains (see :mod:`perifacial.dsp.mains`): ``notch="auto"`` (default) finds 50 or 60 Hz and its harmonics in the
    data (:func:`~perifacial.dsp.mains.detect_mains`) and subtracts them (zero-phase: block least-squares fit,
    :func:`~perifacial.dsp.mains.remove_mains`, no edge ring-up; causal: adaptive canceller at the harmonics of
    both 50 and 60 Hz, :class:`~perifacial.dsp.mains.MainsCanceller`); when no mains is found the result is the
    plain chain above, bit for bit. ``notch=50`` or ``60`` forces that fundamental; ``notch=None`` disables mains
    removal. ``mains_method="iir"`` uses the classic ``iirnotch`` cascade instead (quality ``notch_q``, every
    harmonic below ``band[1]``; SciPy-exact but with ~0.6 s ring-up at both ends, see :func:`notch`).

    Raises ValueError for band edges outside ``(0, fs/2)`` (e.g. a 450 Hz edge on 100 Hz data), ``low >= high``, a
    recording not longer than the zero-phase padding, NaN/inf in ``x`` (naming channel and sample), a bad ``axis`` or
    ``ndim``, or a non-numeric dtype.

    Parameters
    ----------
    x : array_like ``[channels, samples]`` or ``[samples]``
        Raw surface EMG (uV for EMG), any real dtype.
    fs : float
        Sampling rate, Hz.
    band : (float, float)
        Band-pass edges, Hz (default 20-450 Hz).
    cutoff : float
        Envelope low-pass, Hz (default 6 Hz).
    order : int
        Butterworth order of both filters (default 2).
    notch : "auto", float or None
        Mains removal (see above): "auto" (default) detects 50/60 Hz, a number forces that fundamental (Hz), None
        disables it.
    zero_phase, axis
        As in :func:`bandpass`.
    notch_q : float
        Quality factor of the notch sections (``mains_method="iir"``).
    mains_method : {"fit", "iir"}
        Subtract fitted mains sines ("fit", default) or use the ``iirnotch`` cascade ("iir").

    Returns
    -------
    env : ndarray
        float64, the shape of ``x``, in the unit of ``x``, >= 0.

    Notes
    -----
    Edge handling: a rectified signal is never negative, but its Butterworth low-pass undershoots after a fall (a
    2nd-order Butterworth's step response overshoots by ~4 %), and at the ends of a zero-phase run the odd
    extension SciPy uses as padding (``2 x[0] - x[k]``) can dip below 0, so the raw chain can give small negative
    values at t = 0. The envelope is therefore clipped at 0 after the low-pass (``np.maximum(env, 0)``); nothing
    else changes. The SciPy equivalent in the module docstring is the chain before that clip; the tests compare
    both the unclipped chain and the clipped result with SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import linear_envelope
    >>> rng = np.random.default_rng(0)
    >>> fs = 1000.0
    >>> x = rng.normal(0.0, 1.0, (2, 3000))                 # 2 channels, 3 s of noise (uV)
    >>> x[0, 1000:2000] *= 20.0                              # a 1 s contraction on channel 0
    >>> env = linear_envelope(x, fs=fs)
    >>> env.shape, env.dtype
    ((2, 3000), dtype('float64'))
    >>> bool(env[0, 1500] > 10 * env[1, 1500])               # the burst stands out of the envelope
    True
    >>> bool(env.min() >= 0.0)                               # clipped at 0 (see Notes)
    True
    """
    sub, iir = mains_mode(notch, mains_method)
    stages = envelope_stages(fs, band, cutoff, order, iir, notch_q)
    if sub is not None:
        from .mains import cancel_mains, detect_mains, remove_mains

        top = emg_band(fs, band)[1]
        if not zero_phase:
            x = cancel_mains(x, fs, freq=sub, max_freq=top, axis=axis)
        elif sub != "auto":
            x = remove_mains(x, fs, freq=sub, max_freq=top, axis=axis)
        else:  # detected first: no mains, no float64 copy of the recording
            info = detect_mains(x, fs, max_freq=top, axis=axis)
            if info is not None:
                x = remove_mains(x, fs, max_freq=top, axis=axis, info=info)
    return run_stages(stages, x, axis, zero_phase, demean=True)


class EnvelopeStream:
    """Causal, stateful :func:`linear_envelope` for live data (``zero_phase=False`` semantics).

    Feed chunks ``[n_channels, n]`` (any ``n`` >= 0, any numeric dtype) to :meth:`process`; the concatenated outputs
    equal ``linear_envelope(recording, fs, ..., zero_phase=False)`` exactly (clipped at 0 the same way), whatever
    the chunk sizes. Each filter
    starts in the steady state of its first input sample, taken from the first chunk after construction or
    :meth:`reset`.

    A chunk holding NaN/inf raises ValueError (naming channel and sample index since the stream started) and leaves
    the stream as it was before that chunk.

    Parameters
    ----------
    fs : float
        Sampling rate, Hz.
    n_channels : int
        Rows of every chunk.
    band, cutoff, order, notch, notch_q
        As in :func:`linear_envelope`.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import EnvelopeStream, linear_envelope
    >>> x = np.random.default_rng(1).normal(0.0, 10.0, (3, 1200))      # 3 channels, 1.2 s at 1 kHz (uV)
    >>> stream = EnvelopeStream(fs=1000.0, n_channels=3)
    >>> online = np.hstack([stream.process(x[:, i:i + 100]) for i in range(0, 1200, 100)])
    >>> offline = linear_envelope(x, fs=1000.0, zero_phase=False)
    >>> bool(np.allclose(online, offline)), stream.n_samples
    (True, 1200)
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        *,
        band: tuple[float, float] = EMG_BAND,
        cutoff: float = 6.0,
        order: int = 2,
        notch: float | str | None = "auto",
        notch_q: float = 30.0,
        mains_method: str = "fit",
    ) -> None:
        if isinstance(n_channels, bool) or not isinstance(n_channels, (int, np.integer)) or n_channels < 1:
            raise ValueError(f"n_channels must be a positive integer, got {n_channels!r}")
        self.fs = float(fs)
        self.n_channels = int(n_channels)
        sub, iir = mains_mode(notch, mains_method)
        stages = envelope_stages(fs, band, cutoff, order, iir, notch_q)
        self._mains = None
        if sub is not None:
            from .mains import MainsCanceller

            self._mains = MainsCanceller(fs, self.n_channels, freq=sub, max_freq=emg_band(fs, band)[1])
        self._sos, self._zi, self._bounds, _, self._post = _pack(stages)
        n_groups = (self.n_channels + _iir.LANES - 1) // _iir.LANES
        self._state = np.zeros((n_groups, self._sos.shape[0], 2, _iir.LANES))
        self._backup = np.zeros_like(self._state)
        self._init = 1
        self._n_seen = 0
        self._kernel = _iir.causal_chunk.get()
        logger.debug("EnvelopeStream: %d channels at %g Hz, %d sections", self.n_channels, self.fs, len(self._sos))

    @property
    def n_samples(self) -> int:
        """Samples per channel processed since construction or the last :meth:`reset`."""
        return self._n_seen

    def reset(self) -> None:
        """Forget the filter state: the next chunk starts a new recording."""
        self._state[...] = 0.0
        self._init = 1
        self._n_seen = 0
        if self._mains is not None:
            self._mains.reset()

    def process(self, chunk) -> np.ndarray:
        """Envelope of the next ``chunk`` ``[n_channels, n]`` (1-D ``[n]`` allowed for one channel); float64, same
        shape."""
        x = np.asarray(chunk)
        if x.dtype != np.float64 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(_numeric(x, "chunk"), dtype=np.float64)
        one_d = x.ndim == 1 and self.n_channels == 1
        if one_d:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(
                f"chunk must be shaped [n_channels, n] = [{self.n_channels}, n], got shape {np.shape(chunk)}"
            )
        n = x.shape[1]
        out = np.empty((self.n_channels, n))
        if n:
            if self._mains is not None:
                if not np.isfinite(x).all():
                    _raise_nonfinite(x, -1, 1 if one_d else 2, offset=self._n_seen)
                x = self._mains.process(x)
            ok = self._kernel(
                x, self._sos, self._zi, self._bounds, self._post, self._state, self._backup, self._init, out
            )
            if not ok:
                self._state[...] = self._backup
                _raise_nonfinite(x, -1, 1 if one_d else 2, offset=self._n_seen)
            self._init = 0
            self._n_seen += n
        return out[0] if one_d else out
