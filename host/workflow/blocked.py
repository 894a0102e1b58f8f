"""Bounded-memory processing: the envelope chain of :func:`perifacial.host.workflow.process.envelope_segments`
computed in overlapping blocks, with the same answer.

Why it is exact: mains removal (:class:`perifacial.dsp.mains.MainsPlan`) is block-local by design, so any column
range is computed from that range plus one mains block of context, with the same blocks in the same order as the
whole-segment call. DC removal subtracts the whole segment's mean, found in a first (cheap) pass. The zero-phase
filters are run on each block extended by ``overlap`` samples on both sides (clipped to the segment): at the true
ends of a segment the odd padding is exactly the in-memory one; at an artificial block end the filter starts from
the wrong state, and that error decays like the filters' impulse responses. ``overlap`` is the sum, over the
cascaded zero-phase stages, of the samples after which each stage's impulse response stays below ``tol`` (1e-13)
of its peak (:func:`decay_samples`), so the kept columns equal the in-memory chain to about ``tol`` times the
signal's amplitude (tested within 1e-9 of the envelope's peak). Spotting uses
:class:`perifacial.dsp.spotting.SpotStream` (documented to equal :func:`~perifacial.dsp.spotting.spot_adaptive`
on the same envelope).

Memory: one block of ``block_s`` seconds plus its overlaps is in memory at a time, and the last ~90 s of the EOG
low band (for typing the events SpotStream emits); the envelope is written to an unlinked temporary file, read
back in windows (quantification) and returned as a read-only ``np.memmap``.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["BlockSource", "ColumnFile", "decay_samples", "source_of", "synthetic_source", "BLOCKS_ABOVE"]

#: ``ProcessOptions(mode="auto")`` processes in blocks above this many values (channels x samples): about
#: 24 ch x 35 min at 1 kHz (a float64 copy of such a recording is 400 MB; below it the in-memory path is faster)
BLOCKS_ABOVE = 50_000_000


@dataclass
class BlockSource:
    """Columns of a recording on demand: ``read(a, b)`` returns float64 ``[n_channels, b - a]`` in uV, NaN in
    gaps; ``leadoff(a, b)`` (optional) the lead-off bits bool ``[n_channels, b - a]``."""

    n_channels: int
    n_samples: int
    fs: float
    read: Callable[[int, int], np.ndarray]
    leadoff: Callable[[int, int], np.ndarray] | None = None


#: How ``process`` quantifies its events (both paths): typed by duration, on the event's own channel, above the
#: envelope's local floor, the peak of the plateau (see :func:`perifacial.dsp.quantification.quantify`)
QUANTIFY = {"classify": "duration", "use_event_channel": True, "subtract_floor": True, "peak": "plateau"}


def source_of(recording) -> BlockSource:
    """A :class:`BlockSource` over a loaded recording: its ``data``, or (``load(..., data=False)``) its ADC codes
    converted block by block exactly as :func:`perifacial.host.recording.load` does (``codes * lsb_uv(gains)``,
    NaN in gaps)."""
    C = int(recording.data.shape[0]) if recording.data.ndim == 2 else int(recording.codes.shape[0])
    n = int(recording.n_samples)
    if recording.data.ndim == 2 and recording.data.shape[1] == n and n:
        data = recording.data

        def read(a, b):
            return np.asarray(data[:, a:b], dtype=np.float64)
    else:
        from perifacial.host.decoder import lsb_uv

        codes, lsb, gaps = recording.codes, lsb_uv(recording.gains)[:, None], list(recording.gaps)
        C = int(codes.shape[0])

        def read(a, b):
            x = codes[:, a:b] * lsb
            for g0, g1 in gaps:
                if g0 < b and g1 > a:
                    x[:, max(g0, a) - a : min(g1, b) - a] = np.nan
            return x

    leadoff = None
    status = getattr(recording, "status", None)
    if status is not None and status.ndim == 2 and status.shape[0] * 8 == C and status.shape[1] == n:
        from perifacial.host.decoder import leadoff_bits

        def leadoff(a, b):
            return leadoff_bits(status[:, a:b])

    return BlockSource(C, n, float(recording.fs), read, leadoff)


def synthetic_source(n_channels: int, seconds: float, fs: float, seed: int = 0, chunk_s: float = 10.0) -> BlockSource:
    """A reproducible synthetic recording generated on the fly (for benchmarks of any length, in bounded memory):
    ``n_channels`` of EMG-like noise (3 uV; a pool of ``4 chunk_s`` s drawn once, each chunk a different cyclic
    shift of it) with 50 Hz mains (8 uV), per-channel offsets and bursts (30-80 uV, 0.2-1.5 s) at random times.
    Chunk ``k`` (``chunk_s`` s) depends only on ``(seed, k)``, so ``read(a, b)`` gives the same values whatever
    the split."""
    n = int(round(seconds * fs))
    L = int(round(chunk_s * fs))
    pool = np.random.default_rng([seed, 1 << 30]).normal(0.0, 3.0, (n_channels, 4 * L))
    offsets = 100.0 + 10.0 * np.arange(n_channels)[:, None]

    def chunk(k):
        rng = np.random.default_rng([seed, k])
        m = min(L, n - k * L)
        s0 = int(rng.integers(0, 3 * L))
        x = pool[:, s0 : s0 + m] + offsets
        t = (k * L + np.arange(m)) / fs
        x += 8.0 * np.sin(2 * np.pi * 50.0 * t)
        for _ in range(rng.poisson(chunk_s / 4)):
            c, w = 4 * int(rng.integers(0, max(1, n_channels // 4))), int(rng.uniform(0.1, 1.2) * fs)
            s = int(rng.integers(0, max(1, m - w)))
            burst = x[c : c + 4, s : s + w]
            burst += rng.normal(0.0, rng.uniform(10, 60), burst.shape) * np.hanning(burst.shape[1])
        return x

    def read(a, b):
        if b <= a:
            return np.zeros((n_channels, 0))
        first = a // L
        x = np.concatenate([chunk(k) for k in range(first, (b - 1) // L + 1)], axis=1)
        return x[:, a - first * L : b - first * L]

    return BlockSource(n_channels, n, float(fs), read)


class ColumnFile:
    """A float64 ``[channels, n]`` array kept in an unlinked temporary file, written block by block
    (:meth:`write`) and read back through :meth:`array` (a read-only ``np.memmap``: only touched pages are in
    memory)."""

    def __init__(self, channels: int, n: int, fill: float = np.nan, directory: str | None = None):
        self.C, self.n = int(channels), int(n)
        self.f = tempfile.TemporaryFile(dir=directory)
        self.f.truncate(self.C * self.n * 8)
        self._fill = fill

    def write(self, a: int, block: np.ndarray) -> None:
        blk = np.ascontiguousarray(block, dtype=np.float64)
        for c in range(self.C):
            self.f.seek((c * self.n + a) * 8)
            self.f.write(blk[c].tobytes())

    def fill(self, a: int, b: int) -> None:
        """Write the fill value (NaN) into columns ``[a, b)``, in bounded pieces."""
        step = 1 << 16
        for s in range(a, b, step):
            e = min(b, s + step)
            self.write(s, np.full((self.C, e - s), self._fill))

    def read(self, a: int, b: int, rows=None) -> np.ndarray:
        """Columns ``[a, b)`` of ``rows`` (default all) ``[len(rows), b - a]``, read from the file (no mapping:
        nothing stays resident)."""
        self.f.flush()
        rows = range(self.C) if rows is None else rows
        a, b = max(0, a), min(self.n, b)
        out = np.empty((len(rows), max(0, b - a)))
        if b > a:
            for i, c in enumerate(rows):
                self.f.seek((int(c) * self.n + a) * 8)
                out[i] = np.frombuffer(self.f.read((b - a) * 8), np.float64)
        return out

    def reader(self) -> ColumnReader:
        return ColumnReader(self)

    def array(self) -> np.ndarray:
        self.f.flush()
        if self.C * self.n == 0:
            return np.full((self.C, self.n), self._fill)
        return np.memmap(self.f, dtype=np.float64, mode="r", shape=(self.C, self.n))


class ColumnReader:
    """``[rows, a:b]`` indexing (rows: int, list or slice; one column slice of step 1) of a :class:`ColumnFile`
    through :meth:`ColumnFile.read`: windows of a long array without keeping its pages resident."""

    def __init__(self, cf: ColumnFile, start: int = 0, stop: int | None = None):
        self.cf, self.start = cf, start
        self.stop = cf.n if stop is None else stop
        self.shape = (cf.C, self.stop - self.start)

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(cols, slice) or cols.step not in (None, 1):
            raise IndexError("ColumnReader takes one column slice of step 1")
        a, b, _ = cols.indices(self.shape[1])
        if isinstance(rows, slice):
            idx = list(range(self.cf.C))[rows]
        elif np.ndim(rows) == 0:
            return self.cf.read(self.start + a, self.start + b, [int(rows)])[0]
        else:
            idx = [int(r) for r in rows]
        return self.cf.read(self.start + a, self.start + max(a, b), idx)

    def window(self, a: int, b: int) -> ColumnReader:
        """The columns ``[a, b)`` as a reader of their own (column 0 = ``a``)."""
        return ColumnReader(self.cf, self.start + a, self.start + b)


def decay_samples(sos: np.ndarray, tol: float = 1e-13) -> int:
    """Samples after which the impulse response of the cascade ``sos`` stays below ``tol`` of its peak (the
    length over which a wrong initial state is forgotten). Bounded first from the largest pole radius ``r``
    (``log(tol) / log(r)``, times 4 for the multiple poles of the cascade), then measured on that response."""
    from scipy.signal import sosfilt

    sos = np.atleast_2d(np.asarray(sos, dtype=np.float64))
    r = max([1e-3] + [float(np.abs(np.roots(s[3:])).max()) for s in sos if np.any(s[4:])])
    guess = int(math.ceil(4 * math.log(tol) / math.log(r))) + 16
    imp = np.zeros(guess)
    imp[0] = 1.0
    h = np.abs(sosfilt(sos, imp))
    big = np.flatnonzero(h > tol * h.max())
    return int(big[-1]) + 1 if big.size else 1


def column_runs(source: BlockSource, block: int) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of columns where every channel is finite, found block by block."""
    runs: list[tuple[int, int]] = []
    open_at = None
    for a in range(0, source.n_samples, block):
        b = min(source.n_samples, a + block)
        ok = np.isfinite(source.read(a, b)).all(axis=0)
        d = np.diff(np.concatenate([[0], ok.view(np.int8), [0]]))
        starts, stops = np.flatnonzero(d == 1) + a, np.flatnonzero(d == -1) + a
        if open_at is not None and not (starts.size and starts[0] == a):
            runs.append((open_at, a))
            open_at = None
        for s, e in zip(starts, stops):
            if open_at is not None and s == a:
                s = open_at
            open_at = None
            if e == b and b < source.n_samples:
                open_at = int(s)
                continue
            runs.append((int(s), int(e)))
    if open_at is not None:
        runs.append((open_at, source.n_samples))
    return runs


@dataclass
class SegmentPlan:
    """How one gap-free segment ``[start, stop)`` is filtered in blocks (see the module docstring)."""

    start: int
    stop: int
    stages: list
    overlap: int
    mains: object | None
    mean: np.ndarray | None = None
    raw_mean: np.ndarray | None = None
    low_sos: np.ndarray | None = None
    low_overlap: int = 0


def plan_segment(source: BlockSource, start: int, stop: int, opts, block: int, low: bool) -> SegmentPlan:
    """Detect mains (reading only the central stretch :func:`~perifacial.dsp.mains.detect_mains` analyses), lay out
    the mains blocks, and find the segment's means in a first pass over its blocks."""
    from perifacial.dsp.defaults import emg_band
    from perifacial.dsp.filters import design_bandpass, envelope_stages, mains_mode
    from perifacial.dsp.mains import MainsPlan, detect_mains, mains_frequencies, welch_window

    fs, n = source.fs, stop - start
    low_edge, top = emg_band(fs, opts.band)
    sub, _ = mains_mode(opts.notch, "fit")
    stages = envelope_stages(fs, (low_edge, top), opts.cutoff, 2, None, 30.0)
    freqs = None
    if sub == "auto":
        a, use = welch_window(n, fs)
        info = detect_mains(source.read(start + a, start + a + use), fs, max_freq=top)
        freqs = None if info is None else info.frequencies
    elif sub is not None:
        freqs = mains_frequencies(sub, fs, top)
    mains = MainsPlan.make(n, fs, freqs) if freqs is not None else None
    plan = SegmentPlan(start, stop, stages, sum(decay_samples(s.sos) for s in stages), mains)
    if low:
        plan.low_sos = design_bandpass(1.0, 8.0, fs=fs, order=2)
        plan.low_overlap = decay_samples(plan.low_sos)
    sums, raw_sums = np.zeros(source.n_channels), np.zeros(source.n_channels)
    for a in range(0, n, block):
        b = min(n, a + block)
        sums += mains_free(source, plan, a, b).sum(axis=1)
        if low:
            raw_sums += source.read(start + a, start + b).sum(axis=1)
    plan.mean, plan.raw_mean = sums / n, raw_sums / n
    return plan


def mains_free(source: BlockSource, plan: SegmentPlan, a: int, b: int) -> np.ndarray:
    """Segment columns ``[a, b)`` after mains removal (the raw columns when none is removed)."""
    if plan.mains is None:
        return source.read(plan.start + a, plan.start + b)
    return plan.mains.subtract(lambda lo, hi: source.read(plan.start + lo, plan.start + hi), a, b)


def segment_blocks(source: BlockSource, plan: SegmentPlan, block: int):
    """Yield ``(a, envelope, low)`` for consecutive blocks ``[a, a + block)`` of the segment (segment columns):
    the clipped linear envelope and (when planned) the EOG low band, float64 ``[channels, block]``."""
    from perifacial.dsp.filters import run_stages

    n = plan.stop - plan.start
    for a in range(0, n, block):
        b = min(n, a + block)
        e0, e1 = max(0, a - plan.overlap), min(n, b + plan.overlap)
        y = mains_free(source, plan, e0, e1)
        y -= plan.mean[:, None]
        env = run_stages(plan.stages, y, -1, True, demean=False)[:, a - e0 : b - e0]
        low = low_columns(source, plan, a, b) if plan.low_sos is not None else None
        yield a, env, low


@dataclass
class BlockedChain:
    """What :func:`run_blocked` produced: ``envelope`` (a read-only memmap ``[channels, n]``, NaN in gaps and
    skipped segments) and ``reader`` (the same through :class:`ColumnReader`), ``decimated`` (the envelope's
    columns ``::step``, for figures), ``segments`` (:class:`~perifacial.host.workflow.process.Segment`),
    ``events`` (recording columns, sorted), ``plans`` (per processed segment)."""

    envelope: np.ndarray
    decimated: np.ndarray
    reader: ColumnReader
    step: int
    segments: list
    events: list
    plans: list


class LowBand:
    """The EOG/motion low band of one segment (``[channels, n]`` indexing, segment columns) for the low-band
    typing of events: the recent columns from the blocks already filtered (kept ``keep`` samples, and from the
    earliest event still waiting), anything older or not yet filtered computed from the source like a block
    (same overlap, same edges)."""

    def __init__(self, source: BlockSource, plan: SegmentPlan):
        self.source, self.plan = source, plan
        self.shape = (source.n_channels, plan.stop - plan.start)
        self.base = 0
        self.buf = np.zeros((source.n_channels, 0))

    def append(self, block: np.ndarray) -> None:
        self.buf = np.concatenate([self.buf, block], axis=1) if self.buf.shape[1] else block

    def trim(self, keep_from: int) -> None:
        if keep_from > self.base:
            k = min(keep_from - self.base, self.buf.shape[1])
            self.buf, self.base = self.buf[:, k:], self.base + k

    def __getitem__(self, key):
        rows, cols = key
        a, b, _ = cols.indices(self.shape[1])
        b = max(a, b)
        if self.base <= a and b <= self.base + self.buf.shape[1]:
            return self.buf[rows, a - self.base : b - self.base]
        return low_columns(self.source, self.plan, a, b)[rows]


def low_columns(source: BlockSource, plan: SegmentPlan, a: int, b: int) -> np.ndarray:
    """Segment columns ``[a, b)`` of the low band, filtered with ``plan.low_overlap`` samples of context."""
    from perifacial.dsp.filters import Stage, run_stages

    n = plan.stop - plan.start
    l0, l1 = max(0, a - plan.low_overlap), min(n, b + plan.low_overlap)
    r = source.read(plan.start + l0, plan.start + l1) - plan.raw_mean[:, None]
    return run_stages([Stage(plan.low_sos, "1-8 Hz band-pass")], r, -1, True, demean=False)[:, a - l0 : b - l0]


def run_blocked(
    source: BlockSource, opts, montage, block_s: float = 30.0, progress: Callable[[float], None] | None = None
) -> BlockedChain:
    """The envelope chain and spotting of :func:`~perifacial.host.workflow.process.process_recording` over
    ``source`` in blocks of ``block_s`` seconds (see the module docstring)."""
    from dataclasses import replace

    from perifacial.dsp.spot_adaptive import params_from, region_map
    from perifacial.dsp.spotting import SpotStream

    from .figures import decimation_step
    from .process import Segment

    fs, C, n = source.fs, source.n_channels, source.n_samples
    block = max(1, int(round(block_s * fs)))
    min_len = int(round(opts.min_segment_s * fs))
    _, region_channels = region_map(C, False, montage, params_from(None, {}))
    with_low = region_channels is not None
    env_f = ColumnFile(C, n)
    step = decimation_step(n)
    dec = np.full((C, len(range(0, n, step))), np.nan)
    # low-band typing reads [onset - 5 s, offset + 5 s] (dsp.evidence noise_s); SpotStream emits events up to its
    # retain horizon (60 s) after they end
    need, keep = int(5.0 * fs) + 2, int(90.0 * fs) + 2 * block
    segs, events, plans = [], [], []
    last = 0
    for a0, b0 in column_runs(source, block):
        env_f.fill(last, a0)
        last = b0
        if b0 - a0 < min_len:
            segs.append(Segment(a0, b0, False))
            logging.getLogger("perifacial.gaps").warning(
                "segment [%d, %d) (%.2f s) between gaps is shorter than %.1f s: skipped",
                a0,
                b0,
                (b0 - a0) / fs,
                opts.min_segment_s,
            )
            env_f.fill(a0, b0)
            continue
        plan = plan_segment(source, a0, b0, opts, block, with_low)
        plans.append(plan)
        spotter = SpotStream(fs, C, montage=montage)
        low_band = LowBand(source, plan) if with_low else None
        seg_env = env_f.reader().window(a0, b0)  # what the typing reads: written before the events are ready
        seg_events, pending = [], []
        for a, env, low in segment_blocks(source, plan, block):
            g = a0 + a
            env_f.write(g, env)
            first = -(-g // step) * step
            if first < g + env.shape[1]:
                dec[:, first // step : (g + env.shape[1] - 1) // step + 1] = env[:, first - g :: step]
            new = spotter.process(env)
            if low_band is None:
                seg_events += new
            else:
                low_band.append(low)
                avail = a + env.shape[1]
                pending += new
                ready = [e for e in pending if e.offset + need <= avail]
                pending = [e for e in pending if e.offset + need > avail]
                seg_events += _type_by_lowband(ready, low_band, seg_env, fs, montage)
                low_band.trim(min([avail - keep] + [e.onset - need for e in pending]))
            if progress is not None:
                progress((g + env.shape[1]) / max(1, n))
        if low_band is None:
            seg_events += spotter.close()
        else:
            seg_events += _type_by_lowband(pending + spotter.close(), low_band, seg_env, fs, montage)
        seg_events.sort()
        segs.append(Segment(a0, b0, True))
        events += [
            replace(
                e, onset=e.onset + a0, offset=e.offset + a0, peak_index=(e.peak_index + a0 if e.peak_index >= 0 else -1)
            )
            for e in seg_events
        ]
    env_f.fill(last, n)
    events.sort()
    return BlockedChain(env_f.array(), dec, env_f.reader(), step, segs, events, plans)


def _type_by_lowband(events: list, low, envelope, fs: float, montage) -> list:
    """The low-band typing :func:`~perifacial.dsp.spotting.spot_adaptive` applies with ``lowband=`` (``low`` and
    ``envelope``: the segment's low band and envelope, indexable as ``[channels, a:b]``)."""
    from perifacial.dsp.evidence import type_artifacts_by_lowband, type_blinks_by_eog

    if montage is None:
        from perifacial.dsp.montage import default_montage

        montage = default_montage()
    events = type_blinks_by_eog(events, low, fs, montage)
    return type_artifacts_by_lowband(events, low, fs, montage, envelope=envelope)


def quantify_local(expr: list, envelope: np.ndarray, fs: float, calibration, montage, floor_window: float):
    """:func:`~perifacial.dsp.quantification.quantify` (as ``process`` calls it) of each event on its own window
    of ``envelope`` (``[channels, n]``, an array or a :class:`ColumnReader`; the event plus ``floor_window / 2`` s
    each side, NaN as 0): the same rows as on the whole envelope, reading only those columns."""
    from dataclasses import replace

    from perifacial.dsp.quantification import QuantTable, quantify

    n = envelope.shape[1]
    half = int(round(floor_window * fs / 2))
    rows = []
    for e in expr:
        w0, w1 = max(0, e.onset - half), min(n, e.offset + 1 + half)
        local = np.nan_to_num(np.asarray(envelope[:, w0:w1], dtype=np.float64), nan=0.0)
        ev = replace(e, onset=e.onset - w0, offset=e.offset - w0)
        q = quantify([ev], local, fs, calibration=calibration, montage=montage, floor_window=floor_window, **QUANTIFY)[
            0
        ]
        rows.append(
            replace(
                q, onset=q.onset + w0, offset=q.offset + w0, onset_s=(q.onset + w0) / fs, offset_s=(q.offset + w0) / fs
            )
        )
    return QuantTable(rows, fs, "duration", "amplitude")


def leadoff_fraction(source: BlockSource, runs: list[tuple[int, int]], block: int) -> np.ndarray:
    """Per channel, the fraction of received columns (``runs``) with a lead-off bit set (NaN if unknown)."""
    C = source.n_channels
    if source.leadoff is None or not runs:
        return np.full(C, np.nan)
    hits, count = np.zeros(C), 0
    for a0, b0 in runs:
        for a in range(a0, b0, block):
            b = min(b0, a + block)
            hits += source.leadoff(a, b).sum(axis=1)
            count += b - a
    return hits / count


def source_recording(source: BlockSource, labels: list[str] | None = None, info: dict | None = None):
    """An empty :class:`~perifacial.host.recording.Recording` (no samples in memory) to pass with ``source`` to
    :func:`~perifacial.host.workflow.process.process_recording` (e.g. a :func:`synthetic_source` of any length;
    no gaps)."""
    from perifacial.host.recording import SYNC_DTYPE, Recording

    C = source.n_channels
    return Recording(
        data=np.zeros((C, 0)),
        codes=np.zeros((C, 0), dtype=np.int32),
        status=np.zeros((0, 0), dtype=np.uint32),
        fs=source.fs,
        fs_measured=math.nan,
        fs_device=math.nan,
        labels=list(labels or [f"ch{i}" for i in range(C)]),
        gains=np.full(C, np.nan),
        gaps=[],
        markers=[],
        sync=np.zeros(0, dtype=SYNC_DTYPE),
        info=dict(info or {}),
        stats={},
    )
