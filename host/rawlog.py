"""The append-only raw log format of a perifacial recording (``.pfr``): writer and damage-tolerant reader.

Format 2 (written today): an 8-byte file magic ``b"PFREC\\x00\\x02\\n"`` then records, each::

    offset size field
    0      2    magic      b"PR"
    2      1    kind       K_SESSION, K_RAW, K_MARKER, K_SYNC, K_LINK, K_NOTE, K_END
    3      1    flags      0
    4      4    length     payload bytes n (u32, little-endian)
    8      8    host_time  float64 seconds, host monotonic clock (time.monotonic)
    16     4    seq        record counter (u32): 0, 1, 2, ... in writing order
    20     4    hdr_crc    CRC-32 of bytes 0..19
    24     n    payload    JSON (UTF-8) for every kind except K_RAW, which holds link bytes exactly as received
    24+n   4    crc        CRC-32 of the payload

The header CRC makes resynchronisation exact: after any damage the reader scans for the next ``PR`` whose header
checks out, so one flipped bit (in a length, say) never hides the records after it. A record whose header is good
but whose payload fails its CRC keeps its boundaries: its raw bytes still go to the frame decoder, which keeps every
frame whose own CRC holds. Bytes between a damaged header and the next good one are handed on the same way
(:attr:`Record.damaged`, kind ``K_SALVAGE``). ``seq`` exposes dropped and duplicated records (duplicates are
skipped). The writer repeats the session header (at the start, every ``session_every`` bytes, and at close) so
that one damaged copy never makes a file unloadable.

Format 1 (files written before): the same records with a 16-byte header (no ``seq``, no header CRC) and one CRC over
header and payload; still read, with the same resynchronisation by scanning (a record is accepted where its CRC
holds) and the same salvage of damaged regions.

Nothing is ever rewritten. The writer fsyncs about once a second (and at close), so a crash or power loss loses at
most the last second. A write error (disk full...) raises :class:`perifacial.errors.StorageError` after flushing
what the OS still takes.
"""

from __future__ import annotations

import errno
import json
import logging
import mmap
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MAGIC_V1 = b"PFREC\x00\x01\n"
FILE_MAGIC = FILE_MAGIC_V2 = b"PFREC\x00\x02\n"
FORMAT = 2  #: the format this module writes
REC_MAGIC = b"PR"
REC_HDR = struct.Struct("<2sBBIdI")  # magic, kind, flags, length, host_time, seq (format 2, before hdr_crc)
REC_HDR_SIZE = REC_HDR.size + 4  # 24: with the header CRC
REC_HDR_V1 = struct.Struct("<2sBBId")  # format 1: magic, kind, reserved, length, host_time
REC_HDR_SIZE_V1 = REC_HDR_V1.size  # 16
CRC = struct.Struct("<I")
MAX_RECORD = 64 << 20

_os_write = os.write  # one seam for tests that inject write errors (disk full)

K_SALVAGE = 0  #: (reader only) bytes of a region whose record header was damaged, handed on for frame recovery
K_SESSION = 1  #: JSON session header: board info, configuration, labels, montage, software version, start time
K_RAW = 2  #: bytes from the link, exactly as received; host_time = arrival time
K_MARKER = 3  #: JSON marker placed by the host: value, label, sample (host estimate)
K_SYNC = 4  #: JSON display change driven by the host: value, sample, kind ("received")
K_LINK = 5  #: JSON link state change: state ("lost", "up", ...)
K_NOTE = 6  #: JSON free-form note (configuration change, board restart, ...)
K_END = 7  #: JSON end of session: final statistics
KIND_NAMES = {1: "session", 2: "raw", 3: "marker", 4: "sync", 5: "link", 6: "note", 7: "end"}


@dataclass
class Record:
    """One record as read: ``kind``, ``host_time`` (NaN when unknown), ``payload``, byte ``offset`` in the file,
    ``seq`` (format 2; None otherwise) and ``damaged`` (payload CRC failed, torn, or a salvaged region: raw bytes
    only good for the frame decoder, which checks every frame's own CRC)."""

    kind: int
    host_time: float
    payload: bytes
    offset: int
    seq: int | None = None
    damaged: bool = False

    def json(self):
        return json.loads(self.payload.decode("utf-8"))


class RawLogWriter:
    """Append records to a new file; fsync at most every ``fsync_interval`` s (and on :meth:`sync`/:meth:`close`).

    The file is created exclusively (an existing file is never overwritten unless ``overwrite``); the directory
    entry is fsynced after creation so the file itself survives a power loss. Records are buffered in memory up to
    ``buffer_size`` bytes and written with ``os.write``; on a write error (disk full, file too large, I/O error) what
    the OS still accepts is written and fsynced, the writer is marked failed and :class:`StorageError` is raised.
    """

    def __init__(
        self, path: str | os.PathLike, fsync_interval: float = 1.0, overwrite: bool = False, buffer_size: int = 1 << 18
    ):
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL) | getattr(os, "O_BINARY", 0)
        self._fd: int | None = os.open(str(self.path), flags, 0o644)
        self._buf = bytearray()
        self.buffer_size = int(buffer_size)
        self.fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self.bytes_written = 0  #: bytes handed to the writer (records and magic)
        self.bytes_on_disk = 0  #: bytes the OS accepted
        self.fsyncs = 0
        self.records = 0
        self.failed: OSError | None = None
        self._buf += FILE_MAGIC
        self.bytes_written += len(FILE_MAGIC)
        self.sync()
        try:
            dfd = os.open(str(self.path.parent), os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:  # pragma: no cover - e.g. Windows cannot open directories
            pass

    def write(self, kind: int, payload: bytes, host_time: float | None = None) -> None:
        if self.failed is not None:
            raise self._storage_error(self.failed)
        if self._fd is None:
            raise ValueError(f"{self.path}: writer closed")
        t = time.monotonic() if host_time is None else float(host_time)
        hdr = REC_HDR.pack(REC_MAGIC, kind, 0, len(payload), t, self.records & 0xFFFFFFFF)
        buf = self._buf
        buf += hdr
        buf += CRC.pack(zlib.crc32(hdr))
        buf += payload
        buf += CRC.pack(zlib.crc32(payload))
        self.records += 1
        self.bytes_written += REC_HDR_SIZE + len(payload) + CRC.size
        if len(buf) >= self.buffer_size:
            self._drain()
        if time.monotonic() - self._last_sync >= self.fsync_interval:
            self.sync()

    def write_json(self, kind: int, obj, host_time: float | None = None) -> None:
        self.write(kind, json.dumps(obj, separators=(",", ":"), default=_json_default).encode("utf-8"), host_time)

    def _drain(self) -> None:
        """Hand the buffer to the OS (``os.write`` until done); on error keep what was taken and raise."""
        buf = self._buf
        done = 0
        err: OSError | None = None
        while done < len(buf):
            try:
                done += _os_write(self._fd, buf[done:] if done else buf)  # type: ignore[arg-type]
            except OSError as exc:
                err = exc
                break
        self.bytes_on_disk += done
        del buf[:done]
        if err is not None:
            self.failed = err
            raise self._storage_error(err) from None

    def _storage_error(self, exc: OSError):
        from perifacial.errors import StorageError

        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            reason = "the disk is full"
        elif exc.errno == errno.EFBIG:
            reason = "the file size limit was reached"
        elif exc.errno == getattr(errno, "EDQUOT", None):
            reason = "the disk quota is exhausted"
        err = StorageError(
            exc.errno,
            f"cannot write {self.path}: {reason}; the {self.bytes_on_disk:,} bytes written before are "
            "kept and load (free space and record again)",
        )
        err.filename = None
        return err

    def _fsync(self) -> None:
        fd = self._fd
        if hasattr(os, "F_FULLFSYNC"):  # pragma: no cover - macOS
            import fcntl

            try:
                fcntl.fcntl(fd, os.F_FULLFSYNC)  # type: ignore[attr-defined]
                return
            except OSError:
                pass
        os.fsync(fd)  # type: ignore[arg-type]

    def sync(self) -> None:
        """Write the buffer and fsync the file (on macOS F_FULLFSYNC where available)."""
        if self._fd is None:
            return
        try:
            if self._buf:
                self._drain()
        finally:
            try:
                self._fsync()
                self.fsyncs += 1
            except OSError as exc:  # a failing fsync is a failing disk: report it like a write error
                if self.failed is None:
                    self.failed = exc
                    raise self._storage_error(exc) from None
            self._last_sync = time.monotonic()

    def close(self) -> None:
        """Write what is buffered, fsync and close (the descriptor is closed even if writing fails)."""
        if self._fd is None:
            return
        try:
            if self.failed is None:
                self.sync()
            else:  # what the OS took before the error must reach the disk
                try:
                    self._fsync()
                except OSError:
                    pass
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@dataclass
class ReadReport:
    """What the reader saw: ``format`` (1 or 2), ``records`` read whole, ``torn_tail`` bytes at the end that did
    not form a whole record, ``damaged`` records or regions in the middle (bad CRC) spanning ``skipped_bytes``,
    ``salvaged_bytes`` of them handed to the frame decoder anyway, ``duplicates`` records skipped (a ``seq`` seen
    before), ``missing_records`` (``seq`` jumps not explained by a damaged region)."""

    records: int = 0
    torn_tail: int = 0
    damaged: int = 0
    skipped_bytes: int = 0
    file_bytes: int = 0
    format: int = 0
    salvaged_bytes: int = 0
    duplicates: int = 0
    missing_records: int = 0


def looks_like_rawlog(path: str | os.PathLike) -> bool:
    """True if ``path`` starts like a ``.pfr`` file (either format's magic, one damaged byte allowed)."""
    with open(path, "rb") as f:
        head = f.read(len(FILE_MAGIC))
    return any(
        head == m or _close_to(head, m) or (len(head) < len(m) and m.startswith(head))
        for m in (FILE_MAGIC_V2, FILE_MAGIC_V1)
    )


def read_records(path: str | os.PathLike, report: ReadReport | None = None):
    """Yield :class:`Record` objects from ``path`` in file order; tolerant of a torn tail and of damage anywhere
    (see the module docstring). Raises :class:`perifacial.errors.RecordingError` if ``path`` is not a recording."""
    with open(path, "rb") as f:
        # mapped, not read: the pages behind the reader are released as it goes (:class:`_Mapped`), so reading
        # a file of any size keeps only a window of it in memory
        data = _Mapped(f) if os.fstat(f.fileno()).st_size else b""
    try:
        yield from _read_data(data, report, path)
    finally:
        if isinstance(data, _Mapped):
            data.close()


class _Mapped(mmap.mmap):
    """A read-only map of a whole file whose pages behind ``release(i)`` are dropped from the process (they are
    read again from the page cache if touched later), so that one pass over a long file keeps ~``WINDOW`` bytes
    resident instead of the whole file."""

    WINDOW = 64 << 20

    def __new__(cls, f):
        self = super().__new__(cls, f.fileno(), 0, access=mmap.ACCESS_READ)
        self.released = 0
        return self

    def release(self, i: int) -> None:
        upto = (i - self.WINDOW) // mmap.PAGESIZE * mmap.PAGESIZE
        if upto > self.released and hasattr(mmap, "MADV_DONTNEED"):  # (not on Windows: the map stays resident)
            self.madvise(mmap.MADV_DONTNEED, self.released, upto - self.released)
            self.released = upto


def _release(data, i: int) -> None:
    if isinstance(data, _Mapped):
        data.release(i)


def _read_data(data, report: ReadReport | None, path):
    rep = report if report is not None else ReadReport()
    rep.file_bytes = len(data)
    head = bytes(data[: len(FILE_MAGIC)])
    mv = memoryview(data)
    try:
        yield from _read_format(data, mv, head, rep, path)
    finally:
        mv.release()


def _read_format(data, mv: memoryview, head: bytes, rep: ReadReport, path):
    from perifacial.errors import RecordingError

    n = len(data)
    if head.startswith(FILE_MAGIC_V2):
        fmt = 2
    elif head.startswith(FILE_MAGIC_V1):
        fmt = 1
    elif n < len(FILE_MAGIC) and (FILE_MAGIC_V2.startswith(head) or FILE_MAGIC_V1.startswith(head)):
        rep.torn_tail = n
        return
    elif _hdr2_at(data, mv, 8) is not None or _close_to(data[:8], FILE_MAGIC_V2):
        fmt = 2
        log.warning("%s: damaged file magic; read as format 2", path)
    elif _valid1_at(data, mv, 8) or _close_to(data[:8], FILE_MAGIC_V1):
        fmt = 1
        log.warning("%s: damaged file magic; read as format 1", path)
    else:
        raise RecordingError(f"{path}: not a perifacial recording (no .pfr file magic)")
    rep.format = fmt
    if fmt == 2:
        yield from _read2(data, mv, rep, path)
    else:
        yield from _read1(data, mv, rep, path)


def _close_to(a: bytes, b: bytes) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= 1


def _hdr2_at(data: bytes, mv: memoryview, i: int):
    """(kind, length, host_time, seq) if a format-2 record header with a good CRC starts at ``i``, else None."""
    if len(data) - i < REC_HDR_SIZE or data[i : i + 2] != REC_MAGIC:
        return None
    if zlib.crc32(mv[i : i + REC_HDR.size]) != CRC.unpack_from(data, i + REC_HDR.size)[0]:
        return None
    _m, kind, _f, length, t, seq = REC_HDR.unpack_from(data, i)
    if kind not in KIND_NAMES or length > MAX_RECORD:
        return None
    return kind, length, t, seq


def _next2(data: bytes, mv: memoryview, i: int) -> int:
    j = data.find(REC_MAGIC, i)
    while j != -1 and _hdr2_at(data, mv, j) is None:
        j = data.find(REC_MAGIC, j + 1)
    return j


def _salvage(rep: ReadReport, data: bytes, a: int, b: int, i: int, path, tail: bool = False) -> Record | None:
    """Account for a damaged region starting at ``i`` (or the torn ``tail``); its probable payload ``data[a:b]``
    goes to the decoder."""
    if not tail:
        rep.damaged += 1
        log.warning("%s: damaged record at byte %d; recovering the frames inside it", path, i)
    if b - a <= 0:
        return None
    rep.salvaged_bytes += b - a
    return Record(K_SALVAGE, float("nan"), data[a:b], i, None, True)


def _read2(data: bytes, mv: memoryview, rep: ReadReport, path):
    n = len(data)
    i = len(FILE_MAGIC)
    last_seq: int | None = None
    salvaged_since = 0
    while i < n:
        h = _hdr2_at(data, mv, i)
        if h is None:
            j = _next2(data, mv, i + 1)
            if j == -1:  # nothing valid after: a torn (or damaged) tail
                rep.torn_tail = n - i
                if n - i > REC_HDR_SIZE:
                    r = _salvage(rep, data, i + REC_HDR_SIZE, n, i, path, tail=True)
                    if r is not None:
                        yield r
                return
            rep.skipped_bytes += j - i
            r = _salvage(rep, data, i + REC_HDR_SIZE, j - CRC.size, i, path)
            salvaged_since += 1
            if r is not None:
                yield r
            i = j
            continue
        kind, length, t, seq = h
        start = i + REC_HDR_SIZE
        end = start + length
        if end + CRC.size > n:  # torn last record (its header is good): its bytes may still hold whole frames
            rep.torn_tail = n - i
            if kind == K_RAW and n > start:
                rep.salvaged_bytes += n - start
                yield Record(kind, t, data[start:n], i, seq, True)
            return
        if last_seq is not None and (seq == last_seq or ((seq - last_seq) & 0xFFFFFFFF) >= 0x80000000):
            rep.duplicates += 1
            log.warning("%s: record %d at byte %d repeats an earlier one; skipped", path, seq, i)
            i = end + CRC.size
            continue
        if last_seq is not None:
            missing = ((seq - last_seq) & 0xFFFFFFFF) - 1 - salvaged_since
            if missing > 0:
                rep.missing_records += missing
                log.warning("%s: %d record(s) missing before byte %d", path, missing, i)
        last_seq = seq
        salvaged_since = 0
        ok = zlib.crc32(mv[start:end]) == CRC.unpack_from(data, end)[0]
        if ok:
            rep.records += 1
        else:
            rep.damaged += 1
            rep.salvaged_bytes += length
            log.warning("%s: damaged %s record at byte %d", path, KIND_NAMES[kind], i)
        yield Record(kind, t, data[start:end], i, seq, not ok)
        i = end + CRC.size
        _release(data, i)


def _valid1_at(data: bytes, mv: memoryview, i: int) -> bool:
    if len(data) - i < REC_HDR_SIZE_V1 + CRC.size:
        return False
    magic, kind, _r, length, _t = REC_HDR_V1.unpack_from(data, i)
    end = i + REC_HDR_SIZE_V1 + length
    if magic != REC_MAGIC or kind not in KIND_NAMES or length > MAX_RECORD or end + CRC.size > len(data):
        return False
    return zlib.crc32(mv[i:end]) == CRC.unpack_from(data, end)[0]


def _read1(data: bytes, mv: memoryview, rep: ReadReport, path):
    n = len(data)
    i = len(FILE_MAGIC_V1)
    H = REC_HDR_SIZE_V1
    while i < n:
        if n - i < H + CRC.size:
            rep.torn_tail = n - i
            return
        magic, kind, _r, length, t = REC_HDR_V1.unpack_from(data, i)
        end = i + H + length
        plausible = magic == REC_MAGIC and kind in KIND_NAMES and length <= MAX_RECORD
        if plausible and end + CRC.size <= n and zlib.crc32(mv[i:end]) == CRC.unpack_from(data, end)[0]:
            rep.records += 1
            yield Record(kind, t, data[i + H : end], i)
            i = end + CRC.size
            _release(data, i)
            continue
        # damaged (or torn): the next record whose CRC checks out
        j = data.find(REC_MAGIC, i + 1)
        while j != -1 and not _valid1_at(data, mv, j):
            j = data.find(REC_MAGIC, j + 1)
        if j == -1:
            rep.torn_tail = n - i
            if n - i > H:
                rep.salvaged_bytes += n - i - H
                yield Record(K_SALVAGE, float("nan"), data[i + H : n], i, None, True)
            return
        rep.skipped_bytes += j - i
        r = _salvage(rep, data, i + H, j - CRC.size, i, path)
        if r is not None:
            yield r
        i = j
