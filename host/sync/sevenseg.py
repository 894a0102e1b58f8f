"""Read a seven-segment counter from video frames (NumPy only).

Over a region of interest (ROI: ``x, y, w, h`` in pixels, the display's digits), :class:`SevenSegmentReader`

1. calibrates on a set of frames: grey level = max over colour channels (LED red or white on dark; ``polarity``
   inverts dark-on-light LCDs); one Otsu threshold over the frames; the *ever-lit* mask (pixels lit in >= 3 % of
   the frames); digit cells from the column profile of that mask (runs merged or split to ``n_digits``; equal
   cells as a fallback); every cell resampled to a common 40 x 20 grid, and the union over cells gives a template
   of where segments are, so a digit that never changed (a leading 0) still has its g bar; the lit and unlit grey
   levels of the segments (two Otsu classes of segment means);
2. reads a frame: each segment's mean grey level over its zone of the template, normalised to [0, 1] between the
   unlit and lit levels; below ``lo`` is off, above ``hi`` is on, in between is *ambiguous*: the frame was exposed
   while the display changed (two values blended), flagged ``mid-update``; a crisp pattern that is no digit is
   flagged ``unreadable`` (rolling-shutter tear, glare, occlusion). Leading blank digits read as 0.

Upright digits are assumed (a slant of a few degrees is tolerated by the zone margins).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from perifacial.dsp.intervals import runs as mask_runs

from .display import DIGIT_SEGMENTS
from .mapping import Observation

log = logging.getLogger(__name__)

SEGMENTS = "abcdefg"
_GRID_H, _GRID_W = 40, 20

#: zones (x0, x1, y0, y1) in cell coordinates (0..1 from the left and from the top); intersected with the template
ZONES = {
    "a": (0.25, 0.75, 0.00, 0.16),
    "b": (0.70, 1.00, 0.14, 0.42),
    "c": (0.70, 1.00, 0.58, 0.86),
    "d": (0.25, 0.75, 0.84, 1.00),
    "e": (0.00, 0.30, 0.58, 0.86),
    "f": (0.00, 0.30, 0.14, 0.42),
    "g": (0.25, 0.75, 0.42, 0.58),
}


def _mask(segs: str) -> int:
    return sum(1 << SEGMENTS.index(s) for s in segs)


#: segment bit pattern (bit 0 = a .. bit 6 = g) -> digit; with the common font variants of 6, 7 and 9
PATTERNS: dict[int, int] = {_mask(s): d for d, s in enumerate(DIGIT_SEGMENTS)}
PATTERNS.update({_mask("cdefg"): 6, _mask("abcf"): 7, _mask("abcfg"): 9})


@dataclass(frozen=True)
class DigitReading:
    """What the reader saw in one frame. value: the displayed number, or None when flagged. flag: ``""``,
    ``"mid-update"`` or ``"unreadable"``. text: per-digit result (``?`` ambiguous, ``x`` no digit).
    confidence: 0..1, the smallest distance of a segment level from the 0.5 decision point, doubled."""

    frame: int
    value: int | None
    flag: str
    text: str
    confidence: float


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample."""
    v = np.asarray(values, dtype=float).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Grey level (float32): max over colour channels (keeps red LED segments bright)."""
    a = np.asarray(frame)
    if a.ndim == 3:
        a = a[..., :3].max(axis=2)
    return a.astype(np.float32)


class SevenSegmentReader:
    """Seven-segment reader for ``n_digits`` digits inside ``roi`` (x, y, w, h pixels; None = whole frame).

    Call :meth:`calibrate` with representative frames (a few seconds of video in which the last digits change),
    then :meth:`read` per frame. ``polarity``: ``"bright"`` (lit segments brighter than the background, LEDs),
    ``"dark"`` (LCD) or ``"auto"``. ``lo``/``hi``: normalised segment levels below/above which a segment is
    off/on. ``slant``: italic digits, the top's shift to the right per unit of digit height (tan of the angle;
    about 0.1-0.2 for many LED modules).
    """

    def __init__(
        self,
        n_digits: int = 4,
        roi: Sequence[int] | None = None,
        *,
        polarity: str = "auto",
        lo: float = 0.35,
        hi: float = 0.65,
        slant: float = 0.0,
    ) -> None:
        if polarity not in ("auto", "bright", "dark"):
            raise ValueError("polarity must be auto, bright or dark")
        self.n_digits = int(n_digits)
        self.roi = tuple(int(v) for v in roi) if roi is not None else None
        self.polarity = polarity
        self.lo, self.hi = lo, hi
        self.slant = float(slant)
        self.cells: list[tuple[int, int, int, int]] = []  # (x0, x1, y0, y1) in ROI pixels, x1/y1 exclusive
        self._rows: np.ndarray | None = None
        self._cols: np.ndarray | None = None
        self._zones: np.ndarray | None = None  # (7, GH, GW) float weights
        self.off_level = 0.0
        self.on_level = 1.0
        self._invert = False

    # -- helpers ---------------------------------------------------------------------------------------------
    def _crop(self, frame: np.ndarray) -> np.ndarray:
        a = np.asarray(frame)
        if self.roi is not None:
            x, y, w, h = self.roi
            a = a[y : y + h, x : x + w]
            if a.shape[0] < h or a.shape[1] < w:
                raise ValueError(f"ROI {self.roi} lies outside the frame of shape {np.shape(frame)}")
        g = to_gray(a)
        return 255.0 - g if self._invert else g

    @property
    def calibrated(self) -> bool:
        return self._zones is not None

    def _sample(self, g: np.ndarray) -> np.ndarray:
        assert self._rows is not None and self._cols is not None
        return g[self._rows[:, :, None], self._cols]  # (n_digits, GH, GW)

    # -- calibration -----------------------------------------------------------------------------------------
    def calibrate(self, frames: Iterable[np.ndarray], max_frames: int = 300) -> SevenSegmentReader:
        """Learn the digit cells, segment zones and lit/unlit levels from ``frames`` (at most ``max_frames``
        used, evenly spread when a sequence is given)."""
        if isinstance(frames, np.ndarray) or isinstance(frames, Sequence):
            n = len(frames)
            idx = np.unique(np.linspace(0, n - 1, min(n, max_frames)).astype(int)) if n else []
            chosen = [frames[i] for i in idx]
        else:
            chosen = []
            for f in frames:
                chosen.append(f)
                if len(chosen) >= max_frames:
                    break
        if not chosen:
            raise ValueError("calibration needs frames")
        self._invert = False
        stack = np.stack([self._crop(f) for f in chosen])
        # pixels whose grey level changes over time belong to segments that switch; their levels are bimodal
        # (lit/unlit), which gives a threshold that static background in the ROI does not skew
        sub = stack[:: max(1, len(stack) // 50)]
        contrast = float(np.percentile(sub, 99.5) - np.percentile(sub, 0.5))
        changing = stack.std(axis=0) > 0.15 * max(contrast, 1.0)
        thr = otsu_threshold(sub[:, changing] if changing.sum() >= 4 else sub)
        lit = stack > thr
        frac_lit = float(lit.mean())
        if self.polarity == "dark" or (self.polarity == "auto" and frac_lit > 0.5):
            self._invert = True
            stack = 255.0 - stack
            thr = 255.0 - thr
            lit = stack > thr
        freq = lit.mean(axis=0)
        ever = freq >= 0.03
        if not ever.any():
            raise ValueError("no lit segments found in the ROI: check the ROI and the polarity")
        h, w = ever.shape
        if changing.sum() >= 4:
            # the digits' rows are those where segments change (the last digit cycles through all segments);
            # static bright background caught in the ROI above or below the digits is dropped
            rr = np.nonzero(changing.any(axis=1))[0]
            band = np.zeros(h, bool)
            band[max(rr[0] - 1, 0) : rr[-1] + 2] = True
            ever &= band[:, None]
        colprof = ever.sum(axis=0) >= max(1, int(0.02 * h))
        runs = mask_runs(colprof)
        changing_cols = changing.any(axis=0)
        while len(runs) > self.n_digits:
            # static runs touching the ROI's edge are background, not digits
            edge = [
                i
                for i in (0, len(runs) - 1)
                if (runs[i][0] == 0 or runs[i][1] == w) and not changing_cols[runs[i][0] : runs[i][1]].any()
            ]
            if edge:
                del runs[edge[-1]]
                continue
            # else merge across the smallest gap (a digit split by a gap between its bars)
            gaps = [runs[i + 1][0] - runs[i][1] for i in range(len(runs) - 1)]
            i = int(np.argmin(gaps))
            runs[i : i + 2] = [[runs[i][0], runs[i + 1][1]]]
        if len(runs) != self.n_digits:
            x0, x1 = runs[0][0], runs[-1][1]
            pitch = (x1 - x0) / self.n_digits
            runs = [[int(round(x0 + i * pitch)), int(round(x0 + (i + 1) * pitch))] for i in range(self.n_digits)]
            log.info("seven-segment calibration: %d column runs, using %d equal cells", len(runs), self.n_digits)
        cells = []
        for c0, c1 in runs:
            rows = np.nonzero(ever[:, c0:c1].any(axis=1))[0]
            r0, r1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, h)
            cells.append((c0, c1, r0, r1))
        self.cells = cells
        gy = (np.arange(_GRID_H) + 0.5) / _GRID_H
        gx = (np.arange(_GRID_W) + 0.5) / _GRID_W
        self._rows = np.array([np.clip((r0 + gy * (r1 - r0)).astype(int), 0, h - 1) for _, _, r0, r1 in cells])
        cols = []
        for c0, c1, r0, r1 in cells:
            shear = self.slant * (r1 - r0)  # the top row starts this many pixels right of the bottom row
            width = max(c1 - c0 - abs(shear), 1.0)
            left = c0 + (1.0 - gy[:, None]) * shear if shear >= 0 else c0 + gy[:, None] * -shear
            cols.append(np.clip((left + gx[None, :] * width).astype(int), 0, w - 1))
        self._cols = np.array(cols)  # (n_digits, GH, GW)
        template = self._sample(ever.astype(np.float32)).max(axis=0) > 0  # (GH, GW)
        zones = np.zeros((7, _GRID_H, _GRID_W), np.float32)
        for k, s in enumerate(SEGMENTS):
            x0, x1, y0, y1 = ZONES[s]
            z = np.zeros((_GRID_H, _GRID_W), bool)
            z[int(y0 * _GRID_H) : int(np.ceil(y1 * _GRID_H)), int(x0 * _GRID_W) : int(np.ceil(x1 * _GRID_W))] = True
            zt = z & template
            zones[k] = (zt if zt.sum() >= 3 else z).astype(np.float32)
            zones[k] /= zones[k].sum()
        self._zones = zones
        levels = np.stack([self._levels_raw(g) for g in stack]).ravel()
        t = otsu_threshold(levels)
        hi_side, lo_side = levels[levels > t], levels[levels <= t]
        self.on_level = float(np.median(hi_side)) if len(hi_side) else float(levels.max())
        self.off_level = float(np.median(lo_side)) if len(lo_side) else float(levels.min())
        if self.on_level - self.off_level < 10:
            log.warning(
                "seven-segment calibration: low contrast (lit %.0f vs unlit %.0f grey levels)",
                self.on_level,
                self.off_level,
            )
        log.info("seven-segment calibration: cells %s, unlit %.0f, lit %.0f", cells, self.off_level, self.on_level)
        return self

    def _levels_raw(self, g: np.ndarray) -> np.ndarray:
        assert self._zones is not None
        s = self._sample(g)  # (n, GH, GW)
        return np.einsum("nhw,khw->nk", s, self._zones)

    # -- reading ---------------------------------------------------------------------------------------------
    def segment_levels(self, frame: np.ndarray) -> np.ndarray:
        """Normalised segment levels, shape (n_digits, 7), 0 = unlit, 1 = lit."""
        if not self.calibrated:
            raise RuntimeError("calibrate() the reader first")
        raw = self._levels_raw(self._crop(frame))
        return (raw - self.off_level) / max(self.on_level - self.off_level, 1e-6)

    def read(self, frame: np.ndarray, index: int = 0) -> DigitReading:
        """Read one frame (``index`` is recorded as the frame number)."""
        lev = self.segment_levels(frame)
        conf = float(np.clip(np.min(np.abs(lev - 0.5)) * 2, 0, 1))
        chars = []
        flag = ""
        leading = True
        for row in lev:
            on = row > self.hi
            amb = (row >= self.lo) & ~on
            if amb.any():
                chars.append("?")
                flag = "mid-update"
                leading = False
                continue
            bits = int(sum(1 << k for k in range(7) if on[k]))
            if bits == 0 and leading:
                chars.append("0")
                continue
            leading = False
            d = PATTERNS.get(bits)
            if d is None:
                chars.append("x")
                flag = flag or "unreadable"
            else:
                chars.append(str(d))
        text = "".join(chars)
        value = int(text) if not flag else None
        return DigitReading(int(index), value, flag, text, conf)

    def read_frames(self, frames: Iterable[np.ndarray], start: int = 0) -> list[DigitReading]:
        """Read consecutive frames numbered from ``start``."""
        return [self.read(f, start + i) for i, f in enumerate(frames)]


def readings_to_observations(readings: Iterable[DigitReading]) -> list[Observation]:
    """Observations for :func:`~perifacial.host.sync.mapping.fit_sync` (flagged frames keep their flag and are
    reported as rejected there)."""
    return [Observation(r.frame, r.value, r.flag) for r in readings]


def read_digits(
    frames: Sequence[np.ndarray] | np.ndarray, n_digits: int = 4, roi: Sequence[int] | None = None, **kw: Any
) -> list[DigitReading]:
    """Calibrate on ``frames`` and read them all (frames numbered from 0)."""
    reader = SevenSegmentReader(n_digits, roi, **kw).calibrate(frames)
    return reader.read_frames(frames)
