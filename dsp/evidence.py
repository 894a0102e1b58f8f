"""Evidence outside the EMG band for typing spotted events: the EOG / motion low band.

The EMG chain band-passes 20-450 Hz and so throws away what distinguishes a blink from an orbicularis oculi
expression: the electro-oculogram. When the eyelid closes the eye rotates upwards (Bell's phenomenon) and the
corneo-retinal dipole moves, so electrodes above the eye (upper regions: frontalis/corrugator) and below it (middle
regions: orbicularis oculi/zygomaticus) see slow deflections of opposite sign, lasting ~0.2-0.5 s, tens to
hundreds of uV. :func:`low_band` extracts that band from the raw signal; :func:`blink_evidence` measures, for a
middle-region event, how strongly the upper and middle low bands of the same side move in opposition at the event.

Electrode pops and motion steps also live in the low band, but on a single electrode (a muscle loads all the
electrodes of its region, an eye movement all those of the upper and middle regions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ._api import keyword_only, renamed
from .defaults import ME_MAX_DURATION_S
from .spot_events import EXPRESSION_KINDS

__all__ = ["low_band", "blink_evidence", "type_blinks_by_eog"]


@keyword_only("band", "axis")
def low_band(x, fs: float, *, band: tuple[float, float] = (1.0, 8.0), axis: int = -1) -> np.ndarray:
    """Zero-phase Butterworth band-pass ``band`` Hz (order 2) of raw ``x`` ``[channels, samples]`` at ``fs`` Hz:
    the EOG / motion band the EMG chain removes. Equal to ``sosfiltfilt(butter(2, band, 'bandpass', fs=fs,
    output='sos'), x - mean)``; float64, same shape, in the input's unit.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import low_band
    >>> fs = 1000.0
    >>> t = np.arange(5000) / fs
    >>> x = 100.0 * np.sin(2 * np.pi * 3.0 * t) + 100.0 * np.sin(2 * np.pi * 100.0 * t)  # 3 Hz (eye) + 100 Hz (uV)
    >>> y = low_band(x, fs)
    >>> y.shape
    (5000,)
    >>> round(float(np.std(y[1000:4000]) * np.sqrt(2)))              # the 3 Hz wave stays, the 100 Hz goes
    100
    """
    from .filters import bandpass, remove_dc

    return bandpass(remove_dc(x, axis=axis), fs, low=band[0], high=band[1], order=2, axis=axis)


@renamed(noise_s="noise_window")
@keyword_only("pre", "post", "noise_window")
def blink_evidence(
    low: np.ndarray,
    fs: float,
    event: Any,
    montage: Any,
    *,
    pre: float = 0.25,
    post: float = 0.45,
    noise_window: float = 5.0,
) -> dict[str, float]:
    """Features of the EOG signature at a middle-region ``event``: ``eog_corr`` (correlation of the upper- and
    middle-region low bands of the event's side over ``[apex - pre, apex + post]``, apex = the event's
    ``peak_index``, or its onset if unknown; a blink gives about -1),
    ``eog_upper`` / ``eog_middle`` (their peak-to-peak deflections in robust noise SDs of the surrounding
    ``noise_window`` s). Empty dict if the event is not in a middle region or the montage has no upper region on
    its side."""
    reg = montage.region(event.region) if event.region else None
    if reg is None or reg.level != "middle":
        return {}
    up = next((r for r in montage.regions if r.level == "upper" and r.side == reg.side), None)
    if up is None:  # a partial montage (e.g. one region of a foreign recording): no EOG pair to compare
        return {}
    n = low.shape[1]
    t0 = event.peak_index if event.peak_index >= 0 else event.onset
    a, b = max(0, t0 - int(pre * fs)), min(n, t0 + int(post * fs))
    A, B = max(0, t0 - int(noise_window * fs)), min(n, t0 + int(noise_window * fs))
    if b - a < 4:
        return {}
    # only the columns used (a whole-length mean per event was slow and read all of a memory-mapped low band)
    w0, w1 = min(a, A), max(b, B)
    a, b, A, B = a - w0, b - w0, A - w0, B - w0
    u = low[list(up.channels), w0:w1].mean(axis=0)
    m = low[list(reg.channels), w0:w1].mean(axis=0)

    def sd(v):
        d = v[A:B] - np.median(v[A:B])
        return 1.4826 * float(np.median(np.abs(d))) + 1e-12

    uw, mw = u[a:b] - u[a:b].mean(), m[a:b] - m[a:b].mean()
    den = math.sqrt(float(uw @ uw) * float(mw @ mw))
    corr = float(uw @ mw) / den if den > 0 else 0.0
    return {
        "eog_corr": round(corr, 3),
        "eog_upper": round(float(np.ptp(u[a:b])) / sd(u), 2),
        "eog_middle": round(float(np.ptp(m[a:b])) / sd(m), 2),
    }


@keyword_only("min_sd", "max_corr", "max_duration")
def type_blinks_by_eog(
    events: Sequence,
    low: np.ndarray,
    fs: float,
    montage: Any,
    *,
    min_sd: float = 3.0,
    max_corr: float = -0.7,
    max_duration: float = 1.5,
) -> list:
    """Relabel as ``"blink"`` the middle-region events not yet typed as distractors (ME/MaE) that carry the EOG
    signature: upper and middle low bands of the same side anticorrelated (``eog_corr <= max_corr``), both
    deflections at least ``min_sd`` noise SDs, the event shorter than ``max_duration`` s. Decided per event from
    its own region and side (upper + middle of that side) and time; the features are stored in
    ``Event.evidence``. Other events are returned unchanged."""
    out = []
    for e in events:
        if e.is_expression and e.region and (e.offset - e.onset + 1) / fs <= max_duration:
            f = blink_evidence(low, fs, e, montage)
            if f and f["eog_corr"] <= max_corr and min(f["eog_upper"], f["eog_middle"]) >= min_sd:
                e = replace(e, kind="blink", evidence=tuple(f.items()))
        out.append(e)
    return out


@renamed(noise_s="noise_window")
@keyword_only("pad", "noise_window")
def electrode_evidence(
    low: np.ndarray, fs: float, event: Any, montage: Any, *, pad: float = 0.1, noise_window: float = 5.0
) -> dict[str, float]:
    """Single-electrode low-band evidence for an event: per channel of its region the peak-to-peak of the low band
    over ``[onset - pad, offset + pad]``; ``lf_max_sd`` = the largest, in robust noise SDs of that channel's
    surrounding ``noise_window`` s; ``lf_dominance`` = the largest over the median of the region's other channels;
    ``lf_channel`` = which channel."""
    reg = montage.region(event.region) if event.region else None
    if reg is None:
        return {}
    chs = list(reg.channels)
    n = low.shape[1]
    a, b = max(0, event.onset - int(pad * fs)), min(n, event.offset + 1 + int(pad * fs))
    A, B = max(0, event.onset - int(noise_window * fs)), min(n, event.offset + int(noise_window * fs))
    seg = low[chs, a:b]
    ptp = seg.max(axis=1) - seg.min(axis=1)
    k = int(np.argmax(ptp))
    ref = low[chs[k], A:B]
    sd = 1.4826 * float(np.median(np.abs(ref - np.median(ref)))) + 1e-12
    others = np.delete(ptp, k)
    dom = float(ptp[k] / (np.median(others) + 1e-12)) if others.size else 1.0
    return {"lf_max_sd": round(float(ptp[k]) / sd, 2), "lf_dominance": round(dom, 2), "lf_channel": chs[k]}


def envelope_support(
    envelope: Any, event: Any, montage: Any, jumped: int, *, fs: float, noise_window: float = 5.0, k: float = 3.0
) -> tuple[float, int, int, int]:
    """How the region's electrodes *other* than ``jumped`` carry ``event`` (a pop or a contact step moves one
    electrode, a facial muscle lies under several).

    Per other channel the rise = the envelope's peak over the event / its median over ``noise_window`` s around
    it. Returns ``(support, onset, offset, channel)``: ``support`` the second largest rise (two electrodes), and
    the event's extent on the other electrodes that rise to at least ``support`` (the hull of their peaks' runs
    above their median + ``k`` spreads inside the event; spread = median minus the 15.87 % quantile, about one SD,
    as the adaptive spotter's extension threshold), and the strongest of them. ``envelope``: ``[channels,
    samples]``, anything indexable as ``envelope[channel, a:b]``."""
    chs = [c for c in montage.region(event.region).channels if c != jumped]
    n = envelope.shape[1]
    A, B = max(0, event.onset - int(noise_window * fs)), min(n, event.offset + 1 + int(noise_window * fs))
    rise, runs = [], []
    for c in chs:
        around = np.asarray(envelope[c, A:B], dtype=np.float64)
        floor = float(np.median(around))
        inside = around[event.onset - A : event.offset + 1 - A]
        rise.append(float(inside.max()) / (floor + 1e-12))
        above = inside > floor + k * (floor - float(np.quantile(around, 0.1587)))
        top = int(np.argmax(inside))
        if above[top]:  # the run of the peak (the spotter's hysteresis extends a burst while above)
            below = np.flatnonzero(~above)
            left, right = below[below < top], below[below > top]
            runs.append((int(left[-1]) + 1 if left.size else 0, int(right[0]) - 1 if right.size else above.size - 1))
        else:
            runs.append(None)
    if not rise:
        return 0.0, event.onset, event.offset, event.channel
    order = np.argsort(rise)[::-1]
    support = rise[order[1]] if len(rise) > 1 else rise[order[0]]
    used = [i for i in order if rise[i] >= support and runs[i] is not None]
    if not used:
        return support, event.onset, event.offset, event.channel
    a = min(runs[i][0] for i in used)
    b = max(runs[i][1] for i in used)
    return support, event.onset + a, event.onset + b, chs[order[0]]


@keyword_only(
    "min_sd", "min_dominance", "keep_channels", "envelope", "min_support", "noise_window", "me_max_duration", "k_lo"
)
def type_artifacts_by_lowband(
    events: Sequence,
    low: np.ndarray,
    fs: float,
    montage: Any,
    *,
    min_sd: float = 8.0,
    min_dominance: float = 4.0,
    keep_channels: int = 3,
    envelope: Any = None,
    min_support: float = 3.0,
    noise_window: float = 5.0,
    me_max_duration: float = ME_MAX_DURATION_S,
    k_lo: float = 3.0,
) -> list:
    """Electrode pops and motion steps: an event whose region shows a low-band jump on one electrode
    (``lf_max_sd >= min_sd`` and ``lf_dominance >= min_dominance``; a muscle or an eye movement moves all the
    region's electrodes together) overlaps an electrode artefact; it is ``flagged`` (its intensity is not
    trustworthy). It is the artefact itself (``kind="artifact"``) when fewer than ``keep_channels`` of the region's
    channels detected the burst, or its strongest channel is the electrode that jumped, unless (with the
    ``envelope`` the events were spotted on, ``[channels, samples]``) two of the region's *other* electrodes rise
    to ``min_support`` x their floor during it (``emg_support``, :func:`envelope_support`). An expression kept
    over a jump takes its extent and peak channel from those other electrodes (the artefact stretched the
    region's union; ``extent_without_channel``; ``k_lo``: the spotter's extension threshold in spreads), and
    ME/MaE from that extent (``me_max_duration``, s).
    Features go to ``Event.evidence``."""
    out = []
    for e in events:
        if e.kind != "artifact" and e.region:
            f = electrode_evidence(low, fs, e, montage)
            if f and f["lf_max_sd"] >= min_sd and f["lf_dominance"] >= min_dominance:
                artefact = e.n_channels < keep_channels or f["lf_channel"] == e.channel
                changes: dict[str, Any] = {}
                if envelope is not None and e.kind in EXPRESSION_KINDS:
                    sup, a, b, ch = envelope_support(
                        envelope, e, montage, f["lf_channel"], fs=fs, noise_window=noise_window, k=k_lo
                    )
                    f["emg_support"] = round(sup, 2)
                    if sup >= min_support:
                        artefact = False
                        if (a, b) != (e.onset, e.offset):
                            f["extent_without_channel"] = f["lf_channel"]
                            kind = "ME" if (b - a + 1) / fs < me_max_duration else "MaE"
                            changes = dict(onset=a, offset=b, channel=ch, kind=kind)
                e = replace(e, flagged=True, evidence=e.evidence + tuple(f.items()), **changes)
                if artefact:
                    e = replace(e, kind="artifact")
        out.append(e)
    return out
