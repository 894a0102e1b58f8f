"""Vectorised decoder for the perifacial wire stream (board -> host).

Feed it bytes in chunks of any size; it returns the DATA blocks, responses, status reports, events and log lines
those bytes completed, and keeps an account of every defect in :class:`DecoderStats`. It never raises on garbage.

How it works (per :meth:`Decoder.feed`):

1. the new bytes are appended to the undecoded tail of the previous call;
2. candidate frame starts are found with one numpy pass (``A5 5A``), their headers are checked for plausibility
   (version, type, length <= MAX_PAYLOAD) vectorially and the CRC-32 of every plausible, complete candidate is
   computed with :func:`zlib.crc32` (one C call per candidate);
3. frames with a good CRC are accepted greedily in stream order (a candidate inside an accepted frame is part of
   its payload). A bad CRC never consumes the bytes its header claims: the scan continues at the next magic after
   the bad header's first byte, so the decoder is back in step at the next intact frame (resync within one frame);
4. DATA payloads of consecutive frames of the same geometry are decoded together: the 24-bit two's complement
   codes become int32 ``[channels, samples]`` arrays with one strided numpy pass.

The wire format comes from :mod:`perifacial.firmware.wire`; no constant is repeated here.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field, fields

import numpy as np

from perifacial.firmware import ads1299, wire

log = logging.getLogger(__name__)

__all__ = [
    "LOFF_STATN_SHIFT",
    "LOFF_STATP_SHIFT",
    "leadoff_bits",
    "leadoff_n_bits",
    "leadoff_p_bits",
    "DataBlock",
    "SampleSpan",
    "DecodeResult",
    "Decoder",
    "DecoderStats",
    "DeviceEvent",
    "DeviceLog",
    "StatusReport",
    "codes_to_uv",
    "lsb_uv",
    "VREF_V",
]

VREF_V = ads1299.VREF_UV / 1e6  #: ADS1299 reference voltage (V) with the internal reference (one home: the driver)
_U32 = 1 << 32
_DATA_OFF = wire.HEADER_SIZE + wire.DATA_HDR_SIZE  # first chip byte of a DATA frame, from the frame start
_DATA_HDR_DTYPE = np.dtype([("first", "<u4"), ("device_time", "<u4"), ("n", "<u2"), ("n_chips", "u1"), ("flags", "u1")])
assert _DATA_HDR_DTYPE.itemsize == wire.DATA_HDR_SIZE
_KNOWN_TYPES = np.zeros(256, dtype=bool)
_KNOWN_TYPES[list(wire.TYPE_NAMES)] = True


def lsb_uv(gain: float | np.ndarray) -> float | np.ndarray:
    """Size of one ADC code in microvolts: ``2 * VREF / gain / 2**24`` (VREF = 4.5 V), vectorised over ``gain``
    (the formula's one home is :func:`perifacial.firmware.ads1299.lsb_uv`, which also runs on the board)."""
    return ads1299.lsb_uv(np.asarray(gain, dtype=np.float64))


def codes_to_uv(codes: np.ndarray, gains) -> np.ndarray:
    """Convert int32 codes ``[channels, n]`` to microvolts (float64, same shape) with per-channel ``gains``."""
    lsb = np.broadcast_to(np.asarray(lsb_uv(np.asarray(gains, dtype=np.float64)), dtype=np.float64), (codes.shape[0],))
    return codes.astype(np.float64) * lsb[:, None]


@dataclass
class DecoderStats:
    """Running counters of a :class:`Decoder` (all counts since construction or :meth:`Decoder.reset_stats`).

    Examples
    --------
    >>> from perifacial.host import Decoder
    >>> d = Decoder()
    >>> _ = d.feed(bytes([0xA5, 0x5A]) + b" not a frame")
    >>> d.stats.bytes_in, d.stats.frames
    (14, 0)
    """

    bytes_in: int = 0  #: bytes fed
    frames: int = 0  #: frames with a valid CRC, every type
    data_frames: int = 0
    responses: int = 0
    status_frames: int = 0
    events: int = 0
    logs: int = 0
    commands: int = 0  #: COMMAND frames seen on the board->host stream (an echoing link, e.g. loop://)
    samples: int = 0  #: samples decoded from DATA frames (one sample = all channels at one instant)
    crc_errors: int = 0  #: plausible headers whose frame failed the CRC
    truncated: int = 0  #: plausible headers cut short by the next valid frame or by the end of the stream
    malformed: int = 0  #: frames with a valid CRC whose payload does not parse (counted, skipped)
    resyncs: int = 0  #: runs of bytes between frames that were not a valid frame
    skipped_bytes: int = 0  #: bytes in those runs
    seq_gaps: int = 0  #: forward jumps of the frame sequence number (u32, wraps)
    lost_frames: int = 0  #: frames missing according to those jumps
    seq_repeats: int = 0  #: frames whose sequence number was not ahead of the last one (duplicates, reordering)
    sample_gaps: int = 0  #: forward jumps of the DATA sample index (lost samples)
    lost_samples: int = 0  #: samples missing according to those jumps
    sample_repeats: int = 0  #: DATA frames whose first sample was behind the expected one (duplicate/reordered)
    overrun_frames: int = 0  #: DATA frames flagged FLAG_OVERRUN by the device (it lost samples before them)
    device_status_errors: int = 0  #: DATA frames flagged FLAG_STATUS_ERROR by the device
    status_misaligned: int = 0  #: chip status words (per chip and sample) without the 0xC nibble

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def damaged(self) -> int:
        """Frames seen damaged (CRC errors + truncated + malformed)."""
        return self.crc_errors + self.truncated + self.malformed


#: Bit offsets of LOFF_STATP (bits 19..12) and LOFF_STATN (bits 11..4) in a 24-bit chip status word
#: (``1100`` + LOFF_STATP + LOFF_STATN + GPIO[7:4], ADS1299 datasheet 9.4.4.2); bit ``k`` of each byte is channel ``k``.
LOFF_STATP_SHIFT = 12
LOFF_STATN_SHIFT = 4


def _status_byte_bits(status: np.ndarray, shift: int) -> np.ndarray:
    status = np.asarray(status, dtype=np.uint32)
    byte = (status >> np.uint32(shift)) & 0xFF  # [n_chips, n]
    bits = (byte[:, None, :] >> np.arange(8, dtype=np.uint32)[None, :, None]) & 1
    return bits.reshape(-1, status.shape[1]).astype(bool)


def leadoff_p_bits(status: np.ndarray) -> np.ndarray:
    """Chip status words uint32 ``[n_chips, n]`` -> bool ``[8 * n_chips, n]``: LOFF_STATP (positive input off)."""
    return _status_byte_bits(status, LOFF_STATP_SHIFT)


def leadoff_n_bits(status: np.ndarray) -> np.ndarray:
    """Chip status words uint32 ``[n_chips, n]`` -> bool ``[8 * n_chips, n]``: LOFF_STATN (negative input off)."""
    return _status_byte_bits(status, LOFF_STATN_SHIFT)


def leadoff_bits(status: np.ndarray) -> np.ndarray:
    """Chip status words uint32 ``[n_chips, n]`` -> bool ``[8 * n_chips, n]``: LOFF_STATP or LOFF_STATN set.

    The one definition of "lead-off" per channel and sample (:attr:`DataBlock.leadoff`,
    ``perifacial.host.board.SampleBlock.leadoff`` and ``perifacial.host.recording.Recording.leadoff`` use it)."""
    return leadoff_p_bits(status) | leadoff_n_bits(status)


class SampleSpan:
    """Mixin of a block of consecutive samples with ``first_sample`` (int) and ``codes`` ``[channels, n]``."""

    __slots__ = ()

    @property
    def n(self) -> int:
        """Samples in the block."""
        return int(self.codes.shape[1])

    @property
    def stop_sample(self) -> int:
        """One past the last sample index."""
        return self.first_sample + self.n


@dataclass
class DataBlock(SampleSpan):
    """A run of consecutive samples from one or more DATA frames (no gap and no repeat inside).

    ``codes`` int32 ``[channels, n]`` raw ADC codes (channel ``8 * chip + k``); ``status`` uint32
    ``[n_chips, n]`` 24-bit chip status words (``0xC`` nibble + LOFF_STATP + LOFF_STATN + GPIO); the per-frame
    arrays (length = frames in the block) hold each frame's first sample, sample count, device time (us, mod
    2**30), flags, sequence number and end offset in the fed stream (``frame_end``, bytes since the decoder was
    created). ``first_sample`` is unwrapped (int, no 2**32 wrap).
    """

    first_sample: int
    codes: np.ndarray
    status: np.ndarray
    frame_first: np.ndarray
    frame_n: np.ndarray
    device_time_us: np.ndarray
    flags: np.ndarray
    seq: np.ndarray
    host_time: float | None = None
    frame_end: np.ndarray | None = None  #: stream offset (bytes fed so far) just past each frame

    @property
    def channels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def leadoff_p(self) -> np.ndarray:
        """bool ``[channels, n]``: LOFF_STATP (positive input off) per channel and sample."""
        return leadoff_p_bits(self.status)

    @property
    def leadoff_n(self) -> np.ndarray:
        """bool ``[channels, n]``: LOFF_STATN (negative input off) per channel and sample."""
        return leadoff_n_bits(self.status)

    @property
    def leadoff(self) -> np.ndarray:
        """bool ``[channels, n]``: P or N lead-off bit per channel and sample (as ``SampleBlock.leadoff``)."""
        return leadoff_bits(self.status)

    @property
    def leadoff_channels(self) -> np.ndarray:
        """bool ``[channels]``: channels whose P or N lead-off bit was set at any sample of the block."""
        return self.leadoff.any(axis=1)


@dataclass
class StatusReport:
    """A STATUS frame: the device counters (see ``wire.STATUS_FIELDS``)."""

    seq: int
    values: dict[str, int]
    host_time: float | None = None


@dataclass
class DeviceEvent:
    """An EVENT frame: ``kind`` (wire.EV_*), ``value``, ``sample`` (unwrapped near the data stream)."""

    seq: int
    kind: int
    value: int
    sample: int
    device_time_us: int
    host_time: float | None = None


@dataclass
class DeviceLog:
    seq: int
    level: int
    text: str
    host_time: float | None = None


@dataclass
class DecodeResult:
    """What one :meth:`Decoder.feed` call completed, in stream order within each list."""

    blocks: list[DataBlock] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    logs: list[DeviceLog] = field(default_factory=list)
    commands: list[dict] = field(default_factory=list)

    def extend(self, other: DecodeResult) -> None:
        for f in fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    @property
    def samples(self) -> int:
        return sum(b.n for b in self.blocks)


def _signed32(x: np.ndarray) -> np.ndarray:
    """Interpret u32 differences (int64 array, any value) as signed 32-bit."""
    return ((x + (1 << 31)) % _U32) - (1 << 31)


def _needed(tail: bytes) -> int:
    """Length the held ``tail`` must reach before scanning again can decode anything new."""
    if len(tail) < wire.HEADER_SIZE:
        return len(tail) + 1 if tail[:2] in (wire.MAGIC, wire.MAGIC[:1]) or not tail else 0
    hdr = wire.parse_header(tail)
    if hdr is None:
        return 0
    return wire.frame_size(hdr[1])


class Decoder:
    """Incremental, vectorised decoder of the board->host byte stream.

    ``feed(chunk)`` takes any number of bytes and returns a :class:`DecodeResult` (``blocks``: :class:`DataBlock`
    with ``codes`` int32 ``[24, n]`` and ``first_sample``; responses, status reports, events, logs); ``stats``
    counts frames, CRC errors and gaps.

    Examples
    --------
    >>> from perifacial.firmware import wire
    >>> from perifacial.host import Decoder
    >>> payload = bytearray(wire.data_payload_size(2, 1))              # one DATA frame: 2 samples of 1 chip
    >>> wire.pack_data_header(payload, 0, 1000, 0, 2, 1, 0)            # first sample 1000, device time 0, no flags
    >>> for s in range(2):
    ...     payload[12 + 27 * s] = 0xC0                                # status word (0xC nibble)
    ...     payload[12 + 27 * s + 3:12 + 27 * s + 6] = (4660 * (s + 1)).to_bytes(3, "big")  # channel 0 code
    >>> frame = wire.encode(wire.T_DATA, 0, bytes(payload))
    >>> d = Decoder()
    >>> d.feed(b"noise" + frame[:9]).blocks                           # any byte split: nothing complete yet
    []
    >>> block = d.feed(frame[9:]).blocks[0]
    >>> block.first_sample, block.codes.shape, block.codes[0].tolist()
    (1000, (8, 2), [4660, 9320])
    >>> d.stats.data_frames, d.stats.crc_errors
    (1, 0)
    """

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._tail = b""
        self._base = 0  # stream offset of the buffer being scanned
        self._need = 0  # bytes the held tail needs before a rescan can complete anything
        self._in_garbage = False
        self._last_seq: int | None = None  # unwrapped
        self._max_seq: int | None = None
        self._last_first: int | None = None  # unwrapped first sample of the last DATA frame
        self._expected: int | None = None  # unwrapped next sample index expected
        self._recent_stop: int | None = None  # end of the most recent DATA frame (follows a restarted index)

    # -- public -------------------------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._tail)

    @property
    def next_sample(self) -> int | None:
        """Unwrapped sample index expected next: just past the most recent DATA frame, so it follows the board's
        index when that restarts (stop/start, reboot); None before the first DATA frame."""
        return self._recent_stop if self._recent_stop is not None else self._expected

    def reset_stats(self) -> None:
        self.stats = DecoderStats()

    def reset_stream(self) -> DecodeResult:
        """The stream broke (e.g. the link dropped): decode what the held bytes still contain and forget the rest
        (a partial frame counts as truncated). Sample/sequence state is kept so gaps across the break are
        reported. Returns what the held bytes completed."""
        return self.flush()

    def flush(self) -> DecodeResult:
        """End of stream: a frame still held is truncated; frames after its header are decoded. Returns them."""
        res = DecodeResult()
        st = self.stats
        while self._tail:
            tail = self._tail
            self._tail = b""
            self._need = 0
            if wire.parse_header(tail) is not None:
                st.truncated += 1
            if not self._in_garbage:
                st.resyncs += 1
            self._in_garbage = True
            st.skipped_bytes += 1  # the held header's first byte: it cannot start a frame any more
            rest = tail[1:]
            if rest:
                keep = self._scan(rest, res, None)
                self._tail = rest[keep:]
        self._in_garbage = False
        return res

    def feed(self, data, host_time: float | None = None) -> DecodeResult:
        """Decode ``data`` (bytes-like) appended to what was held back. ``host_time`` (s) is attached to what
        this call completes. Never raises on malformed input."""
        self.stats.bytes_in += len(data)
        buf = self._tail + bytes(data) if self._tail else bytes(data)
        res = DecodeResult()
        if not buf:
            return res
        if len(buf) < self._need:  # still inside the frame held back: nothing new can complete
            self._tail = buf
            return res
        try:
            keep = self._scan(buf, res, host_time)
        except Exception:  # pragma: no cover - a decoder bug must not kill acquisition; make it loud instead
            log.exception("decoder failure on %d bytes; dropping them", len(buf))
            self.stats.skipped_bytes += len(buf)
            self.stats.resyncs += 1
            keep = len(buf)
        self._tail = buf[keep:]
        self._need = _needed(self._tail)
        return res

    # -- internals ----------------------------------------------------------------------------------------------
    def _scan(self, buf: bytes, res: DecodeResult, host_time: float | None) -> int:
        a = np.frombuffer(buf, dtype=np.uint8)
        L = a.size
        st = self.stats
        if L >= 2:
            cand = np.flatnonzero((a[:-1] == wire.MAGIC0) & (a[1:] == wire.MAGIC1))
        else:
            cand = np.empty(0, dtype=np.intp)
        # header fields of every candidate with a whole header
        hdr_ok = cand + wire.HEADER_SIZE <= L
        hc = cand[hdr_ok]
        ver = a[hc + 2]
        typ = a[hc + 3]
        ln = a[hc + 4].astype(np.int64) | (a[hc + 5].astype(np.int64) << 8)
        plaus = (ver == wire.VERSION) & _KNOWN_TYPES[typ] & (ln <= wire.MAX_PAYLOAD)
        end = hc + wire.HEADER_SIZE + ln  # CRC position
        complete = plaus & (end + wire.CRC_SIZE <= L)
        # CRC of every plausible complete candidate
        ci = np.flatnonzero(complete)
        valid = np.zeros(hc.size, dtype=bool)
        if ci.size:
            s = hc[ci]
            e = end[ci]
            stored = (
                a[e].astype(np.uint32)
                | (a[e + 1].astype(np.uint32) << 8)
                | (a[e + 2].astype(np.uint32) << 16)
                | (a[e + 3].astype(np.uint32) << 24)
            )
            mv = memoryview(buf)
            crc32 = zlib.crc32
            comp = np.fromiter((crc32(mv[i:j]) for i, j in zip(s.tolist(), e.tolist())), dtype=np.uint32, count=s.size)
            valid[ci] = comp == stored
        vi = np.flatnonzero(valid)
        vs = hc[vi]
        ve = end[vi] + wire.CRC_SIZE
        # greedy, non-overlapping acceptance in stream order
        if vs.size > 1 and not np.all(vs[1:] >= ve[:-1]):
            keep_idx = []
            cursor = -1
            for k, (s0, e0) in enumerate(zip(vs.tolist(), ve.tolist())):
                if s0 >= cursor:
                    keep_idx.append(k)
                    cursor = e0
            vi = vi[keep_idx]
            vs = hc[vi]
            ve = end[vi] + wire.CRC_SIZE
        last_end = int(ve[-1]) if ve.size else 0
        # where to stop consuming: a candidate after the last accepted frame that still needs bytes
        keep = L
        late = cand[cand >= last_end]
        if late.size:
            # candidates without a whole header are all at the end (cand sorted)
            late_hdr = late + wire.HEADER_SIZE <= L
            pos_in_hc = np.searchsorted(hc, late[late_hdr])
            incomplete = plaus[pos_in_hc] & ~complete[pos_in_hc]
            hold = np.concatenate([late[late_hdr][incomplete], late[~late_hdr]])
            if hold.size:
                keep = int(hold.min())
        if keep == L and L >= 1 and a[L - 1] == wire.MAGIC0 and L - 1 >= last_end:
            keep = L - 1
        # damage accounting: plausible but invalid headers outside accepted frames, before `keep`
        bad = np.flatnonzero(plaus & ~valid)
        if bad.size:
            bs = hc[bad]
            inside = np.zeros(bs.size, dtype=bool)
            if vs.size:
                k = np.searchsorted(vs, bs, side="right") - 1
                ok = k >= 0
                inside[ok] = bs[ok] < ve[k[ok]]
            sel = ~inside & (bs < keep)
            if sel.any():
                bs2 = bs[sel]
                be = end[bad][sel] + wire.CRC_SIZE
                nxt = np.searchsorted(vs, bs2, side="right")
                nxt_start = np.concatenate([vs, [keep]])[nxt]  # start of the next accepted frame (or the hold point)
                trunc = (be > nxt_start) | ~complete[bad][sel]
                st.truncated += int(trunc.sum())
                st.crc_errors += int((~trunc).sum())
        # skipped bytes / resync runs inside [0, keep)
        vs_c = vs[vs < keep]
        ve_c = ve[: vs_c.size]
        gap_starts = np.concatenate([[0], ve_c])
        gap_ends = np.concatenate([vs_c, [keep]])
        gl = gap_ends - gap_starts
        runs = gl > 0
        nruns = int(runs.sum())
        if nruns:
            st.skipped_bytes += int(gl[runs].sum())
            st.resyncs += nruns - (1 if (self._in_garbage and runs[0]) else 0)
        self._in_garbage = bool(runs[-1]) if runs.size else self._in_garbage
        if vs.size:
            self._base = self.stats.bytes_in - L
            self._dispatch(a, buf, vs, typ[vi], ln[vi], res, host_time)
        return keep

    def _dispatch(self, a, buf, starts, types, lengths, res: DecodeResult, host_time) -> None:
        st = self.stats
        n = starts.size
        st.frames += n
        # sequence numbers of all frames, unwrapped
        seq_raw = (
            a[starts + 6].astype(np.int64)
            | (a[starts + 7].astype(np.int64) << 8)
            | (a[starts + 8].astype(np.int64) << 16)
            | (a[starts + 9].astype(np.int64) << 24)
        )
        seq = self._unwrap_seq(seq_raw)
        is_data = types == wire.T_DATA
        di = np.flatnonzero(is_data)
        if di.size:
            self._data(a, buf, starts[di], lengths[di], seq[di], res, host_time)
        for k in np.flatnonzero(~is_data).tolist():
            t = int(types[k])
            s = int(starts[k]) + wire.HEADER_SIZE
            payload = buf[s : s + int(lengths[k])]
            self._other(t, int(seq[k]), payload, res, host_time)

    def _unwrap_seq(self, raw: np.ndarray) -> np.ndarray:
        st = self.stats
        prev = self._last_seq
        if prev is None:
            base = raw[0]
            d = np.concatenate([[0], _signed32(np.diff(raw))])
        else:
            base = prev
            d = _signed32(np.diff(np.concatenate([[prev % _U32], raw])))
        seq = base + np.cumsum(d)
        # expected = 1 + max of everything before
        before = np.maximum.accumulate(seq)
        if self._max_seq is None:
            exp_prev = np.concatenate([[seq[0] - 1], before[:-1]]) + 1
        else:
            exp_prev = np.maximum(np.concatenate([[self._max_seq], before[:-1]]), self._max_seq) + 1
        jump = seq - exp_prev
        fwd = jump > 0
        st.seq_gaps += int(fwd.sum())
        st.lost_frames += int(jump[fwd].sum())
        st.seq_repeats += int((jump < 0).sum())
        self._last_seq = int(seq[-1])
        self._max_seq = int(max(before[-1], self._max_seq if self._max_seq is not None else before[-1]))
        return seq

    def _data(self, a, buf, starts, lengths, seq, res: DecodeResult, host_time) -> None:
        st = self.stats
        idx = starts[:, None] + wire.HEADER_SIZE + np.arange(wire.DATA_HDR_SIZE)
        hdr = np.ascontiguousarray(a[idx]).view(_DATA_HDR_DTYPE)[:, 0]
        ns = hdr["n"].astype(np.int64)
        nc = hdr["n_chips"].astype(np.int64)
        ok = (lengths == wire.DATA_HDR_SIZE + ns * nc * wire.CHIP_BYTES) & (ns > 0) & (nc > 0)
        if not ok.all():
            st.malformed += int((~ok).sum())
            st.data_frames += int((~ok).sum())
            starts, seq, hdr, ns, nc = starts[ok], seq[ok], hdr[ok], ns[ok], nc[ok]
            if starts.size == 0:
                return
        st.data_frames += starts.size
        flags = hdr["flags"]
        st.overrun_frames += int(((flags & wire.FLAG_OVERRUN) != 0).sum())
        st.device_status_errors += int(((flags & wire.FLAG_STATUS_ERROR) != 0).sum())
        # unwrap first-sample indices relative to the previous DATA frame
        raw_first = hdr["first"].astype(np.int64)
        if self._last_first is None:
            first = raw_first[0] + np.concatenate([[0], np.cumsum(_signed32(np.diff(raw_first)))])
        else:
            d = _signed32(np.diff(np.concatenate([[self._last_first % _U32], raw_first])))
            first = self._last_first + np.cumsum(d)
        stop = first + ns
        prev_max = np.maximum.accumulate(stop)
        expected = np.concatenate([[first[0] if self._expected is None else self._expected], prev_max[:-1]])
        if self._expected is not None:
            expected = np.maximum(expected, self._expected)
        jump = first - expected
        fwd = jump > 0
        st.sample_gaps += int(fwd.sum())
        st.lost_samples += int(jump[fwd].sum())
        st.sample_repeats += int((jump < 0).sum())
        st.samples += int(ns.sum())
        self._last_first = int(first[-1])
        self._recent_stop = int(stop[-1])
        self._expected = int(max(prev_max[-1], self._expected if self._expected is not None else prev_max[-1]))
        # split into runs of the same geometry that are contiguous in sample index
        contiguous = (first[1:] == stop[:-1]) & (ns[1:] == ns[:-1]) & (nc[1:] == nc[:-1])
        cuts = np.concatenate([[0], np.flatnonzero(~contiguous) + 1, [starts.size]]).tolist()
        for i0, i1 in zip(cuts[:-1], cuts[1:]):
            res.blocks.append(
                self._decode_run(
                    a, buf, starts[i0:i1], int(ns[i0]), int(nc[i0]), first[i0:i1], hdr[i0:i1], seq[i0:i1], host_time
                )
            )

    def _decode_run(self, a, buf, starts, n, nc, first, hdr, seq, host_time) -> DataBlock:
        F = starts.size
        words_per_frame = n * nc * (wire.CHANNELS_PER_CHIP + 1)  # 3-byte words: status + 8 channels per chip
        step = np.diff(starts)
        # Each 3-byte big-endian word is read as a 4-byte big-endian int through an unaligned strided view (the
        # 4th byte belongs to the next word or to the CRC, always inside the buffer) and shifted right by 8 with
        # sign extension straight into the [chip, channel, frame, sample] layout: one pass over the data.
        if F == 1 or np.all(step == step[0]):
            stride = int(step[0]) if F > 1 else 0
            w = np.ndarray(
                (F, words_per_frame), dtype=">i4", buffer=buf, offset=int(starts[0]) + _DATA_OFF, strides=(stride, 3)
            )
        else:
            w = np.concatenate(
                [
                    np.ndarray((1, words_per_frame), dtype=">i4", buffer=buf, offset=s + _DATA_OFF, strides=(0, 3))
                    for s in starts.tolist()
                ]
            )
        w4 = w.reshape(F, n, nc, wire.CHANNELS_PER_CHIP + 1).transpose(2, 3, 0, 1)  # [chip, word, frame, sample]
        codes = np.empty((nc, wire.CHANNELS_PER_CHIP, F, n), dtype=np.int32)
        np.right_shift(w4[:, 1:], 8, out=codes)
        codes = codes.reshape(nc * wire.CHANNELS_PER_CHIP, F * n)
        st_words = np.empty((nc, F, n), dtype=np.int32)
        np.right_shift(w4[:, 0], 8, out=st_words)
        status = (st_words & 0xFFFFFF).view(np.uint32).reshape(nc, F * n)
        self.stats.status_misaligned += int(np.count_nonzero((status >> 20) != 0xC))
        return DataBlock(
            first_sample=int(first[0]),
            codes=codes,
            status=status,
            frame_first=first.copy(),
            frame_n=np.full(F, n, dtype=np.int64),
            device_time_us=hdr["device_time"].astype(np.uint32),
            flags=hdr["flags"].copy(),
            seq=seq.copy(),
            host_time=host_time,
            frame_end=self._base + starts + wire.frame_size(wire.DATA_HDR_SIZE + n * nc * wire.CHIP_BYTES),
        )

    def _other(self, t: int, seq: int, payload: bytes, res: DecodeResult, host_time) -> None:
        st = self.stats
        try:
            if t == wire.T_RESPONSE or t == wire.T_COMMAND:
                obj = json.loads(payload.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                obj.setdefault("_host_time", host_time)
                if t == wire.T_RESPONSE:
                    st.responses += 1
                    res.responses.append(obj)
                else:
                    st.commands += 1
                    res.commands.append(obj)
            elif t == wire.T_STATUS:
                if len(payload) < wire.STATUS_SIZE:
                    raise ValueError("short STATUS")
                st.status_frames += 1
                res.statuses.append(StatusReport(seq, wire.unpack_status(payload), host_time))
            elif t == wire.T_EVENT:
                if len(payload) < wire.EVENT_SIZE:
                    raise ValueError("short EVENT")
                kind, value, sample, dt = wire.unpack_event(payload)
                ref = self._expected if self._expected is not None else 0
                sample_u = ref + int(_signed32(np.int64(sample) - ref % _U32))
                st.events += 1
                res.events.append(DeviceEvent(seq, kind, value, sample_u, dt, host_time))
            elif t == wire.T_LOG:
                if len(payload) < 1:
                    raise ValueError("empty LOG")
                st.logs += 1
                res.logs.append(DeviceLog(seq, payload[0], payload[1:].decode("utf-8", "replace"), host_time))
        except (ValueError, UnicodeDecodeError, TypeError):
            st.malformed += 1
