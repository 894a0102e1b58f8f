"""Spotting expression intervals in perifacial EMG envelopes.

Two methods behind one function, :func:`spot`:

``method="casmemg"``
    The CASMEMG baseline exactly as the lab's MATLAB code does it (``emg_onset_offset_detection.m`` driven by
    ``findbestparameter_60.m``), on one clip's envelope per channel. See :func:`spot_casmemg` for the quirks and
    the 0-based index mapping, and :func:`casmemg_envelope` for the lab's envelope.

``method="adaptive"`` (default)
    A detector for long recordings (minutes to hours, 24 channels) that finds many events per recording; see
    :func:`spot_adaptive`. :class:`SpotStream` is its online (chunked) form.

Why the adaptive method beats CASMEMG on long recordings
--------------------------------------------------------
CASMEMG was built to *refine* an interval inside a clip already known to hold one expression (the ground truth
+- 0.5 s, on the annotated channel). Its threshold is ``k x mean(envelope of the clip)``: on a clip without an
event about half the windows of pure noise are above their own mean, so runs of 5 windows happen by chance; on a
long clip one large event raises the mean and hides small ones; the hull merge keeps one interval per clip; there is
no notion of a noise floor, of channels, of regions, or of artefacts. Applied blindly to a session it produces many
false positives in quiet stretches and merges or misses events in busy ones (see ``docs/spotting.md`` for the
numbers). The adaptive method instead

1. estimates, per channel, the **noise floor** (rolling median of the envelope sampled every 0.1 s, over a
   centred 8 s window, every 0.5 s, interpolated in between) and its **spread** (median minus the 15.87 %
   quantile, i.e. about one standard deviation of the floor, using only the lower half of the distribution so
   events do not inflate it). A centred median follows a baseline step
   at once (half the window is on each side), and mains residue or electrode noise only raise the level, which
   is subtracted;
2. detects with a **double threshold with hysteresis** (start at ``level + k_hi * spread``, extend the interval
   in both directions down to ``level + k_lo * spread``), so boundaries sit near the foot of the burst rather
   than at a high threshold, and noise that grazes the threshold does not chatter;
3. merges short gaps, drops bursts shorter than a minimum duration, and unites the channels of each **region**
   of the montage (4 electrodes see the same muscles);
4. labels **blinks** (short bursts in both orbicularis oculi regions, ``left_middle`` and ``right_middle``, with
   synchronous peaks), **jaw/swallow artefacts** (long, bilateral in both lower regions, spreading into the
   middle regions) and **crosstalk** (a much weaker copy of another region's event) with their own ``kind``
   instead of calling them expressions, and electrode pops and bursts longer than ``max_duration``
   ``"artifact"``; the rest are expressions, typed ``"ME"`` (shorter than 0.5 s, Li et al. 2024's criterion, as in
   :mod:`perifacial.dsp.quantification`) or ``"MaE"``.

Conventions
-----------
* Envelopes are ``[channels, samples]`` (or 1-D), in uV (any unit works), at ``fs`` Hz.
* :class:`Event` onset/offset are **0-based sample indices, offset inclusive**: the interval holds
  ``offset - onset + 1`` samples; in seconds it is ``[onset/fs, (offset+1)/fs)``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

__all__ = [
    "Event",
    "EXPRESSION_KINDS",
    "CasmemgParams",
    "AdaptiveParams",
    "spot",
    "spot_casmemg",
    "spot_adaptive",
    "casmemg_envelope",
    "casmemg_clip",
    "SpotStream",
    "events_to_table",
]

log = logging.getLogger(__name__)

#: Kinds that count as facial expressions (everything else is a distractor: blink, jaw, artifact).
EXPRESSION_KINDS: frozenset[str] = frozenset({"expression", "ME", "MaE"})


@dataclass(frozen=True)
class Event:
    """One spotted (or ground-truth) interval.

    Attributes
    ----------
    onset, offset : int
        0-based sample indices, **offset inclusive** (``offset - onset + 1`` samples).
    channel : int or None
        0-based channel the event was found on; for region events the channel with the strongest burst (largest
        ``score``); None when not tied to one channel (e.g. ground truth of a muscle seen by several).
    region : str or None
        Montage region name (``"left_middle"``), None without a montage.
    peak : float
        Envelope maximum inside the event (envelope units, uV for uV input); for ground truth the intensity in %
        MVC.
    kind : str
        ``"expression"`` (CASMEMG, no typing), ``"ME"`` / ``"MaE"`` (expressions typed by duration < 0.5 s or
        by ground truth), ``"blink"`` (orbicularis oculi, bilateral), ``"jaw"`` (jaw clench / swallow / chewing:
        broad, bilateral lower face), ``"artifact"`` (too long to be an expression: electrode movement etc.).
    peak_index : int
        Sample index of ``peak`` (-1 if unknown).
    score : float
        Peak height above the noise floor in floor spreads (adaptive method), NaN otherwise.
    width : float
        Equivalent rectangular duration of the burst on its best channel, ``area above floor / peak height``
        (s): a threshold-free width, ~0.1 s for an impulse through the 6 Hz envelope filter (adaptive), NaN
        otherwise.
    n_channels : int
        Number of channels of the region that detected the burst (adaptive), 0 otherwise.
    height : float
        Peak above the noise floor on the best channel (envelope units; adaptive), NaN otherwise.
    evidence : tuple of (name, value)
        The features behind the ``kind`` decision (e.g. ``("mid_lower_ratio", 0.31)`` for a jaw artefact,
        ``("eog_corr", -0.93)`` for a blink), so users can see why; empty when nothing but duration decided.
    flagged : bool
        The event overlaps an artefact (electrode pop, contact step; see :func:`flag_artifact_overlap`): its
        intensity is not trustworthy.

    Events are equal when onset, offset, channel, region and kind are (the float fields, possibly NaN, are left
    out) and sort by ``(onset, offset, region, channel)``.

    Examples
    --------
    >>> from perifacial.dsp import Event
    >>> e = Event(onset=1000, offset=1299, channel=3, region="left_upper", kind="ME")
    >>> e.duration(fs=1000.0)                         # s, offset inclusive
    0.3
    >>> e == Event(1000, 1299, 3, "left_upper", kind="ME", peak=7.5)   # float fields do not count
    True
    """

    onset: int
    offset: int
    channel: int | None = None
    region: str | None = None
    peak: float = field(default=math.nan, compare=False)
    kind: str = "expression"
    peak_index: int = field(default=-1, compare=False)
    score: float = field(default=math.nan, compare=False)
    width: float = field(default=math.nan, compare=False)
    n_channels: int = field(default=0, compare=False)
    height: float = field(default=math.nan, compare=False)
    evidence: tuple = field(default=(), compare=False)
    flagged: bool = field(default=False, compare=False)

    def _key(self) -> tuple:
        return (self.onset, self.offset, self.region or "", -1 if self.channel is None else self.channel, self.kind)

    def __lt__(self, other: "Event") -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self._key() < other._key()

    @property
    def n_samples(self) -> int:
        """Number of samples in the interval."""
        return self.offset - self.onset + 1

    def duration(self, fs: float) -> float:
        """Duration in seconds at ``fs`` Hz."""
        return self.n_samples / float(fs)

    @property
    def is_expression(self) -> bool:
        return self.kind in EXPRESSION_KINDS


# ----------------------------------------------------------------------------------------------------------------
# CASMEMG
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CasmemgParams:
    """Parameters of the CASMEMG detector, as published (README and ``results_60.xlsx``).

    ``W_L`` (window length - 1) and ``S_L`` (window step) are **samples at 1000 Hz**; ``k`` (threshold factor),
    ``S_n`` (minimum run of supra-threshold windows), ``W_f``/``W_b`` (how many windows before/after the run the
    trough is searched) are counts and do not depend on the rate. ``gate`` is the minimum envelope sum
    (``sum(env[onset..offset])``, envelope units x samples) of a kept detection; the lab used 1 (raw units),
    which is a no-op on uV data.
    """

    W_L: int = 60
    S_L: int = 30
    k: float = 1.0
    S_n: int = 5
    W_f: int = 2
    W_b: int = 6
    gate: float = 1.0
    merge: bool = True

    def at_rate(self, fs: float) -> tuple[int, int]:
        """``(W_L, S_L)`` in samples at ``fs``: ``round(x * fs / 1000)`` (W_L >= 1, S_L >= 1). A window then holds
        ``W_L + 1`` samples as in the code; the other parameters are unchanged."""
        r = float(fs) / 1000.0
        return max(1, int(round(self.W_L * r))), max(1, int(round(self.S_L * r)))


def _casmemg_1d(env: np.ndarray, W_L: int, S_L: int, p: CasmemgParams) -> list[tuple[int, int]]:
    """The detector on one clip envelope; returns kept (onset, offset) pairs, 0-based inclusive, in code order."""
    L = env.shape[0]
    if L < W_L + 1:
        return []
    # window_split: MATLAB `for s = 1:S_L:L-W_L, frag = env(s:s+W_L)` -> 0-based starts j*S_L, W_L+1 samples
    N = (L - W_L - 1) // S_L + 1
    starts = np.arange(N) * S_L
    idx = starts[:, None] + np.arange(W_L + 1)[None, :]
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
        if m >= p.S_n:
            on_w.append(p0)
            off_w.append(p0 + m - 1)
            p0 += m
        else:
            p0 += 1
    out = []
    for a, b in zip(on_w, off_w):
        w = a - p.W_f
        if w < 0:  # MATLAB: w < 1
            w = a
        onset = int(w * S_L + np.argmin(frags[w]))
        w = b + p.W_b
        if w > N - 1:  # MATLAB: w > length(offset_mark) - 1 = N
            w = b
        offset = int(w * S_L + np.argmin(frags[w]))
        # iEMG gate: MATLAB sum(env(onset:offset)) (empty, i.e. 0, when onset > offset)
        if float(env[onset : offset + 1].sum()) >= p.gate:
            out.append((onset, offset))
    return out


def spot_casmemg(
    envelope: np.ndarray,
    fs: float,
    *,
    W_L: int = 60,
    S_L: int = 30,
    k: float = 1.0,
    S_n: int = 5,
    W_f: int = 2,
    W_b: int = 6,
    gate: float = 1.0,
    merge: bool = True,
    montage: Any = None,
) -> list[Event]:
    """The CASMEMG spotting baseline on one clip's envelope per channel, exactly as the lab's code.

    Parameters
    ----------
    envelope : array ``[samples]`` or ``[channels, samples]``
        The clip's envelope (the lab uses :func:`casmemg_envelope` of the clip).
    fs : float
        Sampling rate in Hz. ``W_L`` and ``S_L`` are samples at 1000 Hz and are converted by
        ``round(x * fs / 1000)`` (:meth:`CasmemgParams.at_rate`); the others are window counts.
    W_L, S_L, k, S_n, W_f, W_b, gate : see :class:`CasmemgParams` (published defaults).
    merge : bool
        True (the lab's step 8): the hull ``[min onset, max offset]`` of all kept detections, i.e. at most one
        event per channel. False: every kept detection (they may overlap).
    montage : Montage, optional
        Used to fill ``Event.region`` (default: the perifacial montage when there are 24 channels).

    Returns
    -------
    list of :class:`Event` (``kind="expression"``, ``peak`` = envelope max in the interval), sorted by onset.

    Notes
    -----
    The code's quirks, kept on purpose (0-based mapping of the 1-based MATLAB indices in brackets):

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

    ``S_n < 2`` is rejected: with ``S_n = 1`` the code would mark every unmarked window too (its run length
    starts at 1 whatever the mark) and MATLAB's ``findpeaks`` would then drop adjacent marks.
    """
    p = CasmemgParams(W_L, S_L, k, S_n, W_f, W_b, gate, merge)
    if p.S_n < 2:
        raise ValueError("S_n must be >= 2 (see Notes)")
    if p.W_f < 0 or p.W_b < 0:
        raise ValueError("W_f and W_b must be >= 0")
    x = np.asarray(envelope, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"envelope must be 1-D or [channels, samples], got shape {x.shape}")
    x2 = x[None, :] if x.ndim == 1 else x
    wl, sl = p.at_rate(fs)
    regions = _region_names(x2.shape[0], montage) if x.ndim == 2 else [None]
    events: list[Event] = []
    for c in range(x2.shape[0]):
        env = x2[c]
        det = _casmemg_1d(env, wl, sl, p)
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
                Event(on, off, channel=c if x.ndim == 2 else 0, region=regions[c], peak=pk, kind="expression",
                      peak_index=pi)
            )
    events.sort()
    return events


def _filtfilt_matlab(b: np.ndarray, a: np.ndarray, x: np.ndarray, axis: int = -1) -> np.ndarray:
    from scipy.signal import filtfilt

    padlen = 3 * (max(len(a), len(b)) - 1)
    return filtfilt(b, a, x, axis=axis, padtype="odd", padlen=padlen)


def casmemg_envelope(
    x: np.ndarray,
    fs: float,
    band: tuple[float, float] = (20.0, 450.0),
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
    ``0.45 * fs`` (a logged deviation: the lab only used 1000 Hz).

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
        log.info("casmemg_envelope: band edge %.1f Hz >= Nyquist at fs=%g; using %.1f Hz", hi, fs, 0.45 * fs)
        hi = 0.45 * fs
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


# ----------------------------------------------------------------------------------------------------------------
# Adaptive
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdaptiveParams:
    """Parameters of the adaptive spotter (times in seconds, so they hold at any rate).

    block : block length for the floor statistics (s); hop : spacing of the floor estimates (s, a multiple of
    ``block``); window : centred window of the rolling median/quantile (s); q_spread : quantile used for the
    spread (``median - q``; 0.1587 ~ one SD); min_rel_spread : spread floor relative to the level (guards against
    zero spread on flat data); k_hi / k_lo : start / extension thresholds in spreads above the level;
    merge_gap : gaps shorter than this between bursts of one channel are bridged (s); min_duration : shorter
    bursts are dropped (s); region_gap : channel events of a region closer than this are united (s);
    me_max_duration : expressions shorter than this are ``"ME"``, the rest ``"MaE"`` (s; Li et al. 2024's 1/2 s);
    max_duration : longer region events are ``"artifact"`` (s);
    jaw_sync / jaw_min_duration / jaw_mid_ratio / jaw_mid_max : a jaw artefact (masseter: clench, chewing,
    swallowing) is a pair of lower-region events (left and right) with onsets within ``jaw_sync`` s or overlapping
    by at least half of the shorter (rhythmic chewing blurs onsets), that shows the
    masseter's footprint: a simultaneous middle-region burst on the same side ``jaw_mid_ratio`` to ``jaw_mid_max``
    times as high (above the floor) as the lower one (higher: a middle-face expression leaking downwards) (the masseter lies under both the lower and the middle electrodes; a
    lower-face expression muscle reaches the middle electrodes only as weak crosstalk), or that lasts at least
    ``jaw_min_duration`` s. Middle- and lower-region events lying mostly inside the artefact's interval are its
    volume-conducted copies and labelled ``"jaw"`` too. Upper-region events are labelled only when both upper
    regions (left and right) have one mostly inside the artefact, each at most ``jaw_upper_ratio`` times as high as
    the lower pair (bilateral, weak: temporalis/masseter crosstalk during clenching); a one-sided or strong upper
    burst stays an expression.
    pop_min_score : a region event seen by a single channel of a multi-electrode region with a score at least this
    is an electrode artefact (a muscle loads the neighbouring electrodes of its region too).
    blink_max_width : a blink is a pair of middle-region events (left and right) with peaks within
    ``blink_sync`` s, each of equivalent rectangular width (:attr:`Event.width`) at most this (s);
    pop_max_width : a region event seen by a single channel with a width below this (s) is an electrode pop
    (``"artifact"``): an impulse through the 6 Hz envelope filter has a width of ~0.08 s, a 0.3 s ME ~0.2 s.
    The width limits assume the 6 Hz envelope; scale them by ``6 / cutoff`` for another low-pass.
    crosstalk_ratio / crosstalk_tol : an expression-like event lying within ``crosstalk_tol`` s of an event of
    another region whose ``score`` is at least ``crosstalk_ratio`` times larger is that event's volume-conducted
    crosstalk (``"crosstalk"``); genuine simultaneous expressions of very different strength are lost with it
    (set ``crosstalk_ratio=inf`` to keep them, or unmix with ICA first).
    classify : label blinks/jaw/crosstalk (needs the montage's six regions); False reports everything as ME/MaE
    (or artifact).

    Limitation: activity filling more than half of ``window`` raises the median, so a contraction held longer than
    about ``window / 2`` is partly absorbed into the floor; raise ``window`` for recordings with long holds.
    """

    block: float = 0.1
    hop: float = 0.5
    window: float = 8.0
    q_spread: float = 0.1587
    min_rel_spread: float = 0.01
    k_hi: float = 6.0
    k_lo: float = 2.0
    merge_gap: float = 0.1
    min_duration: float = 0.12
    region_gap: float = 0.05
    me_max_duration: float = 0.5
    max_duration: float = 6.0
    blink_max_width: float = 0.125
    pop_max_width: float = 0.11
    blink_sync: float = 0.05
    jaw_sync: float = 0.2
    jaw_min_duration: float = 2.5
    jaw_mid_ratio: float = 0.12
    jaw_mid_max: float = 1.0
    jaw_upper_ratio: float = 0.25
    pop_min_score: float = 40.0
    crosstalk_ratio: float = 8.0
    crosstalk_tol: float = 0.1
    classify: bool = True

    def samples(self, fs: float) -> dict[str, int]:
        """Sample counts at ``fs``: block size, hop (a whole number of blocks), half window (in blocks), ..."""
        bsz = max(1, int(round(self.block * fs)))
        hop_blocks = max(1, int(round(self.hop / self.block)))
        half_blocks = max(1, int(round(self.window / self.block / 2)))
        return {
            "bsz": bsz,
            "hop_blocks": hop_blocks,
            "hop": hop_blocks * bsz,
            "half_blocks": half_blocks,
            "merge_gap": int(round(self.merge_gap * fs)),
            "min_len": int(round(self.min_duration * fs)),
            "region_gap": int(round(self.region_gap * fs)),
        }


def _region_names(n_channels: int, montage: Any) -> list[str | None]:
    if montage is None:
        if n_channels != 24:
            return [None] * n_channels
        from .montage import default_montage

        montage = default_montage()
    if montage.n_channels != n_channels:
        raise ValueError(f"montage has {montage.n_channels} channels, envelope has {n_channels}")
    return [montage.region_of(c).name for c in range(n_channels)]


def _params_from(params: AdaptiveParams | None, overrides: dict) -> AdaptiveParams:
    p = params or AdaptiveParams()
    if overrides:
        unknown = set(overrides) - set(AdaptiveParams.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown adaptive parameter(s): {sorted(unknown)}")
        p = replace(p, **overrides)
    if p.k_lo > p.k_hi:
        raise ValueError("k_lo must be <= k_hi")
    return p


class _RawDetector:
    """Per-channel floor tracking + hysteresis over consecutive chunks (offline = one chunk + finish)."""

    def __init__(self, n_channels: int, fs: float, p: AdaptiveParams):
        self.C = n_channels
        self.fs = float(fs)
        self.p = p
        sp = p.samples(fs)
        self.bsz, self.hop, self.hop_blocks, self.half = sp["bsz"], sp["hop"], sp["hop_blocks"], sp["half_blocks"]
        self.n_in = 0  # samples received
        self.buf = np.zeros((n_channels, 0))  # samples not yet through hysteresis, first = absolute n_done
        self.n_done = 0
        self.blocks = np.zeros((n_channels, 0))  # one value per block, first = absolute block b_base
        self.b_base = 0
        self.n_blocks = 0  # complete blocks computed
        self.pending = np.zeros((n_channels, 0))  # samples of the incomplete block
        self.M = np.zeros((n_channels, 0))
        self.S = np.zeros((n_channels, 0))
        self.h_base = 0
        self.n_hops = 0
        self.state_i = np.zeros((n_channels, 4), dtype=np.int64)
        self.state_i[:, 2] = -1
        self.state_f = np.zeros((n_channels, 4))
        self.cap = 256

    def _add_blocks(self, x: np.ndarray, final: bool) -> None:
        from ._spot_kernels import block_samples

        data = np.concatenate([self.pending, x], axis=1) if self.pending.shape[1] else x
        nfull = data.shape[1] // self.bsz
        nb = nfull + (1 if final and data.shape[1] % self.bsz else 0)
        if nb:
            out = np.empty((self.C, nb))
            block_samples(np.ascontiguousarray(data), self.bsz, nb, out)
            self.blocks = np.concatenate([self.blocks, out], axis=1) if self.blocks.shape[1] else out
            self.n_blocks += nb
        self.pending = data[:, nb * self.bsz :].copy() if not final else np.zeros((self.C, 0))

    def _add_hops(self, final: bool) -> None:
        from ._spot_kernels import hop_stats

        if final:
            h1 = (self.n_in - 1) // self.hop + 2 if self.n_in else 0
        else:
            # hop h needs blocks up to h*hop_blocks + half - 1
            h1 = (self.n_blocks - self.half) // self.hop_blocks + 1 if self.n_blocks >= self.half else 0
        h0 = self.n_hops
        if h1 <= h0:
            return
        m = np.empty((self.C, h1 - h0))
        s = np.empty((self.C, h1 - h0))
        hop_stats(self.blocks, self.b_base, self.n_blocks, h0, h1, self.hop_blocks, self.half, self.p.q_spread,
                  self.p.min_rel_spread, m, s)
        self.M = np.concatenate([self.M, m], axis=1) if self.M.shape[1] else m
        self.S = np.concatenate([self.S, s], axis=1) if self.S.shape[1] else s
        self.n_hops = h1

    def _run(self, final: bool) -> list[np.ndarray]:
        from ._spot_kernels import hysteresis

        # samples i can be processed when hop (i // hop) + 1 exists
        end = min(self.n_in, (self.n_hops - 1) * self.hop) if self.n_hops >= 2 else 0
        if final:
            end = self.n_in
        n = end - self.n_done
        if n <= 0:
            return []
        seg = np.ascontiguousarray(self.buf[:, :n])
        # an event needs a rise above hi and a fall below lo; real ones are >= ~0.1 s apart: start generously
        self.cap = max(self.cap, n // max(1, int(0.25 * self.fs)) + 16)
        while True:
            si, sf = self.state_i.copy(), self.state_f.copy()
            out_i = np.empty((self.C, self.cap, 3), dtype=np.int64)
            out_f = np.empty((self.C, self.cap, 4))
            counts = np.zeros(self.C, dtype=np.int64)
            hysteresis(seg, self.n_done, self.M, self.S, self.h_base, self.hop, self.p.k_hi, self.p.k_lo, si, sf,
                       self.cap, out_i, out_f, counts)
            if counts.max(initial=0) <= self.cap:
                break
            self.cap = int(counts.max()) * 2
        self.state_i, self.state_f = si, sf
        raw = []
        for c in range(self.C):
            k = int(counts[c])
            if k:
                r = np.empty((k, 8))
                r[:, 0] = c
                r[:, 1:4] = out_i[c, :k]
                r[:, 4:8] = out_f[c, :k]
                raw.append(r)
        if final:
            for c in range(self.C):
                if self.state_i[c, 0]:
                    raw.append(np.array([[c, self.state_i[c, 1], end - 1, self.state_i[c, 3], *self.state_f[c]]]))
                    self.state_i[c, 0] = 0
        self.n_done = end
        self.buf = self.buf[:, n:]
        # trim statistics no longer needed: hysteresis needs hops >= n_done // hop; hops need blocks from
        # (next hop) * hop_blocks - half
        h_keep = self.n_done // self.hop
        if h_keep > self.h_base:
            self.M = self.M[:, h_keep - self.h_base :]
            self.S = self.S[:, h_keep - self.h_base :]
            self.h_base = h_keep
        b_keep = max(0, self.n_hops * self.hop_blocks - self.half)
        if b_keep > self.b_base:
            self.blocks = self.blocks[:, b_keep - self.b_base :]
            self.b_base = b_keep
        return raw

    def feed(self, x: np.ndarray, final: bool = False) -> np.ndarray:
        """Feed samples ``x [C, n]``; returns finished raw channel events as rows
        ``(channel, onset, offset, peak_index, peak_value, peak_z, area, height)``."""
        if x.shape[1]:
            self.buf = np.concatenate([self.buf, x], axis=1) if self.buf.shape[1] else x
            self.n_in += x.shape[1]
        self._add_blocks(x, final)
        self._add_hops(final)
        raw = self._run(final)
        return np.concatenate(raw, axis=0) if raw else np.zeros((0, 8))

    def active_onsets(self) -> dict[int, int]:
        """Channels currently inside an event -> its onset."""
        return {int(c): int(self.state_i[c, 1]) for c in range(self.C) if self.state_i[c, 0]}


def _group_starts(key: np.ndarray, on: np.ndarray, off: np.ndarray, gap: int, span: int) -> np.ndarray:
    """Rows sorted by (key, on): True where a new group starts, i.e. the key changes or the gap to the running
    maximum offset of the group so far is ``>= gap`` samples (``on - max_off - 1 >= gap``; overlaps always
    merge). ``span`` must exceed every offset."""
    n = on.size
    start = np.ones(n, dtype=bool)
    if n > 1:
        run_max = np.maximum.accumulate(key * span + off)
        prev = run_max[:-1] - key[1:] * span
        start[1:] = (key[1:] != key[:-1]) | (on[1:] - prev - 1 >= gap)
    return start


def _argmax_per_group(values: np.ndarray, gid: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the (last) maximum of ``values`` within each group (groups contiguous, ids 0..G-1)."""
    order = np.lexsort((values, gid))
    ends = np.append(starts[1:], gid.size) - 1
    return order[ends]


def _postprocess(raw: np.ndarray, fs: float, p: AdaptiveParams, regions: list[str | None],
                 region_channels: dict[str | None, list[int]]) -> list[Event]:
    """Raw channel bursts -> region events with kinds (vectorised; thousands of bursts per hour are common).

    ``raw`` rows: (channel, onset, offset, peak_index, peak_value, peak_z, area, height)."""
    sp = p.samples(fs)
    if not raw.shape[0]:
        return []
    raw = raw[np.lexsort((raw[:, 1], raw[:, 0]))]
    ch = raw[:, 0].astype(np.int64)
    on = raw[:, 1].astype(np.int64)
    off = raw[:, 2].astype(np.int64)
    span = int(off.max()) + 2
    # 1) per channel: bridge gaps, drop short bursts
    st = _group_starts(ch, on, off, sp["merge_gap"], span)
    gid = np.cumsum(st) - 1
    starts = np.flatnonzero(st)
    c_on = on[starts]
    c_off = np.maximum.reduceat(off, starts)
    best = _argmax_per_group(raw[:, 4], gid, starts)
    c_ch = ch[starts]
    c_pki = raw[best, 3].astype(np.int64)
    c_pkv = raw[best, 4]
    c_z = np.maximum.reduceat(raw[:, 5], starts)
    c_h = np.maximum.reduceat(raw[:, 7], starts)
    c_hb = raw[best, 7]
    c_area = np.add.reduceat(raw[:, 6], starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_w = np.where(c_h > 0, c_area / c_h / fs, 0.0)
    keep = (c_off - c_on + 1) >= sp["min_len"]
    c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_hb = (a[keep] for a in (c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w,
                                                                          c_hb))
    if not c_on.size:
        return []
    # 2) per region: unite channels
    names = list(region_channels)
    n_all = max(int(c_ch.max()), max(max(v) for v in region_channels.values())) + 1
    reg_of = np.full(n_all, -1, dtype=np.int64)
    for ri, r in enumerate(names):
        reg_of[region_channels[r]] = ri
    c_reg = reg_of[c_ch]
    inreg = c_reg >= 0
    if not inreg.all():
        c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb = (a[inreg] for a in (c_on, c_off, c_ch, c_pki, c_pkv,
                                                                                      c_z, c_w, c_reg, c_hb))
        if not c_on.size:
            return []
    o = np.lexsort((c_on, c_reg))
    c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb = (a[o] for a in (c_on, c_off, c_ch, c_pki, c_pkv, c_z,
                                                                              c_w, c_reg, c_hb))
    st = _group_starts(c_reg, c_on, c_off, sp["region_gap"], span)
    gid = np.cumsum(st) - 1
    starts = np.flatnonzero(st)
    r_on = c_on[starts]
    r_off = np.maximum.reduceat(c_off, starts)
    best = _argmax_per_group(c_z, gid, starts)
    pairs = np.unique(gid * (n_all + 1) + c_ch)
    n_ch = np.bincount(pairs // (n_all + 1), minlength=starts.size)
    r_reg = c_reg[starts]
    n_in_region = np.array([len(region_channels[r]) for r in names])[r_reg]
    dur = (r_off - r_on + 1) / fs
    width = c_w[best]
    score = c_z[best]
    pop = (n_ch == 1) & (n_in_region > 1) & ((width < p.pop_max_width) | (score >= p.pop_min_score))
    artifact = (dur > p.max_duration) | pop
    kind = np.where(artifact, "artifact", np.where(dur < p.me_max_duration, "ME", "MaE"))
    events = [
        Event(int(a), int(b), channel=int(c), region=names[r], peak=float(v), kind=str(k), peak_index=int(pi),
              score=float(z), width=float(w), n_channels=int(nc), height=float(h),
              evidence=((("single_channel_score", float(z)), ("width_s", float(w))) if pp else
                        (("duration_s", float(d)),) if k == "artifact" else ()))
        for a, b, c, r, v, k, pi, z, w, nc, h, pp, d in zip(r_on, r_off, c_ch[best], r_reg, c_pkv[best], kind,
                                                            c_pki[best], score, width, n_ch, c_hb[best], pop, dur)
    ]
    events.sort(key=lambda e: (e.onset, e.offset, str(e.region)))
    if p.classify:
        events = _classify(events, fs, p)
    return events


_PAIRS = {"blink": ("left_middle", "right_middle"), "jaw": ("left_lower", "right_lower")}


def _classify(events: list[Event], fs: float, p: AdaptiveParams) -> list[Event]:
    """Label blink and jaw pairs (needs regions named as in the perifacial montage). ``events`` sorted by onset."""
    kinds = [e.kind for e in events]
    idx: dict[str | None, np.ndarray] = {}
    for name in ("left_middle", "right_middle", "left_lower", "right_lower"):
        idx[name] = np.array([i for i, e in enumerate(events) if e.region == name], dtype=np.int64)
    onsets = np.array([e.onset for e in events], dtype=np.int64)
    offsets = np.array([e.offset for e in events], dtype=np.int64)
    widths = np.array([e.width for e in events])

    def within(sel: np.ndarray, t: int, tol: float) -> np.ndarray:
        a = np.searchsorted(onsets[sel], t - tol, side="left")
        b = np.searchsorted(onsets[sel], t + tol, side="right")
        return sel[a:b]

    bsync, bmax = p.blink_sync * fs, p.blink_max_width
    ev_info: dict[int, tuple] = {}
    peaks = np.array([e.peak_index for e in events], dtype=np.int64)
    L, R = _PAIRS["blink"]
    for i in idx[L]:
        if not widths[i] <= bmax:
            continue
        # peaks, not onsets, are compared: the foot of a strong short burst (where onsets are) depends on noise
        for j in within(idx[R], onsets[i], bsync + p.blink_max_width * 2 * fs):
            if widths[j] <= bmax and abs(peaks[j] - peaks[i]) <= bsync:
                kinds[i] = kinds[j] = "blink"
                ev_info[i] = ev_info[j] = (("width_left_s", round(float(widths[i]), 3)),
                                           ("width_right_s", round(float(widths[j]), 3)),
                                           ("peak_lag_s", round(abs(int(peaks[j]) - int(peaks[i])) / fs, 3)))
    jsync, jmin = p.jaw_sync * fs, p.jaw_min_duration * fs
    heights = np.array([e.height for e in events])
    side_mid = {"left_lower": idx["left_middle"], "right_lower": idx["right_middle"]}
    lower_mid = np.sort(np.concatenate([idx["left_middle"], idx["right_middle"], idx["left_lower"],
                                        idx["right_lower"]]))
    uppers = {side: np.array([k for k, e in enumerate(events) if e.region == f"{side}_upper"], dtype=np.int64)
              for side in ("left", "right")}

    def mid_ratio(i: int, lo: int, hi: int) -> float:
        """Highest same-side middle burst overlapping [lo, hi], relative to lower event i's height."""
        best = 0.0
        for m in side_mid[events[i].region]:
            if onsets[m] <= hi and offsets[m] >= lo and heights[i] > 0:
                best = max(best, heights[m] / heights[i])
        return best

    L, R = _PAIRS["jaw"]
    max_len_lr = int(max([offsets[k] - onsets[k] + 1 for k in np.concatenate([idx[L], idx[R]])] or [0]))
    for i in idx[L]:
        for j in within(idx[R], onsets[i], max(jsync, max_len_lr)):
            lo, hi = max(onsets[i], onsets[j]), min(offsets[i], offsets[j])
            if hi < lo:
                continue
            if abs(int(onsets[i]) - int(onsets[j])) > jsync and \
                    hi - lo + 1 < 0.5 * min(offsets[i] - onsets[i], offsets[j] - onsets[j]) + 1:
                continue
            ri, rj = mid_ratio(i, lo, hi), mid_ratio(j, lo, hi)
            shortest = min(offsets[i] - onsets[i], offsets[j] - onsets[j]) + 1
            foot = any(p.jaw_mid_ratio <= v <= p.jaw_mid_max for v in (ri, rj))
            if foot or shortest >= jmin:
                ev = (("mid_lower_ratio_left", round(ri, 3)), ("mid_lower_ratio_right", round(rj, 3)),
                      ("bilateral_onset_lag_s", round(abs(int(onsets[i]) - int(onsets[j])) / fs, 3)),
                      ("duration_s", round(shortest / fs, 3)))
                kinds[i] = kinds[j] = "jaw"
                ev_info[i] = ev_info[j] = ev
                # the masseter's volume-conducted copies: middle/lower events mostly inside the artefact
                start, end = min(onsets[i], onsets[j]) - jsync, max(offsets[i], offsets[j]) + jsync
                for m in lower_mid:
                    if m in (i, j) or kinds[m] == "artifact":
                        continue
                    inside = min(offsets[m], end) - max(onsets[m], start) + 1
                    if inside >= 0.5 * (offsets[m] - onsets[m] + 1):
                        kinds[m] = "jaw"
                        ev_info[m] = ev + (("inside_jaw_of", events[i].region),)
                top = max(heights[i], heights[j])
                weak_inside = {}
                for side, sel in uppers.items():
                    weak_inside[side] = [m for m in sel if kinds[m] in EXPRESSION_KINDS
                                         and min(offsets[m], end) - max(onsets[m], start) + 1
                                         >= 0.5 * (offsets[m] - onsets[m] + 1)
                                         and heights[m] <= p.jaw_upper_ratio * top]
                if weak_inside["left"] and weak_inside["right"]:
                    for m in weak_inside["left"] + weak_inside["right"]:
                        kinds[m] = "jaw"
                        ev_info[m] = ev + (("inside_jaw_of", events[i].region),
                                           ("upper_lower_ratio", round(float(heights[m] / top), 3)))
    # crosstalk: a much weaker event inside an event of another region
    xr, xtol = p.crosstalk_ratio, p.crosstalk_tol * fs
    if math.isfinite(xr) and len(events) > 1:
        scores = np.array([e.score for e in events])
        regs = [e.region for e in events]
        max_len = int((offsets - onsets).max()) + 1
        for i in range(len(events)):
            if kinds[i] not in EXPRESSION_KINDS:
                continue
            a = np.searchsorted(onsets, onsets[i] - xtol - max_len, side="left")
            b = np.searchsorted(onsets, onsets[i] + xtol, side="right")
            for j in range(a, b):
                if (regs[j] != regs[i] and kinds[j] != "artifact" and scores[j] >= xr * scores[i]
                        and onsets[j] - xtol <= onsets[i] and offsets[i] <= offsets[j] + xtol):
                    kinds[i] = "crosstalk"
                    break
    out = []
    for n, (e, k) in enumerate(zip(events, kinds)):
        if k != e.kind:
            e = replace(e, kind=k, evidence=ev_info.get(n, e.evidence))
        out.append(e)
    return out


def _region_map(n_channels: int, one_d: bool, montage: Any, p: AdaptiveParams):
    """(region name per channel, {region: channels}) or (..., None) without a montage."""
    regions = [None] if one_d else _region_names(n_channels, montage)
    region_channels: dict[str | None, list[int]] = {}
    if all(r is None for r in regions):
        return regions, None
    for c, r in enumerate(regions):
        region_channels.setdefault(r, []).append(c)
    return regions, region_channels


def _postprocess_any(raw, fs, p, regions, region_channels):
    if region_channels is None:
        # no montage: every channel on its own (no uniting, no blink/jaw labels), region None
        C = len(regions)
        per = {f"#{c}": [c] for c in range(C)}
        out = _postprocess(raw, fs, replace(p, classify=False), [None] * C, per)
        out = [replace(e, region=None) for e in out]
        out.sort(key=lambda e: (e.onset, e.offset, e.channel))
        return out
    return _postprocess(raw, fs, p, regions, region_channels)


def spot_adaptive(
    envelope: np.ndarray,
    fs: float,
    *,
    montage: Any = None,
    params: AdaptiveParams | None = None,
    lowband: np.ndarray | None = None,
    **overrides: Any,
) -> list[Event]:
    """Spot expression intervals in long envelopes: noise-floor-adaptive double threshold per channel, united per
    region, with blinks and jaw artefacts labelled (see the module docstring and :class:`AdaptiveParams`).

    Parameters
    ----------
    envelope : array ``[samples]`` or ``[channels, samples]`` (e.g. uV), the linear envelope (rectified, 6 Hz).
    fs : sampling rate (Hz).
    montage : :class:`perifacial.dsp.montage.Montage`, optional. Default: the perifacial montage for 24
        channels; for other channel counts without a montage each channel is reported on its own (no regions, no
        blink/jaw labels).
    params : :class:`AdaptiveParams`; keyword ``overrides`` replace single fields (``k_hi=5``).
    lowband : optional ``[channels, samples]`` EOG/motion band of the raw signal
        (:func:`perifacial.dsp.evidence.low_band`); with it, middle-region events carrying the EOG signature of
        a blink are typed ``"blink"`` whatever their width (:func:`perifacial.dsp.evidence.type_blinks_by_eog`).
        Without it (e.g. :class:`SpotStream`), blinks are recognised by width and bilateral synchrony only.
        With it, events over a single-electrode low-band jump (pop, motion step) are typed ``"artifact"`` or
        ``flagged`` (:func:`perifacial.dsp.evidence.type_artifacts_by_lowband`).

    Returns
    -------
    list of :class:`Event`, sorted by onset, with kinds ``"ME"``, ``"MaE"``, ``"blink"``, ``"jaw"``,
    ``"crosstalk"``, ``"artifact"``. Filter with ``e.is_expression``.
    """
    p = _params_from(params, overrides)
    x = np.asarray(envelope, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"envelope must be 1-D or [channels, samples], got shape {x.shape}")
    one_d = x.ndim == 1
    x2 = np.ascontiguousarray(x[None, :] if one_d else x)
    regions, region_channels = _region_map(x2.shape[0], one_d, montage, p)
    det = _RawDetector(x2.shape[0], fs, p)
    raw = det.feed(x2, final=True)
    events = _postprocess_any(raw, fs, p, regions, region_channels)
    if lowband is not None and region_channels is not None and p.classify:
        from .evidence import type_artifacts_by_lowband, type_blinks_by_eog

        if montage is None:
            from .montage import default_montage

            montage = default_montage()
        low = np.asarray(lowband, dtype=np.float64)
        if low.shape != x2.shape:
            raise ValueError(f"lowband must have the envelope's shape {x2.shape}, got {low.shape}")
        events = type_artifacts_by_lowband(type_blinks_by_eog(events, low, fs, montage), low, fs, montage)
    if one_d:
        events = [replace(e, channel=0) for e in events]
    return events


def spot(envelope: np.ndarray, fs: float, method: str = "adaptive", **params: Any) -> list[Event]:
    """Spot expression intervals in an envelope ``[samples]`` or ``[channels, samples]`` sampled at ``fs`` Hz.

    ``method="adaptive"`` (default, long recordings): :func:`spot_adaptive`; ``method="casmemg"`` (the lab's
    baseline on one clip): :func:`spot_casmemg`. ``params`` go to the chosen function. Returns a list of
    :class:`Event` (0-based sample indices, offset inclusive) sorted by onset.

    Parameters
    ----------
    envelope : ndarray ``[channels, samples]`` or ``[samples]``
        Linear envelope (uV), e.g. from :func:`linear_envelope`.
    fs : float
        Sampling rate, Hz.
    method : {"adaptive", "casmemg"}
        The spotter.
    **params
        Settings of the chosen spotter (e.g. ``montage=``, ``k=``).

    Returns
    -------
    list of Event
        Sorted by onset; samples 0-based, offset inclusive.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import linear_envelope, spot
    >>> rng = np.random.default_rng(0)
    >>> fs = 1000.0
    >>> x = rng.normal(0.0, 2.0, 20_000)                # 20 s of one channel at 1 kHz, 2 uV noise
    >>> x[10_000:10_300] += rng.normal(0.0, 30.0, 300)   # a 300 ms burst at 10 s
    >>> events = spot(linear_envelope(x, fs=fs), fs=fs)
    >>> [(round(e.onset / fs, 1), e.kind) for e in events]
    [(10.0, 'ME')]
    """
    if method == "adaptive":
        return spot_adaptive(envelope, fs, **params)
    if method == "casmemg":
        return spot_casmemg(envelope, fs, **params)
    raise ValueError(f"unknown method {method!r} (use 'adaptive' or 'casmemg')")


class SpotStream:
    """Online adaptive spotting on envelope chunks (e.g. the output of ``EnvelopeStream.process``).

    ``process(chunk [channels, n])`` returns the events that became final with this chunk, each exactly once;
    ``close()`` flushes the end of the recording. Fed the same envelope, the events equal those of
    :func:`spot_adaptive` on the concatenated envelope (same onsets, offsets, kinds, peaks): the floor statistics
    use the same blocks and centred windows (a hop's estimate is made once all of its window has arrived), the
    hysteresis carries its state across chunks, and post-processing is re-run on the retained bursts until an
    event cannot change any more. The only possible difference: merged events (chains of bursts within
    ``merge_gap``/``region_gap``) longer than ``retain`` seconds may be split.

    Latency bound: an event is emitted by the first ``process`` call whose data reach
    ``latency = window/2 + hop + block + settle`` seconds past its *cluster end*, where ``settle = merge_gap +
    region_gap + max(blink_sync, jaw_sync)`` (+ 1 sample) and the cluster end is the latest offset among the
    events (any region, since a jaw artefact relabels crosstalk everywhere; only its own region when
    ``classify=False``) that overlap it within ``settle``, chained, including bursts still in progress, except
    bursts of other regions that began more than ``max_duration + merge_gap + region_gap + settle`` before it
    (those can only end as ``"artifact"``, which labels nothing else); for an isolated event it is its own offset.
    With the defaults 4 + 0.5 + 0.1 + 0.35 (+ 1 sample) = 4.951 s (+ one chunk).
    Shorten ``window`` for less latency (the floor then follows slower changes less robustly).

    Parameters
    ----------
    fs : float
        Sampling rate of the envelope, Hz.
    n_channels : int
        Rows of every chunk.
    montage : Montage, optional
        Regions for region-level events (default: the six-region montage for 24 channels).
    params : AdaptiveParams, optional
        The adaptive spotter's settings (defaults as :func:`spot`).
    retain : float
        Seconds of burst history kept for merging (longer merged chains may be split).
    **overrides
        Single :class:`AdaptiveParams` fields, e.g. ``k_hi=6.0``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import EnvelopeStream, SpotStream
    >>> rng = np.random.default_rng(0)
    >>> fs = 1000.0
    >>> x = rng.normal(0.0, 2.0, (1, 20_000))
    >>> x[0, 10_000:10_300] += rng.normal(0.0, 30.0, 300)
    >>> env, spotter = EnvelopeStream(fs, n_channels=1), SpotStream(fs, n_channels=1)
    >>> events = []
    >>> for i in range(0, x.shape[1], 500):                      # 0.5 s chunks, as they arrive
    ...     events += spotter.process(env.process(x[:, i:i + 500]))
    >>> events += spotter.close()
    >>> [(round(e.onset / fs, 1), e.kind) for e in events]
    [(10.0, 'ME')]
    """

    def __init__(self, fs: float, n_channels: int = 24, *, montage: Any = None, params: AdaptiveParams | None = None,
                 retain: float = 60.0, **overrides: Any):
        self.fs = float(fs)
        self.p = _params_from(params, overrides)
        self.C = int(n_channels)
        self.regions, self.region_channels = _region_map(self.C, False, montage, self.p)
        self.det = _RawDetector(self.C, fs, self.p)
        self.raw = np.zeros((0, 8))
        self.retain = int(round(retain * fs))
        self.emitted: set[tuple] = set()
        self.horizon = -(1 << 62)  # events ending before it were final long ago (their raw history is pruned)
        self.closed = False
        self.settle = int(round((self.p.merge_gap + self.p.region_gap + max(self.p.blink_sync, self.p.jaw_sync))
                                * fs)) + 1
        self.long_ago = int(round((self.p.max_duration + self.p.merge_gap + self.p.region_gap) * fs)) + self.settle

    @property
    def latency(self) -> float:
        """The latency bound in seconds (see the class docstring), without chunking."""
        sp = self.p.samples(self.fs)
        return (sp["half_blocks"] * sp["bsz"] + sp["hop"] + sp["bsz"] + self.settle) / self.fs

    def _related(self, region: str | None) -> set[str | None] | None:
        """Regions whose events can change this region's events (None = all): with blink/jaw labelling on, a jaw
        artefact relabels crosstalk in any region, so every region is related."""
        if self.region_channels is None:
            return {region}
        if self.p.classify:
            return None
        return {region}

    def _emit(self, final: bool) -> list[Event]:
        events = _postprocess_any(self.raw, self.fs, self.p, self.regions, self.region_channels)
        done = self.det.n_done
        active = self.det.active_onsets()
        out = []
        for e in events:
            key = (e.onset, e.offset, e.region, e.channel if e.region is None else None)
            if key in self.emitted or e.offset < self.horizon:
                continue
            if not final:
                # the latest end among events this one could depend on
                dep = e.offset
                rel = self._related(e.region)
                for f in events:
                    if (rel is None or f.region in rel) and f.onset <= dep + self.settle \
                            and f.offset >= e.onset - self.settle:
                        dep = max(dep, f.offset)
                if done - 1 < dep + self.settle:
                    continue
                blocked = False
                for c, on in active.items():
                    r = self.regions[c]
                    if self.region_channels is None:
                        same = c == e.channel
                    elif r == e.region:
                        same = True
                    else:
                        # a burst of another region that started long before can only end as an "artifact"
                        # (longer than max_duration), which labels nothing else
                        same = (rel is None or r in rel) and on >= e.onset - self.long_ago
                    if same and on <= dep + self.settle:
                        blocked = True
                        break
                if blocked:
                    continue
            self.emitted.add(key)
            out.append(e)
        # forget what can no longer matter: bursts ending before the horizon, except those of events reaching past
        # it and their context (``settle``): cutting an event's history would re-form it from the rest under
        # another key, e.g. one channel's tail of a region event typed "artifact"
        horizon = done - self.retain
        cut = min([horizon] + [e.onset for e in events if e.offset >= horizon]) - self.settle
        if self.raw.shape[0]:
            self.raw = self.raw[self.raw[:, 2] >= cut]
        self.emitted = {k for k in self.emitted if k[1] >= cut}
        self.horizon = max(self.horizon, horizon)
        return out

    def process(self, chunk: np.ndarray) -> list[Event]:
        """Feed envelope samples ``chunk [channels, n]`` (or 1-D for one channel); returns newly final events."""
        if self.closed:
            raise RuntimeError("SpotStream is closed")
        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[0] != self.C:
            raise ValueError(f"expected {self.C} channels, got {x.shape[0]}")
        raw = self.det.feed(np.ascontiguousarray(x))
        if raw.shape[0]:
            self.raw = np.concatenate([self.raw, raw], axis=0)
        return self._emit(False)

    def close(self) -> list[Event]:
        """End of data: finish open bursts and return the remaining events."""
        if self.closed:
            return []
        raw = self.det.feed(np.zeros((self.C, 0)), final=True)
        if raw.shape[0]:
            self.raw = np.concatenate([self.raw, raw], axis=0)
        self.closed = True
        return self._emit(True)


def events_to_table(events: Sequence[Event], fs: float, labels: Sequence[str] | None = None) -> list[dict]:
    """Rows for printing/CSV: onset/offset in samples and seconds (offset exclusive in seconds), duration, etc."""
    rows = []
    for e in events:
        rows.append({
            "onset": e.onset,
            "offset": e.offset,
            "onset_s": round(e.onset / fs, 4),
            "offset_s": round((e.offset + 1) / fs, 4),
            "duration_s": round(e.n_samples / fs, 4),
            "kind": e.kind,
            "region": e.region or "",
            "channel": "" if e.channel is None else (labels[e.channel] if labels else e.channel),
            "peak": e.peak,
            "score": e.score,
        })
    return rows
