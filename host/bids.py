"""Write recordings into a BIDS dataset (EMG datatype, BIDS 1.11).

:func:`write_bids` adds one recording to a dataset folder, creating the dataset on first use, so a study of many
participants, sessions and runs is a loop of calls into one ``root``::

    root/
      dataset_description.json  README  participants.tsv  participants.json
      sub-<label>/[ses-<label>/]emg/
        sub-<label>[_ses-<label>]_task-<label>[_run-<index>]_emg.bdf        (BDF+, see perifacial.host.export)
        ..._emg.json  ..._channels.tsv  ..._events.tsv  ..._events.json
        sub-<label>[_ses-<label>]_electrodes.tsv  ..._coordsystem.json

Required sidecar fields of the EMG datatype (schema ``EMGRequired``): ``EMGPlacementScheme`` (``"Other"`` with a
description: the perifacial six-region layout, or the channel map's regions), ``EMGReference``,
``SamplingFrequency``, ``PowerLineFrequency``, ``RecordingType`` (``continuous``), ``SoftwareFilters`` (``n/a``:
the file holds unfiltered ADC data) and ``TaskName``. ``channels.tsv`` lists every channel with ``name`` (as in
the BDF header), ``type``, ``units``, ``signal_electrode``, ``reference``, ``group`` (the region),
``target_muscle`` and ``status`` (``bad`` for a channel that is NaN throughout). ``electrodes.tsv`` lists the
recording electrodes and the regions' references; positions are not measured, so ``x``/``y``/``z`` are ``n/a`` in a
coordinate system ``Other`` described in ``coordsystem.json``. ``events.tsv`` holds the markers, the gaps
(``trial_type`` ``gap``) and the spotted events passed as ``events=`` (``trial_type`` ``ME``/``MaE``/...; region,
channel, peak and score columns described in ``events.json``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["write_bids", "bids_basename", "BIDS_VERSION"]

BIDS_VERSION = "1.11.1"
#: the ``space-`` label of electrodes.tsv / coordsystem.json (positions not measured: EMGCoordinateSystem "Other")
SPACE = "face"
_LABEL = re.compile(r"^[A-Za-z0-9]+$")


def _check_label(name: str, value: Any, index: bool = False) -> str:
    text = str(value)
    if index:
        if not text.isdigit():
            raise ValueError(f"BIDS {name} must be a non-negative integer, not {value!r}")
        return text
    if not _LABEL.match(text):
        raise ValueError(f"BIDS {name} label {value!r} may hold only letters and digits (no '-', '_' or spaces)")
    return text


def bids_basename(subject: str, task: str, session: str | None = None, run: int | str | None = None) -> str:
    """``sub-<subject>[_ses-<session>]_task-<task>[_run-<run>]`` (labels checked: letters and digits only)."""
    parts = [f"sub-{_check_label('subject', subject)}"]
    if session is not None:
        parts.append(f"ses-{_check_label('session', session)}")
    parts.append(f"task-{_check_label('task', task)}")
    if run is not None:
        parts.append(f"run-{_check_label('run', run, index=True)}")
    return "_".join(parts)


def _na(v) -> str:
    if v is None or v == "":
        return "n/a"
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.10g}"
    return str(v).replace("\t", " ").replace("\n", " ")


def _write_tsv(path: Path, columns: list[str], rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(_na(r.get(c)) for c in columns) + "\n")
    os.replace(tmp, path)


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _dataset_files(root: Path, name: str, authors: list[str] | None = None) -> None:
    from perifacial import __version__

    dd = root / "dataset_description.json"
    if not dd.exists():
        desc: dict[str, Any] = {
            "Name": name,
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "raw",
            "GeneratedBy": [
                {
                    "Name": "perifacial",
                    "Version": __version__,
                    "Description": "perifacial export --to bids / perifacial.host.bids.write_bids",
                }
            ],
        }
        if authors:
            desc["Authors"] = list(authors)
        _write_json(dd, desc)
    readme = root / "README.md"
    if not readme.exists() and not any((root / n).exists() for n in ("README", "README.txt", "README.rst")):
        readme.write_text(
            f"# {name}\n\nPerifacial surface EMG written by perifacial (BIDS EMG datatype). Each recording is a BDF+ "
            "file with its channels, electrodes and events; markers and spotted expressions are in the events "
            "files.\n",
            encoding="utf-8",
        )
    pj = root / "participants.json"
    if not pj.exists():
        _write_json(pj, {"participant_id": {"Description": "Unique participant identifier"}})


def _add_participant(root: Path, subject: str, extra: dict | None) -> None:
    path = root / "participants.tsv"
    rows: list[dict] = []
    cols = ["participant_id"]
    if path.exists():
        with open(path, encoding="utf-8", newline="") as f:
            rd = csv.DictReader(f, delimiter="\t")
            cols = list(rd.fieldnames or cols)
            rows = list(rd)
    pid = f"sub-{subject}"
    row = next((r for r in rows if r.get("participant_id") == pid), None)
    if row is None:
        row = {"participant_id": pid}
        rows.append(row)
    for k, v in (extra or {}).items():
        if k not in cols:
            cols.append(k)
        row[k] = v
    _write_tsv(path, cols, [{c: (r.get(c) if r.get(c) not in (None, "") else None) for c in cols} for r in rows])
    if extra:
        pj = root / "participants.json"
        d = json.loads(pj.read_text(encoding="utf-8")) if pj.exists() else {}
        for k in extra:
            d.setdefault(k, {"Description": k})
        _write_json(pj, d)


def _regions(rec) -> tuple[list[str | None], dict]:
    """Per channel: region name (or None); and region name -> Region."""
    m = rec.montage
    if m is None:
        return [None] * rec.n_channels, {}
    return [m.region_of(i).name for i in range(rec.n_channels)], {r.name: r for r in m.regions}


def _reference_name(region) -> str:
    return f"{region.code}ref"


def _electrode_rows(rec, regions, by_name) -> list[dict]:
    rows = []
    for i, lab in enumerate(rec.labels):
        if (rec.types or ["EMG"] * rec.n_channels)[i] != "EMG":
            continue
        rows.append(
            {
                "name": lab,
                "x": None,
                "y": None,
                "z": None,
                "coordinate_system": SPACE,
                "type": "surface",
                "group": regions[i],
            }
        )
    for name in dict.fromkeys(r for r in regions if r):
        rows.append(
            {
                "name": _reference_name(by_name[name]),
                "x": None,
                "y": None,
                "z": None,
                "coordinate_system": SPACE,
                "type": "surface reference",
                "group": name,
            }
        )
    return rows


def _event_rows(rec, events) -> list[dict]:
    from perifacial.host.handoff import event_annotations, marker_description

    fs = rec.fs
    rows = []
    for a, b in rec.gaps:
        rows.append(
            {
                "onset": a / fs,
                "duration": (b - a) / fs,
                "trial_type": "gap",
                "value": b - a,
                "sample": a,
                "source": "acquisition",
            }
        )
    for m in rec.markers:
        s = m.get("sample")
        if s is None:
            continue
        rows.append(
            {
                "onset": s / fs,
                "duration": float(m.get("duration_s", 0.0)),
                "trial_type": marker_description(m),
                "value": m.get("value", ""),
                "sample": s,
                "source": m.get("source", ""),
                "label": m.get("label", ""),
            }
        )
    for on, du, kind, extra in event_annotations(events, fs, rec.labels):
        rows.append(
            {
                "onset": on,
                "duration": du,
                "trial_type": kind,
                "sample": int(round(on * fs)),
                "source": "perifacial spotting",
                **extra,
            }
        )
    rows.sort(key=lambda r: r["onset"])
    return rows


_EVENT_DESCRIPTIONS = {
    "trial_type": {
        "Description": "What happened: a marker's kind (its label without the repetition counter, or "
        "'marker <value>'), 'gap' (samples never received, NaN/zero in the data), or a "
        "spotted event ('ME' micro-expression, 'MaE' macro-expression, 'blink', 'jaw', "
        "'artifact', 'expression')."
    },
    "value": {"Description": "Marker value (trigger code), or the number of samples lost for a gap."},
    "sample": {"Description": "Onset as a 0-based sample index of the data file."},
    "source": {"Description": "Who placed the event: 'host', 'board', 'file', 'acquisition' or 'perifacial spotting'."},
    "label": {"Description": "The marker's full label (with its repetition counter)."},
    "region": {"Description": "Facial region of a spotted event (empty without region context)."},
    "channel": {"Description": "Channel with the strongest burst of a spotted event."},
    "peak": {"Description": "Envelope maximum of a spotted event.", "Units": "uV"},
    "peak_uv": {"Description": "Envelope maximum of a spotted event.", "Units": "uV"},
    "score": {"Description": "Peak height above the noise floor in floor spreads (adaptive spotting)."},
}


def write_bids(
    recording,
    root: str | os.PathLike,
    subject: str,
    *,
    task: str = "face",
    session: str | None = None,
    run: int | str | None = None,
    events=None,
    power_line_hz: float | None = None,
    participant: dict | None = None,
    dataset_name: str = "perifacial EMG",
    authors: list[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Add ``recording`` to the BIDS dataset at ``root`` (created if needed) as an EMG recording.

    Parameters
    ----------
    recording : Recording
        Any loaded recording (:func:`perifacial.host.load`).
    root : path-like
        Dataset folder; several calls (participants, sessions, runs) fill one dataset.
    subject, session, task : str
        BIDS labels (letters and digits).
    run : int, optional
        Run index.
    events : sequence, optional
        Spotted events (:class:`~perifacial.dsp.spotting.Event` or ``process`` rows) for ``events.tsv``.
    power_line_hz : float, optional
        Mains frequency (Hz) of the recording site; ``n/a`` when not known.
    participant : dict, optional
        Extra ``participants.tsv`` columns of this participant (e.g. ``{"age": 31}``).
    dataset_name, authors :
        ``Name`` and ``Authors`` of ``dataset_description.json`` when the dataset is created.
    overwrite : bool
        Replace this recording's files if they exist (otherwise an error).

    Returns
    -------
    dict
        Written files by kind (``data``, ``sidecar``, ``channels``, ``events``, ...).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from perifacial.host import from_array, write_bids
    >>> rec = from_array(np.random.default_rng(0).normal(0, 5, (2, 2000)), fs=1000.0, labels=["zyg", "corr"])
    >>> root = os.path.join(tempfile.mkdtemp(), "study")
    >>> files = write_bids(rec, root, subject="01", power_line_hz=50)
    >>> sorted(files)[:3]
    ['channels', 'coordsystem', 'data']
    >>> os.path.basename(files["data"])
    'sub-01_task-face_emg.bdf'
    """
    from perifacial import __version__
    from perifacial.host import export

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root} exists and is not a folder")
    base = bids_basename(subject, task, session, run)
    sub_dir = root / f"sub-{subject}" / (f"ses-{session}" if session is not None else "") / "emg"
    data_path = sub_dir / f"{base}_emg.bdf"
    if data_path.exists() and not overwrite:
        raise FileExistsError(f"{data_path} exists: choose another run/session or pass overwrite=True (--overwrite)")
    sub_dir.mkdir(parents=True, exist_ok=True)
    _dataset_files(root, dataset_name, authors)
    _add_participant(root, subject, participant)
    files: dict[str, Path] = {}
    export.to_bdf(recording, data_path, patient_code=f"sub-{subject}")
    files["data"] = data_path
    names = export.bdf_labels(recording)
    regions, by_name = _regions(recording)
    types = recording.types or ["EMG"] * recording.n_channels
    units = recording.units or ["µV"] * recording.n_channels
    own = recording.codes.shape[1] == recording.n_samples and recording.n_samples > 0
    # channels
    ch_rows = []
    for i, lab in enumerate(recording.labels):
        emg = types[i] == "EMG"
        reg = by_name.get(regions[i]) if regions[i] else None
        dead = recording.data.size and not np.isfinite(recording.data[i]).any()
        ch_rows.append(
            {
                "name": names[i],
                "type": types[i] if types[i] in ("EMG", "MISC", "TRIG", "ECG", "EEG", "EOG") else "MISC",
                "units": "uV" if units[i] == "µV" else (units[i] or "n/a"),
                "description": f"surface EMG, {reg.name.replace('_', ' ')} region"
                if (emg and reg)
                else ("surface EMG" if emg else None),
                "sampling_frequency": recording.fs,
                "signal_electrode": lab if emg else None,
                "reference": (_reference_name(reg) if reg else ("n/a" if not emg else "unknown")),
                "group": regions[i],
                "target_muscle": ", ".join(reg.muscles) if reg and reg.muscles else None,
                "low_cutoff": 0 if own else None,
                "high_cutoff": round(0.262 * recording.fs, 1) if own else None,
                "status": "bad" if dead else "good",
                "status_description": "no sample received" if dead else None,
            }
        )
    cols = [
        "name",
        "type",
        "units",
        "description",
        "sampling_frequency",
        "signal_electrode",
        "reference",
        "group",
        "target_muscle",
        "low_cutoff",
        "high_cutoff",
        "status",
        "status_description",
    ]
    p = sub_dir / f"{base}_channels.tsv"
    _write_tsv(p, cols, ch_rows)
    files["channels"] = p
    # electrodes + coordinate system (per subject/session: no task/run entities)
    ebase = "_".join(x for x in base.split("_") if not x.startswith(("task-", "run-")))
    p = sub_dir / f"{ebase}_electrodes.tsv"
    _write_tsv(
        p, ["name", "x", "y", "z", "coordinate_system", "type", "group"], _electrode_rows(recording, regions, by_name)
    )
    files["electrodes"] = p
    p = sub_dir / f"{ebase}_space-{SPACE}_coordsystem.json"
    _write_json(
        p,
        {
            "EMGCoordinateSystem": "Other",
            "EMGCoordinateUnits": "n/a",
            "EMGCoordinateSystemDescription": "Electrode positions were not measured; electrodes.tsv names "
            "each electrode and its facial region (group); x, y, z are n/a.",
        },
    )
    files["coordsystem"] = p
    # sidecar
    if recording.montage is not None:
        scheme = f"Regions of the montage '{recording.montage.name}': " + "; ".join(
            f"{r.name} ({', '.join(recording.labels[c] for c in r.channels)}"
            + (f": {', '.join(r.muscles)}" if r.muscles else "")
            + (f"; {r.placement}" if r.placement else "")
            + ")"
            for r in recording.montage.regions
        )
        reference = (
            "One reference electrode per region (electrodes.tsv rows of type 'surface reference'); each "
            "channel is its signal electrode minus its region's reference (channels.tsv 'reference')."
        )
    else:
        scheme = "Not known: imported recording without a channel map."
        reference = "Not known (imported recording)."
    board = recording.info.get("board") or {}
    side: dict[str, Any] = {
        "TaskName": task,
        "SamplingFrequency": recording.fs,
        "PowerLineFrequency": power_line_hz if power_line_hz else "n/a",
        "RecordingType": "continuous",
        "RecordingDuration": recording.n_samples / recording.fs,
        "SoftwareFilters": "n/a",
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": scheme,
        "EMGReference": reference,
        "EMGChannelCount": sum(t == "EMG" for t in types),
        "SoftwareVersions": f"perifacial {__version__}",
    }
    if own:
        side.update(
            {
                "Manufacturer": "perifacial (TI ADS1299)",
                "ManufacturersModelName": str(board.get("board", "")),
                "HardwareFilters": {
                    "ADS1299 sinc3 decimation": {
                        "-3 dB (Hz)": round(0.262 * recording.fs, 1),
                        "high-pass": "none (DC coupled)",
                    }
                },
                "Gain": (
                    float(np.asarray(recording.gains)[0])
                    if len(set(np.asarray(recording.gains).tolist())) == 1
                    else "n/a"
                ),
            }
        )
        if not side["ManufacturersModelName"]:
            del side["ManufacturersModelName"]
    p = sub_dir / f"{base}_emg.json"
    _write_json(p, side)
    files["sidecar"] = p
    # events
    rows = _event_rows(recording, events)
    ecols = ["onset", "duration", "trial_type", "value", "sample", "source"]
    for r in rows:
        for k in r:
            if k not in ecols:
                ecols.append(k)
    p = sub_dir / f"{base}_events.tsv"
    _write_tsv(p, ecols, rows)
    files["events"] = p
    p = sub_dir / f"{base}_events.json"
    _write_json(p, {k: v for k, v in _EVENT_DESCRIPTIONS.items() if k in ecols})
    files["events_json"] = p
    return files
