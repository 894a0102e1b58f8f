"""Figures of a processed recording (matplotlib, object API: no pyplot state, safe headless with Agg).

* :func:`preprocessing_figure` -- the five-panel pre-processing view of one channel (Li et al. 2024 [arXiv:2409.00017]
  Fig. 5): raw, DC
  removed, band-passed, rectified, linear envelope; µV against s.
* :func:`regions_figure` -- the six regions' envelopes (each region's channels) with spotted intervals shaded
  (colour by kind).
* :func:`mvc_duration_figure` -- peak MVC % against duration with the ME/MaE split (Li et al. 2024 Fig. 12); without a
  calibration the y axis is the peak envelope in µV; with no expressions it says so instead of drawing empty axes.

Text sizes are >= 8 pt (legends included). Units are written µV.

Every function returns a :class:`matplotlib.figure.Figure` whose axes carry titles the tests check.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from perifacial.dsp.defaults import EMG_BAND, ME_MAX_DURATION_MS, emg_band

log = logging.getLogger(__name__)

__all__ = [
    "preprocessing_figure",
    "regions_figure",
    "mvc_duration_figure",
    "render_all",
    "close_all",
    "PREPROC_TITLES",
    "KIND_COLOURS",
]

PREPROC_TITLES = ("raw", "DC removed", "band-passed", "rectified", "linear envelope")
KIND_COLOURS = {
    "ME": "tab:red",
    "MaE": "tab:blue",
    "blink": "tab:gray",
    "jaw": "tab:olive",
    "crosstalk": "tab:purple",
    "artifact": "black",
    "expression": "tab:green",
}


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(**kw)


def preprocessing_figure(
    x: np.ndarray,
    fs: float,
    label: str = "",
    t0: float = 0.0,
    band=EMG_BAND,
    cutoff: float = 6.0,
    notch_hz: float | str | None = None,
):
    """Five stacked panels for one channel's raw segment ``x`` ``[n]`` (uV, finite) starting at ``t0`` s.
    ``notch_hz``: mains removal as in the chain ("auto", a frequency, or None; :mod:`perifacial.dsp.mains`)."""
    from perifacial.dsp.filters import bandpass, lowpass, rectify, remove_dc
    from perifacial.dsp.mains import remove_mains

    x = np.asarray(x, dtype=np.float64)
    high = emg_band(fs, band)[1]
    dc = remove_dc(x)
    bp_in = remove_mains(dc, fs, freq=notch_hz, max_freq=high) if notch_hz is not None else dc
    bp = bandpass(bp_in, fs, low=band[0], high=high)
    rect = rectify(bp)
    # the envelope's edge handling, as in linear_envelope: the low-pass's undershoot (largest at the ends, where the
    # zero-phase padding extends the rectified signal) is clipped at 0
    env = np.maximum(lowpass(rect, fs, cutoff=cutoff), 0.0)
    t = t0 + np.arange(x.size) / fs
    fig = _figure(figsize=(9, 9), layout="constrained")
    axes = fig.subplots(5, 1, sharex=True)
    for ax, y, title in zip(axes, (x, dc, bp, rect, env), PREPROC_TITLES):
        ax.plot(
            t, y, lw=0.5 if title != "linear envelope" else 1.2, color="k" if title != "linear envelope" else "tab:red"
        )
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_ylabel("µV")
    bp_name = f"band-pass {band[0]:g}-{high:g} Hz" + (f", mains {notch_hz} removed" if notch_hz is not None else "")
    axes[2].set_title(f"band-passed ({bp_name})", fontsize=9, loc="left")
    axes[4].set_title(f"linear envelope (low-pass {cutoff:g} Hz, clipped at 0)", fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"Pre-processing, channel {label}")
    return fig


def regions_figure(
    env: np.ndarray, fs: float, events, montage, labels, max_points: int = 20000, n_samples: int | None = None
):
    """One panel per montage region: its channels' envelopes (uV) with spotted events shaded by kind.
    ``n_samples``: ``env`` is already decimated (``env_full[:, ::decimation_step(n_samples)]``)."""
    C, n = env.shape
    if n_samples is not None:
        n = n_samples
        step = decimation_step(n, max_points)
        env = _Undecimated(env, step)
    else:
        step = decimation_step(n, max_points)
    t = np.arange(0, n, step) / fs
    regions = list(montage.regions) if montage is not None else []
    fig = _figure(figsize=(11, 1.6 * max(1, len(regions)) + 1), layout="constrained")
    axes = np.atleast_1d(fig.subplots(max(1, len(regions)), 1, sharex=True))
    if not regions:
        axes[0].plot(t, env[:, ::step].T, lw=0.6)
        axes[0].set_title("all channels")
    for ax, r in zip(axes, regions):
        for c in r.channels:
            ax.plot(t, env[c, ::step], lw=0.6, label=str(labels[c]))
        for e in events:
            if e.region == r.name:
                ax.axvspan(
                    e.onset / fs, (e.offset + 1) / fs, color=KIND_COLOURS.get(e.kind, "tab:green"), alpha=0.25, lw=0
                )
        ax.set_title(f"{r.name} ({r.code}: {', '.join(r.muscles)})", fontsize=9, loc="left")
        ax.set_ylabel("µV")
        ax.legend(fontsize=8, loc="upper right", ncol=4)
    axes[-1].set_xlabel("time (s)")
    kinds = sorted({e.kind for e in events})
    if kinds:
        from matplotlib.patches import Patch

        fig.legend(
            [Patch(color=KIND_COLOURS.get(k, "tab:green"), alpha=0.35) for k in kinds],
            kinds,
            loc="outside lower center",
            ncol=len(kinds),
            fontsize=8,
            title="spotted intervals",
        )
    fig.suptitle("Envelopes by region (linear envelope, µV) with spotted intervals")
    return fig


def mvc_duration_figure(rows, calibrated: bool = True, me_max_ms: float = ME_MAX_DURATION_MS):
    """Scatter of peak MVC % (or peak µV) against duration (s) of expression rows (:class:`EventRow`), ME and MaE
    in two colours, the duration split as a labelled dashed line (Li et al. 2024 Fig. 12). Without rows the axes
    say "no expressions spotted" (duration axis 0-2 s) instead of showing an empty autoscaled plot."""
    fig = _figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    rows = list(rows)
    split = me_max_ms / 1000
    ax.axvline(split, ls="--", color="k", lw=0.8, label=f"ME/MaE split ({split:g} s)")
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("peak intensity (% MVC)" if calibrated else "peak envelope (µV; no MVC calibration)")
    ax.set_title("Intensity vs duration (ME / MaE)")
    if not rows:
        ax.set_xlim(0.0, max(2.0, 2 * split))
        ax.set_ylim(0.0, 1.0)
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no expressions spotted",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="0.3",
        )
        ax.legend(fontsize=8, loc="upper right")
        return fig
    for kind in ("ME", "MaE"):
        sel = [r for r in rows if r.kind == kind]
        y = [r.peak_mvc_pct if calibrated else r.peak_uv for r in sel]
        ax.scatter(
            [r.duration_ms / 1000 for r in sel], y, s=18, color=KIND_COLOURS[kind], label=f"{kind} (n={len(sel)})"
        )
    ax.legend(fontsize=8)
    return fig


def _preproc_window(recording, res, fs: float) -> tuple[int, int, int]:
    """(channel, start, stop) of a window of about 6 s around the strongest expression not flagged as overlapping
    an artefact (else the first 6 s of the first processed segment), inside one gap-free segment."""
    segs = [s for s in res.segments if s.ok]
    if not segs:
        return 0, 0, 0
    half = int(3 * fs)
    clean = [r for r in res.rows if not getattr(r, "flagged", False)]
    if clean:
        r = max(clean, key=lambda r: r.score if math.isfinite(r.score) else -1)
        ch = res.labels.index(r.channel) if r.channel in res.labels else 0
        c = (r.onset_sample + r.offset_sample) // 2
        seg = next((s for s in segs if s.start <= c < s.stop), segs[0])
        a = max(seg.start, c - half)
        return ch, a, min(seg.stop, a + 2 * half)
    return 0, segs[0].start, min(segs[0].stop, segs[0].start + 2 * half)


def decimation_step(n: int, max_points: int = 20000) -> int:
    """Column step of the envelope plotted in :func:`regions_figure` for ``n`` samples."""
    return max(1, n // max_points)


class _Undecimated:
    """``env[c, ::step]`` of an envelope given already decimated by ``step``."""

    def __init__(self, dec: np.ndarray, step: int):
        self.dec, self.step = dec, step

    def __getitem__(self, key):
        rows, cols = key
        if cols != slice(None, None, self.step):
            raise IndexError("only [:, ::step] of a decimated envelope is available")
        return self.dec[rows]


def render_all(recording, env, res, opts, calibrated: bool, montage, read=None, n_samples: int | None = None) -> dict:
    """The three figures of a processed recording: ``{"preprocessing", "regions", "mvc_duration"}``.
    ``read(a, b)``: the raw columns ``[a, b)`` (default ``recording.data``); ``n_samples``: ``env`` is decimated
    (see :func:`regions_figure`)."""
    fs = res.fs
    ch, a, b = _preproc_window(recording, res, fs)
    figs = {}
    if b - a > int(fs):
        raw = recording.data[ch, a:b] if read is None else read(a, b)[ch]
        figs["preprocessing"] = preprocessing_figure(
            raw, fs, res.labels[ch], a / fs, opts.band, opts.cutoff, opts.notch
        )
    figs["regions"] = regions_figure(env, fs, res.events, montage, res.labels, n_samples=n_samples)
    figs["mvc_duration"] = mvc_duration_figure(res.rows, calibrated)
    return figs


def close_all(figs: dict) -> None:
    """Release figures (object-API figures are garbage collected; this drops their canvases early)."""
    for f in figs.values():
        f.clear()
