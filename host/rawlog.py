"""The append-only raw log format of a perifacial recording (``.pfr``): writer and tolerant reader.

Layout: an 8-byte file magic ``b"PFREC\\x00\\x01\\n"`` then records, each::

    offset size field
    0      2    magic      b"PR"
    2      1    kind       K_SESSION, K_RAW, K_MARKER, K_SYNC, K_LINK, K_NOTE, K_END
    3      1    reserved   0
    4      4    length     payload bytes (u32, little-endian)
    8      8    host_time  float64 seconds, host monotonic clock (time.monotonic)
    16     n    payload    JSON (UTF-8) for every kind except K_RAW, which holds link bytes exactly as received
    16+n   4    crc        CRC-32 of bytes 0..16+n-1

Nothing is ever rewritten. The writer fsyncs about once a second (and at close), so a crash or power loss loses at
most the last second. The reader stops cleanly at a torn last record and resynchronises (next ``PR`` magic with a
good CRC) after a damaged one in the middle.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MAGIC = b"PFREC\x00\x01\n"
REC_MAGIC = b"PR"
REC_HDR = struct.Struct("<2sBBId")
REC_HDR_SIZE = REC_HDR.size  # 16
CRC = struct.Struct("<I")
MAX_RECORD = 64 << 20

K_SESSION = 1  #: JSON session header: board info, configuration, labels, montage, software version, start time
K_RAW = 2  #: bytes from the link, exactly as received; host_time = arrival time
K_MARKER = 3  #: JSON marker placed by the host: value, label, sample (host estimate)
K_SYNC = 4  #: JSON display change driven by the host: value, sample, kind ("received")
K_LINK = 5  #: JSON link state change: state ("lost", "up", ...)
K_NOTE = 6  #: JSON free-form note (configuration change, ...)
K_END = 7  #: JSON end of session: final statistics
KIND_NAMES = {1: "session", 2: "raw", 3: "marker", 4: "sync", 5: "link", 6: "note", 7: "end"}


@dataclass
class Record:
    kind: int
    host_time: float
    payload: bytes
    offset: int

    def json(self) -> dict:
        return json.loads(self.payload.decode("utf-8"))


class RawLogWriter:
    """Append records to a new file; fsync at most every ``fsync_interval`` s (and on :meth:`sync`/:meth:`close`).

    The file is created exclusively (an existing file is never overwritten unless ``overwrite``); the directory
    entry is fsynced after creation so the file itself survives a power loss."""

    def __init__(self, path: str | os.PathLike, fsync_interval: float = 1.0, overwrite: bool = False,
                 buffer_size: int = 1 << 20):
        self.path = Path(path)
        mode = "wb" if overwrite else "xb"
        self._f = open(self.path, mode, buffering=buffer_size)
        self.fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self.bytes_written = 0
        self.fsyncs = 0
        self._f.write(FILE_MAGIC)
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
        t = time.monotonic() if host_time is None else float(host_time)
        hdr = REC_HDR.pack(REC_MAGIC, kind, 0, len(payload), t)
        crc = zlib.crc32(payload, zlib.crc32(hdr))
        f = self._f
        f.write(hdr)
        f.write(payload)
        f.write(CRC.pack(crc))
        self.bytes_written += REC_HDR_SIZE + len(payload) + CRC.size
        if time.monotonic() - self._last_sync >= self.fsync_interval:
            self.sync()

    def write_json(self, kind: int, obj, host_time: float | None = None) -> None:
        self.write(kind, json.dumps(obj, separators=(",", ":"), default=_json_default).encode("utf-8"), host_time)

    def sync(self) -> None:
        """Flush Python's buffer and fsync the file (on macOS F_FULLFSYNC where available)."""
        self._f.flush()
        fd = self._f.fileno()
        if hasattr(os, "F_FULLFSYNC"):  # pragma: no cover - macOS
            import fcntl

            try:
                fcntl.fcntl(fd, os.F_FULLFSYNC)  # type: ignore[attr-defined]
            except OSError:
                os.fsync(fd)
        else:
            os.fsync(fd)
        self._last_sync = time.monotonic()
        self.fsyncs += 1

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed


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
