"""Export a loaded :class:`~perifacial.host.recording.Recording` to BDF+, CSV or NPZ.

BDF+ (24-bit) carries the ADC codes losslessly as the digital samples. Library choice: **edfio** writes the file.
Export happens after recording, from a loaded ``Recording`` held in memory, so edfio's whole-file writer is no
drawback, while its strengths matter here: it writes BDF+ from digital values (``BdfSignal.from_digital``), keeps
any number of annotations (pyEDFlib's C core stores one annotation per data record per annotation signal and drops
the rest) and refuses non-compliant headers up front. pyEDFlib is used in the tests as the independent reader.

Physical scaling: a reader maps a digital value ``d`` to ``pmin + (d - dmin) * (pmax - pmin) / (dmax - dmin)``.
With ``dmin = -2**23`` and ``pmin = -VREF/gain`` (uV) this is ``d * LSB`` exactly when ``pmax = dmax * LSB`` is
writable in the header's 8 characters. That holds for ``dmax = 7 * 2**20 = 7340032`` (87.5 % of positive full scale)
at every ADS1299 gain (e.g. gain 24: pmin = -187500, pmax = 164062.5), so a channel whose codes stay below it maps
codes to uV exactly (the quotient is a short binary fraction, exact in float64). A channel that reaches higher codes
(a railed, disconnected electrode) gets ``dmax = 2**23 - 1`` and ``pmax`` rounded to 8 characters: its codes are
still stored exactly; only its uV scale is then approximate (at most 1 LSB off at the top of the range).

BDF+ cannot express interrupted recordings through edfio (EDF+D is read, not written), so the file is BDF+C:
samples inside gaps are digital 0 and each gap is an annotation ``gap`` lasting the lost stretch; markers are
annotations too. The last data record is padded with zeros to a whole record (annotated ``padding``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from pathlib import Path

import numpy as np

from perifacial.host.decoder import codes_to_uv, lsb_uv

log = logging.getLogger(__name__)

__all__ = ["to_bdf", "to_csv", "to_npz", "bdf_ranges", "bdf_labels", "csv_sidecar", "record_duration"]

DMIN = -(1 << 23)
DMAX_EXACT = 7 << 20
DMAX_FULL = (1 << 23) - 1
MAX_RECORD_BYTES = 61440  # EDF/BDF recommendation for one data record


def bdf_ranges(gain: float, max_code: int) -> tuple[tuple[float, float], tuple[int, int]]:
    """``(physical_range, digital_range)`` for one channel (uV); exact ``code * LSB`` mapping where possible."""
    lsb = float(lsb_uv(gain))
    pmin = DMIN * lsb
    if max_code <= DMAX_EXACT:
        return (pmin, DMAX_EXACT * lsb), (DMIN, DMAX_EXACT)
    return (pmin, DMAX_FULL * lsb), (DMIN, DMAX_FULL)


def record_duration(fs: float, n_channels: int) -> float:
    """Longest data-record duration (s) with a whole number of samples and <= 61440 bytes (3 bytes/sample)."""
    for dur in (1.0, 0.5, 0.25, 0.2, 0.125, 0.1, 0.05, 0.04, 0.025, 0.02, 0.01):
        n = fs * dur
        if abs(n - round(n)) < 1e-9 and 3 * n_channels * n <= MAX_RECORD_BYTES:
            return dur
    return 1.0 / fs


def _prefilter(fs: float) -> str:
    # ADS1299 digital sinc3 decimation filter: -3 dB at 0.262 x data rate; no analogue high-pass (DC coupled)
    return f"HP:DC LP:{0.262 * fs:.0f}Hz sinc3"


def _annotations(rec) -> list[tuple[float, float | None, str]]:
    """Gaps (``gap``, duration = the lost stretch) and markers, each described the same way for every marker of
    one kind (:func:`perifacial.host.handoff.marker_description`, e.g. ``contract:brow_raise`` for every
    repetition), so MNE's ``events_from_annotations`` maps them to few ids; a marker's own value and repetition
    stay in the CSV/NPZ exports and in ``events.tsv`` of a BIDS export."""
    from perifacial.host.handoff import marker_description

    out: list[tuple[float, float | None, str]] = []
    for a, b in rec.gaps:
        out.append((a / rec.fs, (b - a) / rec.fs, "gap"))
    for m in rec.markers:
        if m.get("sample") is None:
            continue
        out.append((m["sample"] / rec.fs, m.get("duration_s") or None, marker_description(m)))
    return sorted(out, key=lambda x: x[0])


def _atomic_target(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _finish(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def to_bdf(rec, path: str | os.PathLike, patient_code: str = "X", equipment: str | None = None) -> Path:
    """Write ``rec`` as BDF+ (see the module docstring). Returns the path. Needs edfio (the ``[bdf]`` or ``[io]``
    extra)."""
    try:
        import edfio
    except ImportError:
        raise ImportError("BDF export needs edfio: pip install 'perifacial[bdf]'") from None

    path = Path(path)
    fs = float(rec.fs)
    nch = rec.n_channels
    dur = record_duration(fs, nch)
    spr = int(round(fs * dur))
    n = rec.n_samples
    n_pad = (-n) % spr if n else spr
    labels = bdf_labels(rec)
    if rec.codes.shape[1] == n and n:
        codes = rec.codes
        if n_pad:
            codes = np.concatenate([codes, np.zeros((nch, n_pad), dtype=codes.dtype)], axis=1)
        signals = []
        for i in range(nch):
            pr, dr = bdf_ranges(float(rec.gains[i]), int(codes[i].max()) if codes.shape[1] else 0)
            signals.append(
                edfio.BdfSignal.from_digital(
                    np.ascontiguousarray(codes[i], dtype=np.int32),
                    fs,
                    label=labels[i],
                    transducer_type="sEMG electrode",
                    physical_dimension="uV",
                    physical_range=pr,
                    digital_range=dr,
                    prefiltering=_prefilter(fs),
                )
            )
    else:
        signals = _physical_signals(edfio, rec, labels, n_pad)
    anns = [edfio.EdfAnnotation(on, du, text) for on, du, text in _annotations(rec)]
    if n_pad and n:
        anns.append(edfio.EdfAnnotation(n / fs, n_pad / fs, "padding"))
    start = rec.info.get("start_unix")
    startdt = _dt.datetime.fromtimestamp(start, _dt.UTC) if start else None
    board = rec.info.get("board") or {}
    equip = equipment or f"perifacial_fw{board.get('firmware', '?')}".replace(" ", "_")
    recording = edfio.Recording(
        startdate=startdt.date() if startdt else None,
        equipment_code=equip[:20],
        additional=(f"fs_measured={rec.fs_measured:.3f}Hz",) if np.isfinite(rec.fs_measured) else (),
    )
    bdf = edfio.Bdf(
        signals,
        patient=edfio.Patient(code=patient_code),
        recording=recording,
        starttime=startdt.time().replace(microsecond=0, tzinfo=None) if startdt else None,
        data_record_duration=dur,
        annotations=anns,
    )
    tmp = _atomic_target(path)
    bdf.write(tmp)
    _finish(tmp, path)
    return path


def bdf_labels(rec) -> list[str]:
    """The 16-character BDF signal labels of ``rec``'s channels: ``EMG <label>`` for EMG channels (the type prefix
    EDF readers such as MNE use), the label alone otherwise."""
    types = rec.types or ["EMG"] * rec.n_channels
    return [
        (f"EMG {lab}" if t == "EMG" and not lab.upper().startswith("EMG") else lab)[:16]
        for lab, t in zip(rec.labels, types)
    ]


def _physical_signals(edfio, rec, labels, n_pad) -> list:
    """BDF signals of an imported recording (no ADC codes): physical values, each channel's range from its own
    minimum and maximum (24-bit quantisation: ``range / 2**24`` resolution); NaN (gaps) written as 0."""
    units = rec.units or ["µV"] * rec.n_channels
    out = []
    for i in range(rec.n_channels):
        x = np.nan_to_num(rec.data[i], nan=0.0)
        if n_pad:
            x = np.concatenate([x, np.zeros(n_pad)])
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 1.0, hi + 1.0
        # 8-character header fields: widen the range outward to what fits
        pr = (_fit8(lo, -1), _fit8(hi, +1))
        unit = "uV" if units[i] == "µV" else units[i][:8]
        out.append(
            edfio.BdfSignal(
                x,
                float(rec.fs),
                label=labels[i],
                physical_dimension=unit,
                physical_range=pr,
                transducer_type="sEMG electrode" if (rec.types or ["EMG"])[i] == "EMG" else "",
            )
        )
    return out


def _fit8(v: float, direction: int) -> float:
    """``v`` rounded outward (``direction`` -1 down, +1 up) to a number whose text fits 8 characters."""
    import math

    for dec in range(6, -1, -1):
        q = 10.0**dec
        r = (math.floor(v * q) if direction < 0 else math.ceil(v * q)) / q
        text = f"{r:.{dec}f}".rstrip("0").rstrip(".") if dec else f"{r:.0f}"
        if len(text) <= 8:
            return float(text)
    raise ValueError(f"physical value {v} does not fit the 8-character EDF/BDF header field")


def to_csv(rec, path: str | os.PathLike, precision: int = 6) -> Path:
    """One row per sample: ``sample,time_s,<labels...>`` in uV (``nan`` inside gaps). ``precision`` decimals
    (6 keeps every code recoverable: the LSB is >= 0.022 uV). Gaps, markers and sync rows go to
    :func:`csv_sidecar` (``<stem>.markers.csv``: not ``<stem>.events.csv``, which is ``perifacial process``'s)."""
    path = Path(path)
    tmp = _atomic_target(path)
    data = rec.data if rec.data.size or rec.n_samples == 0 else codes_to_uv(rec.codes, rec.gains)
    with open(tmp, "w", newline="") as f:
        f.write("sample,time_s," + ",".join(rec.labels) + "\n")
        step = 20000
        fmt = ["%d", "%.6f"] + [f"%.{precision}f"] * rec.n_channels
        for i0 in range(0, rec.n_samples, step):
            i1 = min(rec.n_samples, i0 + step)
            idx = np.arange(i0, i1)
            block = np.column_stack([idx, idx / rec.fs, data[:, i0:i1].T])
            np.savetxt(f, block, fmt=fmt, delimiter=",")
    _finish(tmp, path)
    ev = csv_sidecar(path)
    with open(ev, "w", newline="") as f:
        f.write("kind,sample,time_s,value,label,source\n")
        for a, b in rec.gaps:
            f.write(f"gap,{a},{a / rec.fs:.6f},{b - a},,\n")
        for m in rec.markers:
            s = m.get("sample")
            f.write(
                f"marker,{'' if s is None else s},{'' if s is None else f'{s / rec.fs:.6f}'},{m.get('value', '')},"
                f"{str(m.get('label', '')).replace(',', ';')},{m.get('source', '')}\n"
            )
        for row in rec.sync:
            f.write(f"sync,{row['sample']},{row['sample'] / rec.fs:.6f},{row['value']},,{row['kind']}\n")
    return path


def csv_sidecar(path: str | os.PathLike) -> Path:
    """The gaps/markers/sync table :func:`to_csv` writes beside ``path``: ``<stem>.markers.csv``."""
    path = Path(path)
    return path.with_name(path.stem + ".markers.csv")


def to_npz(rec, path: str | os.PathLike) -> Path:
    """NumPy archive: ``data`` (uV, NaN in gaps), ``codes``, ``status``, ``fs``, ``fs_measured``, ``labels``,
    ``gains``, ``gaps`` [k, 2], ``sync`` (structured), ``markers_json``, ``info_json``, ``first_sample``."""
    path = Path(path)
    tmp = _atomic_target(path)
    data = rec.data if rec.data.size or rec.n_samples == 0 else None
    arrays = dict(
        codes=rec.codes,
        status=rec.status,
        fs=np.float64(rec.fs),
        fs_measured=np.float64(rec.fs_measured),
        labels=np.array(rec.labels),
        gains=np.asarray(rec.gains),
        gaps=np.array(rec.gaps, dtype=np.int64).reshape(-1, 2),
        sync=rec.sync,
        markers_json=np.array(json.dumps(rec.markers, default=str)),
        info_json=np.array(json.dumps(rec.info, default=str)),
        first_sample=np.int64(rec.first_sample),
    )
    if rec.units:
        arrays["units"] = np.array(rec.units)
        arrays["types"] = np.array(rec.types)
    if data is not None:
        arrays["data"] = data
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    _finish(tmp, path)
    return path
