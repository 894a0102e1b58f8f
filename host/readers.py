"""One reader for every recording: :func:`load` returns a :class:`~perifacial.host.recording.Recording` for

========================  ===========================================================  =====================
format                    recognised by                                                 library
========================  ===========================================================  =====================
perifacial raw log        file magic (``.pfr``)                                         (built in)
EDF / EDF+ / BDF / BDF+   header bytes (``0`` / ``\\xffBIOSEMI``), ``.edf``/``.bdf``    edfio (``[bdf]``)
BIOPAC AcqKnowledge       ``.acq``                                                      bioread (``[io]``)
AcqKnowledge text export  ``msec/sample`` + ``N channels`` header (``.txt``)            (built in)
XDF (LabRecorder, LSL)    ``XDF:`` magic (``.xdf``)                                     pyxdf (``[io]``)
OpenBCI GUI               ``%OpenBCI`` header or ``EXG Channel`` columns                (built in)
BrainFlow ``write_file``  ``board=`` (a BrainFlow board id or name)                     brainflow
generic CSV / TSV / text  anything else with one row per sample                         (built in)
NPZ                       ``.npz`` (``data``, ``fs``; our own export keeps codes)       (built in)
========================  ===========================================================  =====================

Units: every channel's unit is read from the file where the format has one (EDF physical dimension, AcqKnowledge
unit lines, XDF ``desc/channels/channel/unit``, a CSV header such as ``zyg (mV)``), or given with ``units=``.
Voltage channels are converted to microvolts (``Recording.units[i] == "µV"``); other channels (skin conductance,
force, stimulus waves) keep their values and unit and get the channel type ``"MISC"`` (``Recording.types``), so
:meth:`Recording.pick_emg` leaves them out of the EMG chain. A file whose units cannot be known (a headerless
CSV) is read as microvolts with a warning and ``info["units_assumed"] = True``; pass ``units="mV"`` (or any other
unit) to say what it holds. A sampling rate that cannot be read or inferred from a time column is an error that
says to pass ``fs=``.

Channel map: ``channel_map=`` (a path to a JSON or TOML file, or a dict) assigns channel labels to facial regions
so that spotting is region-aware on a foreign montage; see :func:`read_channel_map`. Without one, a recording
made by perifacial keeps its own montage; any other recording has ``montage=None`` and spotting works per channel
(``Recording.region_context`` is False and the commands say so).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from perifacial.dsp.intervals import runs
from perifacial.errors import InvalidArgument

log = logging.getLogger(__name__)

__all__ = [
    "load",
    "load_file",
    "detect_format",
    "from_array",
    "read_channel_map",
    "apply_channel_map",
    "unit_scale",
    "FORMATS",
    "UnsupportedFormat",
]

FORMATS = ("pfr", "edf", "bdf", "acq", "acq-text", "xdf", "openbci", "brainflow", "csv", "npz")


class UnsupportedFormat(InvalidArgument):
    """The file is none of the formats :func:`load` reads (a ``ValueError`` and a ``PerifacialError``)."""


# ------------------------------------------------------------------------------------------------- units
_VOLT_PREFIX = {"": 1e6, "k": 1e9, "m": 1e3, "u": 1.0, "µ": 1.0, "μ": 1.0, "n": 1e-3}
_VOLT_WORDS = {
    "volt": 1e6,
    "volts": 1e6,
    "millivolt": 1e3,
    "millivolts": 1e3,
    "microvolt": 1.0,
    "microvolts": 1.0,
    "nanovolt": 1e-3,
    "nanovolts": 1e-3,
}


def unit_scale(unit: str | None) -> float | None:
    """Factor that converts a value in ``unit`` to microvolts, or None when ``unit`` is not a voltage.

    >>> unit_scale("mV"), unit_scale("uV"), unit_scale("Volts"), unit_scale("microsiemens") is None
    (1000.0, 1.0, 1000000.0, True)
    """
    if unit is None:
        return None
    u = unit.strip()
    if u.lower() in _VOLT_WORDS:
        return _VOLT_WORDS[u.lower()]
    m = re.fullmatch(r"([kmuµμn]?)V", u)
    if m:
        return _VOLT_PREFIX[m.group(1)]
    return None


def _convert_units(data: np.ndarray, units: list[str | None]) -> tuple[np.ndarray, list[str], list[str]]:
    """Scale voltage rows to µV in place; returns (data, units after conversion, channel types)."""
    out_units, types = [], []
    for i, u in enumerate(units):
        k = unit_scale(u)
        if k is None:
            out_units.append(u or "")
            types.append("MISC")
        else:
            if k != 1.0:
                data[i] *= k
            out_units.append("µV")
            types.append("EMG")
    return data, out_units, types


# ------------------------------------------------------------------------------------------------- building
def from_array(
    data,
    fs: float,
    labels=None,
    units: str | list[str] | None = "uV",
    *,
    info: dict | None = None,
    markers: list[dict] | None = None,
    gaps: list[tuple[int, int]] | None = None,
    types: list[str] | None = None,
    source: str = "array",
):
    """A :class:`~perifacial.host.recording.Recording` from an array ``[channels, samples]``.

    Parameters
    ----------
    data : array_like, shape (channels, samples)
        Values in ``units`` (converted to µV for voltage units); NaN marks samples that were never received.
    fs : float
        Sampling rate (Hz).
    labels : list of str, optional
        Channel names (default ``CH1``...).
    units : str or list of str
        One unit for all channels or one per channel (``"uV"``, ``"mV"``, ``"V"``, ...; non-voltage units are
        kept and make the channel ``"MISC"``).
    types : list of str, optional
        Channel types (``"EMG"``, ``"MISC"``, ...) overriding the ones implied by the units.

    Examples
    --------
    >>> import numpy as np
    >>> rec = from_array(np.ones((2, 100)), 1000.0, ["zyg", "corr"], "mV")
    >>> float(rec.data[0, 0]), rec.units, rec.n_samples
    (1000.0, ['µV', 'µV'], 100)
    """
    from perifacial.host.recording import SYNC_DTYPE, Recording

    x = np.array(data, dtype=np.float64, copy=True, ndmin=2)
    if x.ndim != 2:
        raise ValueError(f"expected data [channels, samples], got shape {x.shape}")
    if not (fs and math.isfinite(fs) and fs > 0):
        raise ValueError(f"bad sampling rate {fs!r} Hz: give fs= (--fs) in Hz")
    C, n = x.shape
    if labels is None:
        labels = [f"CH{i + 1}" for i in range(C)]
    labels = [str(v) for v in labels]
    if len(labels) != C:
        raise ValueError(f"{len(labels)} labels for {C} channels")
    ulist = [units] * C if units is None or isinstance(units, str) else list(units)
    if len(ulist) != C:
        raise ValueError(f"{len(ulist)} units for {C} channels")
    x, out_units, implied = _convert_units(x, ulist)
    # voltage channels named like another biosignal are not EMG (e.g. BIOPAC "ECG (.05 - 150 Hz)")
    for i, lab in enumerate(labels):
        m = re.match(r"\s*(ECG|EKG|EOG|EEG)\b", lab, re.IGNORECASE)
        if m and implied[i] == "EMG":
            implied[i] = {"EKG": "ECG"}.get(m.group(1).upper(), m.group(1).upper())
    if types is not None:
        if len(types) != C:
            raise ValueError(f"{len(types)} channel types for {C} channels")
        implied = [str(t).upper() for t in types]
    if gaps is None:
        gaps = runs(~np.isfinite(x).all(axis=0)) if C else []
    return Recording(
        data=x,
        codes=np.zeros((C, 0), dtype=np.int32),
        status=np.zeros((0, n), dtype=np.uint32),
        fs=float(fs),
        fs_measured=float("nan"),
        fs_device=float("nan"),
        labels=labels,
        gains=np.full(C, np.nan),
        gaps=[(int(a), int(b)) for a, b in gaps],
        markers=list(markers or []),
        sync=np.zeros(0, dtype=SYNC_DTYPE),
        info={"source": source, **(info or {})},
        stats={},
        units=out_units,
        types=implied,
    )


# ------------------------------------------------------------------------------------------------- channel map
def read_channel_map(spec) -> dict[str, str]:
    """Label -> region name from a channel-map file (JSON or TOML) or dict.

    Two layouts are accepted (regions by the perifacial names ``left_upper`` ... ``right_lower`` or codes ``LU``
    ... ``RL`` inherit that region's muscles and action units; any other name is a custom region)::

        # by region                              # by channel
        [regions]                                [channels]
        left_upper = ["Corr L", "Front L"]       "Corr L" = "left_upper"
        left_middle = ["Zyg L"]                  "Zyg L" = "left_middle"
    """
    if isinstance(spec, (str, os.PathLike)):
        p = Path(spec)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read channel map {p}: {exc.strerror or exc}") from None
        try:
            if p.suffix.lower() == ".toml":
                import tomllib

                d = tomllib.loads(text)
            else:
                d = json.loads(text)
        except Exception as exc:  # noqa: BLE001 - JSON or TOML syntax
            raise ValueError(f"channel map {p} is not valid {p.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    else:
        d = dict(spec)
    out: dict[str, str] = {}
    if "regions" in d:
        for region, labs in d["regions"].items():
            for lab in [labs] if isinstance(labs, str) else labs:
                out[str(lab)] = str(region)
    if "channels" in d:
        out.update({str(k): str(v) for k, v in d["channels"].items()})
    if not out:
        if d and all(isinstance(v, str) for v in d.values()):
            out = {str(k): v for k, v in d.items()}
        else:
            raise ValueError(
                "a channel map needs a 'regions' table (region = [labels]) or a 'channels' table (label = region)"
            )
    return out


def apply_channel_map(rec, channel_map) -> None:
    """Give ``rec`` a :class:`~perifacial.dsp.montage.Montage` built from ``channel_map`` (see
    :func:`read_channel_map`). Channels the map does not name go to a region ``"unmapped"``; labels in the map that
    the recording lacks are an error (a typo would otherwise silently lose a region)."""
    from perifacial.dsp.montage import Montage, Region, default_montage

    cmap = read_channel_map(channel_map)
    missing = [lab for lab in cmap if lab not in rec.labels]
    if missing:
        raise ValueError(
            f"channel map names labels the recording lacks: {', '.join(missing)} "
            f"(the recording has: {', '.join(rec.labels)})"
        )
    known = {r.name: r for r in default_montage().regions}
    known.update({r.code: r for r in default_montage().regions})
    groups: dict[str, list[int]] = {}
    for i, lab in enumerate(rec.labels):
        groups.setdefault(cmap.get(lab, "unmapped"), []).append(i)
    regions = []
    for name, chans in groups.items():
        ref = known.get(name)
        if ref is not None:
            regions.append(
                Region(ref.name, ref.code, ref.side, ref.level, tuple(chans), ref.muscles, ref.aus, ref.placement)
            )
        else:
            regions.append(Region(name, name[:8], "", "", tuple(chans)))
    rec.montage = Montage("channel map", tuple(regions), "regions from a channel map")


# ------------------------------------------------------------------------------------------------- detection
def _head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path`` (one of :data:`FORMATS`) from its first bytes, then its extension."""
    p = Path(path)
    head = _head(p)
    if head.startswith(b"PFREC"):  # the raw log's file magic (perifacial.host.rawlog)
        return "pfr"
    if head.startswith(b"XDF:"):
        return "xdf"
    if head[:8] == b"\xffBIOSEMI":
        return "bdf"
    if len(head) >= 256 and head[:8] == b"0       " and head[236:244].strip().lstrip(b"-").isdigit():
        return "edf"
    ext = p.suffix.lower()
    if ext == ".acq":
        return "acq"
    if ext == ".npz" or head.startswith(b"PK\x03\x04"):
        return "npz"
    text = head.decode("utf-8", errors="replace")
    if "%OpenBCI" in text or "EXG Channel" in text:
        return "openbci"
    lines = text.splitlines()
    if (
        len(lines) >= 3
        and re.search(r"[\d.]+\s*(msec|sec|min)/sample", lines[1])
        and re.match(r"\s*\d+ channels", lines[2])
    ):
        return "acq-text"
    if ext in (".edf", ".bdf", ".xdf", ".pfr"):
        raise UnsupportedFormat(f"{p}: the extension says {ext} but the content is not one (damaged or renamed?)")
    if b"\x00" in head:
        raise UnsupportedFormat(f"{p}: unsupported format (binary, none of {', '.join(FORMATS)})")
    return "csv"


def load_file(path: str | os.PathLike, **kwargs):
    """:func:`load` (same keywords) with every reading problem raised as
    :class:`~perifacial.errors.InvalidArgument` whose message names the file: no such file, a missing optional
    dependency, an I/O error, or content :func:`load` rejects."""
    try:
        return load(path, **kwargs)
    except FileNotFoundError:
        raise InvalidArgument(f"cannot read {path}: no such file") from None
    except ImportError as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        msg = str(exc)
        raise InvalidArgument(msg if str(path) in msg else f"{path}: {msg}") from None


def load(
    path: str | os.PathLike,
    *,
    fs: float | None = None,
    units: str | list[str] | None = None,
    labels: list[str] | None = None,
    channel_map=None,
    format: str | None = None,
    stream: str | None = None,
    board: int | str | None = None,
    data: bool = True,
    store=None,
):
    """Read any supported recording (see the module docstring) into a :class:`Recording`.

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Sampling rate (Hz) where the file has none (CSV without a time column); overrides an NPZ's ``fs``.
    units : str or list of str, optional
        Unit(s) of the values where the file does not say (generic CSV/NPZ); converted to µV.
    labels : list of str, optional
        Channel names where the file has none (or to rename).
    channel_map : path, dict, optional
        Labels -> facial regions (:func:`read_channel_map`), for region-aware spotting on foreign montages.
    format : str, optional
        Force a format (one of :data:`FORMATS`) instead of detecting it.
    stream : str, optional
        XDF: the name or type of the stream to read (default: the first stream of type EMG, else the first
        numeric stream with a nominal rate).
    board : int or str, optional
        BrainFlow board id or name (``"CYTON_BOARD"``, ``0``) of a file written by BrainFlow's
        ``DataFilter.write_file`` (no header: the board description says which rows are EXG); implies
        ``format="brainflow"``.
    data : bool
        ``.pfr`` only: False skips the float data (codes/status are kept).
    store : path-like or bool, optional
        ``.pfr`` only: keep the codes/status on disk in this folder (True: the system's temporary folder), for
        bounded memory (see :func:`perifacial.host.recording.load`).

    Returns
    -------
    Recording
        ``data`` in µV (voltage channels) ``[channels, samples]``; ``units``, ``types`` per channel;
        ``info["file_format"]`` the detected format.

    Examples
    --------
    A CSV file with a time column (s) and two channels in millivolts:

    >>> import os, tempfile
    >>> from perifacial.host import load
    >>> path = os.path.join(tempfile.mkdtemp(), "emg.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("time,zyg,corr\\n" + "".join(f"{i / 1000},0.01,-0.02\\n" for i in range(2000)))
    >>> rec = load(path, units="mV")
    >>> rec.fs, rec.labels, rec.data.shape, rec.units
    (1000.0, ['zyg', 'corr'], (2, 2000), ['µV', 'µV'])
    >>> rec.data[:, 0]                                  # µV
    array([ 10., -20.])
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise ValueError(f"{p} is a folder, not a recording")
    fmt = format or ("brainflow" if board is not None else detect_format(p))
    if fmt not in FORMATS:
        raise UnsupportedFormat(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "pfr":
        from perifacial.host.recording import load as load_pfr

        rec = load_pfr(p, data=data, store=store)
        if not rec.units:
            rec.units = ["µV"] * rec.n_channels
            rec.types = ["EMG"] * rec.n_channels
        rec.montage = _own_montage(rec)
    else:
        reader = {
            "edf": _read_edf,
            "bdf": _read_edf,
            "acq": _read_acq,
            "acq-text": _read_acq_text,
            "xdf": _read_xdf,
            "openbci": _read_openbci,
            "brainflow": _read_brainflow,
            "csv": _read_csv,
            "npz": _read_npz,
        }[fmt]
        rec = reader(p, fs=fs, units=units, labels=labels, stream=stream, board=board)
        if labels is not None and fmt not in ("csv",):
            if len(labels) != rec.n_channels:
                raise ValueError(f"{len(labels)} labels given for {rec.n_channels} channels")
            rec.labels = [str(v) for v in labels]
    if fmt in ("pfr", "edf", "bdf", "acq", "acq-text", "xdf"):
        if fs is not None and fs != rec.fs:
            log.warning("%s: fs=%g ignored: the file states %g Hz", p, fs, rec.fs)
        if units is not None and fmt not in ("xdf", "edf", "bdf"):
            log.warning("%s: units=%s ignored: the file states each channel's unit", p, units)
    rec.info.setdefault("path", str(p))
    rec.info["file_format"] = fmt
    if channel_map is not None:
        apply_channel_map(rec, channel_map)
    return rec


def _own_montage(rec):
    """The perifacial montage when the recording's labels are exactly its labels (a perifacial recording)."""
    try:
        from perifacial.dsp.montage import Montage, default_montage

        m = rec.info.get("montage")
        mont = Montage.from_dict(m) if isinstance(m, dict) else default_montage()
        return mont if list(mont.labels) == list(rec.labels) else None
    except Exception:  # noqa: BLE001 - montage metadata is optional
        return None


def _need(module: str, extra: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"reading {what} needs {module}: pip install 'perifacial[{extra}]'") from None


# ------------------------------------------------------------------------------------------------- EDF/BDF
_GAP_RE = re.compile(r"^gap(?::\s*(\d+) samples lost)?$")


def _read_edf(p: Path, **kw):
    """EDF/EDF+/BDF/BDF+ through edfio. Signals at the highest rate are the channels (others are listed in
    ``info["skipped_signals"]``). Our own export's ``gap``/``padding`` annotations restore gaps (NaN) and length;
    other annotations become markers. Interrupted files (EDF+D/BDF+D) are placed record by record at the
    records' start times, the time between them a NaN gap."""
    edfio = _need("edfio", "bdf", "EDF/BDF files")
    is_bdf = _head(p, 8) == b"\xffBIOSEMI"
    try:
        f = edfio.read_bdf(p) if is_bdf else edfio.read_edf(p)
    except Exception as exc:  # noqa: BLE001 - edfio raises ValueError/EdfError for broken headers
        raise ValueError(f"{p}: not a readable {'BDF' if is_bdf else 'EDF'} file: {exc}") from None
    record_onsets = None if f.is_continuous else _record_onsets(p, is_bdf)
    sigs = list(f.signals)
    if not sigs:
        raise ValueError(f"{p}: no signals")
    fs = max(s.sampling_frequency for s in sigs)
    keep = [s for s in sigs if s.sampling_frequency == fs]
    skipped = [f"{s.label} ({s.sampling_frequency:g} Hz)" for s in sigs if s.sampling_frequency != fs]
    if skipped:
        log.warning("%s: signals at other rates than %g Hz left out: %s", p, fs, ", ".join(skipped))
    n = min(len(s.data) for s in keep)
    x = np.vstack([np.asarray(s.data[:n], dtype=np.float64) for s in keep])
    labels = [re.sub(r"^(EMG|EEG|ECG|EOG|MISC)\s+(?=[^\s(])", "", s.label).strip() or s.label for s in keep]
    types = [("EMG" if s.label.upper().startswith("EMG") else None) for s in keep]
    given = kw.get("units")
    given = [given] * len(keep) if given is None or isinstance(given, str) else list(given)
    units = [s.physical_dimension or given[i] for i, s in enumerate(keep)]  # units= only where the file has none
    # no physical dimension and no units=: a signal typed by its label (EMG ..., EEG ...) is read as µV (warned);
    # any other stays a MISC channel in its own, unknown unit
    guess = [
        i
        for i, (s, u) in enumerate(zip(keep, units))
        if u is None and types[i] is not None or u is None and re.match(r"(EEG|ECG|EOG)\s", s.label)
    ]
    if guess:
        log.warning(
            "%s: no physical dimension for %s: read as µV (give units=/--units)",
            p,
            ", ".join(keep[i].label for i in guess),
        )
        units = [("uV" if i in guess else u) for i, u in enumerate(units)]
    own = "perifacial" in (f.recording.equipment_code if hasattr(f.recording, "equipment_code") else "")
    gaps, markers = [], []
    stop = n
    for a in f.annotations:
        text = (a.text or "").strip()
        s = int(round(a.onset * fs))
        m = _GAP_RE.match(text)
        if m and a.duration:
            k = int(m.group(1)) if m.group(1) else int(round(a.duration * fs))
            gaps.append((s, min(n, s + k)))
            continue
        if text == "padding" and a.duration:
            stop = min(stop, s)
            continue
        markers.append(_marker_from_text(text, s, a.onset, a.duration))
    x = x[:, :stop]
    if record_onsets is not None:
        # EDF+D/BDF+D: each data record starts at its own time; the samples between records were not recorded
        spr = int(round(fs * f.data_record_duration))
        starts = np.round(np.asarray(record_onsets) * fs).astype(np.int64)
        total = int(starts[-1]) + spr if len(starts) else 0
        y = np.full((x.shape[0], max(total, 0)), np.nan)
        for k, s0 in enumerate(starts):
            blk = x[:, k * spr : (k + 1) * spr]
            y[:, s0 : s0 + blk.shape[1]] = blk
        x = y
        gaps = [g for g in gaps] + _nan_runs(x)
        log.info("%s: interrupted file: %d records placed by their start times, %d gaps", p, len(starts), len(gaps))
    for a, b in gaps:
        x[:, a:b] = np.nan
    rec = from_array(
        x,
        fs,
        labels,
        units,
        info={
            "equipment": getattr(f.recording, "equipment_code", ""),
            "own_export": own,
            "skipped_signals": skipped,
            "start_iso": _start_iso(f),
        },
        markers=markers,
        gaps=[g for g in gaps if g[0] < stop],
        source="bdf" if is_bdf else "edf",
    )
    rec.types = [t or d for t, d in zip(types, rec.types)]
    if own:
        rec.montage = _own_montage(rec)
    return rec


def _nan_runs(x: np.ndarray) -> list[tuple[int, int]]:
    return runs(~np.isfinite(x).all(axis=0)) if x.size else []


def _record_onsets(p: Path, is_bdf: bool) -> list[float]:
    """Start time (s from the file start) of every data record of an EDF+/BDF+ file: the first, empty TAL of the
    record's annotation signal (``+<onset>\x14\x14``; EDF+ specification, "time-keeping" annotation)."""
    with open(p, "rb") as fh:
        head = fh.read(256)
        hb, nrec, ns = int(head[184:192]), int(head[236:244]), int(head[252:256])
        sh = fh.read(ns * 256)
    labels = [sh[16 * i : 16 * (i + 1)].decode("ascii", "replace").strip() for i in range(ns)]
    spr = [int(sh[ns * 216 + 8 * i : ns * 216 + 8 * (i + 1)]) for i in range(ns)]
    width = 3 if is_bdf else 2
    ann = [i for i, lab in enumerate(labels) if lab in ("EDF Annotations", "BDF Annotations")]
    if not ann:
        raise ValueError(f"{p}: an interrupted (+D) file without an annotation signal to time its records")
    off = sum(spr[: ann[0]]) * width
    size = sum(spr) * width
    onsets = []
    with open(p, "rb") as fh:
        for k in range(nrec):
            fh.seek(hb + k * size + off)
            tal = fh.read(spr[ann[0]] * width)
            m = re.match(rb"([+-]\d+(?:\.\d*)?)\x14\x14", tal)
            if not m:
                raise ValueError(f"{p}: data record {k} has no time-keeping annotation")
            onsets.append(float(m.group(1)))
    return onsets


def _start_iso(f) -> str | None:
    try:
        return f.startdatetime.isoformat()
    except Exception:  # noqa: BLE001 - anonymised or invalid start date
        return None


def _marker_from_text(text: str, sample: int, onset_s: float, duration_s: float | None) -> dict:
    """A marker dict from an annotation's description (``marker 7``, ``smile (board)``, ...)."""
    source = "board" if text.endswith(" (board)") else "file"
    t = text[: -len(" (board)")] if source == "board" else text
    value: Any = ""
    label = t
    m = re.fullmatch(r"marker\s+(-?\d+)(?:\s+(.*))?", t)
    if m:
        value = int(m.group(1))
        label = m.group(2) or ""
    mk = {"sample": sample, "value": value, "label": label, "source": source, "description": text}
    if duration_s:
        mk["duration_s"] = float(duration_s)
    return mk


# ------------------------------------------------------------------------------------------------- BIOPAC
def _read_acq(p: Path, **kw):
    """BIOPAC AcqKnowledge ``.acq`` through bioread. Channels at a lower rate than the file's base rate are
    left out and listed in ``info["skipped_signals"]``; event markers become markers."""
    bioread = _need("bioread", "io", "BIOPAC .acq files")
    try:
        d = bioread.read_file(str(p))
    except Exception as exc:  # noqa: BLE001 - bioread raises various errors on damaged files
        raise ValueError(f"{p}: not a readable AcqKnowledge file: {exc}") from None
    fs = float(d.samples_per_second)
    keep = [c for c in d.channels if float(c.samples_per_second) == fs]
    skipped = [f"{c.name} ({c.samples_per_second:g} Hz)" for c in d.channels if float(c.samples_per_second) != fs]
    if skipped:
        log.warning("%s: channels at other rates than %g Hz left out: %s", p, fs, ", ".join(skipped))
    if not keep:
        raise ValueError(f"{p}: no channel at the file's rate {fs:g} Hz")
    n = min(c.point_count for c in keep)
    x = np.vstack([np.asarray(c.data[:n], dtype=np.float64) for c in keep])
    markers = []
    for ev in getattr(d, "event_markers", []) or []:
        s = int(ev.sample_index)
        markers.append(
            {
                "sample": s,
                "value": getattr(ev, "type_code", None) or "",
                "label": str(ev.text or ""),
                "source": "file",
                "description": str(ev.text or getattr(ev, "type", "") or "event"),
            }
        )
    return from_array(
        x,
        fs,
        [c.name for c in keep],
        [c.units or None for c in keep],
        info={"skipped_signals": skipped},
        markers=markers,
        source="acq",
    )


def _read_acq_text(p: Path, **kw):
    """AcqKnowledge "save as text" export: a title line, ``<dt> msec/sample``, ``<N> channels``, a label line and
    a unit line per channel, then optional column headers (``CH1 CH2 ...``, maybe a leading time column), an
    optional row of per-channel sample counts, then the samples (tab separated)."""
    with open(p, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    m = re.search(r"([\d.]+)\s*(msec|sec|min)/sample", lines[1])
    dt = float(m.group(1)) * {"msec": 1e-3, "sec": 1.0, "min": 60.0}[m.group(2)]
    nch = int(re.match(r"\s*(\d+) channels", lines[2]).group(1))
    labels = [lines[3 + 2 * i].strip() for i in range(nch)]
    units = [lines[4 + 2 * i].strip() for i in range(nch)]
    i = 3 + 2 * nch
    rows = []
    while i < len(lines):
        cells = [c for c in re.split(r"[\t,]", lines[i].strip()) if c != ""]
        i += 1
        if not cells:
            continue
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            continue  # column header line (CH1 CH2 ... or time unit)
        rows.append(vals)
    if not rows:
        raise ValueError(f"{p}: an AcqKnowledge text export without samples")
    width = max(len(r) for r in rows)
    a = np.full((len(rows), width), np.nan)
    for k, r in enumerate(rows):
        a[k, : len(r)] = r
    if width == nch + 1:
        a = a[:, 1:]  # leading time column
    elif width != nch:
        raise ValueError(f"{p}: the header lists {nch} channels but rows hold {width} values")
    # a first row of integer sample counts (one per channel) is a header, not data
    if len(a) > 1 and np.all(a[0] == np.round(a[0])) and np.all(a[0] >= len(a) - 1) and np.all(a[0] > 1000):
        a = a[1:]
    return from_array(a.T, 1.0 / dt, labels, units, info={"title": lines[0].strip()}, source="acq-text")


# ------------------------------------------------------------------------------------------------- XDF
def _xdf_channels(info: dict, n: int):
    """(labels, units, types, regions) from ``desc/channels/channel`` (None where absent)."""
    labels, units, types, regions = [f"CH{i + 1}" for i in range(n)], [None] * n, [None] * n, [None] * n
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        return labels, units, types, regions
    for i, ch in enumerate(chans[:n]):

        def get(k, ch=ch):
            v = ch.get(k) if isinstance(ch, dict) else None
            return v[0] if isinstance(v, list) and v else None

        labels[i] = get("label") or labels[i]
        units[i] = get("unit")
        types[i] = get("type")
        regions[i] = get("region")
    return labels, units, types, regions


def _read_xdf(p: Path, stream: str | None = None, units=None, **kw):
    """XDF through pyxdf (clock offsets applied, timestamps dejittered). One numeric stream becomes the
    recording (``stream=`` name or type; default the first EMG stream, else the first regular numeric stream);
    string streams become markers at the sample nearest their timestamp. Samples missing by timestamp (a step of
    k nominal periods, rounded, leaves k - 1 samples) are NaN gaps. Channels that name their ``region`` (as
    perifacial's LSL outlet does) give the recording region context."""
    pyxdf = _need("pyxdf", "io", "XDF files")
    try:
        streams, header = pyxdf.load_xdf(str(p))
    except Exception as exc:  # noqa: BLE001 - pyxdf raises many kinds on broken files
        raise ValueError(f"{p}: not a readable XDF file: {exc}") from None

    def field(s, k):
        v = s["info"].get(k)
        return v[0] if isinstance(v, list) and v else (v or "")

    numeric = [
        s
        for s in streams
        if field(s, "channel_format") != "string"
        and float(field(s, "nominal_srate") or 0) > 0
        and len(s["time_stamps"])
    ]
    if stream is not None:
        cands = [s for s in numeric if stream in (field(s, "name"), field(s, "type"))]
    else:
        cands = [s for s in numeric if field(s, "type").upper() == "EMG"] or numeric
    if not cands:
        names = ", ".join(f"{field(s, 'name')} ({field(s, 'type')})" for s in streams) or "none"
        raise ValueError(
            f"{p}: no {'stream ' + repr(stream) if stream else 'numeric stream with a rate'} "
            f"(streams: {names}); choose one with stream= (--stream)"
        )
    s = cands[0]
    fs = float(field(s, "nominal_srate"))
    ts = np.asarray(s["time_stamps"], dtype=np.float64)
    y = np.asarray(s["time_series"], dtype=np.float64)
    # place samples on the nominal grid: a step > 1.5 periods is a gap
    idx = np.concatenate([[0], np.cumsum(np.maximum(1, np.round(np.diff(ts) * fs)).astype(np.int64))])
    n = int(idx[-1]) + 1
    x = np.full((y.shape[1], n), np.nan)
    x[:, idx] = y.T
    labels, xunits, types, regions = _xdf_channels(s["info"], y.shape[1])
    if units is not None:
        xunits = [units] * y.shape[1] if isinstance(units, str) else list(units)
    elif all(u is None for u in xunits):
        xunits = ["uV"] * y.shape[1]
        log.warning("%s: stream %r names no channel units: read as µV (give units= to override)", p, field(s, "name"))
    markers = []
    t0 = ts[0]
    for o in streams:
        if field(o, "channel_format") != "string":
            continue
        for t, v in zip(o["time_stamps"], o["time_series"]):
            smp = int(round((t - t0) * fs))
            if 0 <= smp < n:
                text = str(v[0]) if len(v) else ""
                markers.append(
                    {
                        "sample": smp,
                        "value": "",
                        "label": text,
                        "source": field(o, "name") or "xdf",
                        "description": text,
                        "host_time": float(t),
                    }
                )
    markers.sort(key=lambda m: m["sample"])
    rec = from_array(
        x,
        fs,
        labels,
        xunits,
        info={
            "stream": field(s, "name"),
            "stream_type": field(s, "type"),
            "first_timestamp": float(t0),
            "streams": len(streams),
        },
        markers=markers,
        source="xdf",
    )
    rec.types = [(t.upper() if t and rec.types[i] == "EMG" else rec.types[i]) for i, t in enumerate(types)]
    rec.fs_measured = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 and ts[-1] > ts[0] else float("nan")
    if all(regions) and len(set(rec.labels)) == len(rec.labels):
        # the stream names each channel's facial region (perifacial's LSL outlet does): region context
        apply_channel_map(rec, {"channels": dict(zip(rec.labels, regions))})
    return rec


# ------------------------------------------------------------------------------------------------- OpenBCI
def _read_openbci(p: Path, fs=None, **kw):
    """OpenBCI GUI (v5+, BrainFlow format) text file: ``%`` header lines (``%Sample Rate = 250 Hz``), a column
    header (``Sample Index, EXG Channel 0, ..., Accel Channel 0, ..., Timestamp, ...``), comma-separated rows.
    EXG channels are in µV; the other columns (accelerometer, analog, timestamps) are left out."""
    rate = None
    header = None
    skip = 0
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("%"):
                skip += 1
                m = re.search(r"Sample Rate\s*=\s*([\d.]+)", line)
                if m:
                    rate = float(m.group(1))
                continue
            header = [c.strip() for c in line.split(",")]
            skip += 1
            break
    if header is None or not any(c.startswith("EXG Channel") for c in header):
        raise ValueError(f"{p}: an OpenBCI file without 'EXG Channel' columns")
    exg = [i for i, c in enumerate(header) if c.startswith("EXG Channel")]
    fs = fs or rate
    if not fs:
        raise ValueError(f"{p}: no '%Sample Rate' line in the OpenBCI header: give fs= (--fs)")
    data = np.loadtxt(p, delimiter=",", skiprows=skip, usecols=exg, ndmin=2, comments="%")
    return from_array(
        data.T,
        fs,
        [header[i].replace("EXG Channel ", "EXG") for i in exg],
        "uV",
        info={"board": "OpenBCI"},
        source="openbci",
    )


def _read_brainflow(p: Path, board=None, fs=None, **kw):
    """A file of BrainFlow's ``DataFilter.write_file`` (tab-separated, one row per sample, one column per row of
    the board's data array, no header). The board description (``BoardShim.get_board_descr``) gives the rate, the
    EXG rows (µV, BrainFlow's unit) and the marker row (non-zero values become markers)."""
    if board is None:
        raise ValueError(f"{p}: a BrainFlow file needs the board (board=, --board: id or name such as CYTON_BOARD)")
    bs = _need("brainflow.board_shim", "brainflow", "BrainFlow files")
    try:
        bid = int(board)
    except (TypeError, ValueError):
        try:
            bid = bs.BoardIds[str(board).upper()].value
        except KeyError:
            raise ValueError(
                f"unknown BrainFlow board {board!r} (e.g. CYTON_BOARD, GANGLION_BOARD, SYNTHETIC_BOARD or their ids)"
            ) from None
    d = bs.BoardShim.get_board_descr(bid)
    rate = float(fs or d["sampling_rate"])
    exg = sorted(set(d.get("emg_channels") or d.get("exg_channels") or d.get("eeg_channels") or []))
    a = np.loadtxt(p, delimiter="\t", ndmin=2)
    if a.shape[1] != d["num_rows"]:
        raise ValueError(f"{p}: {a.shape[1]} columns, but a {d.get('name', board)} board writes {d['num_rows']} rows")
    names = str(d.get("eeg_names") or "").split(",")
    labels = names if len(names) == len(exg) and all(names) else [f"EXG{i}" for i in range(len(exg))]
    markers = []
    mc = d.get("marker_channel")
    if mc is not None:
        for k in np.flatnonzero(a[:, mc]):
            v = float(a[k, mc])
            markers.append({"sample": int(k), "value": int(v) if v.is_integer() else v, "label": "", "source": "file"})
    return from_array(
        a[:, exg].T, rate, labels, "uV", info={"board": d.get("name", str(board))}, markers=markers, source="brainflow"
    )


# ------------------------------------------------------------------------------------------------- CSV / text
_TIME_COLS = {
    "time",
    "time_s",
    "time (s)",
    "t",
    "seconds",
    "sec",
    "timestamp",
    "time_ms",
    "time (ms)",
    "ms",
    "msec",
    "millisec",
    "time [s]",
    "time [ms]",
}
_INDEX_COLS = {"sample", "samples", "sample index", "index", "sample_index", "n"}
_UNIT_IN_NAME = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]+?)\s*[\)\]]$")


_COMMON_RATES = (
    100.0,
    125.0,
    128.0,
    200.0,
    250.0,
    256.0,
    500.0,
    512.0,
    1000.0,
    1024.0,
    2000.0,
    2048.0,
    4000.0,
    4096.0,
    5000.0,
    8000.0,
    8192.0,
    10000.0,
    16384.0,
    20000.0,
)


def _nominal_rate(measured: float) -> float:
    """A rate measured from a time column, snapped to a common nominal rate within 0.1 % (time columns are often
    rounded, or spread the recording's length over n - 1 steps as bioread's text writer does)."""
    for r in _COMMON_RATES:
        if abs(measured - r) <= 1e-3 * r:
            if measured != r:
                log.info("rate %.6g Hz from the time column taken as the nominal %g Hz", measured, r)
            return r
    return round(measured, 6)


def _sniff_delimiter(line: str) -> str | None:
    for d in ("\t", ",", ";"):
        if d in line:
            return d
    return None  # whitespace


def _read_csv(p: Path, fs=None, units=None, labels=None, **kw):
    """One row per sample, one column per channel; an optional header row names the columns (``zyg (mV)``
    gives a unit). Columns named like a sample index (``sample``) or a time (``time_s``, ``time (s)``,
    ``time_ms``) are not channels: a time column gives ``fs`` when none is passed."""
    with open(p, encoding="utf-8", errors="replace") as f:
        first_lines = []
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                first_lines.append(line.rstrip("\r\n"))
                if len(first_lines) == 2:
                    break
    if not first_lines:
        raise ValueError(f"{p}: no rows")
    delim = _sniff_delimiter(first_lines[0])

    def split(line):
        return [c.strip() for c in (line.split(delim) if delim else line.split())]

    cells = split(first_lines[0])
    try:
        [float(c) for c in cells if c]
        names = None
    except ValueError:
        names = cells
    try:
        with warnings.catch_warnings():  # a header without rows: reported below as "no samples"
            warnings.simplefilter("ignore", UserWarning)
            a = np.genfromtxt(
                p,
                delimiter=delim,
                skip_header=1 if names else 0,
                comments="#",
                dtype=np.float64,
                ndmin=2,
                invalid_raise=True,
            )
    except ValueError as exc:
        raise ValueError(f"cannot parse {p}: {exc}") from None
    if a.size == 0:
        raise ValueError(f"{p}: no samples")
    if names is None:
        names = [f"CH{i + 1}" for i in range(a.shape[1])]
    if len(names) != a.shape[1]:
        names = (names + [f"CH{i + 1}" for i in range(len(names), a.shape[1])])[: a.shape[1]]
    col_units: list[str | None] = []
    bare: list[str] = []
    for nm in names:
        m = _UNIT_IN_NAME.match(nm)
        bare.append(m.group(1) if m else nm)
        col_units.append(m.group(2) if m else None)
    keep, time_fs = [], None
    for i, nm in enumerate(names):
        low = nm.lower().strip()
        if low in _INDEX_COLS:
            continue
        if low in _TIME_COLS or bare[i].lower() in ("time", "t"):
            scale = 1e-3 if ("ms" in low or "milli" in low or (col_units[i] or "").lower() in ("ms", "msec")) else 1.0
            if col_units[i] and col_units[i].lower() in ("min",):
                scale = 60.0
            t = a[:, i] * scale
            t = t[np.isfinite(t)]
            if t.size > 1 and t[-1] > t[0]:
                time_fs = _nominal_rate((t.size - 1) / (t[-1] - t[0]))
            continue
        keep.append(i)
    if not keep:
        raise ValueError(f"{p}: no channel columns (only index/time columns)")
    if fs is None:
        if time_fs is None:
            raise ValueError(f"{p}: the sampling rate is unknown (no time column): a .csv file needs --fs (fs=)")
        fs = time_fs
        log.info("%s: fs %g Hz from the time column", p, fs)
    x = a[:, keep].T
    if units is not None:
        ulist = [units] * len(keep) if isinstance(units, str) else list(units)
    else:
        ulist = [col_units[i] for i in keep]
    if [n.lower() for n in names[:2]] == ["sample", "time_s"] and units is None:
        ulist = [u or "uV" for u in ulist]  # perifacial's own CSV export: values in µV (export.to_csv)
    assumed = False
    if any(u is None for u in ulist):
        assumed = True
        log.warning(
            "%s: no unit for %s: read as µV (give units=/--units, or name columns like 'zyg (mV)')",
            p,
            ", ".join(bare[i] for i, u in zip(keep, ulist) if u is None),
        )
        ulist = [u or "uV" for u in ulist]
    labs = labels if labels is not None else [bare[i] for i in keep]
    rec = from_array(x, fs, labs, ulist, info={"units_assumed": assumed}, source="csv")
    if [n.lower() for n in names[:2]] == ["sample", "time_s"]:
        rec.montage = _own_montage(rec)  # our export of a perifacial recording keeps its regions
    return rec


def _read_npz(p: Path, fs=None, units=None, labels=None, **kw):
    """``.npz`` with ``data`` ``[channels, samples]`` and ``fs`` (optional ``labels``, ``units``). Our own export
    (``codes``, ``gains``, ``gaps``, ``markers_json``) comes back with its codes, gaps and markers."""
    try:
        z = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - zipfile/pickle errors
        raise ValueError(f"{p}: not a readable .npz: {exc}") from None
    with z:
        keys = set(z.files)
        own = {"codes", "gains", "labels"} <= keys
        if "data" not in keys and not own:
            raise ValueError(f"{p}: no array 'data' in the .npz (keys: {', '.join(sorted(keys))})")
        if fs is None:
            if "fs" not in keys:
                raise ValueError(f"{p}: no 'fs' in the .npz; give --fs (fs=)")
            fs = float(np.asarray(z["fs"]).reshape(-1)[0])
        lab = labels if labels is not None else ([str(v) for v in z["labels"]] if "labels" in keys else None)
        if own:
            from perifacial.host.decoder import lsb_uv

            codes = np.asarray(z["codes"])
            gains = np.asarray(z["gains"], dtype=np.float64)
            x = z["data"] if "data" in keys else codes * lsb_uv(gains)[:, None]
            gaps = [tuple(int(v) for v in g) for g in np.asarray(z["gaps"]).reshape(-1, 2)] if "gaps" in keys else None
            markers = json.loads(str(z["markers_json"])) if "markers_json" in keys else []
            info = json.loads(str(z["info_json"])) if "info_json" in keys else {}
            u = [str(v) for v in z["units"]] if "units" in keys else "uV"
            t = [str(v) for v in z["types"]] if "types" in keys else None
            rec = from_array(x, fs, lab, u, info=info, markers=markers, gaps=gaps, types=t, source="npz")
            rec.codes = codes.astype(np.int32)
            rec.gains = gains
            if "status" in keys:
                rec.status = np.asarray(z["status"])
            if "sync" in keys and z["sync"].dtype.names:
                rec.sync = z["sync"]
            rec.first_sample = int(z["first_sample"]) if "first_sample" in keys else 0
            rec.montage = _own_montage(rec)
            return rec
        x = np.asarray(z["data"], dtype=np.float64)
        if units is None and "units" in keys:
            u = z["units"]
            units = str(u) if u.ndim == 0 else [str(v) for v in u]
    if x.ndim == 1:
        x = x[None, :]
    assumed = units is None
    if assumed:
        log.warning("%s: no 'units' in the .npz: read as µV (give units=/--units)", p)
    return from_array(x, fs, lab, units or "uV", info={"units_assumed": assumed}, source="npz")
