"""Test helper: one row of the events table (:class:`perifacial.host.workflow.process.EventRow`) from its samples."""

from __future__ import annotations

from perifacial.host.workflow.process import EventRow


def event_row(onset: int = 0, offset: int = 0, frames=(0, 0, 0), fs: float = 1000.0, **fields) -> EventRow:
    """An expression from sample ``onset`` to ``offset`` (inclusive) at ``fs`` Hz, video ``frames`` (onset, apex,
    offset): times, duration and apex follow from the samples; the other columns are plausible values, or
    ``fields``."""
    row = dict(
        index=0,
        onset_sample=onset,
        offset_sample=offset,
        apex_sample=(onset + offset) // 2,
        onset_s=onset / fs,
        offset_s=(offset + 1) / fs,
        duration_ms=(offset - onset + 1) * 1000.0 / fs,
        onset_frame=frames[0],
        apex_frame=frames[1],
        offset_frame=frames[2],
        region="left_middle",
        channel="LM2",
        peak_uv=12.5,
        peak_mvc_pct=8.0,
        iemg_pct_s=2.1,
        kind="ME",
        candidate_aus="AU6",
        score=9.0,
    )
    return EventRow(**{**row, **fields})
