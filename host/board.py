"""One board behind one URL: commands, acquisition and sample blocks in microvolts.

>>> from perifacial.host.board import open_board
>>> with open_board("sim://?seed=1") as board:
...     _ = board.start()
...     for block in board.blocks(duration_s=0.05):
...         uv = block.data                                    # float64 uV [24, n]
...         first, leadoff = block.first_sample, block.leadoff  # int, bool [24, n]
...     _ = board.stop()
>>> uv.shape[0], leadoff.dtype
(24, dtype('bool'))

Everything runs in the caller's thread: :meth:`Board.pump` reads whatever the link has, decodes it and files the
results (sample blocks in a queue, responses by id, status reports, events and logs in lists, raw bytes to the
listeners such as the recorder). A command waits for its response by id while data keep flowing into the queue,
so nothing is lost while configuring a running board. A dropped link is reopened (``reconnect_timeout``); the
samples the board produced meanwhile show up as a gap (``SampleBlock.gap_before`` and :attr:`Board.gaps`), never
hidden.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np

from perifacial.errors import BoardError, BoardTimeout  # defined there (recording catches them), exported here
from perifacial.firmware import wire
from perifacial.host.decoder import (
    DataBlock,
    Decoder,
    DecodeResult,
    DecoderStats,
    DeviceEvent,
    SampleSpan,
    leadoff_bits,
    lsb_uv,
)
from perifacial.host.transport import LinkLost, Transport, TransportError, open_transport

log = logging.getLogger(__name__)
#: one line per gap (``--quiet`` raises its level; gaps are still counted, kept and reported in the totals)
gap_log = logging.getLogger("perifacial.gaps")

__all__ = ["Board", "BoardError", "BoardTimeout", "SampleBlock", "leadoff_bits", "open_board"]

DEFAULT_GAIN = 24
READ_SIZE = 1 << 16


class SampleBlock(SampleSpan):
    """Consecutive samples of all channels. ``data`` and ``leadoff`` are computed on first access.

    Attributes
    ----------
    first_sample : int
        Unwrapped device index of column 0.
    codes : ndarray, int32 ``[channels, n]``
        Raw ADC codes.
    status : ndarray, uint32 ``[n_chips, n]``
        Chip status words.
    lsb : ndarray, float64 ``[channels]``
        Microvolts per code.
    host_time : float
        Host monotonic time (s) when the bytes that completed the block arrived.
    gap_before : int
        Samples missing between the previous block and this one (0 = contiguous).
    data : ndarray, float64 ``[channels, n]``
        Microvolts.
    leadoff : ndarray, bool ``[channels, n]``
        P or N lead-off bit.

    Examples
    --------
    >>> from perifacial.host import open_board
    >>> with open_board("sim://?seed=1") as board:
    ...     _ = board.start()
    ...     block = next(board.blocks())
    ...     _ = board.stop()
    >>> block.data.shape[0], block.data.dtype, block.leadoff.dtype, block.gap_before
    (24, dtype('float64'), dtype('bool'), 0)
    """

    __slots__ = (
        "first_sample",
        "codes",
        "status",
        "lsb",
        "host_time",
        "gap_before",
        "_data",
        "_leadoff",
        "frame_first",
        "frame_n",
    )

    def __init__(
        self,
        first_sample,
        codes,
        status,
        lsb,
        host_time,
        gap_before=0,
        data=None,
        leadoff=None,
        frame_first=None,
        frame_n=None,
    ):
        self.first_sample = int(first_sample)
        self.codes = codes
        self.status = status
        self.lsb = lsb
        self.host_time = host_time
        self.gap_before = int(gap_before)
        self._data = data
        self._leadoff = leadoff
        self.frame_first = frame_first  #: int64 [frames]: first sample of each DATA frame in the block (or None)
        self.frame_n = frame_n  #: int64 [frames]: samples per DATA frame (or None)

    @property
    def data(self) -> np.ndarray:
        """float64 uV ``[channels, n]``."""
        if self._data is None:
            self._data = self.codes * self.lsb[:, None]
        return self._data

    @property
    def leadoff(self) -> np.ndarray:
        """bool ``[channels, n]``: the P or N lead-off status bit of each channel at each sample."""
        if self._leadoff is None:
            self._leadoff = leadoff_bits(self.status)
        return self._leadoff

    def slice(self, i0: int, i1: int) -> SampleBlock:
        """Columns ``i0:i1`` as a new block."""
        return SampleBlock(
            self.first_sample + i0,
            self.codes[:, i0:i1],
            self.status[:, i0:i1],
            self.lsb,
            self.host_time,
            self.gap_before if i0 == 0 else 0,
            None if self._data is None else self._data[:, i0:i1],
            None if self._leadoff is None else self._leadoff[:, i0:i1],
        )

    def __repr__(self) -> str:
        return f"<SampleBlock {self.first_sample}..{self.stop_sample} ch={self.codes.shape[0]} gap={self.gap_before}>"


def _strip(r: dict) -> dict:
    return {k: v for k, v in r.items() if k not in ("id", "ok", "_host_time")}


def _gains_from(obj) -> list[float] | None:
    """Find per-channel gains in an info/config response (``gains`` list, or ``channels`` dicts with ``gain``)."""
    if not isinstance(obj, dict):
        return None
    for key in ("gains", "gain"):
        v = obj.get(key)
        if isinstance(v, list) and v and all(isinstance(g, (int, float)) for g in v):
            return [float(g) for g in v]
    ch = obj.get("channels")
    if isinstance(ch, list) and ch and all(isinstance(c, dict) and "gain" in c for c in ch):
        return [float(c["gain"]) for c in ch]
    for key in ("config", "configuration"):
        g = _gains_from(obj.get(key))
        if g:
            return g
    return None


class Board:
    """A connected board (see the module docstring). Use :func:`open_board`.

    Examples
    --------
    >>> from perifacial.host import open_board
    >>> board = open_board("sim://?seed=1")
    >>> board.n_channels, board.fs, board.labels[:3]
    (24, 1000.0, ['LU1', 'LU2', 'LU3'])
    >>> board.close()
    """

    def __init__(
        self,
        transport: Transport,
        *,
        command_timeout: float = 3.0,
        reconnect_timeout: float = 10.0,
        labels: list[str] | None = None,
    ):
        self.transport = transport
        self.url = transport.url
        self.command_timeout = command_timeout
        #: clock of the deadlines (s): the transport's own where it has one (emu://: emulated time), else wall time
        self._clock = getattr(transport, "clock", None) or time.monotonic
        self.reconnect_timeout = reconnect_timeout
        self.decoder = Decoder()
        self._next_id = 1
        self._host_seq = 0
        self._responses: dict[int, dict] = {}
        self._blocks: collections.deque[SampleBlock] = collections.deque()
        self.statuses: list = []  #: StatusReport objects received (all of them)
        self.events: list[DeviceEvent] = []  #: device events (display changes, markers)
        self.device_logs: list = []  #: DeviceLog lines from the firmware
        self.gaps: list[tuple[int, int]] = []  #: sample ranges [start, stop) never received
        self.reconnects = 0
        self.restarts = 0  #: times the board's sample index started over (reboot, stop/start by another client)
        self.link = "up"  #: "up", "lost", "reconnecting"
        self.running = False
        self._raw_listeners: list[Callable[[bytes, float], None]] = []
        self._link_listeners: list[Callable[[str, float], None]] = []
        self._event_listeners: list[Callable[[DeviceEvent], None]] = []
        self._block_listeners: list[Callable[[SampleBlock], None]] = []
        self._last_stop: int | None = None
        self._info: dict | None = None
        self._gains = np.full(24, float(DEFAULT_GAIN))
        self._labels = labels
        self.last_data_time: float | None = None
        self.bytes_received = 0

    # -- plumbing -----------------------------------------------------------------------------------------------
    def add_raw_listener(self, fn: Callable[[bytes, float], None]) -> None:
        """``fn(chunk, host_time)`` gets every byte chunk exactly as read from the link."""
        self._raw_listeners.append(fn)

    def remove_raw_listener(self, fn) -> None:
        self._raw_listeners.remove(fn)

    def add_link_listener(self, fn: Callable[[str, float], None]) -> None:
        """``fn(state, host_time)`` on link changes: "lost", "up"."""
        self._link_listeners.append(fn)

    def remove_link_listener(self, fn) -> None:
        self._link_listeners.remove(fn)

    def add_event_listener(self, fn: Callable[[DeviceEvent], None]) -> None:
        self._event_listeners.append(fn)

    def remove_event_listener(self, fn) -> None:
        self._event_listeners.remove(fn)

    def add_block_listener(self, fn: Callable[[SampleBlock], None]) -> None:
        """``fn(block)`` for every sample block as it is decoded (before it is queued for :meth:`read`)."""
        self._block_listeners.append(fn)

    def remove_block_listener(self, fn) -> None:
        self._block_listeners.remove(fn)

    @property
    def stats(self) -> DecoderStats:
        return self.decoder.stats

    def _set_link(self, state: str) -> None:
        self.link = state
        now = time.monotonic()
        for fn in list(self._link_listeners):
            fn(state, now)

    def pump(self, timeout: float = 0.05) -> int:
        """Read what the link has (waiting up to ``timeout`` s), decode and file it. Returns bytes read."""
        try:
            chunk = self.transport.read(READ_SIZE, timeout)
        except LinkLost as exc:
            self._handle_lost(exc)
            return 0
        if not chunk:
            return 0
        now = time.monotonic()
        self.bytes_received += len(chunk)
        for fn in list(self._raw_listeners):
            fn(chunk, now)
        self._file(self.decoder.feed(chunk, now), now)
        return len(chunk)

    def _handle_lost(self, exc: Exception) -> None:
        log.warning("%s", exc)
        self._set_link("lost")
        self._file(self.decoder.reset_stream(), time.monotonic())
        self.reconnects += 1
        self._set_link("reconnecting")
        try:
            self.transport.reconnect(self.reconnect_timeout)
        except TransportError as exc2:
            self._set_link("lost")
            raise LinkLost(
                f"{self.url}: link lost and not back within {self.reconnect_timeout:g} s ({exc2}). Data received so "
                "far is kept; check the cable/power/range and reopen."
            ) from exc2
        self._set_link("up")

    def _file(self, res: DecodeResult, now: float) -> None:
        for r in res.responses:
            rid = r.get("id")
            if isinstance(rid, int):
                self._responses[rid] = r
            else:
                log.warning("board error without a command id: %s", r.get("error", r))
        if res.statuses:
            self.statuses.extend(res.statuses)
        for ev in res.events:
            self.events.append(ev)
            for fn in list(self._event_listeners):
                fn(ev)
        for lg in res.logs:
            self.device_logs.append(lg)
            log.log(lg.level if lg.level in (10, 20, 30, 40) else 20, "board: %s", lg.text)
        for b in res.blocks:
            self._add_block(b, now)

    #: a block at most this many samples behind the last one is a repeat (dropped); further back, the board's sample
    #: index restarted (reboot, stop/start): a new acquisition segment
    REPEAT_WINDOW = 64

    def _add_block(self, b: DataBlock, now: float) -> None:
        gap = 0
        if self._last_stop is not None and b.first_sample < self._last_stop - self.REPEAT_WINDOW:
            log.warning(
                "the board's sample index restarted (%d after %d): reboot or stop/start; new segment",
                b.first_sample,
                self._last_stop,
            )
            self.restarts += 1
            self._last_stop = None
        if self._last_stop is not None:
            gap = b.first_sample - self._last_stop
            if gap > 0:
                self.gaps.append((self._last_stop, b.first_sample))
                gap_log.warning("gap: samples %d..%d (%d) were not received", self._last_stop, b.first_sample, gap)
            elif gap < 0:
                log.info("repeated samples %d..%d dropped", b.first_sample, min(self._last_stop, b.stop_sample))
        if self._last_stop is not None and b.stop_sample <= self._last_stop:
            return  # a duplicate: everything in it was already delivered
        if self._last_stop is not None and gap < 0:
            cut = self._last_stop - b.first_sample
            codes, status, first = b.codes[:, cut:], b.status[:, cut:], self._last_stop
            gap = 0
            ff = fn = None
        else:
            codes, status, first = b.codes, b.status, b.first_sample
            ff, fn = b.frame_first, b.frame_n
        nch = codes.shape[0]
        gains = self._gains if self._gains.size == nch else np.full(nch, float(DEFAULT_GAIN))
        blk = SampleBlock(first, codes, status, lsb_uv(gains), now, gap, frame_first=ff, frame_n=fn)
        self._last_stop = first + codes.shape[1]
        self.last_data_time = now
        for fn in list(self._block_listeners):
            fn(blk)
        self._blocks.append(blk)

    # -- commands -----------------------------------------------------------------------------------------------
    def send(self, cmd: str, **args) -> int:
        """Send a command without waiting; returns its id."""
        cid = self._next_id
        self._next_id += 1
        payload = json.dumps({"id": cid, "cmd": cmd, **args}, separators=(",", ":")).encode()
        frame = wire.encode(wire.T_COMMAND, self._host_seq, payload)
        self._host_seq = (self._host_seq + 1) & 0xFFFFFFFF
        try:
            self.transport.write(frame)
        except LinkLost as exc:
            self._handle_lost(exc)
            self.transport.write(frame)
        return cid

    def wait_response(self, cid: int, timeout: float | None = None, what: str = "command") -> dict:
        timeout = self.command_timeout if timeout is None else timeout
        deadline = self._clock() + timeout
        while cid not in self._responses:
            left = deadline - self._clock()
            if left <= 0:
                raise BoardTimeout(
                    f"no answer to {what!r} within {timeout:g} s from {self.url}: is the perifacial firmware running "
                    "on this port (not a REPL prompt or another program), and the link healthy? "
                    f"({self.stats.frames} frames, {self.stats.crc_errors} CRC errors received so far)"
                )
            self.pump(min(left, 0.05))
        r = self._responses.pop(cid)
        if not r.get("ok", False):
            raise BoardError(f"board refused {what!r}: {r.get('error', 'no reason given')}")
        return r

    def command(self, cmd: str, timeout: float | None = None, **args) -> dict:
        """Send ``cmd`` with ``args`` and return the board's response dict (``ok`` true), else raise
        :class:`BoardError` (refused) or :class:`BoardTimeout` (no answer)."""
        return self.wait_response(self.send(cmd, **args), timeout, cmd)

    @property
    def info(self) -> dict:
        """The board's ``identify`` response (firmware version, chips, channels, chip ids, link...) with the
        configuration under ``"config"``; fetched once (see :meth:`refresh_info`)."""
        if self._info is None:
            self.refresh_info()
        return self._info  # type: ignore[return-value]

    def refresh_info(self) -> dict:
        """Ask the board who it is (``identify``) and how it is configured (``get_config``)."""
        r = _strip(self.command("identify"))
        try:
            r["config"] = self.command("get_config").get("config", {})
        except BoardError as exc:
            log.warning("get_config failed: %s", exc)
        self._info = r
        self._apply_config(r.get("config"))
        return r

    def _apply_config(self, cfg) -> None:
        g = _gains_from(cfg) if isinstance(cfg, dict) else None
        if g:
            self._gains = np.asarray(g, dtype=np.float64)

    @property
    def config(self) -> dict:
        """The board's current configuration (``get_config``): rate, gain [per channel], mux, lead_off..."""
        return dict(self.info.get("config") or {})

    @property
    def gains(self) -> np.ndarray:
        """Per-channel PGA gains used to convert codes to uV."""
        return self._gains.copy()

    @property
    def fs(self) -> float:
        """Nominal sample rate (Hz) from the board configuration."""
        cfg = self.info.get("config") or {}
        if isinstance(cfg, dict) and isinstance(cfg.get("rate"), (int, float)):
            return float(cfg["rate"])
        return 1000.0

    @property
    def n_channels(self) -> int:
        info = self.info
        for k in ("channels", "n_channels"):
            if isinstance(info.get(k), int):
                return int(info[k])
        if isinstance(info.get("n_chips"), int):
            return 8 * int(info["n_chips"])
        return int(self._gains.size)

    @property
    def labels(self) -> list[str]:
        """Channel labels: given at open, else the default perifacial montage (``LU1`` ...)."""
        if self._labels is None:
            n = self.n_channels
            try:
                from perifacial.dsp.montage import default_montage

                m = default_montage()
                self._labels = list(m.labels) if len(m.labels) == n else [f"CH{i + 1}" for i in range(n)]
            except Exception:  # noqa: BLE001 - montage data missing: fall back to numbers
                self._labels = [f"CH{i + 1}" for i in range(n)]
        return list(self._labels)

    def configure(self, **settings) -> dict:
        """Change settings (``rate``, ``gain`` (one value or one per channel), ``mux`` ("normal", "shorted",
        "test"), ``enabled``, ``bias``, ``lead_off``, ``samples_per_frame``...; see firmware/WIRE.md) with
        ``set_config``; returns the new configuration. The board must be stopped."""
        r = self.command("set_config", **settings)
        cfg = r.get("config", {})
        if self._info is not None:
            self._info["config"] = cfg
        self._apply_config(cfg)
        return cfg

    def start(self, **args) -> dict:
        """Start acquisition (sample blocks start arriving)."""
        r = self.command("start", **args)
        self._last_stop = None
        self.running = True
        return r

    def stop(self) -> dict:
        r = self.command("stop")
        self.running = False
        return r

    def status(self) -> dict:
        """The board's counters (STATUS fields, lost samples by cause, link state) via ``status``."""
        return _strip(self.command("status"))

    def registers(self) -> list[list[int]]:
        """Register dump of every chip (board stopped)."""
        return self.command("registers")["registers"]

    def selftest(self, timeout: float = 30.0, **args) -> dict:
        """Run the board's self-test (board stopped); returns its report."""
        return _strip(self.command("selftest", timeout=timeout, **args))

    def display(self, value: int | None = None, **args) -> dict:
        """The on-board digit display: show ``value``, or set ``mode`` ("board": the board counts every ``every``
        samples and reports EV_DISPLAY events; "host"; "off")."""
        if value is not None:
            args["value"] = int(value)
        return self.command("display", **args)

    def marker(self, value: int = 0, **args) -> dict:
        """Ask the board to latch a marker at its current sample; returns that sample index (u32 as sent)."""
        return self.command("marker", value=int(value), **args)

    # -- data ---------------------------------------------------------------------------------------------------
    def read(self, timeout: float = 1.0) -> SampleBlock | None:
        """The next sample block, waiting up to ``timeout`` s; None if none arrived."""
        deadline = self._clock() + timeout
        while not self._blocks:
            left = deadline - self._clock()
            if left <= 0:
                return None
            self.pump(min(left, 0.1))
        return self._blocks.popleft()

    def blocks(
        self, duration_s: float | None = None, n_samples: int | None = None, timeout: float = 5.0
    ) -> Iterator[SampleBlock]:
        """Yield sample blocks until ``duration_s`` seconds of samples (at the nominal rate) or ``n_samples`` have
        been yielded (forever if neither). Raises :class:`BoardTimeout` if no data arrive for ``timeout`` s."""
        target = n_samples
        if target is None and duration_s is not None:
            target = int(round(duration_s * self.fs))
        got = 0
        first = None
        while target is None or got < target:
            blk = self.read(timeout)
            if blk is None:
                raise BoardTimeout(
                    f"no samples from {self.url} for {timeout:g} s: was the board started, and is the link up? "
                    f"(link {self.link}, {self.stats.frames} frames so far)"
                )
            if first is None:
                first = blk.first_sample
            if target is not None and blk.stop_sample - first > target:
                blk = blk.slice(0, target - (blk.first_sample - first))
            got = blk.stop_sample - first
            yield blk

    def read_samples(self, n: int, timeout: float = 5.0) -> SampleBlock:
        """Exactly ``n`` consecutive sample positions as one block (NaN where a gap fell)."""
        blocks = list(self.blocks(n_samples=n, timeout=timeout))
        first = blocks[0].first_sample
        nch = blocks[0].data.shape[0]
        data = np.full((nch, n), np.nan)
        codes = np.zeros((nch, n), dtype=np.int32)
        status = np.zeros((blocks[0].status.shape[0], n), dtype=np.uint32)
        for b in blocks:
            i0 = b.first_sample - first
            data[:, i0 : i0 + b.n] = b.data
            codes[:, i0 : i0 + b.n] = b.codes
            status[:, i0 : i0 + b.n] = b.status
        return SampleBlock(first, codes, status, blocks[0].lsb, blocks[-1].host_time, blocks[0].gap_before, data)

    def drain(self) -> list[SampleBlock]:
        """Take every block already queued."""
        out = list(self._blocks)
        self._blocks.clear()
        return out

    # -- recording (see perifacial.host.recording) ----------------------------------------------------------------
    def record(self, path, duration_s: float | None = None, display=None, progress: bool = True, **kwargs):
        """Record to ``path`` (append-only raw log); see :func:`perifacial.host.recording.record`."""
        from perifacial.host.recording import record

        return record(self, path, duration_s=duration_s, display=display, progress=progress, **kwargs)

    # -- lifetime -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop acquisition (best effort) and close the link."""
        if self.running and self.transport.is_open:
            try:
                self.command("stop", timeout=1.0)
            except Exception as exc:  # noqa: BLE001 - closing must not fail
                log.debug("stop on close failed: %s", exc)
            self.running = False
        self.transport.close()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Board {self.url} link={self.link}>"


def open_board(
    url: str,
    *,
    command_timeout: float = 3.0,
    reconnect_timeout: float = 10.0,
    labels: list[str] | None = None,
    **transport_options,
) -> Board:
    """Open the board at ``url`` (see :func:`perifacial.host.transport.open_transport`) and check that it answers
    (``info``).

    Parameters
    ----------
    url : str
        ``sim://?seed=1``, ``/dev/ttyACM0``, ``COM3``, ``tcp://host:port`` or ``ble://name``.
    command_timeout : float
        Seconds to wait for a command's response.
    reconnect_timeout : float
        Seconds to keep reopening a dropped link.
    labels : list of str, optional
        Channel labels (default: the montage's).
    **transport_options
        Passed to the transport (e.g. ``realtime=True`` for ``sim://``).

    Returns
    -------
    Board
        Connected and identified; use it as a context manager or call ``close()``.

    Examples
    --------
    >>> from perifacial.host import open_board
    >>> with open_board("sim://?seed=1") as board:
    ...     _ = board.start()
    ...     n = sum(block.data.shape[1] for block in board.blocks(duration_s=0.05))
    ...     _ = board.stop()
    >>> n, board.fs
    (50, 1000.0)
    """
    transport = open_transport(url, **transport_options)
    board = Board(transport, command_timeout=command_timeout, reconnect_timeout=reconnect_timeout, labels=labels)
    try:
        board.refresh_info()
    except Exception:
        transport.close()
        raise
    return board
