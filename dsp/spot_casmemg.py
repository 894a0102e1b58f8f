"""The CASMEMG spotting baseline, exactly as the lab's MATLAB code does it (``emg_onset_offset_detection.m`` driven
by ``findbestparameter_60.m``), on one clip's envelope per channel; the lab's envelope and clip cutting.

Parameter names: the paper (Eq. 10 and the trough search) and the code use ``W_L``, ``S_L``, ``S_n``, ``W_f`` and
``W_b``; here they are ``window_length``, ``step_length``, ``min_run``, ``onset_lookback`` and
``offset_lookahead`` (:data:`PAPER_NAMES`). The paper's names are still accepted as keywords, with a
``DeprecationWarning``.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._api import keyword_only
from .defaults import EMG_BAND, max_edge
from .spot_events import Event, region_names

__all__ = [
    "CasmemgParams",
    "PAPER_NAMES",
    "casmemg_params",
    "casmemg_detect",
    "spot_casmemg",
    "casmemg_envelope",
    "casmemg_clip",
]

log = logging.getLogger(__name__)

#: The paper's (and the lab code's) parameter names -> the names used here.
PAPER_NAMES: dict[str, str] = {
    "W_L": "window_length",
    "S_L": "step_length",
    "S_n": "min_run",
    "W_f": "onset_lookback",
    "W_b": "offset_lookahead",
}


@dataclass(frozen=True)
class CasmemgParams:
    """Parameters of the CASMEMG detector, as published (README and ``results_60.xlsx``).

    Attributes
    ----------
    window_length : int
        Paper ``W_L``: window length - 1, in **samples at 1000 Hz** (a window holds ``window_length + 1`` samples,
        as in the code).
    step_length : int
        Paper ``S_L``: window step, samples at 1000 Hz.
    k : float
        Threshold factor: a window is marked when its mean envelope is ``>= k * mean(clip envelope)``.
    min_run : int
        Paper ``S_n``: minimum run of consecutive marked windows that makes a detection (>= 2).
    onset_lookback : int
        Paper ``W_f``: the onset trough is searched in the single window this many windows before the run.
    offset_lookahead : int
        Paper ``W_b``: the offset trough is searched in the single window this many windows after the run.
    gate : float
        Minimum envelope sum (``sum(env[onset..offset])``, envelope units x samples) of a kept detection; the lab
        used 1 (raw units), which is a no-op on uV data.
    merge : bool
        Hull of all kept detections (the lab's step 8) instead of every detection.

    ``k``, ``min_run``, ``onset_lookback`` and ``offset_lookahead`` are counts and do not depend on the rate.
    """

    window_length: int = 60
    step_length: int = 30
    k: float = 1.0
    min_run: int = 5
    onset_lookback: int = 2
    offset_lookahead: int = 6
    gate: float = 1.0
    merge: bool = True

    def at_rate(self, fs: float) -> tuple[int, int]:
        """``(window_length, step_length)`` in samples at ``fs``: ``round(x * fs / 1000)`` (each >= 1). A window
        then holds ``window_length + 1`` samples as in the code; the other parameters are unchanged."""
        r = float(fs) / 1000.0
        return max(1, int(round(self.window_length * r))), max(1, int(round(self.step_length * r)))


def _from_paper_names(params: dict[str, Any], stacklevel: int) -> dict[str, Any]:
    """``params`` with the paper's names (:data:`PAPER_NAMES`) replaced by ours, warning once per old name."""
    fields = {}
    for name, value in params.items():
        new = PAPER_NAMES.get(name)
        if new is not None:
            warnings.warn(
                f"CASMEMG parameter {name}= is deprecated; use {new}=", DeprecationWarning, stacklevel=stacklevel
            )
            if new in params:
                raise TypeError(f"CASMEMG parameter given twice: {name}= and {new}=")
            name = new
        fields[name] = value
    return fields


def casmemg_params(**params: Any) -> CasmemgParams:
    """A validated :class:`CasmemgParams` from keyword fields; the paper's names (:data:`PAPER_NAMES`, ``W_L=``
    etc.) are accepted with a ``DeprecationWarning``.

    Raises
    ------
    TypeError
        Unknown name, or a field given under both its names.
    ValueError
        ``min_run < 2`` or a negative look-back/look-ahead.
    """
    fields = _from_paper_names(params, stacklevel=3)
    unknown = set(fields) - set(CasmemgParams.__dataclass_fields__)
    if unknown:
        raise TypeError(
            f"unknown CASMEMG parameter(s): {sorted(unknown)} (known: {sorted(CasmemgParams.__dataclass_fields__)})"
        )
    p = CasmemgParams(**fields)
    if p.min_run < 2:
        raise ValueError(f"min_run (S_n) must be >= 2, got {p.min_run} (see spot_casmemg Notes)")
    if p.onset_lookback < 0 or p.offset_lookahead < 0:
        raise ValueError("onset_lookback (W_f) and offset_lookahead (W_b) must be >= 0")
    return p


def casmemg_detect(env: np.ndarray, window: int, step: int, p: CasmemgParams) -> list[tuple[int, int]]:
    """The detector on one clip envelope ``env [samples]``, windows of ``window + 1`` samples every ``step``
    samples (at the envelope's rate, see :meth:`CasmemgParams.at_rate`); returns the kept ``(onset, offset)``
    pairs, 0-based inclusive, in code order (no merge)."""
    L = env.shape[0]
    if L < window + 1:
        return []
    # window_split: MATLAB `for s = 1:S_L:L-W_L, frag = env(s:s+W_L)` -> 0-based starts j*S_L, W_L+1 samples
    N = (L - window - 1) // step + 1
    starts = np.arange(N) * step
    idx = starts[:, None] + np.arange(window + 1)[None, :]
    frags = env[idx]  # [N, W_L+1] (MATLAB's frags transposed)
    E = frags.mean(axis=1)  # feature_calculation: mean of the envelope
    T = p.k * env.mean()  # threshold from the mean of all clip samples, not of E
    mark = E >= T
    # consecutive-window rule; MATLAB p = 2..N-1 (1-based) -> p0 = 1..N-2
    on_w: list[int] = []
    off_w: list[int] = []
    p0 = 1
    while p0 < N - 1:
        m = 1
        while mark[p0]:
            if p0 + m > N - 1:
                break
            if mark[p0 + m]:
                m += 1
            else:
                break
        if m >= p.min_run:
            on_w.append(p0)
            off_w.append(p0 + m - 1)
            p0 += m
        else:
            p0 += 1
    out = []
    for a, b in zip(on_w, off_w):
        w = a - p.onset_lookback
        if w < 0:  # MATLAB: w < 1
            w = a
        onset = int(w * step + np.argmin(frags[w]))
        w = b + p.offset_lookahead
        if w > N - 1:  # MATLAB: w > length(offset_mark) - 1 = N
            w = b
        offset = int(w * step + np.argmin(frags[w]))
        # iEMG gate: MATLAB sum(env(onset:offset)) (empty, i.e. 0, when onset > offset)
        if float(env[onset : offset + 1].sum()) >= p.gate:
            out.append((onset, offset))
    return out


def spot_casmemg(
    envelope: np.ndarray,
    fs: float,
    *,
    window_length: int = CasmemgParams.window_length,
    step_length: int = CasmemgParams.step_length,
    k: float = CasmemgParams.k,
    min_run: int = CasmemgParams.min_run,
    onset_lookback: int = CasmemgParams.onset_lookback,
    offset_lookahead: int = CasmemgParams.offset_lookahead,
    gate: float = CasmemgParams.gate,
    merge: bool = CasmemgParams.merge,
    montage: Any = None,
    **paper_names: Any,
) -> list[Event]:
    """The CASMEMG spotting baseline on one clip's envelope per channel, exactly as the lab's code.

    Parameters
    ----------
    envelope : array ``[samples]`` or ``[channels, samples]``
        The clip's envelope (the lab uses :func:`casmemg_envelope` of the clip).
    fs : float
        Sampling rate in Hz. ``window_length`` and ``step_length`` are samples at 1000 Hz and are converted by
        ``round(x * fs / 1000)`` (:meth:`CasmemgParams.at_rate`); the others are window counts.
    window_length, step_length, k, min_run, onset_lookback, offset_lookahead, gate
        See :class:`CasmemgParams` (published defaults; the paper's ``W_L, S_L, k, S_n, W_f, W_b``).
    merge : bool
        True (the lab's step 8): the hull ``[min onset, max offset]`` of all kept detections, i.e. at most one
        event per channel. False: every kept detection (they may overlap).
    montage : Montage, optional
        Used to fill ``Event.region`` (default: the perifacial montage when there are 24 channels).
    **paper_names
        ``W_L=``, ``S_L=``, ``S_n=``, ``W_f=``, ``W_b=``: deprecated spellings of the parameters above
        (``DeprecationWarning``).

    Returns
    -------
    list of :class:`Event` (``kind="expression"``, ``peak`` = envelope max in the interval), sorted by onset.

    Notes
    -----
    In the paper's notation (``W_L`` = ``window_length``, ``S_L`` = ``step_length``, ``S_n`` = ``min_run``,
    ``W_f`` = ``onset_lookback``, ``W_b`` = ``offset_lookahead``, all at the envelope's rate), the code's quirks,
    kept on purpose (0-based mapping of the 1-based MATLAB indices in brackets):

    * windows start every ``S_L`` samples and hold ``W_L + 1`` samples (inclusive range ``s:s+W_L``): window
      ``j`` covers ``env[j*S_L : j*S_L + W_L + 1]`` for ``j = 0 .. N-1``, ``N = (L - W_L - 1) // S_L + 1``
      [MATLAB ``s = 1:S_L:L-W_L``]; the tail after the last full window is never looked at;
    * window "energy" is the mean of the envelope in the window, and the threshold is ``k * mean(env)`` over the
      whole clip (not the mean of the window energies); a window is marked if ``E >= T``;
    * the run search starts at window 1 and stops before window N-1 [MATLAB ``p = 2``, ``while p < N``], so the
      first and the last window never start a run (the last can end one); a run of ``m >= S_n`` marked windows
      is a detection and the search resumes after it;
    * the onset is the argmin (first minimum) of the envelope inside the **single** window ``a - W_f`` (``a`` =
      first window of the run; window ``a`` itself if ``a - W_f < 0`` [MATLAB ``< 1``]); the offset is the argmin
      inside the single window ``b + W_b`` (``b`` = last window of the run; window ``b`` if past the last window
      [MATLAB ``> length(offset_mark) - 1 = N``]); sample index = ``w * S_L + argmin`` [MATLAB
      ``(w-1)*S_L + argmin``, the same sample];
    * a detection is kept if ``sum(env[onset : offset + 1]) >= gate`` (an empty sum, onset > offset, is 0);
    * merge: hull of all kept detections; no detection gives no event (the code stores ``(0, 0)``).

    ``min_run < 2`` is rejected: with ``S_n = 1`` the code would mark every unmarked window too (its run length
    starts at 1 whatever the mark) and MATLAB's ``findpeaks`` would then drop adjacent marks.
    """
    fields = {
        "window_length": window_length,
        "step_length": step_length,
        "k": k,
        "min_run": min_run,
        "onset_lookback": onset_lookback,
        "offset_lookahead": offset_lookahead,
        "gate": gate,
        "merge": merge,
    }
    unknown = set(paper_names) - set(PAPER_NAMES)
    if unknown:
        raise TypeError(f"spot_casmemg() got unexpected keyword argument(s) {sorted(unknown)}")
    fields.update(_from_paper_names(paper_names, stacklevel=3))
    p = casmemg_params(**fields)
    merge = p.merge
    x = np.asarray(envelope, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"envelope must be 1-D or [channels, samples], got shape {x.shape}")
    x2 = x[None, :] if x.ndim == 1 else x
    wl, sl = p.at_rate(fs)
    regions = region_names(x2.shape[0], montage) if x.ndim == 2 else [None]
    events: list[Event] = []
    for c in range(x2.shape[0]):
        env = x2[c]
        det = casmemg_detect(env, wl, sl, p)
        if not det:
            continue
        if merge:
            det = [(min(d[0] for d in det), max(d[1] for d in det))]
        for on, off in det:
            seg = env[on : off + 1]
            if seg.size:
                pi = on + int(np.argmax(seg))
                pk = float(env[pi])
            else:
                pi, pk = -1, math.nan
            events.append(
                Event(
                    on,
                    off,
                    channel=c if x.ndim == 2 else 0,
                    region=regions[c],
                    peak=pk,
                    kind="expression",
                    peak_index=pi,
                )
            )
    events.sort()
    return events


def _filtfilt_matlab(b: np.ndarray, a: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.signal import filtfilt

    padlen = 3 * (max(len(a), len(b)) - 1)
    return filtfilt(b, a, x, axis=axis, padtype="odd", padlen=padlen)


@keyword_only("band", "cutoff", "order", "axis")
def casmemg_envelope(
    x: np.ndarray,
    fs: float,
    *,
    band: tuple[float, float] = EMG_BAND,
    cutoff: float = 6.0,
    order: int = 2,
    axis: int = -1,
) -> np.ndarray:
    """The lab's envelope (``process.m``): their order and filters, not :func:`perifacial.dsp.filters.linear_envelope`.

    Steps, along ``axis``: ``[b, a] = butter(order, band, 'bandpass')`` and ``filtfilt`` (transfer-function form)
    -> subtract the mean (over the clip, **after** the band-pass) -> ``abs`` -> ``butter(order, cutoff, 'low')``
    and ``filtfilt``. ``filtfilt`` uses MATLAB's padding: ``3 * (max(len(a), len(b)) - 1)`` samples of odd
    reflection (SciPy's default is ``3 * max(len(a), len(b))``), with the same steady-state initial conditions;
    the result differs slightly from the SOS/``sosfiltfilt`` chain near the ends of the clip. ``butter(2, [20,
    450])`` is a 4th-order band-pass. If ``band[1]`` is not below Nyquist (e.g. fs = 500 Hz) it is lowered to
    ``max_edge(fs)`` (0.45 fs, a logged deviation: the lab only used 1000 Hz).

    Returns float64 of the same shape (envelope units = input units).

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import casmemg_envelope
    >>> x = np.random.default_rng(0).normal(0.0, 5.0, (2, 3000))     # raw EMG (uV), 2 channels, 3 s at 1 kHz
    >>> casmemg_envelope(x, fs=1000.0).shape
    (2, 3000)
    """
    from scipy.signal import butter

    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(band[0]), float(band[1])
    if hi >= fs / 2:
        log.info("casmemg_envelope: band edge %.1f Hz >= Nyquist at fs=%g; using %.1f Hz", hi, fs, max_edge(fs))
        hi = max_edge(fs)
    b, a = butter(order, [lo, hi], btype="bandpass", fs=fs)
    y = _filtfilt_matlab(b, a, x, axis=axis)
    y = y - y.mean(axis=axis, keepdims=True)
    y = np.abs(y)
    b, a = butter(order, cutoff, btype="low", fs=fs)
    return _filtfilt_matlab(b, a, y, axis=axis)


def casmemg_clip(onset: int, offset: int, n: int, fs: float, extend: float = 0.5) -> tuple[int, int]:
    """The clip the lab cuts around a ground-truth interval: ``[begin, end)`` 0-based, i.e. GT +- ``extend`` s.

    The code (fs = 1000) uses ``clip_begin = t_on*1000 - 500`` (1 if that would be <= 0) and
    ``clip_end = t_off*1000 + 500`` (the recording's end if ``t_off*1000 + 1000 >= length``; its ``d_off`` is
    wrong in that branch, we do not reproduce that bug since ``d_off`` is only the GT position in the clip).
    Here: ``begin = max(0, onset - e)``, ``end = min(n, offset + e + 1)`` with ``e = round(extend * fs)``, and the
    end is the recording's end whenever ``offset + 2e >= n`` as in the code. Times are rounded to samples (the
    published sheet holds non-integer ``t*1000`` values that MATLAB would reject as indices).
    """
    e = int(round(extend * fs))
    begin = max(0, int(onset) - e)
    end = n if int(offset) + 2 * e >= n else min(n, int(offset) + e + 1)
    return begin, end
