"""Acquisition segments: where the samples of one recording go when the board's sample index does not simply
count up (a reboot or a stop/start restarts it; a crafted or damaged file may jump it by 2**31).

:func:`plan` takes the decoded sample blocks in arrival order and returns the columns they go to. Rules:

- a block continuing the current segment (its first sample at or after the segment's end) goes to its own index;
  the samples skipped between are a gap (NaN), as long as the jump is physically possible (no more samples than
  the host clock allows since the previous block, +5 s and 5 %) and within the gap budget;
- a block behind the current segment's end is either a repeat of samples already placed (same codes: dropped) or a
  restart of the board's counter: a new segment;
- an impossible forward jump also starts a new segment;
- between two segments the silence the host measured (arrival time difference) is kept as a gap of at least one
  column, so the boundary is always visible in ``gaps`` and nothing ever joins two sessions;
- the gaps in total never exceed ``max(received samples, max_gap_s * fs)`` columns (a longer silence is cut to
  that and the cut is counted), so no file can make :func:`load` allocate more than about twice its samples.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Segment", "Plan", "plan"]

_REPEAT_LOOKBACK = 64  # blocks compared when checking for a repeat (bounded work on crafted files)


@dataclass
class Segment:
    """Columns ``start:stop`` of a recording hold device samples ``first_sample + (column - start)``;
    ``host_time`` is the arrival time (s, host monotonic) of its first block (NaN if unknown); ``reason`` why it
    began ("start", "restart" of the sample index, "jump" of the index beyond what the clock allows)."""

    start: int
    stop: int
    first_sample: int
    host_time: float = float("nan")
    reason: str = "start"

    def column(self, sample):
        """Column of device sample index ``sample`` (int or array) in this segment."""
        return self.start + (np.asarray(sample) - self.first_sample)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Plan:
    """``columns[k]``: column of block ``k``'s first kept sample (-1: dropped as a repeat); ``skip[k]``: samples
    of block ``k`` dropped from its start (repeats); ``segment_of[k]`` its segment; ``n_columns`` total."""

    segments: list[Segment]
    columns: np.ndarray
    skip: np.ndarray
    segment_of: np.ndarray
    n_columns: int
    repeats: int = 0
    gap_cut: int = 0  #: gap columns not kept because the budget ran out
    notes: list[str] = field(default_factory=list)


def _same(a, a0: int, b, b0: int, n: int) -> bool:
    return bool(np.array_equal(a.codes[:, a0 : a0 + n], b.codes[:, b0 : b0 + n]))


def plan(blocks, arrival, fs: float, max_gap_s: float = 600.0, arrival_end=None) -> Plan:
    """Place ``blocks`` (objects with ``first_sample``, ``codes`` ``[ch, n]``) whose first and last samples arrived
    at host times ``arrival`` and ``arrival_end`` (s, one per block, NaN where unknown; ``arrival_end`` defaults to
    ``arrival``), recorded at nominal rate ``fs`` (Hz). See the module docstring."""
    if arrival_end is None:
        arrival_end = arrival
    nb = len(blocks)
    received = int(sum(b.codes.shape[1] for b in blocks))
    budget = max(received, int(max_gap_s * fs))
    rate_hi = 1.05 * fs + 1.0
    cols = np.full(nb, -1, dtype=np.int64)
    skip = np.zeros(nb, dtype=np.int64)
    seg_of = np.zeros(nb, dtype=np.int64)
    segs: list[Segment] = []
    seg_blocks: list[int] = []  # blocks of the current segment (for the repeat check)
    cur_stop = 0
    t_last = float("nan")
    repeats = 0
    gap_cut = 0
    notes: list[str] = []

    def open_segment(k: int, reason: str) -> None:
        nonlocal budget, gap_cut, cur_stop, seg_blocks
        b = blocks[k]
        if segs:
            prev = segs[-1]
            prev.stop = prev.start + (cur_stop - prev.first_sample)
            dt = arrival[k] - t_last
            g = int(round(dt * fs)) if math.isfinite(dt) and dt > 0 else 0
            g = max(g, 1)
            if g > budget:
                gap_cut += g - max(budget, 1)
                g = max(budget, 1)
            budget = max(budget - g, 0)
            start = prev.stop + g
            notes.append(
                f"{reason} at column {start}: device sample {prev.first_sample + prev.stop - prev.start} "
                f"-> {b.first_sample}, {g} gap columns"
            )
            log.warning("recording: new acquisition segment (%s of the sample index) after %d gap columns", reason, g)
        else:
            start = 0
        segs.append(Segment(start, start, int(b.first_sample), float(arrival[k]), reason))
        seg_blocks = []
        cur_stop = int(b.first_sample)

    for k, b in enumerate(blocks):
        f = int(b.first_sample)
        n = int(b.codes.shape[1])
        t = float(arrival[k])
        if not segs:
            open_segment(k, "start")
        elif f >= cur_stop:
            jump = f - cur_stop
            if jump:
                dt = t - t_last if math.isfinite(t - t_last) else 0.0
                if jump > rate_hi * (max(dt, 0.0) + 5.0) or jump > budget:
                    open_segment(k, "jump")
                else:
                    budget -= jump
        else:
            seg = segs[-1]
            if f >= seg.first_sample:
                # behind the end: a repeat if every overlapping sample equals what was placed (checked against the
                # last blocks only; an overlap not covered by them is not called a repeat)
                over = min(b.first_sample + n, cur_stop) - f
                same = True
                covered = 0
                for j in seg_blocks[-_REPEAT_LOOKBACK:]:
                    e = blocks[j]
                    e0 = int(e.first_sample) + int(skip[j])
                    e1 = int(e.first_sample) + int(e.codes.shape[1])
                    lo, hi = max(e0, f), min(e1, f + over)
                    if lo < hi:
                        if not _same(e, lo - int(e.first_sample), b, lo - f, hi - lo):
                            same = False
                            break
                        covered += hi - lo
                same = same and covered == over
                if same:
                    repeats += 1
                    if f + n <= cur_stop:
                        seg_of[k] = len(segs) - 1
                        continue
                    skip[k] = cur_stop - f
                else:
                    open_segment(k, "restart")
            else:
                open_segment(k, "restart")
        seg = segs[-1]
        s0 = f + int(skip[k])
        cols[k] = seg.start + (s0 - seg.first_sample)
        seg_of[k] = len(segs) - 1
        seg_blocks.append(k)
        cur_stop = max(cur_stop, f + n)
        te = float(arrival_end[k])
        if math.isfinite(te):
            t_last = te
    if segs:
        segs[-1].stop = segs[-1].start + (cur_stop - segs[-1].first_sample)
    n_columns = segs[-1].stop if segs else 0
    return Plan(segs, cols, skip, seg_of, n_columns, repeats, gap_cut, notes)
