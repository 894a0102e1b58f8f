"""LSL outlet against a local inlet (loopback). Skips cleanly when liblsl cannot start."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from perifacial.host.board import SampleBlock
from perifacial.host.lsl import LslOutlet, lsl_available

ok, why = lsl_available()
pytestmark = pytest.mark.skipif(not ok, reason=f"liblsl unavailable: {why}")


def test_outlet_metadata_values_and_fitted_timestamps():
    import pylsl

    labels = [f"LU{i + 1}" for i in range(24)]
    sid = "perifacial-test-" + uuid.uuid4().hex
    try:
        out = LslOutlet(labels, 1000.0, source_id=sid)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"cannot create an LSL outlet here: {exc}")
    streams = pylsl.resolve_byprop("source_id", sid, timeout=5.0)
    if not streams:
        pytest.skip("LSL discovery does not work on this machine (no multicast/loopback)")
    inlet = pylsl.StreamInlet(streams[0], max_buflen=60, recover=False)
    info = inlet.info(timeout=5.0)
    assert info.channel_count() == 24 and info.nominal_srate() == 1000.0 and info.type() == "EMG"
    ch = info.desc().child("channels").child("channel")
    got_labels = []
    while not ch.empty():
        got_labels.append(ch.child_value("label"))
        assert ch.child_value("unit") == "microvolts"
        ch = ch.next_sibling()
    assert got_labels == labels
    inlet.open_stream(timeout=5.0)

    # blocks of 10 samples from a board whose clock runs 0.3 % fast, arriving with 0-8 ms of jitter
    rng = np.random.default_rng(0)
    fs_true = 1003.0
    t0 = time.monotonic()
    codes = rng.integers(-(1 << 20), 1 << 20, size=(24, 6000)).astype(np.int32)
    lsb = np.full(24, 9e6 / 24 / 2**24)
    status = np.full((3, 6000), 0xC00000, dtype=np.uint32)
    for k in range(0, 6000, 10):
        arrival = t0 + (k + 9) / fs_true + 0.001 + rng.uniform(0, 0.008)
        out.push_block(SampleBlock(k, codes[:, k : k + 10], status[:, k : k + 10], lsb, arrival))
    samples, stamps = [], []
    deadline = time.monotonic() + 10
    while len(samples) < 6000 and time.monotonic() < deadline:
        x, ts = inlet.pull_chunk(timeout=0.5)
        samples += x
        stamps += ts
    assert len(samples) == 6000
    x = np.asarray(samples, dtype=np.float64).T
    assert np.allclose(x, (codes * lsb[:, None]).astype(np.float32), rtol=0, atol=0)
    # the fitted rate tracks the board's true rate, not the nominal one
    assert out.clock.fs == pytest.approx(fs_true, rel=3e-4)
    # timestamps of the last second follow the true sample times within the jitter floor (ms)
    stamps = np.asarray(stamps)
    true = t0 + np.arange(6000) / fs_true + out.offset
    err = stamps[-1000:] - true[-1000:]
    assert np.abs(err - np.median(err)).max() < 0.004
    assert 0 <= np.median(err) < 0.004  # the lower envelope sits at the minimum latency (1 ms here)
    out.close()
