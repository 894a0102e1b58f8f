"""Hand a :class:`~perifacial.host.recording.Recording` and its results to MNE-Python and pandas.

MNE (``pip install 'perifacial[io]'``): :func:`to_mne` makes an ``mne.io.RawArray`` with the channel types of the
recording (``emg`` for EMG channels), data in volts (MNE's unit), the start time, markers as annotations with
**stable descriptions** (:func:`marker_description`: ``contract:brow_raise`` for every repetition of that step, so
``mne.events_from_annotations`` gives one event id per kind, the value/label/sample of each marker kept in the
annotation's ``extras``) and gaps as ``BAD_ACQ_SKIP`` annotations over NaN samples (MNE's own name for
acquisition skips: ``raw.filter`` and epoching leave them out). Spotted events (``events=``) become annotations
``ME``/``MaE``/... (``extras``: region, channel, peak, score).

Exactness: for a recording made by perifacial (ADC codes known), each channel's ``cal`` in ``raw.info["chs"]`` is
the size of one ADC code in volts, so :func:`from_mne` recovers the codes and the µV data bit for bit; other
recordings go through the float scaling µV -> V -> µV (at most one unit in the last place off).

pandas (``pip install 'perifacial[io]'``): :func:`recording_to_pandas` (markers, gaps, sync rows; or the samples),
:func:`events_to_pandas` (spotted events or ``process`` rows) and :func:`quantification_to_pandas`.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass, replace
from typing import Any

import numpy as np

__all__ = [
    "to_mne",
    "from_mne",
    "marker_description",
    "pick",
    "recording_to_pandas",
    "events_to_pandas",
    "quantification_to_pandas",
    "GAP_DESCRIPTION",
    "event_annotations",
]

#: MNE's description of a stretch the acquisition skipped (data there are NaN)
GAP_DESCRIPTION = "BAD_ACQ_SKIP"
_ADS1299_GAINS = (1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0)
_VOLTAGE_TYPES = {"eeg", "emg", "ecg", "eog", "seeg", "dbs", "ecog", "bio"}


def marker_description(marker: dict) -> str:
    """A description that is the same for every marker of one kind.

    A label's trailing repetition counter is dropped (``contract:brow_raise:1`` -> ``contract:brow_raise``); an
    unlabelled marker is ``marker <value>``; board markers end in ``(board)``.

    >>> marker_description({"value": 3, "label": "contract:brow_raise:2", "source": "host"})
    'contract:brow_raise'
    >>> marker_description({"value": 5, "label": "", "source": "board"})
    'marker 5 (board)'
    """
    label = str(marker.get("label") or "").strip()
    if label:
        text = re.sub(r":\d+$", "", label)
    else:
        v = marker.get("value", "")
        text = f"marker {v}".strip()
    if marker.get("source") == "board":
        text += " (board)"
    return text


def _lazy(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}: pip install 'perifacial[io]'") from None


def pick(rec, channels: list[int]):
    """A copy of ``rec`` with only ``channels`` (0-based rows); the montage is dropped unless it survives whole."""
    idx = list(channels)
    sub = replace(
        rec,
        data=rec.data[idx] if rec.data.size else rec.data,
        codes=rec.codes[idx],
        labels=[rec.labels[i] for i in idx],
        gains=np.asarray(rec.gains)[idx],
        units=[rec.units[i] for i in idx] if rec.units else [],
        types=[rec.types[i] for i in idx] if rec.types else [],
        montage=None,
        info={**rec.info, "picked_from": list(rec.labels)},
    )
    if rec.montage is not None:
        from perifacial.dsp.montage import Montage, Region

        pos = {old: new for new, old in enumerate(idx)}
        regions = []
        for r in rec.montage.regions:
            ch = tuple(pos[c] for c in r.channels if c in pos)
            if ch:
                regions.append(Region(r.name, r.code, r.side, r.level, ch, r.muscles, r.aus, r.placement))
        if regions:
            sub.montage = Montage(rec.montage.name, tuple(regions), rec.montage.description)
    return sub


# ------------------------------------------------------------------------------------------------- MNE
def event_annotations(events, fs: float, labels) -> list[tuple[float, float, str, dict]]:
    """``(onset_s, duration_s, description, extras)`` of each event (a process ``EventRow`` or a spotting ``Event``)
    at ``fs`` Hz with channel names ``labels``: what :func:`to_mne` and :mod:`perifacial.host.bids` write."""
    out = []
    for e in events or []:
        if is_dataclass(e) and hasattr(e, "onset_sample"):  # a process EventRow
            on, off = e.onset_sample, e.offset_sample
            extras = {"region": e.region, "channel": e.channel, "peak_uv": e.peak_uv, "score": e.score}
            kind = e.kind
        else:  # a dsp.spotting Event
            on, off = e.onset, e.offset
            ch = "" if e.channel is None else (labels[e.channel] if labels else str(e.channel))
            extras = {"region": e.region or "", "channel": ch, "peak": float(e.peak), "score": float(e.score)}
            kind = e.kind
        out.append((on / fs, (off - on + 1) / fs, str(kind), extras))
    return out


def to_mne(rec, events=None, verbose: str | bool | None = "error"):
    """An ``mne.io.RawArray`` of ``rec`` (see the module docstring).

    Parameters
    ----------
    rec : Recording
    events : sequence, optional
        Spotted :class:`~perifacial.dsp.spotting.Event` or ``process`` rows, added as annotations named by kind.

    Returns
    -------
    mne.io.RawArray
        Data ``[channels, samples]`` in volts for voltage channels (``rec.data * 1e-6``), unchanged otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.host.readers import from_array
    >>> raw = to_mne(from_array(np.zeros((2, 1000)), 1000.0, ["zyg", "corr"]))
    >>> raw.get_channel_types(), raw.info["sfreq"]
    (['emg', 'emg'], 1000.0)
    """
    mne = _lazy("mne", "to_mne()")
    C = rec.n_channels
    types = [t.lower() for t in (rec.types or ["EMG"] * C)]
    types = [
        t if t in _VOLTAGE_TYPES | {"misc", "stim", "resp", "gsr", "temperature", "syst"} else "misc" for t in types
    ]
    units = rec.units or ["µV"] * C
    data = rec.data
    if data.size == 0 and rec.n_samples:
        from perifacial.host.decoder import lsb_uv

        data = rec.codes * lsb_uv(rec.gains)[:, None]
        data[:, ~rec.valid] = np.nan
    scale = np.array([1e-6 if u == "µV" else 1.0 for u in units])
    y = data * scale[:, None]
    info = mne.create_info(list(rec.labels), float(rec.fs), types, verbose=verbose)
    have_codes = rec.codes.shape[1] == rec.n_samples and rec.n_samples > 0
    with info._unlock():
        for i, ch in enumerate(info["chs"]):
            if units[i] == "µV" and ch["kind"] == mne.io.constants.FIFF.FIFFV_MISC_CH:
                ch["unit"] = mne.io.constants.FIFF.FIFF_UNIT_V
            if have_codes and np.isfinite(rec.gains[i]):
                from perifacial.host.decoder import lsb_uv

                ch["cal"] = float(lsb_uv(float(rec.gains[i]))) * 1e-6  # volts per ADC code
        start = rec.info.get("start_unix")
        if start:
            info["meas_date"] = _dt.datetime.fromtimestamp(float(start), _dt.UTC)
        info["description"] = f"perifacial recording ({rec.info.get('file_format', 'pfr')})"
    raw = mne.io.RawArray(y, info, verbose=verbose)
    on, du, de, ex = [], [], [], []
    for a, b in rec.gaps:
        on.append(a / rec.fs)
        du.append((b - a) / rec.fs)
        de.append(GAP_DESCRIPTION)
        ex.append({"samples_lost": int(b - a)})
    for m in rec.markers:
        if m.get("sample") is None:
            continue
        on.append(m["sample"] / rec.fs)
        du.append(float(m.get("duration_s", 0.0)))
        de.append(marker_description(m))
        ex.append(
            {
                "value": str(m.get("value", "")),
                "label": str(m.get("label", "")),
                "source": str(m.get("source", "")),
                "sample": int(m["sample"]),
            }
        )
    for o, d, k, x in event_annotations(events, rec.fs, rec.labels):
        on.append(o)
        du.append(d)
        de.append(k)
        ex.append(x)
    if on:
        raw.set_annotations(mne.Annotations(on, du, de, orig_time=raw.info["meas_date"], extras=ex))
    return raw


def from_mne(raw, emg_types: Iterable[str] = ("emg",)):
    """A :class:`Recording` from an MNE ``Raw``.

    Voltage channels (eeg, emg, ecg, ...) are converted from volts to µV; ``emg_types`` are typed ``"EMG"`` (the
    EMG chain's input), other channels keep their MNE type in upper case. ``BAD_ACQ_SKIP`` annotations become gaps
    (NaN); other annotations become markers (``description``; ``value``/``label`` from ``extras`` when present).
    Channels with a ``cal`` from :func:`to_mne` come back with their ADC codes, exactly.
    """
    from perifacial.host.decoder import lsb_uv
    from perifacial.host.readers import from_array

    fs = float(raw.info["sfreq"])
    y = raw.get_data()
    types = raw.get_channel_types()
    emg = {t.lower() for t in emg_types}
    units = ["V" if t in _VOLTAGE_TYPES else "" for t in types]
    rtypes = ["EMG" if t in emg else t.upper() for t in types]
    markers, gaps = [], []
    ann = raw.annotations
    extras = getattr(ann, "extras", None) or [None] * len(ann)
    first = raw.first_samp
    t0 = raw.first_time if ann.orig_time is not None else 0.0
    for o, d, desc, x in zip(ann.onset, ann.duration, ann.description, extras):
        s = int(round((o - t0) * fs))
        if desc == GAP_DESCRIPTION or desc.upper().startswith("BAD_ACQ_SKIP"):
            gaps.append((s, s + int(round(d * fs))))
            continue
        x = dict(x or {})
        value = x.get("value", "")
        try:
            value = int(value)
        except (TypeError, ValueError):
            pass
        m = {
            "sample": s,
            "value": value,
            "label": x.get("label", desc),
            "source": x.get("source", "mne"),
            "description": desc,
        }
        if d:
            m["duration_s"] = float(d)
        markers.append(m)
    start = raw.info.get("meas_date")
    info = {"start_unix": start.timestamp() if start else None, "first_samp": int(first)}
    rec = from_array(
        y, fs, list(raw.ch_names), units, info=info, markers=markers, gaps=gaps or None, types=rtypes, source="mne"
    )
    # exact codes where to_mne stored the code size as the channel's calibration
    cals = np.array([ch["cal"] for ch in raw.info["chs"]], dtype=np.float64)
    if rec.n_channels and np.all(cals != 1.0) and all(u == "V" for u in units):
        q = y / cals[:, None]
        ok = np.isfinite(q)
        codes = np.where(ok, np.round(q), 0)
        if np.all(np.abs(q[ok] - codes[ok]) < 1e-6) and np.all(np.abs(codes) < (1 << 23) + 1):
            gains = np.array([min(_ADS1299_GAINS, key=lambda g: abs(lsb_uv(g) * 1e-6 - c)) for c in cals])
            rec.codes = codes.astype(np.int32)
            rec.gains = gains
            rec.data = rec.codes * lsb_uv(gains)[:, None]
            rec.data[~ok] = np.nan
            if gaps:
                rec.data[:, ~rec.valid] = np.nan
            rec.status = np.zeros((0, rec.n_samples), dtype=np.uint32)
    return rec


# ------------------------------------------------------------------------------------------------- pandas
def recording_to_pandas(rec, what: str = "events"):
    """``what="events"``: one row per marker, gap and sync change (columns ``kind, sample, onset_s, duration_s,
    description, value, label, source``); ``what="data"``: one row per sample (``time_s`` index, one column per
    channel, NaN in gaps; units in ``df.attrs["units"]``)."""
    pd = _lazy("pandas", "to_pandas()")
    if what == "data":
        idx = pd.Index(np.arange(rec.n_samples) / rec.fs, name="time_s")
        df = pd.DataFrame(rec.data.T, index=idx, columns=list(rec.labels))
        df.attrs["units"] = dict(zip(rec.labels, rec.units or ["µV"] * rec.n_channels))
        df.attrs["fs"] = rec.fs
        return df
    if what != "events":
        raise ValueError(f"what must be 'events' or 'data', not {what!r}")
    rows = []
    for a, b in rec.gaps:
        rows.append(
            dict(
                kind="gap",
                sample=a,
                onset_s=a / rec.fs,
                duration_s=(b - a) / rec.fs,
                description=GAP_DESCRIPTION,
                value=b - a,
                label="",
                source="reader",
            )
        )
    for m in rec.markers:
        s = m.get("sample")
        rows.append(
            dict(
                kind="marker",
                sample=s,
                onset_s=None if s is None else s / rec.fs,
                duration_s=float(m.get("duration_s", 0.0)),
                description=marker_description(m),
                value=m.get("value", ""),
                label=m.get("label", ""),
                source=m.get("source", ""),
            )
        )
    for r in rec.sync:
        rows.append(
            dict(
                kind="sync",
                sample=int(r["sample"]),
                onset_s=int(r["sample"]) / rec.fs,
                duration_s=0.0,
                description=f"sync ({r['kind']})",
                value=int(r["value"]),
                label="",
                source=str(r["kind"]),
            )
        )
    cols = ["kind", "sample", "onset_s", "duration_s", "description", "value", "label", "source"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("sample", kind="stable", na_position="last").reset_index(drop=True)


def _as_dict(x) -> dict[str, Any]:
    if is_dataclass(x):
        return asdict(x)
    return dict(x)


def events_to_pandas(events, fs: float | None = None, labels=None):
    """Spotted events as a DataFrame: ``process`` rows (:class:`~perifacial.host.workflow.process.EventRow`, all
    their columns) or :class:`~perifacial.dsp.spotting.Event` (plus ``onset_s``/``offset_s``/``channel_label``
    when ``fs``/``labels`` are given)."""
    pd = _lazy("pandas", "events_to_pandas()")
    rows = []
    for e in events:
        d = _as_dict(e)
        if fs and "onset_s" not in d and "onset" in d:
            d["onset_s"] = d["onset"] / fs
            d["offset_s"] = (d["offset"] + 1) / fs
            d["duration_s"] = (d["offset"] - d["onset"] + 1) / fs
        if labels is not None and isinstance(d.get("channel"), (int, np.integer)):
            d["channel_label"] = labels[d["channel"]]
        rows.append(d)
    return pd.DataFrame(rows)


def quantification_to_pandas(table):
    """A :class:`~perifacial.dsp.quantification.QuantTable` as a DataFrame (its ``columns()``); the same as
    ``table.to_pandas()``."""
    return table.to_pandas()
