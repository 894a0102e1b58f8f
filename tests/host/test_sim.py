"""End to end through ``sim://``: the firmware's own code on the ADS1299 model, recorded and loaded back.

References: the pure-Python frame-by-frame decoder (``refdecode``, built on the firmware's ``wire.check``) applied to
the raw bytes, and the clean stream for the corruption test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import refdecode

from perifacial.firmware import wire
from perifacial.host import rawlog
from perifacial.host.board import open_board
from perifacial.host.decoder import Decoder
from perifacial.host.recording import load

CLI = (
    "import sys, argparse\n"
    "from perifacial.commands import record\n"
    "p = argparse.ArgumentParser(); sub = p.add_subparsers(); record.register(sub)\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
)


def raw_bytes(path) -> bytes:
    return b"".join(r.payload for r in rawlog.read_records(path) if r.kind == rawlog.K_RAW)


def test_sim_record_load_matches_reference_decoder(tmp_path):
    path = tmp_path / "sim.pfr"
    with open_board("sim://?seed=3") as board:
        assert board.info["chips"] == 3 and board.fs == 1000.0
        board.marker(5)  # before start: latched at sample 0 by the board
        summary = board.record(path, duration_s=20.0, progress=False)
    assert summary.samples >= 20000 and summary.gaps == []
    rec = load(path)
    assert rec.n_samples == 20000 and rec.gaps == [] and rec.stats["complete"]
    assert rec.stats["crc_errors"] == 0 and rec.stats["lost_frames"] == 0 and rec.stats["overrun_frames"] == 0
    frames, samples = refdecode.decode_stream(raw_bytes(path))
    ref = np.array([samples[rec.first_sample + i] for i in range(rec.n_samples)]).T
    assert np.array_equal(rec.codes, ref)
    assert np.allclose(rec.data, ref * (9e6 / 24 / 2**24), rtol=0, atol=1e-9)
    assert rec.labels[0] == "LU1" and rec.info["board"]["board"] == "sim:pico2w"
    assert rec.fs_device == pytest.approx(1000.0, rel=1e-3)
    assert np.std(rec.data[:, 1000:]) > 1.0  # the synthetic EMG is there


def test_cli_record_sim(tmp_path):
    out = tmp_path / "cli.pfr"
    p = subprocess.run(
        [sys.executable, "-c", CLI, "record", "sim://?seed=4", "-o", str(out), "--seconds", "3", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert " samples (" in p.stdout and "0 gaps" in p.stdout
    again = subprocess.run(
        [sys.executable, "-c", CLI, "record", "sim://", "-o", str(out), "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 or "exists" in again.stderr


def test_sigkill_mid_run_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "killed.pfr"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLI,
            "record",
            "sim://?seed=5&realtime=1",
            "-o",
            str(path),
            "--seconds",
            "120",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for ~3 s of data on disk
            if path.exists() and path.stat().st_size > 250_000:
                break
            time.sleep(0.1)
        flushed = path.stat().st_size  # written to the OS (fsync happens about every second)
        time.sleep(1.5)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    rec = load(path)
    assert not rec.stats["complete"]  # no END record: the writer died
    assert rec.gaps == [] and rec.n_samples > 2000
    readable = rec.stats["file_file_bytes"] - rec.stats["file_torn_tail"]
    assert readable >= flushed  # everything the writer had handed over 1.5 s before the kill is there
    frames, samples = refdecode.decode_stream(raw_bytes(path))
    ref = np.array([samples[rec.first_sample + i] for i in range(rec.n_samples)]).T
    assert np.array_equal(rec.codes, ref)


def board_stream(nbytes: int, **opts) -> bytes:
    """``nbytes`` of the virtual board's stream while acquiring, exactly as the link carried it."""
    query = "&".join(f"{k}={v}" for k, v in {"seed": 6, **opts}.items())
    chunks: list[bytes] = []
    with open_board("sim://?" + query) as board:
        board.add_raw_listener(lambda c, t: chunks.append(c))
        board.start()
        got = 0
        while got < nbytes:
            board.pump(0.1)
            board.drain()
            got = sum(map(len, chunks))
        board.stop()
    return b"".join(chunks)[:nbytes]


@pytest.mark.parametrize("per_frame", [1, 10])
def test_decoder_on_10mb_with_1pct_corruption(per_frame):
    clean = board_stream(10_000_000, samples_per_frame=per_frame)
    frames = list(refdecode.iter_frames(clean))
    assert sum(len(f.payload) + wire.OVERHEAD for f in frames) >= len(clean) - 10_000  # clean = frames
    rng = np.random.default_rng(per_frame)
    buf = np.frombuffer(clean, dtype=np.uint8).copy()
    pos = np.flatnonzero(rng.random(buf.size) < 0.01)
    buf[pos] = (buf[pos] + rng.integers(1, 256, pos.size)).astype(np.uint8)  # every hit changes the byte
    bad = np.zeros(buf.size + 1, dtype=np.int64)
    bad[pos + 1] = 1
    hits = np.cumsum(bad)  # hits[i] = corrupted bytes before offset i
    intact, damaged = [], []
    for f in frames:
        end = f.offset + len(f.payload) + wire.OVERHEAD
        (intact if hits[end] == hits[f.offset] else damaged).append(f)
    corrupted = buf.tobytes()
    d = Decoder()
    blocks = []
    for i in range(0, len(corrupted), 65536):
        blocks += d.feed(corrupted[i : i + 65536]).blocks
    blocks += d.flush().blocks
    got = {}
    for b in blocks:
        for k in range(b.n):
            got[b.first_sample + k] = b.codes[:, k]
    n_intact_samples = 0
    for f in intact:
        if f.ftype == wire.T_DATA:
            first, _t, _fl, ss = refdecode.decode_data(f.payload)
            for k, (_w, codes) in enumerate(ss):
                assert np.array_equal(got[first + k], codes)
                n_intact_samples += 1
    st = d.stats
    # every intact frame recovered, nothing else
    assert st.frames == len(intact)
    assert st.samples == n_intact_samples
    # damage reported: every damaged frame is missing from the sequence, bad headers are counted
    assert st.lost_frames == len(damaged) - _edge_losses(frames, damaged)
    assert st.crc_errors + st.truncated > 0.5 * len(damaged)
    assert st.skipped_bytes >= sum(len(f.payload) + wire.OVERHEAD for f in damaged)
    assert st.lost_samples > 0 and st.resyncs > 0
    print(
        f"\nper_frame={per_frame}: {len(frames)} frames, {len(intact)} intact (all recovered), "
        f"{len(damaged)} damaged: crc {st.crc_errors}, truncated {st.truncated}, skipped {st.skipped_bytes} B, "
        f"lost frames {st.lost_frames}, lost samples {st.lost_samples}"
    )


def _edge_losses(frames, damaged) -> int:
    """Damaged frames before the first intact one or after the last cannot show as sequence gaps."""
    dset = {f.offset for f in damaged}
    lead = 0
    for f in frames:
        if f.offset not in dset:
            break
        lead += 1
    tail = 0
    for f in reversed(frames):
        if f.offset not in dset:
            break
        tail += 1
    return lead + tail


@pytest.mark.slow
def test_sixty_minute_session_records_every_sample(tmp_path):
    path = tmp_path / "hour.pfr"
    t0, c0 = time.monotonic(), time.process_time()
    with open_board("sim://?seed=7") as board:
        summary = board.record(path, duration_s=3600.0, progress=False)
    t_rec, c_rec = time.monotonic() - t0, time.process_time() - c0
    assert summary.samples >= 3_600_000 and summary.gaps == []
    t1 = time.monotonic()
    rec = load(path, data=False)
    t_load = time.monotonic() - t1
    assert rec.n_samples >= 3_600_000 and rec.gaps == []
    st = rec.stats
    assert (
        st["crc_errors"],
        st["truncated"],
        st["lost_frames"],
        st["lost_samples"],
        st["overrun_frames"],
        st["skipped_bytes"],
    ) == (0,) * 6
    # a read that overlaps a DRDY update returns a torn frame (modelled like the hardware): the board flags those
    # frames (FLAG_STATUS_ERROR) and the host counts the status words without the 0xC nibble: they must agree
    assert (st["status_misaligned"] == 0) == (st["device_status_errors"] == 0), st
    # every decoded sample is in the recording or counted as sent after the requested hour
    assert st["samples"] == rec.n_samples + st["samples_after_requested_end"] and rec.n_samples == 3_600_000
    print(
        f"\n60 min sim: record {t_rec:.0f} s wall / {c_rec:.0f} s CPU ({3600 / t_rec:.0f}x real time), "
        f"load {t_load:.1f} s, file {path.stat().st_size / 1e6:.0f} MB, fsyncs {summary.fsyncs}, "
        f"torn frames flagged {st['device_status_errors']}, misaligned status words {st['status_misaligned']}"
    )
