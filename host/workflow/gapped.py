"""Envelopes and spotting on data with gaps (NaN columns), one gap-free stretch at a time.

The filters reject NaN and a zero-phase filter run across a gap would smear one side into the other, so
:func:`spot_gapped` cuts ``[channels, samples]`` data at every column where any channel is not finite, filters and
spots each stretch on its own and returns events in the columns of the whole array. By construction no event
spans a gap. Stretches shorter than ``min_segment_s`` are left out (and reported).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from perifacial.dsp.defaults import EMG_BAND, emg_band
from perifacial.dsp.intervals import finite_runs  # re-exported (was defined here)

log = logging.getLogger(__name__)

__all__ = ["GappedSpots", "finite_runs", "spot_gapped"]


@dataclass
class GappedSpots:
    """``events`` (:class:`~perifacial.dsp.spotting.Event`, columns of the input, sorted); ``envelope``
    ``[channels, samples]`` (NaN in gaps and skipped stretches); ``segments`` spotted and ``skipped`` (too short)
    as ``(start, stop)`` column ranges."""

    events: list
    envelope: np.ndarray
    segments: list[tuple[int, int]]
    skipped: list[tuple[int, int]]


def spot_gapped(
    data: np.ndarray,
    fs: float,
    *,
    method: str = "adaptive",
    is_envelope: bool = False,
    band: tuple[float, float] = EMG_BAND,
    notch: float | str | None = "auto",
    min_segment_s: float = 2.0,
    **spot_params,
) -> GappedSpots:
    """Spot expression intervals in ``data`` ``[channels, samples]`` (raw EMG in uV, or envelopes with
    ``is_envelope``) sampled at ``fs`` Hz, with NaN columns as gaps: each gap-free stretch is enveloped (the chain
    of Li et al. 2024 [arXiv:2409.00017], ``band`` Hz with its top kept below 0.45 ``fs``, mains removal ``notch`` as
    in :func:`~perifacial.dsp.filters.linear_envelope`) and spotted on its own with
    :func:`perifacial.dsp.spotting.spot` (``method``, ``spot_params``)."""
    from perifacial.dsp.filters import linear_envelope
    from perifacial.dsp.spotting import spot

    x = np.atleast_2d(np.asarray(data, dtype=np.float64))
    C, n = x.shape
    env = np.full((C, n), np.nan)
    min_len = max(1, int(round(min_segment_s * fs)))
    hi = emg_band(fs, band)[1]
    events, segs, skipped = [], [], []
    for a, b in finite_runs(x):
        if b - a < min_len:
            skipped.append((a, b))
            log.warning(
                "stretch [%d, %d) (%.2f s) between gaps is shorter than %.1f s: not spotted",
                a,
                b,
                (b - a) / fs,
                min_segment_s,
            )
            continue
        seg = x[:, a:b]
        e = seg if is_envelope else linear_envelope(seg, fs, band=(band[0], hi), notch=notch)
        env[:, a:b] = e
        evs = spot(e if C > 1 else e[0], fs, method=method, **spot_params)
        events += [
            replace(
                ev,
                onset=ev.onset + a,
                offset=ev.offset + a,
                peak_index=(ev.peak_index + a if ev.peak_index >= 0 else -1),
            )
            for ev in evs
        ]
        segs.append((a, b))
    events.sort()
    return GappedSpots(events, env, segs, skipped)
