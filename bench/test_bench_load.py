"""Loading a recording: ``perifacial.host.recording.load`` beside a straightforward reader, same run.

The reference (:func:`reference_codes`, written here, sharing no code with the package's readers) reads the same
stream from a format-1 file (magic, then records: 16-byte header, payload, CRC-32 over both): it walks the records,
joins the RAW payloads, walks the frames with the firmware's own ``wire.check`` (CRC included) and decodes every
DATA frame's 24-bit codes with one NumPy pass over all their sample bytes. It assumes what this stream is (in
order, gap-free, one chip count); it handles no damage, gaps, repeats or restarts. Ours reads the same stream
written in today's format 2 (header CRCs, record numbers, session copies) with segments, salvage and the rest.
Goal: ours within 2x of the reference (ratio >= 0.5).

With benchmarking enabled the recording is 1 h (24 ch at 1 kHz, ~300 MB); under the default ``--benchmark-disable``
it is 60 s and both loaders run once as a correctness check (equal codes).
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from perifacial.firmware import wire
from perifacial.host import rawlog
from perifacial.host.recording import Recorder, load
from perifacial.host.sim.frames import synth_frames

SESSION = {"format": "perifacial-raw", "fs": 1000.0, "labels": [f"CH{i + 1}" for i in range(24)], "gains": [24.0] * 24}
CHUNK = 1 << 16


def _write_v1(path, stream: bytes) -> None:
    """The format-1 writer (magic, then records: 16-byte header, payload, CRC over both)."""
    with open(path, "wb") as f:
        f.write(rawlog.FILE_MAGIC_V1)

        def rec(kind, payload, t):
            hdr = rawlog.REC_HDR_V1.pack(rawlog.REC_MAGIC, kind, 0, len(payload), t)
            f.write(hdr + payload + struct.pack("<I", zlib.crc32(payload, zlib.crc32(hdr))))

        rec(rawlog.K_SESSION, json.dumps(SESSION).encode(), 0.0)
        for i in range(0, len(stream), CHUNK):
            rec(rawlog.K_RAW, stream[i : i + CHUNK], 1000.0 + i / 81000)


def _write_v2(path, stream: bytes) -> None:
    rec = Recorder(path, SESSION, fsync_interval=1e9)
    for i in range(0, len(stream), CHUNK):
        rec.raw(stream[i : i + CHUNK], 1000.0 + i / 81000)
    rec.close()


def reference_codes(path) -> np.ndarray:
    """int32 codes ``[channels, samples]`` of a gap-free format-1 recording of DATA frames (the reference)."""
    data = memoryview(Path(path).read_bytes())
    hdr = struct.Struct("<2sBBId")  # record header: magic, kind, reserved, payload length, host time
    pos, raw = 8, []  # after the 8-byte file magic
    while pos + hdr.size <= len(data):
        _magic, kind, _res, length, _t = hdr.unpack_from(data, pos)
        end = pos + hdr.size + length
        (crc,) = struct.unpack_from("<I", data, end)
        if zlib.crc32(data[pos:end]) != crc:
            raise ValueError(f"record at {pos}: bad CRC")
        if kind == rawlog.K_RAW:
            raw.append(data[pos + hdr.size : end])
        pos = end + 4
    stream = memoryview(b"".join(raw))
    bodies, i, n_chips = [], 0, 0
    while i < len(stream):
        size = wire.check(stream, i)
        if size <= 0:
            raise ValueError(f"stream offset {i}: not a whole valid frame")
        ftype, length, _seq = wire.parse_header(stream, i)
        if ftype == wire.T_DATA:
            n_chips = wire.unpack_data_header(stream, i + wire.HEADER_SIZE)[3]
            bodies.append(stream[i + wire.HEADER_SIZE + wire.DATA_HDR_SIZE : i + wire.HEADER_SIZE + length])
        i += size
    b = np.frombuffer(b"".join(bodies), np.uint8).reshape(-1, n_chips, wire.CHIP_BYTES)[:, :, 3:]
    b = b.reshape(len(b), n_chips * wire.CHANNELS_PER_CHIP, 3)  # [samples, channels, 3 bytes big-endian]
    codes = (b[..., 0].astype(np.int32) << 24 | b[..., 1].astype(np.int32) << 16 | b[..., 2].astype(np.int32) << 8) >> 8
    return np.ascontiguousarray(codes.T)


@pytest.fixture(scope="module")
def files(request, tmp_path_factory):
    enabled = bool(request.config.getoption("benchmark_enable", False))
    seconds = 3600 if enabled else 60
    sf = synth_frames(seconds * 1000, seed=1)
    stream = sf.stream()
    d = tmp_path_factory.mktemp("load")
    v1, v2 = d / "v1.pfr", d / "v2.pfr"
    _write_v1(v1, stream)
    _write_v2(v2, stream)
    del stream
    return seconds, v1, v2, sf.codes


def test_load_vs_reference(files, benchmark, ratios):
    seconds, v1, v2, codes = files
    ref = reference_codes(v1)
    rec = benchmark.pedantic(load, args=(v2,), kwargs={"data": False}, rounds=3 if not benchmark.disabled else 1)
    assert np.array_equal(ref, codes) and np.array_equal(rec.codes, codes)
    assert np.array_equal(load(v1, data=False).codes, codes)  # format 1 still loads the same
    st = ratios.stats_of(benchmark)
    if st is None:
        return
    del ref
    ref_s = min(_timed(reference_codes, v1) for _ in range(3))
    v1_s = min(_timed(lambda p: load(p, data=False), v1) for _ in range(2))
    ratio = ratios.add(
        f"load a {seconds // 60} min recording (codes), format 2",
        "plain NumPy reader, format 1",
        ref_s,
        st["min"],
        0.5,
        note=f"format-1 file through today's load: {v1_s:.2f} s",
    )
    benchmark.extra_info.update(reference_s=ref_s, ratio=ratio, load_v1_s=v1_s)


def _timed(fn, *a):
    t = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t
