"""Loading a recording: ``perifacial.host.recording.load`` beside the pre-issue-14 ``load``, same run.

The reference is ``load`` as it was before the damage-tolerant format (issue 14), frozen in ``_pre14_load.py``,
reading a format-1 file. Ours reads the same stream written in today's format 2 (header CRCs, record numbers,
session copies) with segments, salvage and the rest. Goal: ours within 2x of the reference (ratio >= 0.5).

With benchmarking enabled the recording is 1 h (24 ch at 1 kHz, ~300 MB); under the default ``--benchmark-disable``
it is 60 s and both loaders run once as a correctness check (equal codes).
"""

from __future__ import annotations

import json
import struct
import time
import zlib

import numpy as np
import pytest
from _pre14_load import load as pre14_load

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
    ref = pre14_load(v1, data=False)
    rec = benchmark.pedantic(load, args=(v2,), kwargs={"data": False}, rounds=3 if not benchmark.disabled else 1)
    assert np.array_equal(ref.codes, codes) and np.array_equal(rec.codes, codes)
    assert np.array_equal(load(v1, data=False).codes, codes)  # format 1 still loads the same
    st = ratios.stats_of(benchmark)
    if st is None:
        return
    ref_s = min(_timed(lambda p: pre14_load(p, data=False), v1) for _ in range(3))
    v1_s = min(_timed(lambda p: load(p, data=False), v1) for _ in range(2))
    ratio = ratios.add(
        f"load a {seconds // 60} min recording (codes), format 2",
        "pre-issue-14 load, format 1",
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
