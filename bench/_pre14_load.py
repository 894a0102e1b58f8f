"""The pre-issue-14 ``load`` (format 1 only), frozen as the reference of ``test_bench_load.py``: the same code as
``perifacial.host.recording.load`` and ``perifacial.host.rawlog.read_records`` had before the damage-tolerant
format, so the benchmark compares today's loader with yesterday's in the same run. Not used by the package.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perifacial.firmware import wire
from perifacial.host.clock import fit_clock, unwrap_ticks
from perifacial.host.decoder import Decoder, lsb_uv
from perifacial.host.rawlog import K_END, K_LINK, K_MARKER, K_NOTE, K_RAW, K_SESSION, K_SYNC, KIND_NAMES
from perifacial.host.recording import Recording

log = logging.getLogger(__name__)

FILE_MAGIC = b"PFREC\x00\x01\n"
REC_MAGIC = b"PR"
REC_HDR = struct.Struct("<2sBBId")
REC_HDR_SIZE = REC_HDR.size
CRC = struct.Struct("<I")
MAX_RECORD = 64 << 20


@dataclass
class Record:
    kind: int
    host_time: float
    payload: bytes
    offset: int

    def json(self) -> dict:
        return json.loads(self.payload.decode("utf-8"))


@dataclass
class ReadReport:
    """What the reader saw: ``records`` read, ``torn_tail`` bytes at the end that did not form a whole record,
    ``damaged`` records skipped in the middle (bad CRC) with ``skipped_bytes``."""

    records: int = 0
    torn_tail: int = 0
    damaged: int = 0
    skipped_bytes: int = 0
    file_bytes: int = 0


def read_records(path: str | os.PathLike, report: ReadReport | None = None):
    """Yield :class:`Record` objects from ``path``; tolerant of a torn tail and of damaged records."""
    data = Path(path).read_bytes()
    rep = report if report is not None else ReadReport()
    rep.file_bytes = len(data)
    if not data.startswith(FILE_MAGIC):
        if len(data) < len(FILE_MAGIC) and FILE_MAGIC.startswith(data):
            rep.torn_tail = len(data)
            return
        raise ValueError(f"{path}: not a perifacial recording (bad file magic)")
    mv = memoryview(data)
    i = len(FILE_MAGIC)
    n = len(data)
    while i < n:
        if n - i < REC_HDR_SIZE + CRC.size:
            rep.torn_tail = n - i
            return
        magic, kind, _r, length, t = REC_HDR.unpack_from(data, i)
        end = i + REC_HDR_SIZE + length
        ok = magic == REC_MAGIC and kind in KIND_NAMES and length <= MAX_RECORD
        if ok and end + CRC.size > n:
            rep.torn_tail = n - i
            return
        if ok and zlib.crc32(mv[i:end]) == CRC.unpack_from(data, end)[0]:
            rep.records += 1
            yield Record(kind, t, bytes(mv[i + REC_HDR_SIZE : end]), i)
            i = end + CRC.size
            continue
        # damaged: find the next record magic whose record checks out
        j = data.find(REC_MAGIC, i + 1)
        while j != -1:
            if _valid_at(data, mv, j):
                break
            j = data.find(REC_MAGIC, j + 1)
        if j == -1:
            rep.torn_tail = n - i
            return
        rep.damaged += 1
        rep.skipped_bytes += j - i
        log.warning("%s: damaged record at byte %d, skipped %d bytes", path, i, j - i)
        i = j


def _valid_at(data: bytes, mv: memoryview, i: int) -> bool:
    if len(data) - i < REC_HDR_SIZE + CRC.size:
        return False
    magic, kind, _r, length, _t = REC_HDR.unpack_from(data, i)
    end = i + REC_HDR_SIZE + length
    if magic != REC_MAGIC or kind not in KIND_NAMES or length > MAX_RECORD or end + CRC.size > len(data):
        return False
    return zlib.crc32(mv[i:end]) == CRC.unpack_from(data, end)[0]


_BATCH = 1 << 20
SYNC_DTYPE = np.dtype([("value", "i8"), ("sample", "i8"), ("host_time", "f8"), ("kind", "U8")])


def load(path: str | os.PathLike, data: bool = True) -> Recording:
    """Decode the recording at ``path`` (tolerates a file whose writer was killed mid-record). With
    ``data=False`` the float ``data`` array is left empty (``codes``/``status`` are still there) to save memory."""
    report = ReadReport()
    dec = Decoder()
    session: dict = {}
    blocks = []
    host_markers: list[dict] = []
    host_sync: list[tuple] = []
    notes: dict = {}  # Recorder.note(...) objects, merged into info (e.g. info["sync_display"], the display's capacity)
    link_events: list[dict] = []
    device_events = []
    device_logs: list[str] = []
    end_stats: dict | None = None
    batch: list[bytes] = []
    batch_bytes = 0
    offset = 0
    rec_ends: list[int] = []  # stream offset just past each raw record
    rec_times: list[float] = []  # its arrival time

    def take(res):
        blocks.extend(res.blocks)
        device_events.extend(res.events)
        device_logs.extend(f"[{lg.level}] {lg.text}" for lg in res.logs)

    def decode_batch():
        nonlocal batch, batch_bytes
        if batch:
            take(dec.feed(b"".join(batch)))
            batch, batch_bytes = [], 0

    for r in read_records(path, report):
        if r.kind == K_RAW:
            # decode in ~1 MB batches (fast); arrival times are mapped back per frame through the byte offsets
            batch.append(r.payload)
            batch_bytes += len(r.payload)
            offset += len(r.payload)
            rec_ends.append(offset)
            rec_times.append(r.host_time)
            if batch_bytes >= _BATCH:
                decode_batch()
        elif r.kind == K_SESSION:
            session = r.json()
        elif r.kind == K_MARKER:
            m = r.json()
            m["host_time"] = r.host_time
            host_markers.append(m)
        elif r.kind == K_NOTE:
            notes.update(r.json())
        elif r.kind == K_SYNC:
            s = r.json()
            host_sync.append((s.get("value", 0), s.get("sample"), r.host_time, s.get("kind", "received")))
        elif r.kind == K_LINK:
            ev = r.json()
            ev["host_time"] = r.host_time
            link_events.append(ev)
            if ev.get("state") == "lost":
                decode_batch()
                take(dec.reset_stream())
        elif r.kind == K_END:
            end_stats = r.json()
    decode_batch()
    take(dec.flush())
    if not session:
        raise ValueError(f"{path}: no session header (file empty or not a recording)")
    fs = float(session.get("fs") or 1000.0)
    labels = list(session.get("labels") or [])
    # geometry
    nch = blocks[0].codes.shape[0] if blocks else len(labels) or 24
    nchips = blocks[0].status.shape[0] if blocks else max(1, nch // 8)
    gains = np.asarray(session.get("gains") or [24.0] * nch, dtype=np.float64)
    if gains.size != nch:
        gains = np.full(nch, 24.0)
    if len(labels) != nch:
        labels = [f"CH{i + 1}" for i in range(nch)]
    # place blocks by sample index
    if blocks:
        first = min(b.first_sample for b in blocks)
        stop = max(b.stop_sample for b in blocks)
    else:
        first = stop = 0
    n = stop - first
    codes = np.zeros((nch, n), dtype=np.int32)
    status = np.zeros((nchips, n), dtype=np.uint32)
    have = np.zeros(n, dtype=bool)
    pts_s, pts_t, dev_s, dev_t = [], [], [], []
    ends_arr = np.asarray(rec_ends, dtype=np.int64)
    times_arr = np.asarray(rec_times, dtype=np.float64)
    for b in blocks:
        if b.codes.shape[0] != nch:
            log.warning("block with %d channels in a %d-channel recording skipped", b.codes.shape[0], nch)
            continue
        i0 = b.first_sample - first
        codes[:, i0 : i0 + b.n] = b.codes
        status[:, i0 : i0 + b.n] = b.status
        have[i0 : i0 + b.n] = True
        if b.frame_end is not None and rec_ends:
            k = np.minimum(np.searchsorted(ends_arr, b.frame_end - 1, side="right"), ends_arr.size - 1)
            pts_s.append(b.frame_first + b.frame_n - 1)
            pts_t.append(times_arr[k])
        dev_s.append(b.frame_first)
        dev_t.append(b.device_time_us)
    gaps = _runs(~have)
    uv = np.empty((nch, 0)) if not data else codes * lsb_uv(gains)[:, None]
    if data and gaps:
        for a, b_ in gaps:
            uv[:, a:b_] = np.nan
    clock = fit_clock(np.concatenate(pts_s), np.concatenate(pts_t), fs) if pts_s else None
    fs_measured = clock.fs if clock is not None else float("nan")
    fs_device = float("nan")
    if dev_s:
        ds = np.concatenate(dev_s)
        dt = unwrap_ticks(np.concatenate(dev_t), wire.TICKS_PERIOD)
        if ds.size >= 2 and ds[-1] > ds[0] and dt[-1] != dt[0]:
            A = np.vstack([ds.astype(np.float64), np.ones(ds.size)]).T
            slope = np.linalg.lstsq(A, dt.astype(np.float64), rcond=None)[0][0]
            fs_device = 1e6 / slope if slope > 0 else float("nan")

    def t_of(sample_abs):
        return float(clock.time_of(sample_abs)) if clock is not None else float("nan")

    markers = []
    for m in host_markers:
        s = m.get("sample")
        markers.append({**m, "sample": None if s is None else int(s) - first, "source": "host"})
    sync_rows = [(int(v), (None if s is None else int(s) - first), float(t), str(k)) for v, s, t, k in host_sync]
    for ev in device_events:
        if ev.kind == wire.EV_MARKER:
            markers.append(
                {
                    "value": ev.value,
                    "label": "",
                    "sample": ev.sample - first,
                    "source": "board",
                    "host_time": t_of(ev.sample),
                    "device_time_us": ev.device_time_us,
                }
            )
        elif ev.kind == wire.EV_DISPLAY:
            sync_rows.append((int(ev.value), ev.sample - first, t_of(ev.sample), "sampled"))
    markers.sort(key=lambda m: (m["sample"] is None, m["sample"] or 0))
    sync = np.array([(v, -1 if s is None else s, t, k) for v, s, t, k in sync_rows], dtype=SYNC_DTYPE)
    if sync.size:
        sync = sync[np.argsort(sync["sample"], kind="stable")]
    stats = dec.stats.as_dict()
    stats.update({"file_" + k: v for k, v in report.__dict__.items()})
    stats["complete"] = end_stats is not None
    if end_stats is not None:
        stats["writer"] = end_stats.get("stats", {})
    return Recording(
        data=uv,
        codes=codes,
        status=status,
        fs=fs,
        fs_measured=fs_measured,
        fs_device=fs_device,
        labels=labels,
        gains=gains,
        gaps=gaps,
        markers=markers,
        sync=sync,
        info={**session, **notes},
        stats=stats,
        first_sample=first,
        clock=clock,
        link_events=link_events,
        device_logs=device_logs,
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True in a bool array."""
    if mask.size == 0 or not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops)]
