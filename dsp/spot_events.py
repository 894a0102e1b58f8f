"""The spotting result type shared by every spotter: :class:`Event`, the expression kinds, event tables, and the
montage region of each channel.

Conventions: :class:`Event` onset/offset are **0-based sample indices, offset inclusive**: the interval holds
``offset - onset + 1`` samples; in seconds it is ``[onset/fs, (offset+1)/fs)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EXPRESSION_KINDS", "events_to_table", "region_names"]

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

    def __lt__(self, other: Event) -> bool:
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


def events_to_table(events: Sequence[Event], fs: float, labels: Sequence[str] | None = None) -> list[dict]:
    """Rows for printing/CSV: onset/offset in samples and seconds (offset exclusive in seconds), duration, etc."""
    rows = []
    for e in events:
        rows.append(
            {
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
            }
        )
    return rows


def region_names(n_channels: int, montage: Any) -> list[str | None]:
    """Montage region name of each of ``n_channels`` channels.

    Parameters
    ----------
    n_channels : int
        Channels of the envelope.
    montage : Montage or None
        None: the perifacial montage when there are 24 channels, else no regions.

    Returns
    -------
    list of str or None
        One name per channel (``"left_middle"``), all None without a montage.
    """
    if montage is None:
        if n_channels != 24:
            return [None] * n_channels
        from .montage import default_montage

        montage = default_montage()
    if montage.n_channels != n_channels:
        raise ValueError(f"montage has {montage.n_channels} channels, envelope has {n_channels}")
    return [montage.region_of(c).name for c in range(n_channels)]
