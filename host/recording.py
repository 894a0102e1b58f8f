"""Lossless recording of a board session and loading it back.

Recording writes the raw log of :mod:`perifacial.host.rawlog`: the link bytes exactly as received (with their host
arrival times), a session header (board info, configuration, montage labels, software version, start time),
host markers, host-driven display changes and link drops. Nothing is decoded into the file, so the file holds
what the board sent even if a later decoder changes; :func:`load` decodes it into a :class:`Recording`.

``Board.record(path, duration_s=None, display=None, progress=True)`` is the one-call form; :class:`Recorder` is the
building block for custom loops (attach to a board, pump, close).

Display drivers (issue 7) hook in through the ``display`` argument: any object with ``attach(board, recorder)`` and
``detach()``; it logs each change with :meth:`Recorder.sync` (kind "received" for host-driven displays: the mark
is when the host *received* data, not when it was sampled). Board-driven displays need no host hook: the board's
EV_DISPLAY events are in the raw stream and come back from :func:`load` as sync rows of kind "sampled".
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perifacial.firmware import wire
from perifacial.host import rawlog
from perifacial.host.clock import ClockFit, fit_clock, unwrap_ticks
from perifacial.host.decoder import Decoder, lsb_uv

log = logging.getLogger(__name__)

__all__ = ["Recorder", "Recording", "load", "record", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _software_version() -> str:
    from perifacial._version import __version__

    return __version__


def session_header(board, extra: dict | None = None) -> dict:
    """The session header written first in every recording."""
    now = time.time()
    info = dict(board.info) if board is not None else {}
    labels = list(board.labels) if board is not None else []
    montage = None
    try:
        from perifacial.dsp.montage import default_montage

        m = default_montage()
        if list(m.labels) == labels:
            montage = m.to_dict()
    except Exception:  # noqa: BLE001 - montage is optional metadata
        montage = None
    hdr = {
        "format": "perifacial-raw",
        "format_version": FORMAT_VERSION,
        "software": {"name": "perifacial", "version": _software_version(), "python": sys.version.split()[0]},
        "url": getattr(board, "url", None),
        "start_unix": now,
        "start_iso": _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat(),
        "start_monotonic": time.monotonic(),
        "board": info,
        "fs": float(board.fs) if board is not None else None,
        "gains": [float(g) for g in board.gains] if board is not None else None,
        "labels": labels,
        "montage": montage,
        "vref": 4.5,
    }
    if extra:
        hdr.update(extra)
    return hdr


class Recorder:
    """Append a board's session to ``path``. ``attach(board)`` hooks the raw byte stream, link changes and
    host-side markers; ``close()`` writes the final statistics and fsyncs."""

    def __init__(self, path: str | os.PathLike, session: dict, fsync_interval: float = 1.0, overwrite: bool = False):
        self.path = Path(path)
        self.writer = rawlog.RawLogWriter(self.path, fsync_interval=fsync_interval, overwrite=overwrite)
        self.writer.write_json(rawlog.K_SESSION, session)
        self.session = session
        self.board = None
        self.markers = 0
        self.sync_events = 0

    # hooks
    def raw(self, chunk: bytes, host_time: float) -> None:
        self.writer.write(rawlog.K_RAW, chunk, host_time)

    def link(self, state: str, host_time: float) -> None:
        self.writer.write_json(rawlog.K_LINK, {"state": state}, host_time)

    def attach(self, board) -> "Recorder":
        self.board = board
        board.add_raw_listener(self.raw)
        board.add_link_listener(self.link)
        return self

    def detach(self) -> None:
        if self.board is not None:
            self.board.remove_raw_listener(self.raw)
            self.board.remove_link_listener(self.link)
            self.board = None

    # host-side annotations
    def _next_sample(self) -> int | None:
        return None if self.board is None else self.board.decoder.next_sample

    def marker(self, value: int | str = 0, label: str = "", sample: int | None = None, host_time: float | None = None,
               **extra) -> None:
        """Log a host marker. ``sample`` defaults to the next sample index the host expects (i.e. the marker is
        placed when the host knew about it, at receive time)."""
        t = time.monotonic() if host_time is None else host_time
        s = self._next_sample() if sample is None else int(sample)
        self.writer.write_json(rawlog.K_MARKER, {"value": value, "label": label, "sample": s, **extra}, t)
        self.markers += 1

    def sync(self, value: int, sample: int | None = None, kind: str = "received", host_time: float | None = None,
             **extra) -> None:
        """Log a display change (issue 7): counter ``value`` shown from ``sample`` on; ``kind`` "received"
        (host-driven: marks when data were received) or "sampled" (board-driven)."""
        t = time.monotonic() if host_time is None else host_time
        s = self._next_sample() if sample is None else int(sample)
        self.writer.write_json(rawlog.K_SYNC, {"value": int(value), "sample": s, "kind": kind, **extra}, t)
        self.sync_events += 1

    def note(self, **obj) -> None:
        self.writer.write_json(rawlog.K_NOTE, obj)

    def close(self, stats: dict | None = None) -> None:
        if self.writer.closed:
            return
        self.detach()
        end = {"stop_unix": time.time(), "stats": stats or {}}
        self.writer.write_json(rawlog.K_END, end)
        self.writer.close()


class Progress:
    """A one-line live status on stderr: elapsed, samples, measured rate, gaps, CRC errors, link."""

    def __init__(self, board, stream=None, interval: float = 0.5, enabled: bool = True):
        self.board = board
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self.interval = interval if self.tty else max(interval, 10.0)  # a log file gets a line every 10 s
        self.enabled = enabled
        self.t0 = time.monotonic()
        self._last = 0.0
        self._hist: list[tuple[float, int]] = []

    def line(self, samples: int) -> str:
        now = time.monotonic()
        el = now - self.t0
        self._hist.append((now, samples))
        while len(self._hist) > 2 and now - self._hist[0][0] > 5.0:
            self._hist.pop(0)
        (ta, sa) = self._hist[0]
        rate = (samples - sa) / (now - ta) if now > ta else 0.0
        st = self.board.stats
        lost = sum(b - a for a, b in self.board.gaps)
        h, rem = divmod(int(el), 3600)
        m, s = divmod(rem, 60)
        return (f"rec {h:02d}:{m:02d}:{s:02d}  samples {samples:,}  rate {rate:,.1f} Hz  "
                f"gaps {len(self.board.gaps)} ({lost:,} samples)  CRC errors {st.crc_errors}  link {self.board.link}")

    def update(self, samples: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            if self.tty:
                self.stream.write("\r" + self.line(samples) + "\x1b[K")
            else:
                self.stream.write(self.line(samples) + "\n")
            self.stream.flush()

    def done(self, samples: int) -> None:
        if self.enabled:
            self.update(samples, force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


@dataclass
class RecordSummary:
    """What :func:`record` did: ``path``, ``samples`` received, ``gaps`` (sample ranges), ``stats`` (decoder
    counters), ``elapsed_s`` host seconds, ``fsyncs``."""

    path: Path
    samples: int
    gaps: list
    stats: dict
    elapsed_s: float
    fsyncs: int
    reconnects: int = 0


def record(board, path, duration_s: float | None = None, display=None, progress: bool = True,
           overwrite: bool = False, session_extra: dict | None = None, stop_event=None,
           fsync_interval: float = 1.0) -> RecordSummary:
    """Record ``board`` to ``path`` for ``duration_s`` seconds of samples (at the nominal rate; until Ctrl-C or
    ``stop_event.is_set()`` if None). Starts the board if it is not running and stops it at the end. Ctrl-C ends
    the recording cleanly (the file is closed and complete)."""
    fs = board.fs
    target = None if duration_s is None else int(round(duration_s * fs))
    rec = Recorder(path, session_header(board, session_extra), fsync_interval=fsync_interval, overwrite=overwrite)
    rec.attach(board)
    prog = Progress(board, enabled=progress)
    if display is not None:
        display.attach(board, rec)
    first: int | None = None
    got = 0
    t0 = time.monotonic()
    started_here = False
    try:
        if not board.running:
            board.start()
            started_here = True
        while target is None or got < target:
            if stop_event is not None and stop_event.is_set():
                break
            board.pump(0.05)
            blocks = board.drain()
            if blocks:
                if first is None:
                    first = blocks[0].first_sample
                got = blocks[-1].stop_sample - first
            prog.update(got)
    except KeyboardInterrupt:
        log.info("recording interrupted by the user")
    finally:
        if display is not None:
            try:
                display.detach()
            except Exception:  # noqa: BLE001
                log.exception("display detach failed")
        if started_here:
            try:
                board.stop()
                # collect what the board sent before the stop took effect
                t_end = time.monotonic() + 0.2
                while time.monotonic() < t_end and board.pump(0.02):
                    pass
                board.drain()
            except Exception as exc:  # noqa: BLE001 - the file must be closed whatever happens
                log.warning("stopping the board failed: %s", exc)
        prog.done(got)
        stats = board.stats.as_dict()
        rec.close({**stats, "reconnects": board.reconnects, "host_gaps": board.gaps})
    return RecordSummary(Path(path), got, list(board.gaps), stats, time.monotonic() - t0, rec.writer.fsyncs,
                         board.reconnects)


# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Recording:
    """A loaded recording.

    ``data`` float64 uV ``[channels, samples]`` with NaN inside gaps; ``codes`` int32 (0 in gaps); ``status``
    uint32 ``[n_chips, samples]`` chip status words (0 in gaps); column ``i`` is device sample ``first_sample + i``.
    ``fs`` nominal rate (Hz); ``fs_measured`` from the robust sample -> host clock fit (``clock``; NaN if too
    short); ``fs_device`` from the board's own microsecond clock. ``labels`` channel names; ``gains`` per channel;
    ``gaps`` list of ``(start, stop)`` column ranges never received; ``markers`` dicts (``sample``, ``value``,
    ``label``, ``source`` "host"/"board", ``host_time``); ``sync`` rows ``(value, sample, host_time, kind)``;
    ``info`` the session header; ``stats`` decoder counters and reader report.

    Recordings read from other formats (:func:`perifacial.host.readers.load`) have no ADC codes (``codes`` is
    ``[channels, 0]``, ``status`` ``[0, samples]``, ``gains`` NaN); their ``data`` rows are in ``units`` (µV for
    every voltage channel), ``types`` says which rows are EMG, and ``montage`` (or None) places channels in facial
    regions (:attr:`region_context`).
    """

    data: np.ndarray
    codes: np.ndarray
    status: np.ndarray
    fs: float
    fs_measured: float
    fs_device: float
    labels: list[str]
    gains: np.ndarray
    gaps: list[tuple[int, int]]
    markers: list[dict]
    sync: np.ndarray
    info: dict
    stats: dict
    first_sample: int = 0
    clock: ClockFit | None = None
    link_events: list[dict] = field(default_factory=list)
    device_logs: list[str] = field(default_factory=list)
    #: unit of each row of ``data`` ("µV" for every voltage channel; other channels keep their own unit)
    units: list[str] = field(default_factory=list)
    #: channel type of each row ("EMG", "MISC", ...; BIDS/MNE channel types)
    types: list[str] = field(default_factory=list)
    #: :class:`~perifacial.dsp.montage.Montage` placing channels in facial regions, or None (no region context)
    montage: Any = None

    @property
    def n_samples(self) -> int:
        # imported recordings carry no ADC codes (``codes`` is [channels, 0]): their length is the data's
        if self.codes.shape[1] == 0 and self.data.ndim == 2 and self.data.shape[1]:
            return int(self.data.shape[1])
        return int(self.codes.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def region_context(self) -> bool:
        """True when channels are placed in facial regions (a montage), so that spotting can unite a region's
        channels and tell expressions from blinks and jaw artefacts; False: every channel is spotted on its own."""
        return self.montage is not None

    def pick_emg(self) -> "Recording":
        """The EMG channels only (a copy sharing arrays), or ``self`` when all channels are EMG. Other channels
        (skin conductance, force, stimulus waves of an imported file) stay out of the EMG chain."""
        from perifacial.host.handoff import pick

        return pick(self, [i for i, t in enumerate(self.types) if t == "EMG"]) if self.types and \
            any(t != "EMG" for t in self.types) else self

    def to_mne(self, **kwargs):
        """An ``mne.io.RawArray`` (see :func:`perifacial.host.handoff.to_mne`)."""
        from perifacial.host.handoff import to_mne

        return to_mne(self, **kwargs)

    @classmethod
    def from_mne(cls, raw, **kwargs) -> "Recording":
        """A Recording from an MNE ``Raw`` (see :func:`perifacial.host.handoff.from_mne`)."""
        from perifacial.host.handoff import from_mne

        return from_mne(raw, **kwargs)

    def to_pandas(self, what: str = "events"):
        """``pandas.DataFrame`` of the markers/gaps/sync rows (``"events"``) or of the samples (``"data"``);
        see :func:`perifacial.host.handoff.recording_to_pandas`."""
        from perifacial.host.handoff import recording_to_pandas

        return recording_to_pandas(self, what)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def lost_samples(self) -> int:
        return int(sum(b - a for a, b in self.gaps))

    @property
    def leadoff(self) -> np.ndarray:
        """bool ``[channels, samples]``: P or N lead-off bit (ValueError for an imported recording: no status)."""
        from perifacial.host.board import leadoff_bits

        if self.status.shape[0] == 0:
            raise ValueError("no chip status words (imported recording): lead-off is not known")
        return leadoff_bits(self.status)

    @property
    def valid(self) -> np.ndarray:
        """bool ``[samples]``: True where the sample was received."""
        v = np.ones(self.n_samples, dtype=bool)
        for a, b in self.gaps:
            v[a:b] = False
        return v

    def host_time(self, sample):
        """Host monotonic time (s) of a column index via the clock fit."""
        if self.clock is None:
            raise ValueError("no clock fit (recording too short)")
        return self.clock.time_of(np.asarray(sample) + self.first_sample)


_BATCH = 1 << 20
SYNC_DTYPE = np.dtype([("value", "i8"), ("sample", "i8"), ("host_time", "f8"), ("kind", "U8")])


def load(path: str | os.PathLike, data: bool = True) -> Recording:
    """Decode the recording at ``path`` (tolerates a file whose writer was killed mid-record). With
    ``data=False`` the float ``data`` array is left empty (``codes``/``status`` are still there) to save memory."""
    report = rawlog.ReadReport()
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

    for r in rawlog.read_records(path, report):
        if r.kind == rawlog.K_RAW:
            # decode in ~1 MB batches (fast); arrival times are mapped back per frame through the byte offsets
            batch.append(r.payload)
            batch_bytes += len(r.payload)
            offset += len(r.payload)
            rec_ends.append(offset)
            rec_times.append(r.host_time)
            if batch_bytes >= _BATCH:
                decode_batch()
        elif r.kind == rawlog.K_SESSION:
            session = r.json()
        elif r.kind == rawlog.K_MARKER:
            m = r.json()
            m["host_time"] = r.host_time
            host_markers.append(m)
        elif r.kind == rawlog.K_NOTE:
            notes.update(r.json())
        elif r.kind == rawlog.K_SYNC:
            s = r.json()
            host_sync.append((s.get("value", 0), s.get("sample"), r.host_time, s.get("kind", "received")))
        elif r.kind == rawlog.K_LINK:
            ev = r.json()
            ev["host_time"] = r.host_time
            link_events.append(ev)
            if ev.get("state") == "lost":
                decode_batch()
                take(dec.reset_stream())
        elif r.kind == rawlog.K_END:
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
            markers.append({"value": ev.value, "label": "", "sample": ev.sample - first, "source": "board",
                            "host_time": t_of(ev.sample), "device_time_us": ev.device_time_us})
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
        data=uv, codes=codes, status=status, fs=fs, fs_measured=fs_measured, fs_device=fs_device, labels=labels,
        gains=gains, gaps=gaps, markers=markers, sync=sync, info={**session, **notes}, stats=stats, first_sample=first,
        clock=clock, link_events=link_events, device_logs=device_logs,
    )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of True in a bool array."""
    if mask.size == 0 or not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops)]
