"""The adaptive spotter for long recordings: per-channel noise floor, double threshold with hysteresis, regions,
and blink / jaw / crosstalk / artefact labels (see :mod:`perifacial.dsp.spotting` for the method and
:class:`AdaptiveParams` for every setting). :class:`perifacial.dsp.spot_stream.SpotStream` is its online form and
reuses :class:`RawDetector`, :func:`params_from`, :func:`region_map` and :func:`postprocess`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .defaults import ME_MAX_DURATION_S
from .spot_events import EXPRESSION_KINDS, Event, region_names

__all__ = ["AdaptiveParams", "RawDetector", "params_from", "region_map", "postprocess", "spot_adaptive"]


@dataclass(frozen=True, kw_only=True)
class AdaptiveParams:
    """Parameters of the adaptive spotter (times in seconds, so they hold at any rate; keywords only).

    What is reported: me_max_duration : expressions shorter than this are ``"ME"``, the rest ``"MaE"`` (s; Li et
    al. 2024's 1/2 s); classify : label blinks/jaw/crosstalk (needs the montage's six regions); False reports
    everything as ME/MaE (or artifact).

    How it is detected: block : block length for the floor statistics (s); hop : spacing of the floor estimates (s,
    a multiple of ``block``); window : centred window of the rolling median/quantile (s); q_spread : quantile used
    for the spread (``median - q``; 0.1587 ~ one SD); min_rel_spread : spread floor relative to the level (guards
    against zero spread on flat data); k_hi / k_lo : start / extension thresholds in spreads above the level;
    merge_gap : gaps shorter than this between bursts of one channel are bridged (s); min_duration : shorter bursts
    are dropped (s); region_gap : channel events of a region closer than this are united (s); max_duration : longer
    region events are ``"artifact"`` (s).

    How distractors are typed (``classify``): jaw_sync / jaw_min_duration / jaw_mid_ratio / jaw_mid_max : a jaw
    artefact (masseter: clench, chewing, swallowing) is a pair of lower-region events (left and right) with onsets
    within ``jaw_sync`` s or overlapping by at least half of the shorter (rhythmic chewing blurs onsets), that shows
    the masseter's footprint: a simultaneous middle-region burst on the same side ``jaw_mid_ratio`` to
    ``jaw_mid_max`` times as high (above the floor) as the lower one (higher: a middle-face expression leaking
    downwards) (the masseter lies under both the lower and the middle electrodes; a lower-face expression muscle
    reaches the middle electrodes only as weak crosstalk), or that lasts at least ``jaw_min_duration`` s. Middle-
    and lower-region events lying mostly inside the artefact's interval are its volume-conducted copies and labelled
    ``"jaw"`` too. Upper-region events are labelled only when both upper regions (left and right) have one mostly
    inside the artefact, each at most ``jaw_upper_ratio`` times as high as the lower pair (bilateral, weak:
    temporalis/masseter crosstalk during clenching); a one-sided or strong upper burst stays an expression.
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

    Limitation: activity filling more than half of ``window`` raises the median, so a contraction held longer than
    about ``window / 2`` is partly absorbed into the floor; raise ``window`` for recordings with long holds.
    """

    me_max_duration: float = ME_MAX_DURATION_S
    classify: bool = True
    block: float = 0.1
    hop: float = 0.5
    window: float = 8.0
    q_spread: float = 0.1587
    min_rel_spread: float = 0.01
    k_hi: float = 6.0
    k_lo: float = 3.0
    merge_gap: float = 0.1
    min_duration: float = 0.12
    region_gap: float = 0.05
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


def params_from(params: AdaptiveParams | None, overrides: dict) -> AdaptiveParams:
    """``params`` (default :class:`AdaptiveParams`) with single fields replaced by ``overrides``; unknown names
    raise TypeError, ``k_lo > k_hi`` ValueError."""
    p = params or AdaptiveParams()
    if overrides:
        unknown = set(overrides) - set(AdaptiveParams.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown adaptive parameter(s): {sorted(unknown)}")
        p = replace(p, **overrides)
    if p.k_lo > p.k_hi:
        raise ValueError("k_lo must be <= k_hi")
    return p


class RawDetector:
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
        hop_stats(
            self.blocks,
            self.b_base,
            self.n_blocks,
            h0,
            h1,
            self.hop_blocks,
            self.half,
            self.p.q_spread,
            self.p.min_rel_spread,
            m,
            s,
        )
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
            hysteresis(
                seg,
                self.n_done,
                self.M,
                self.S,
                self.h_base,
                self.hop,
                self.p.k_hi,
                self.p.k_lo,
                si,
                sf,
                self.cap,
                out_i,
                out_f,
                counts,
            )
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


def _postprocess_regions(
    raw: np.ndarray,
    fs: float,
    p: AdaptiveParams,
    regions: list[str | None],
    region_channels: dict[str | None, list[int]],
) -> list[Event]:
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
    c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_hb = (
        a[keep] for a in (c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_hb)
    )
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
        c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb = (
            a[inreg] for a in (c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb)
        )
        if not c_on.size:
            return []
    o = np.lexsort((c_on, c_reg))
    c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb = (
        a[o] for a in (c_on, c_off, c_ch, c_pki, c_pkv, c_z, c_w, c_reg, c_hb)
    )
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
        Event(
            int(a),
            int(b),
            channel=int(c),
            region=names[r],
            peak=float(v),
            kind=str(k),
            peak_index=int(pi),
            score=float(z),
            width=float(w),
            n_channels=int(nc),
            height=float(h),
            evidence=(
                (("single_channel_score", float(z)), ("width_s", float(w)))
                if pp
                else (("duration_s", float(d)),)
                if k == "artifact"
                else ()
            ),
        )
        for a, b, c, r, v, k, pi, z, w, nc, h, pp, d in zip(
            r_on, r_off, c_ch[best], r_reg, c_pkv[best], kind, c_pki[best], score, width, n_ch, c_hb[best], pop, dur
        )
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

    longest = int((offsets - onsets).max()) + 1 if events else 0

    def overlapping(sel: np.ndarray, start: int, end: int) -> np.ndarray:
        """Members of ``sel`` (ascending, so onsets sorted) that can overlap ``[start, end]``."""
        return within(sel, (start - longest + end) / 2, (end - start + longest) / 2)

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
                ev_info[i] = ev_info[j] = (
                    ("width_left_s", round(float(widths[i]), 3)),
                    ("width_right_s", round(float(widths[j]), 3)),
                    ("peak_lag_s", round(abs(int(peaks[j]) - int(peaks[i])) / fs, 3)),
                )
    jsync, jmin = p.jaw_sync * fs, p.jaw_min_duration * fs
    heights = np.array([e.height for e in events])
    side_mid = {"left_lower": idx["left_middle"], "right_lower": idx["right_middle"]}
    lower_mid = np.sort(
        np.concatenate([idx["left_middle"], idx["right_middle"], idx["left_lower"], idx["right_lower"]])
    )
    uppers = {
        side: np.array([k for k, e in enumerate(events) if e.region == f"{side}_upper"], dtype=np.int64)
        for side in ("left", "right")
    }

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
            if (
                abs(int(onsets[i]) - int(onsets[j])) > jsync
                and hi - lo + 1 < 0.5 * min(offsets[i] - onsets[i], offsets[j] - onsets[j]) + 1
            ):
                continue
            ri, rj = mid_ratio(i, lo, hi), mid_ratio(j, lo, hi)
            shortest = min(offsets[i] - onsets[i], offsets[j] - onsets[j]) + 1
            foot = any(p.jaw_mid_ratio <= v <= p.jaw_mid_max for v in (ri, rj))
            if foot or shortest >= jmin:
                ev = (
                    ("mid_lower_ratio_left", round(ri, 3)),
                    ("mid_lower_ratio_right", round(rj, 3)),
                    ("bilateral_onset_lag_s", round(abs(int(onsets[i]) - int(onsets[j])) / fs, 3)),
                    ("duration_s", round(shortest / fs, 3)),
                )
                kinds[i] = kinds[j] = "jaw"
                ev_info[i] = ev_info[j] = ev
                # the masseter's volume-conducted copies: middle/lower events mostly inside the artefact
                start, end = min(onsets[i], onsets[j]) - jsync, max(offsets[i], offsets[j]) + jsync
                for m in overlapping(lower_mid, start, end):
                    if m in (i, j) or kinds[m] == "artifact":
                        continue
                    inside = min(offsets[m], end) - max(onsets[m], start) + 1
                    if inside >= 0.5 * (offsets[m] - onsets[m] + 1):
                        kinds[m] = "jaw"
                        ev_info[m] = ev + (("inside_jaw_of", events[i].region),)
                top = max(heights[i], heights[j])
                weak_inside = {}
                for side, sel in uppers.items():
                    weak_inside[side] = [
                        m
                        for m in overlapping(sel, start, end)
                        if kinds[m] in EXPRESSION_KINDS
                        and min(offsets[m], end) - max(onsets[m], start) + 1 >= 0.5 * (offsets[m] - onsets[m] + 1)
                        and heights[m] <= p.jaw_upper_ratio * top
                    ]
                if weak_inside["left"] and weak_inside["right"]:
                    for m in weak_inside["left"] + weak_inside["right"]:
                        kinds[m] = "jaw"
                        ev_info[m] = ev + (
                            ("inside_jaw_of", events[i].region),
                            ("upper_lower_ratio", round(float(heights[m] / top), 3)),
                        )
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
                if (
                    regs[j] != regs[i]
                    and kinds[j] != "artifact"
                    and scores[j] >= xr * scores[i]
                    and onsets[j] - xtol <= onsets[i]
                    and offsets[i] <= offsets[j] + xtol
                ):
                    kinds[i] = "crosstalk"
                    break
    out = []
    for n, (e, k) in enumerate(zip(events, kinds)):
        if k != e.kind:
            e = replace(e, kind=k, evidence=ev_info.get(n, e.evidence))
        out.append(e)
    return out


def region_map(
    n_channels: int, one_d: bool, montage: Any, p: AdaptiveParams
) -> tuple[list[str | None], dict[str | None, list[int]] | None]:
    """``(region name per channel, {region: channels})``, or ``(..., None)`` without a montage."""
    regions = [None] if one_d else region_names(n_channels, montage)
    region_channels: dict[str | None, list[int]] = {}
    if all(r is None for r in regions):
        return regions, None
    for c, r in enumerate(regions):
        region_channels.setdefault(r, []).append(c)
    return regions, region_channels


def postprocess(
    raw: np.ndarray,
    fs: float,
    p: AdaptiveParams,
    regions: list[str | None],
    region_channels: dict[str | None, list[int]] | None,
) -> list[Event]:
    """Raw channel bursts (rows of :meth:`RawDetector.feed`) -> events sorted by onset: united per region with
    kinds, or, without a montage (``region_channels`` None), every channel on its own, typed by duration only."""
    if region_channels is None:
        # no montage: every channel on its own (no uniting, no blink/jaw labels), region None
        C = len(regions)
        per = {f"#{c}": [c] for c in range(C)}
        out = _postprocess_regions(raw, fs, replace(p, classify=False), [None] * C, per)
        out = [replace(e, region=None) for e in out]
        out.sort(key=lambda e: (e.onset, e.offset, e.channel))
        return out
    return _postprocess_regions(raw, fs, p, regions, region_channels)


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
    p = params_from(params, overrides)
    x = np.asarray(envelope, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"envelope must be 1-D or [channels, samples], got shape {x.shape}")
    one_d = x.ndim == 1
    x2 = np.ascontiguousarray(x[None, :] if one_d else x)
    regions, region_channels = region_map(x2.shape[0], one_d, montage, p)
    det = RawDetector(x2.shape[0], fs, p)
    raw = det.feed(x2, final=True)
    events = postprocess(raw, fs, p, regions, region_channels)
    if lowband is not None and region_channels is not None and p.classify:
        from .evidence import type_artifacts_by_lowband, type_blinks_by_eog

        if montage is None:
            from .montage import default_montage

            montage = default_montage()
        low = np.asarray(lowband, dtype=np.float64)
        if low.shape != x2.shape:
            raise ValueError(f"lowband must have the envelope's shape {x2.shape}, got {low.shape}")
        events = type_blinks_by_eog(events, low, fs, montage)
        kw = dict(envelope=x2, me_max_duration=p.me_max_duration, k_lo=p.k_lo)
        events = type_artifacts_by_lowband(events, low, fs, montage, **kw)
    if one_d:
        events = [replace(e, channel=0) for e in events]
    return events
