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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from perifacial.dsp.intervals import runs
from perifacial.errors import BoardError, BoardTimeout, PerifacialError
from perifacial.firmware import wire
from perifacial.host import rawlog
from perifacial.host.clock import ClockFit, fit_clock, unwrap_ticks
from perifacial.host.decoder import Decoder, leadoff_bits, lsb_uv

if TYPE_CHECKING:
    from perifacial.host.segments import Segment

log = logging.getLogger(__name__)

__all__ = ["Recorder", "Recording", "SilenceError", "load", "record", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _software_version() -> str:
    from perifacial import __version__

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
        "start_iso": _dt.datetime.fromtimestamp(now, _dt.UTC).isoformat(),
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
    host-side markers; ``close()`` writes the final statistics and fsyncs.

    The session header is written first, again after every ``session_every`` bytes of link data, and once more at
    close, so one damaged copy never makes the file unloadable. A write error (disk full...) raises
    :class:`perifacial.errors.StorageError` from the hook that hit it; :attr:`failed` then holds it.

    Parameters
    ----------
    path : str or path-like
        The ``.pfr`` file to create.
    session : dict
        The session header (:func:`session_header`).
    fsync_interval : float
        Seconds between fsyncs (a crash loses at most this much).
    overwrite : bool
        Replace an existing file (default: refuse).
    session_every : int
        Bytes of link data between repeated session headers (default 4 MiB).

    Examples
    --------
    >>> import os, tempfile
    >>> from perifacial.host import Recorder, load, open_board
    >>> from perifacial.host.recording import session_header
    >>> path = os.path.join(tempfile.mkdtemp(), "s01.pfr")
    >>> with open_board("sim://?seed=1") as board:
    ...     rec = Recorder(path, session_header(board)).attach(board)
    ...     _ = board.start()
    ...     for block in board.blocks(n_samples=100):
    ...         pass
    ...     rec.marker(1, "stimulus")
    ...     _ = board.stop()
    ...     rec.close()
    >>> r = load(path)
    >>> r.n_samples >= 100, [m["label"] for m in r.markers]
    (True, ['stimulus'])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        session: dict,
        fsync_interval: float = 1.0,
        overwrite: bool = False,
        session_every: int = 4 << 20,
    ):
        self.path = Path(path)
        self.writer = rawlog.RawLogWriter(self.path, fsync_interval=fsync_interval, overwrite=overwrite)
        self.session = session
        self.session_every = int(session_every)
        self._since_session = 0
        self.writer.write_json(rawlog.K_SESSION, session)
        self.board = None
        self.markers = 0
        self.sync_events = 0

    @property
    def failed(self):
        """The write error that stopped this recorder (None while writing works)."""
        return self.writer.failed

    # hooks
    def raw(self, chunk: bytes, host_time: float) -> None:
        self.writer.write(rawlog.K_RAW, chunk, host_time)
        self._since_session += len(chunk)
        if self._since_session >= self.session_every:
            self._since_session = 0
            self.writer.write_json(rawlog.K_SESSION, self.session, host_time)

    def link(self, state: str, host_time: float) -> None:
        self.writer.write_json(rawlog.K_LINK, {"state": state}, host_time)

    def attach(self, board) -> Recorder:
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

    def marker(
        self, value: int | str = 0, label: str = "", sample: int | None = None, host_time: float | None = None, **extra
    ) -> None:
        """Log a host marker. ``sample`` defaults to the next sample index the host expects (i.e. the marker is
        placed when the host knew about it, at receive time)."""
        t = time.monotonic() if host_time is None else host_time
        s = self._next_sample() if sample is None else int(sample)
        self.writer.write_json(rawlog.K_MARKER, {"value": value, "label": label, "sample": s, **extra}, t)
        self.markers += 1

    def sync(
        self, value: int, sample: int | None = None, kind: str = "received", host_time: float | None = None, **extra
    ) -> None:
        """Log a display change (issue 7): counter ``value`` shown from ``sample`` on; ``kind`` "received"
        (host-driven: marks when data were received) or "sampled" (board-driven)."""
        t = time.monotonic() if host_time is None else host_time
        s = self._next_sample() if sample is None else int(sample)
        self.writer.write_json(rawlog.K_SYNC, {"value": int(value), "sample": s, "kind": kind, **extra}, t)
        self.sync_events += 1

    def note(self, **obj) -> None:
        self.writer.write_json(rawlog.K_NOTE, obj)

    def close(self, stats: dict | None = None) -> None:
        """Write the closing session copy and the final statistics, fsync and close. After a write error the file
        is closed as it is (what the OS took is kept) and the error is not raised again."""
        if self.writer.closed:
            return
        self.detach()
        try:
            if self.writer.failed is None:
                self.writer.write_json(rawlog.K_SESSION, self.session)
                self.writer.write_json(rawlog.K_END, {"stop_unix": time.time(), "stats": stats or {}})
        except OSError as exc:
            log.error("%s", exc)
        finally:
            try:
                self.writer.close()
            except OSError as exc:
                log.error("%s", exc)


class Progress:
    """The live status of a recording, through tqdm (:func:`perifacial.progress.progress_bar`): samples (of the
    requested total), elapsed time, gaps, CRC errors, the link, and the measured rate; a live line on a terminal, a
    widget in Jupyter, nothing in a log or pipe. The rate is shown only while it is a sample rate (within
    ``HOST_RATE_TOLERANCE`` of the nominal one); a source running faster than real time (``sim://?realtime=0``)
    shows how many times real time instead."""

    def __init__(self, board, stream=None, interval: float = 0.5, enabled: bool = True, total: int | None = None):
        from perifacial.progress import progress_bar

        self.board = board
        self.interval = interval
        fmt = (
            "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} samples [{elapsed}<{remaining}{postfix}]"
            if total
            else "{desc}{n_fmt} samples [{elapsed}{postfix}]"
        )
        self.bar = progress_bar(
            total=total, desc="rec ", unit="samples", enabled=enabled, file=stream, mininterval=interval, bar_format=fmt
        )
        self.t0 = time.monotonic()
        self._last = 0.0
        self._hist: list[tuple[float, int]] = []

    def rate_text(self, samples: int) -> str:
        """The rate over the last 5 s: ``"rate 1,000.2 Hz"``, or ``"12.3x real time"`` when it cannot be a
        sample rate."""
        now = time.monotonic()
        self._hist.append((now, samples))
        while len(self._hist) > 2 and now - self._hist[0][0] > 5.0:
            self._hist.pop(0)
        (ta, sa) = self._hist[0]
        if now <= ta or samples <= sa:
            return "rate -"
        rate = (samples - sa) / (now - ta)
        fs = float(self.board.fs)
        if abs(rate / fs - 1.0) > HOST_RATE_TOLERANCE:
            return f"{rate / fs:,.1f}x real time"
        return f"rate {rate:,.1f} Hz"

    def line(self, samples: int) -> str:
        st = self.board.stats
        lost = sum(b - a for a, b in self.board.gaps)
        return (
            f"{self.rate_text(samples)}  gaps {len(self.board.gaps)} ({lost:,} samples)  CRC errors "
            f"{st.crc_errors}  link {self.board.link}"
        )

    def update(self, samples: int, force: bool = False) -> None:
        if self.bar.disable:
            return
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            self.bar.set_postfix_str(self.line(samples), refresh=False)
            self.bar.update(max(0, min(samples, self.bar.total or samples) - self.bar.n))

    def done(self, samples: int) -> None:
        self.update(samples, force=True)
        self.bar.close()


@dataclass
class RecordSummary:
    """What :func:`record` did: ``path``, ``samples`` (sample positions covered, gaps and silences included, at the
    nominal rate), ``gaps`` (sample ranges of the last segment the board reported), ``stats`` (decoder counters),
    ``elapsed_s`` host seconds, ``fsyncs``, ``reconnects``, ``events`` (board reboots and silences noticed, dicts
    from :class:`perifacial.host.watch.WatchEvent`), ``segments`` (acquisition sessions: 1 + restarts),
    ``silent_samples`` (silence counted as gap between segments)."""

    path: Path
    samples: int
    gaps: list
    stats: dict
    elapsed_s: float
    fsyncs: int
    reconnects: int = 0
    events: list = field(default_factory=list)
    segments: int = 1
    silent_samples: int = 0


class SilenceError(PerifacialError, TimeoutError):
    """The board sent no samples for longer than ``max_silence_s`` (see :func:`record`)."""


_REARM_KEYS = ("rate", "gain", "mux", "enabled", "bias", "lead_off", "samples_per_frame", "test_amp_2x", "srb1")


def _rearm(board, rebooted: bool) -> bool:
    """Start acquisition again. After a reboot (the board answers: it just sent its boot log) restore the
    configuration and start, waiting for the answers; True if that worked. A silent board may not answer at all:
    ``start`` is only sent (no wait), and a restart of its sample index shows it took effect; returns False."""
    from perifacial.host.transport import TransportError

    try:
        if not rebooted:
            board.send("start")
            log.warning("sent start to the silent board")
            return False
        cfg = board.config
        settings = {k: cfg[k] for k in _REARM_KEYS if k in cfg}
        if settings:
            board.configure(**settings)
        board.start()
        log.warning("acquisition re-armed")
        return True
    except (BoardError, BoardTimeout, TransportError) as exc:
        log.warning("could not re-arm acquisition (%s); trying again", exc)
        return False


def record(
    board,
    path,
    duration_s: float | None = None,
    display=None,
    progress: bool = True,
    overwrite: bool = False,
    session_extra: dict | None = None,
    stop_event=None,
    fsync_interval: float = 1.0,
    silence_s: float = 2.0,
    max_silence_s: float | None = None,
) -> RecordSummary:
    """Record ``board`` to ``path`` for ``duration_s`` seconds (until Ctrl-C or ``stop_event.is_set()`` if None).

    Starts the board if it is not running and stops it at the end; Ctrl-C ends the recording cleanly (the file is
    closed and complete). ``duration_s`` counts sample positions at the nominal rate, gaps and silences included,
    so a recording always ends after about ``duration_s`` (on the board's clock: virtual time for the fast virtual
    board) even if the board stops sending. A board that reboots or sends no samples for ``silence_s`` seconds is
    reported (log warning, a note in the file, ``RecordSummary.events``) and re-armed (its configuration restored
    after a reboot); the silent time is a gap between two segments of the file. With ``max_silence_s`` a silence
    that long raises :class:`SilenceError` instead (the file is closed and keeps everything received). A write
    error raises :class:`perifacial.errors.StorageError` after closing the file with what the OS took.
    """
    from perifacial.host.watch import AcquisitionWatch, board_clock

    fs = board.fs
    target = None if duration_s is None else int(round(duration_s * fs))
    rec = Recorder(path, session_header(board, session_extra), fsync_interval=fsync_interval, overwrite=overwrite)
    rec.attach(board)
    prog = Progress(board, enabled=progress, total=target)
    if display is not None:
        display.attach(board, rec)
    clock = board_clock(board)
    got = 0  # sample positions covered: closed segments + silences + the current segment
    closed = 0
    silent_samples = 0
    first: int | None = None  # the first segment's first sample
    seg_first: int | None = None
    last_stop: int | None = None
    t_last_block: float | None = None
    new_segment = False
    segments = 0
    events: list[dict] = []
    t0 = time.monotonic()
    c0 = clock()
    deadline = None if duration_s is None else c0 + duration_s + max(1.0, 0.05 * duration_s)
    started_here = False
    watch = None
    try:
        if not board.running:
            board.start()
            started_here = True
        watch = AcquisitionWatch(board, silence_s=min(silence_s, max_silence_s or silence_s), clock=clock)
        while target is None or got < target:
            if stop_event is not None and stop_event.is_set():
                break
            if deadline is not None and clock() >= deadline:
                log.warning("recording ended at its duration with %d of %d samples", got, target)
                break
            board.pump(0.05)
            blocks = board.drain()
            now = clock()
            left = sum(b.n for b in blocks)  # samples from this block to the last one of this read
            for blk in blocks:
                restart = last_stop is not None and blk.first_sample < last_stop
                if seg_first is None or new_segment or restart:
                    if seg_first is not None:
                        # silence: from the last sample before to the first sample of this block (it arrived last)
                        gap = max(0, int(round((now - left / fs - t_last_block) * fs)))
                        silent_samples += gap
                        closed += last_stop - seg_first + gap
                    seg_first = last_stop = blk.first_sample
                    if first is None:
                        first = seg_first
                    segments += 1
                    new_segment = False
                last_stop = max(last_stop, blk.stop_sample)
                t_last_block = now
                left -= blk.n
                got = closed + (last_stop - seg_first)
            ev = watch.check(sum(b.n for b in blocks))
            if ev is not None:
                events.append(ev.to_dict())
                log.warning(
                    "%s: %s (%s)", board.url, "board rebooted" if ev.kind == "reboot" else "board silent", ev.detail
                )
                rec.note(board_events=events)
                if max_silence_s is not None and ev.silent_s >= max_silence_s:
                    raise SilenceError(
                        f"{board.url}: {ev.detail} (--max-silence {max_silence_s:g} s); what was "
                        f"received so far is in {path}"
                    )
                if _rearm(board, rebooted=ev.kind == "reboot"):
                    new_segment = True
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
                if rec.failed is not None:
                    rec.detach()  # nothing more can be written
                board.stop()
                # collect what the board sent before the stop took effect
                t_end = time.monotonic() + 0.2
                while time.monotonic() < t_end and board.pump(0.02):
                    pass
                board.drain()
            except Exception as exc:  # noqa: BLE001 - the file must be closed whatever happens
                log.warning("stopping the board failed: %s", exc)
        prog.done(got)
        if target is not None and first is not None:
            # the board keeps sending until the stop takes effect; the raw log keeps those bytes (lossless), and
            # load() ends the recording at exactly the requested length
            rec.note(duration_samples={"first_sample": int(first), "n_samples": int(target)})
            got = min(got, target)
        stats = board.stats.as_dict()
        rec.close(
            {
                **stats,
                "reconnects": board.reconnects,
                "host_gaps": board.gaps,
                "board_events": events,
                "silent_samples": silent_samples,
            }
        )
    return RecordSummary(
        Path(path),
        got,
        list(board.gaps),
        stats,
        time.monotonic() - t0,
        rec.writer.fsyncs,
        board.reconnects,
        events,
        max(segments, 1),
        silent_samples,
    )


# ----------------------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class Recording:
    """A loaded recording (see :func:`load`). Column ``i`` is device sample ``first_sample + i`` (in one segment).

    A recording made with a duration (``record(duration_s=...)``, ``--seconds``) has exactly that many samples;
    what the board sent before its stop took effect stays in the raw file and is counted in
    ``stats["samples_after_requested_end"]``.

    Recordings read from other formats (:func:`perifacial.host.readers.load`) have no ADC codes (``codes`` is
    ``[channels, 0]``, ``status`` ``[0, samples]``, ``gains`` NaN).

    Attributes
    ----------
    data : ndarray, float64 ``[channels, samples]``
        Microvolts, NaN inside gaps (empty with ``load(..., data=False)``).
    codes : ndarray, int32 ``[channels, samples]``
        Raw ADC codes (0 in gaps).
    status : ndarray, uint32 ``[n_chips, samples]``
        Chip status words (0 in gaps).
    fs : float
        Nominal rate, Hz.
    fs_measured : float
        Rate from the robust sample -> host clock fit (``clock``), Hz; NaN if too short, and NaN when more than
        ``HOST_RATE_TOLERANCE`` (5 %) off nominal: a source running faster than real time, such as
        ``sim://?realtime=0``, has no host-clock sample rate.
    fs_device : float
        Rate from the board's own microsecond clock, Hz.
    labels : list of str
        Channel names.
    gains : ndarray ``[channels]``
        ADS1299 gain per channel.
    gaps : list of (int, int)
        ``[start, stop)`` column ranges never received.
    markers : list of dict
        ``sample``, ``value``, ``label``, ``source`` ("host"/"board"), ``host_time``.
    sync : structured ndarray
        Display changes: ``(value, sample, host_time, kind)``.
    info : dict
        The session header (board, configuration, software, start time) and recorder notes.
    stats : dict
        Decoder counters and the reader's report.
    segments : list of :class:`~perifacial.host.segments.Segment`
        One per acquisition session in the file (a reboot or stop/start of the board restarts its sample index):
        columns in arrival order, column ``i`` of segment ``s`` is device sample ``s.first_sample + i - s.start``;
        ``first_sample`` is the first segment's. Segment boundaries are gaps too.
    units : list of str
        Unit of each row of ``data`` (µV for every voltage channel).
    types : list of str
        Channel type of each row ("EMG", "MISC", ...: BIDS/MNE channel types).
    montage : :class:`~perifacial.dsp.montage.Montage` or None
        Places channels in facial regions (:attr:`region_context`); None: no region context.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from perifacial.host import load, open_board
    >>> from perifacial.host.recording import record
    >>> path = Path(tempfile.mkdtemp()) / "s02.pfr"
    >>> with open_board("sim://?seed=2") as board:
    ...     summary = record(board, path, duration_s=0.2, progress=False)
    >>> rec = load(path)
    >>> rec                                       # one line (a table in Jupyter)
    <Recording: 24 ch x 200 samples (0.200 s) at 1000 Hz, 0 gaps (0 samples lost), 0 markers, board sim:pico2w>
    >>> rec.n_channels, rec.n_samples, rec.duration_s, rec.lost_samples, bool(rec.valid.all())
    (24, 200, 0.2, 0, True)
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
    segments: list = field(default_factory=list)  #: :class:`perifacial.host.segments.Segment` list (arrival order)
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

    def pick_emg(self) -> Recording:
        """The EMG channels only (a copy sharing arrays), or ``self`` when all channels are EMG. Other channels
        (skin conductance, force, stimulus waves of an imported file) stay out of the EMG chain."""
        from perifacial.host.handoff import pick

        return (
            pick(self, [i for i, t in enumerate(self.types) if t == "EMG"])
            if self.types and any(t != "EMG" for t in self.types)
            else self
        )

    def to_mne(self, **kwargs):
        """An ``mne.io.RawArray`` (see :func:`perifacial.host.handoff.to_mne`)."""
        from perifacial.host.handoff import to_mne

        return to_mne(self, **kwargs)

    @classmethod
    def from_mne(cls, raw, **kwargs) -> Recording:
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

    def _summary(self) -> list[tuple[str, str]]:
        """(field, value) pairs of the one-screen summary that ``repr`` and ``_repr_html_`` show."""
        board = self.info.get("board") or {}
        labels = ", ".join(self.labels[:4]) + (f", ... {self.labels[-1]}" if len(self.labels) > 4 else "")
        rates = [f"{self.fs:g} Hz nominal"]
        if np.isfinite(self.fs_device):
            rates.append(f"{self.fs_device:.3f} Hz board clock")
        if np.isfinite(self.fs_measured):
            rates.append(f"{self.fs_measured:.3f} Hz host clock")
        return [
            ("channels", f"{self.n_channels} ({labels})"),
            ("samples", f"{self.n_samples:,} ({self.duration_s:.3f} s)"),
            ("rate", ", ".join(rates)),
            ("gaps", f"{len(self.gaps)} ({self.lost_samples:,} samples lost)"),
            ("markers", str(len(self.markers))),
            ("sync rows", str(len(self.sync))),
            ("board", str(board.get("board", board.get("firmware", "?")))),
            ("started", str(self.info.get("start_iso", "?"))),
        ]

    def __repr__(self) -> str:
        s = dict(self._summary())
        return (
            f"<Recording: {self.n_channels} ch x {self.n_samples:,} samples ({self.duration_s:.3f} s) at "
            f"{self.fs:g} Hz, {len(self.gaps)} gaps ({self.lost_samples:,} samples lost), {len(self.markers)} "
            f"markers, board {s['board']}>"
        )

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(v)}</td></tr>"
            for k, v in self._summary()
        )
        return f"<table><caption style='text-align:left'><b>Recording</b></caption>{rows}</table>"


_BATCH = 1 << 20
#: ``fs_measured`` (host clock) further than this from the nominal rate is not a sample rate but a source running
#: faster or slower than real time (the ADS1299's oscillator is within +-0.5 %): it is reported as NaN.
HOST_RATE_TOLERANCE = 0.05
SYNC_DTYPE = np.dtype([("value", "i8"), ("sample", "i8"), ("host_time", "f8"), ("kind", "U8")])


def _json_dict(r: rawlog.Record, what: str, bad: list) -> dict | None:
    """The record's JSON object, or None (counted in ``bad``) if it is not one (a crafted or damaged file)."""
    try:
        obj = r.json()
    except (ValueError, UnicodeDecodeError):
        obj = None
    if not isinstance(obj, dict):
        bad.append(what)
        log.warning("%s record at byte %d is not a JSON object; ignored", what, r.offset)
        return None
    return obj


def _num(x, default=None):
    """``x`` as a finite float, else ``default`` (crafted files may hold anything)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if np.isfinite(v) else default


def load(path: str | os.PathLike, data: bool = True, store: str | os.PathLike | bool | None = None) -> Recording:
    """Decode the recording at ``path``.

    Tolerates a file whose writer was killed mid-record and damage anywhere (see :mod:`perifacial.host.rawlog`):
    every frame whose own CRC holds is recovered, whatever happened to the record around it; what was lost is a gap.
    Without any readable copy of the session header the samples still load, with defaults (1000 Hz, gain 24,
    ``CH1``...) and a warning (``stats["session_header"]`` is False). A restart of the board's sample index (reboot,
    stop/start) starts a new segment (:attr:`Recording.segments`); columns are in arrival order and segment
    boundaries are gaps of at least one column (see :mod:`perifacial.host.segments`). With ``data=False`` the float
    ``data`` array is left empty (``codes``/``status`` are still there) to save memory. With ``store`` the codes
    and status words stay on disk (:class:`perifacial.host.diskarray.DiskColumns`): memory stays bounded whatever
    the length (per block only its timing is kept in memory), for block processing
    (:func:`perifacial.host.workflow.blocked.source_of`); everything else is what ``load`` returns without it.

    Parameters
    ----------
    path : str or path-like
        A ``.pfr`` file written by :func:`record` / ``perifacial record``.
    data : bool
        Compute ``data`` (float64 uV); False keeps only the codes (less memory).
    store : path-like or bool, optional
        Keep ``codes`` and ``status`` in temporary files in this folder (True: the system's temporary folder)
        instead of memory; implies ``data=False``. The files are deleted when the arrays are closed
        (``rec.codes.close()``) or collected, or the process ends.

    Returns
    -------
    Recording

    Raises
    ------
    perifacial.errors.RecordingError
        ``path`` is not a recording, or holds no session header and no samples.

    Examples
    --------
    >>> import os, tempfile
    >>> from perifacial.host import load, open_board
    >>> path = os.path.join(tempfile.mkdtemp(), "s01.pfr")
    >>> with open_board("sim://?seed=1") as board:
    ...     summary = board.record(path, duration_s=0.2, progress=False)
    >>> rec = load(path)
    >>> rec.data.shape, rec.fs, rec.gaps
    ((24, 200), 1000.0, [])
    """
    from perifacial.errors import RecordingError
    from perifacial.host.segments import plan as plan_segments

    spill = _Spill(None if store is True else store) if store not in (None, False) else None
    data = data and spill is None
    report = rawlog.ReadReport()
    dec = Decoder()
    session: dict = {}
    session_copies = 0
    blocks = []
    host_markers: list[tuple[int, dict]] = []  # (stream offset, marker)
    host_sync: list[tuple] = []
    notes: dict = {}  # Recorder.note(...) objects, merged into info (e.g. info["sync_display"], the display's capacity)
    link_events: list[dict] = []
    device_events: list[tuple[int, object]] = []  # (blocks decoded before it, event)
    device_logs: list[str] = []
    bad_json: list[str] = []
    end_stats: dict | None = None
    batch: list[bytes] = []
    batch_bytes = 0
    offset = 0
    rec_ends: list[int] = []  # stream offset just past each raw record
    rec_times: list[float] = []  # its arrival time
    last_time = float("nan")

    def take(res):
        blocks.extend(res.blocks if spill is None else map(spill.block, res.blocks))
        device_events.extend((len(blocks), ev) for ev in res.events)
        device_logs.extend(f"[{lg.level}] {lg.text}" for lg in res.logs)

    def decode_batch():
        nonlocal batch, batch_bytes
        if batch:
            take(dec.feed(b"".join(batch)))
            batch, batch_bytes = [], 0

    def add_raw(payload: bytes, t: float):
        nonlocal batch_bytes, offset
        # decode in ~1 MB batches (fast); arrival times are mapped back per frame through the byte offsets
        batch.append(payload)
        batch_bytes += len(payload)
        offset += len(payload)
        rec_ends.append(offset)
        rec_times.append(t)
        if batch_bytes >= _BATCH:
            decode_batch()

    for r in rawlog.read_records(path, report):
        if r.kind == rawlog.K_RAW:
            if np.isfinite(r.host_time):
                last_time = r.host_time
            add_raw(r.payload, last_time)
            continue
        if r.kind == rawlog.K_SALVAGE or r.damaged:
            # a damaged region: if it is not a (damaged) JSON record, its frames go to the decoder
            if r.payload[:1] not in (b"{", b"[", b'"'):
                add_raw(r.payload, last_time)
            continue
        if r.kind == rawlog.K_SESSION:
            obj = _json_dict(r, "session", bad_json)
            if obj is not None:
                session_copies += 1
                if not session:
                    session = obj
        elif r.kind == rawlog.K_MARKER:
            m = _json_dict(r, "marker", bad_json)
            if m is not None:
                m["host_time"] = r.host_time
                host_markers.append((offset, m))
        elif r.kind == rawlog.K_NOTE:
            obj = _json_dict(r, "note", bad_json)
            if obj is not None:
                notes.update(obj)
        elif r.kind == rawlog.K_SYNC:
            sy = _json_dict(r, "sync", bad_json)
            if sy is not None:
                v = _num(sy.get("value"), 0)
                smp = _num(sy.get("sample"))
                host_sync.append(
                    (
                        offset,
                        int(v),
                        None if smp is None else int(smp),
                        r.host_time,
                        str(sy.get("kind", "received"))[:8],
                    )
                )
        elif r.kind == rawlog.K_LINK:
            ev = _json_dict(r, "link", bad_json)
            if ev is not None:
                ev["host_time"] = r.host_time
                link_events.append(ev)
                if ev.get("state") == "lost":
                    decode_batch()
                    take(dec.reset_stream())
        elif r.kind == rawlog.K_END:
            end_stats = _json_dict(r, "end", bad_json)
    decode_batch()
    take(dec.flush())
    if not session:
        if not blocks:
            raise RecordingError(f"{path}: no session header and no samples (file empty, cut short or not a recording)")
        log.warning(
            "%s: no readable session header; loading the samples with defaults (rate 1000 Hz unless "
            "measured, gain 24, channels CH1...)",
            path,
        )
    fs = _num(session.get("fs"))
    fs = float(fs) if fs is not None and fs > 0 else 1000.0
    labels = session.get("labels")
    labels = [str(x) for x in labels] if isinstance(labels, list) else []
    # geometry
    nch = blocks[0].codes.shape[0] if blocks else len(labels) or 24
    nchips = blocks[0].status.shape[0] if blocks else max(1, nch // 8)
    gains_in = session.get("gains")
    try:
        gains = np.asarray(gains_in if isinstance(gains_in, list) else [24.0] * nch, dtype=np.float64)
    except (TypeError, ValueError):
        gains = np.full(nch, 24.0)
    if gains.size != nch or not np.all(np.isfinite(gains)) or np.any(gains <= 0):
        gains = np.full(nch, 24.0)
    if len(labels) != nch:
        labels = [f"CH{i + 1}" for i in range(nch)]
    # arrival time of each block (the record that completed its first frame)
    ends_arr = np.asarray(rec_ends, dtype=np.int64)
    times_arr = np.asarray(rec_times, dtype=np.float64)
    geometry_ok = [b.codes.shape[0] == nch for b in blocks]
    if not all(geometry_ok):
        log.warning("%d block(s) with another channel count than the first skipped", geometry_ok.count(False))
    kept = [b for b, ok in zip(blocks, geometry_ok) if ok]
    kept_idx = [i for i, ok in enumerate(geometry_ok) if ok]

    def time_at(stream_end: int) -> float:
        if not rec_ends:
            return float("nan")
        k = min(int(np.searchsorted(ends_arr, stream_end - 1, side="right")), ends_arr.size - 1)
        return float(times_arr[k])

    arrival = np.array([time_at(int(b.frame_end[0])) if b.frame_end is not None else np.nan for b in kept])
    arrival_end = np.array([time_at(int(b.frame_end[-1])) if b.frame_end is not None else np.nan for b in kept])
    pl = plan_segments(kept, arrival, fs if session else 2000.0, arrival_end=arrival_end)
    n = pl.n_columns
    if spill is None:
        codes = np.zeros((nch, n), dtype=np.int32)
        status = np.zeros((nchips, n), dtype=np.uint32)
        place = True
    else:
        codes, status, place = spill.columns(nch, nchips, n, pl, kept)
    have = np.zeros(n, dtype=bool)
    pts_s, pts_t, dev_s, dev_t = [], [], [], []
    for k, b in enumerate(kept):
        c0 = int(pl.columns[k])
        if c0 < 0:
            continue
        sk = int(pl.skip[k])
        m = b.n - sk
        if place:
            codes[:, c0 : c0 + m] = b.codes[:, sk:]
            status[:, c0 : c0 + m] = b.status[:, sk:]
        have[c0 : c0 + m] = True
        if pl.segment_of[k] != 0:
            continue  # the clock fits use the first segment only (one device clock, one sample counter)
        if b.frame_end is not None and rec_ends:
            kk = np.minimum(np.searchsorted(ends_arr, b.frame_end - 1, side="right"), ends_arr.size - 1)
            pts_s.append(b.frame_first + b.frame_n - 1)
            pts_t.append(times_arr[kk])
        dev_s.append(b.frame_first)
        dev_t.append(b.device_time_us)
    if spill is not None:
        spill.close_arrival()
    segments = pl.segments
    first = segments[0].first_sample if segments else 0
    n_keep = _requested_length(notes.get("duration_samples"), first, n)
    if n_keep < n:  # samples sent after the requested duration (record(duration_s=...)): still in the raw file
        if spill is None:
            codes, status, have = codes[:, :n_keep], status[:, :n_keep], have[:n_keep]
        else:
            codes, status, have = codes.window(0, n_keep), status.window(0, n_keep), have[:n_keep]
        segments = [replace(sg, stop=min(sg.stop, n_keep)) for sg in segments if sg.start < n_keep]
    gaps = runs(~have)
    uv = np.empty((nch, 0)) if not data else codes * lsb_uv(gains)[:, None]
    if data and gaps:
        for a, b_ in gaps:
            uv[:, a:b_] = np.nan
    clock = None
    if pts_s:
        ps, pt = np.concatenate(pts_s), np.concatenate(pts_t)
        ok = np.isfinite(pt)
        clock = fit_clock(ps[ok], pt[ok], fs) if ok.sum() >= 2 else None
    fs_measured = clock.fs if clock is not None else float("nan")
    if np.isfinite(fs_measured) and abs(fs_measured / fs - 1.0) > HOST_RATE_TOLERANCE:
        # not a sample rate: the source ran faster (or slower) than real time, e.g. sim://?realtime=0
        log.info(
            "%s: host-clock rate %.0f Hz is not a sample rate (nominal %g Hz); fs_measured left NaN",
            path,
            fs_measured,
            fs,
        )
        fs_measured = float("nan")
    fs_device = float("nan")
    if dev_s:
        ds = np.concatenate(dev_s)
        dt = unwrap_ticks(np.concatenate(dev_t), wire.TICKS_PERIOD)
        if ds.size >= 2 and ds[-1] > ds[0] and dt[-1] != dt[0]:
            A = np.vstack([ds.astype(np.float64), np.ones(ds.size)]).T
            slope = np.linalg.lstsq(A, dt.astype(np.float64), rcond=None)[0][0]
            fs_device = 1e6 / slope if slope > 0 else float("nan")

    # which segment was current at a stream offset (host annotations) or after k blocks (device events)
    seg_by_kept = pl.segment_of
    kept_pos = np.asarray(kept_idx, dtype=np.int64)
    block_end0 = np.array([int(b.frame_end[0]) if b.frame_end is not None else 0 for b in kept], dtype=np.int64)

    def seg_at_offset(off: int) -> Segment | None:
        if not segments:
            return None
        k = int(np.searchsorted(block_end0, off, side="right")) - 1
        return segments[int(seg_by_kept[k])] if k >= 0 else segments[0]

    def seg_for_event(n_blocks: int, sample: int) -> Segment | None:
        if not segments:
            return None
        k = int(np.searchsorted(kept_pos, n_blocks, side="left")) - 1
        cur = int(seg_by_kept[k]) if k >= 0 else 0
        for j in range(cur, -1, -1):  # the latest segment (up to the current one) holding that sample
            sg = segments[j]
            if sg.first_sample <= sample <= sg.first_sample + (sg.stop - sg.start):
                return sg
        return segments[cur]

    def col(seg: Segment | None, sample) -> int | None:
        if sample is None:
            return None
        return int(sample) - first if seg is None else int(seg.column(int(sample)))

    def t_of(seg: Segment | None, sample_abs: int) -> float:
        if clock is None or (seg is not None and seg is not segments[0]):
            return float("nan")
        return float(clock.time_of(sample_abs))

    markers = []
    for off, m in host_markers:
        smp = _num(m.get("sample"))
        markers.append({**m, "sample": col(seg_at_offset(off), None if smp is None else int(smp)), "source": "host"})
    sync_rows = [(v, col(seg_at_offset(off), s), float(t), k) for off, v, s, t, k in host_sync]
    for nb, ev in device_events:
        sg = seg_for_event(nb, ev.sample)
        if ev.kind == wire.EV_MARKER:
            markers.append(
                {
                    "value": ev.value,
                    "label": "",
                    "sample": col(sg, ev.sample),
                    "source": "board",
                    "host_time": t_of(sg, ev.sample),
                    "device_time_us": ev.device_time_us,
                }
            )
        elif ev.kind == wire.EV_DISPLAY:
            sync_rows.append((int(ev.value), col(sg, ev.sample), t_of(sg, ev.sample), "sampled"))
    markers.sort(key=lambda m: (m["sample"] is None, m["sample"] or 0))
    sync = np.array([(v, -1 if s is None else s, t, k) for v, s, t, k in sync_rows], dtype=SYNC_DTYPE)
    if sync.size:
        sync = sync[np.argsort(sync["sample"], kind="stable")]
    stats = dec.stats.as_dict()
    stats.update({"file_" + k: v for k, v in report.__dict__.items()})
    stats["complete"] = end_stats is not None
    stats["samples_after_requested_end"] = n - n_keep
    stats["session_header"] = bool(session)
    stats["session_copies"] = session_copies
    stats["segments"] = len(segments)
    stats["repeated_blocks"] = pl.repeats
    stats["gap_columns_cut"] = pl.gap_cut
    if bad_json:
        stats["bad_records"] = bad_json
    if end_stats is not None:
        stats["writer"] = end_stats.get("stats", {}) if isinstance(end_stats.get("stats"), dict) else {}
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
        segments=segments,
    )


class _Spill:
    """The disk side of ``load(..., store=...)``: decoded blocks go to arrival-order files at once (in memory only
    their per-frame timing and a view of their columns there), then to the recording's column files."""

    def __init__(self, directory):
        self.dir = directory
        self.arrival: dict[tuple[int, int], tuple] = {}  # (channels, chips) -> (codes, status) files

    def block(self, b):
        from perifacial.host.diskarray import DiskColumns

        key = (int(b.codes.shape[0]), int(b.status.shape[0]))
        if key not in self.arrival:
            self.arrival[key] = (
                DiskColumns(key[0], 0, np.int32, self.dir),
                DiskColumns(key[1], 0, np.uint32, self.dir),
            )
        c, s = self.arrival[key]
        return replace(b, codes=c.append(b.codes), status=s.append(b.status))

    def columns(self, nch: int, nchips: int, n: int, pl, kept):
        """The column files ``(codes, status, place)``: new ones (``place``: blocks still to be copied there), or,
        when every block landed at its arrival position (no gap, repeat or restart: the usual file), the arrival
        files themselves (nothing to copy)."""
        from perifacial.host.diskarray import DiskColumns

        c, s = self.arrival.get((nch, nchips), (None, None))
        # the arrival file holds exactly the kept blocks, in order (another geometry goes to another file)
        if c is not None and c.shape[1] == n and kept and not pl.skip.any():
            if np.array_equal([b.codes.offset for b in kept], pl.columns):
                del self.arrival[(nch, nchips)]
                return c, s, False
        return DiskColumns(nch, n, np.int32, self.dir), DiskColumns(nchips, n, np.uint32, self.dir), True

    def close_arrival(self) -> None:
        for c, s in self.arrival.values():
            c.close()
            s.close()
        self.arrival.clear()


def _requested_length(spec, first: int, n: int) -> int:
    """Columns to keep: ``n``, or fewer when the recorder noted the requested length (``duration_samples``)."""
    if not isinstance(spec, dict):
        return n
    try:
        stop = int(spec["first_sample"]) + int(spec["n_samples"])
    except (KeyError, TypeError, ValueError):
        return n
    return max(0, min(n, stop - first))
