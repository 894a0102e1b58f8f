"""Online (chunked) adaptive spotting: :class:`SpotStream` gives the events of
:func:`perifacial.dsp.spot_adaptive.spot_adaptive` as the envelope arrives."""

from __future__ import annotations

from typing import Any

import numpy as np

from .spot_adaptive import AdaptiveParams, RawDetector, params_from, postprocess, region_map
from .spot_events import Event

__all__ = ["SpotStream"]


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
    >>> fs, rng = 1000.0, np.random.default_rng(0)
    >>> x = rng.normal(0.0, 2.0, (1, 20_000))                    # 20 s of one channel, 2 uV noise, a burst at 10 s
    >>> x[0, 10_000:10_300] += rng.normal(0.0, 30.0, 300)
    >>> env, spotter = EnvelopeStream(fs, n_channels=1), SpotStream(fs, n_channels=1)
    >>> events = []
    >>> for i in range(0, x.shape[1], 500):                      # 0.5 s chunks, as they arrive
    ...     events += spotter.process(env.process(x[:, i:i + 500]))
    >>> events += spotter.close()
    >>> [(round(e.onset / fs, 1), e.kind) for e in events]
    [(10.0, 'ME')]
    """

    def __init__(
        self,
        fs: float,
        n_channels: int = 24,
        *,
        montage: Any = None,
        params: AdaptiveParams | None = None,
        retain: float = 60.0,
        **overrides: Any,
    ):
        self.fs = float(fs)
        self.p = params_from(params, overrides)
        self.C = int(n_channels)
        self.regions, self.region_channels = region_map(self.C, False, montage, self.p)
        self.det = RawDetector(self.C, fs, self.p)
        self.raw = np.zeros((0, 8))
        self.retain = int(round(retain * fs))
        self.emitted: set[tuple] = set()
        self.horizon = -(1 << 62)  # events ending before it were final long ago (their raw history is pruned)
        self.closed = False
        self.settle = (
            int(round((self.p.merge_gap + self.p.region_gap + max(self.p.blink_sync, self.p.jaw_sync)) * fs)) + 1
        )
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
        events = postprocess(self.raw, self.fs, self.p, self.regions, self.region_channels)
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
                    if (
                        (rel is None or f.region in rel)
                        and f.onset <= dep + self.settle
                        and f.offset >= e.onset - self.settle
                    ):
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
