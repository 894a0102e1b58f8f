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

The code: :mod:`~perifacial.dsp.spot_events` (:class:`Event`), :mod:`~perifacial.dsp.spot_casmemg`,
:mod:`~perifacial.dsp.spot_adaptive` and :mod:`~perifacial.dsp.spot_stream`; this module is the public entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._api import keyword_only
from .spot_adaptive import AdaptiveParams, spot_adaptive
from .spot_casmemg import CasmemgParams, casmemg_clip, casmemg_envelope, spot_casmemg
from .spot_events import EXPRESSION_KINDS, Event, events_to_table
from .spot_stream import SpotStream

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


@keyword_only("method")
def spot(envelope: np.ndarray, fs: float, *, method: str = "adaptive", **params: Any) -> list[Event]:
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
