"""Expression episodes: per-region expression events that belong together, merged into one event.

A facial expression (an action unit, or a combination) usually shows in more than one region (bilateral, or upper
and middle at once); :func:`perifacial.dsp.spotting.spot` reports one event per region. Researchers compare with
video coding per *expression*, so :func:`episodes` unites the expression events (``Event.is_expression``) whose
intervals overlap or are separated by less than ``gap`` s into one :class:`Episode` with the regions involved,
onset/offset (the hull) and the peak region (the unflagged event with the highest ``score``, i.e. the largest peak
above its
noise floor in floor spreads; ``peak`` when scores are missing, e.g. ground truth). Events ``flagged`` as
overlapping an electrode artefact join an episode they touch without stretching its onset/offset (or form their
own, flagged, episode). Distractors (blink, jaw,
crosstalk, artifact) are not part of episodes, and an episode whose events overlap one is still reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._api import keyword_only
from .defaults import ME_MAX_DURATION_S

__all__ = ["Episode", "episodes", "episodes_to_table"]


@dataclass(frozen=True)
class Episode:
    """One expression episode. onset/offset: samples (offset inclusive); regions: names in order of first onset;
    peak_region / peak_channel / peak / peak_index: of the strongest member event; n_events: member count; kind:
    ``"ME"`` (shorter than ``me_max_duration``) or ``"MaE"``; flagged: a member event overlaps an artefact.

    Examples
    --------
    >>> from perifacial.dsp import episodes
    >>> from perifacial.dsp.spotting import Event
    >>> (ep,) = episodes([Event(200, 449, channel=4, region="upper_right", peak=12.0, kind="ME")], fs=1000.0)
    >>> ep.regions, ep.kind, ep.duration(1000.0)                        # s
    (('upper_right',), 'ME', 0.25)
    """

    onset: int
    offset: int
    regions: tuple[str, ...]
    peak_region: str | None
    peak_channel: int | None
    peak: float
    peak_index: int
    n_events: int
    kind: str
    flagged: bool = False

    def duration(self, fs: float) -> float:
        return (self.offset - self.onset + 1) / fs


@keyword_only("gap", "me_max_duration")
def episodes(
    events: Sequence, fs: float, *, gap: float = 0.1, me_max_duration: float = ME_MAX_DURATION_S
) -> list[Episode]:
    """Merge the expression events of ``events`` (any order) into episodes (sorted by onset); see the module doc.

    ``gap`` (s): events closer than this are one episode; ``me_max_duration`` (s): ME/MaE split of the episode.

    Examples
    --------
    >>> from perifacial.dsp import episodes
    >>> from perifacial.dsp.spotting import Event
    >>> events = [Event(1000, 1200, channel=0, region="upper_left", peak=30.0, kind="ME", peak_index=1100),
    ...           Event(1250, 1400, channel=9, region="middle_left", peak=50.0, kind="ME", peak_index=1300),
    ...           Event(5000, 6200, channel=3, region="lower_left", peak=80.0, kind="MaE", peak_index=5500)]
    >>> eps = episodes(events, fs=1000.0)                               # samples at 1000 Hz
    >>> [(e.onset, e.offset, e.kind, e.regions) for e in eps]
    [(1000, 1400, 'ME', ('upper_left', 'middle_left')), (5000, 6200, 'MaE', ('lower_left',))]
    """
    allx = [e for e in events if e.is_expression]
    ex = sorted((e for e in allx if not getattr(e, "flagged", False)), key=lambda e: (e.onset, e.offset))
    flagged = sorted((e for e in allx if getattr(e, "flagged", False)), key=lambda e: (e.onset, e.offset))
    g = int(round(gap * fs))
    groups: list[list] = []
    end = -math.inf
    for e in ex:
        if groups and e.onset <= end + g:
            groups[-1].append(e)
            end = max(end, e.offset)
        else:
            groups.append([e])
            end = e.offset
    # flagged events (over an electrode artefact) join an episode they overlap without stretching it, or stand
    # alone: their extent is the artefact's as much as the muscle's
    hulls = [(min(x.onset for x in grp), max(x.offset for x in grp)) for grp in groups]
    extra = []
    for e in flagged:
        hit = [k for k, (a0, b0) in enumerate(hulls) if e.onset <= b0 + g and e.offset >= a0 - g]
        if hit:
            groups[hit[0]].append(e)
        else:
            extra.append([e])
    groups += extra
    out = []
    for grp in groups:

        def strength(e):  # unflagged first, then score (or peak)
            s = getattr(e, "score", math.nan)
            ok = not getattr(e, "flagged", False)
            return (ok, 0, e.peak) if not (isinstance(s, float) and math.isfinite(s)) else (ok, 1, s)

        best = max(grp, key=strength)
        regions: list[str] = []
        for e in grp:
            if e.region is not None and e.region not in regions:
                regions.append(e.region)
        core = [e for e in grp if not getattr(e, "flagged", False)] or grp
        on, off = min(e.onset for e in core), max(e.offset for e in core)
        kind = "ME" if (off - on + 1) / fs < me_max_duration else "MaE"
        out.append(
            Episode(
                on,
                off,
                tuple(regions),
                best.region,
                best.channel,
                float(best.peak),
                int(best.peak_index),
                len(grp),
                kind,
                any(getattr(e, "flagged", False) for e in grp),
            )
        )
    out.sort(key=lambda x: (x.onset, x.offset))
    return out


def episodes_to_table(eps: Sequence[Episode], fs: float) -> list[dict]:
    """Rows (dicts) for CSV: onset/offset in samples and s, duration_ms, regions (space separated), peak region."""
    return [
        {
            "index": i,
            "onset_sample": e.onset,
            "offset_sample": e.offset,
            "onset_s": e.onset / fs,
            "offset_s": (e.offset + 1) / fs,
            "duration_ms": 1000 * e.duration(fs),
            "kind": e.kind,
            "regions": " ".join(e.regions),
            "n_regions": len(e.regions),
            "peak_region": e.peak_region or "",
            "peak_channel": "" if e.peak_channel is None else e.peak_channel,
            "peak": e.peak,
            "apex_sample": e.peak_index,
            "n_events": e.n_events,
            "flagged": e.flagged,
        }
        for i, e in enumerate(eps)
    ]
