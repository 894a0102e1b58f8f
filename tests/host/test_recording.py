"""Recording, loading and exporting, checked against the exact codes a wire-protocol device sent.

The device here (``_fakedevice``) runs behind a real TCP socket so a link drop is a real closed connection; the
virtual board (sim://) tests are in ``test_sim.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fakedevice import FakeDevice, FakeTcpServer

from perifacial.host import export, rawlog
from perifacial.host.board import open_board
from perifacial.host.recording import load

LSB24 = 9e6 / 24 / 2**24


def _server(**kw):
    dev = FakeDevice(8000, seed=11)
    # realistic amplitudes (within half scale) except channel 5, which rails like an open electrode
    dev.codes //= 4
    dev.codes[5, 100:200] = (1 << 23) - 1
    return FakeTcpServer(dev, **kw)


@pytest.fixture
def server():
    srv = _server()
    yield srv
    srv.close()


@pytest.fixture
def dropping_server():
    """Drops the link once, after 2000 samples were sent: driven by sample count, not by wall-clock time."""
    srv = _server(drop_at_sample=2000)
    yield srv
    srv.close()


def test_record_with_link_drop_then_load_and_export(dropping_server, tmp_path):
    server = dropping_server
    dev = server.dev
    path = tmp_path / "s.pfr"
    with open_board(server.url) as board:
        summary = board.record(path, duration_s=6.0, progress=False)
    assert summary.reconnects == 1 and len(summary.gaps) == 1
    rec = load(path)
    assert rec.stats["complete"] and rec.fs == 1000.0
    assert rec.n_samples == 6000
    ((a, b),) = rec.gaps
    assert b - a == server.lost_on_drop
    ok = rec.valid
    assert np.array_equal(rec.codes[:, ok], dev.codes[:, :6000][:, ok])
    assert np.isnan(rec.data[:, a:b]).all() and not np.isnan(rec.data[:, ok]).any()
    assert np.allclose(rec.data[:, ok], dev.codes[:, :6000][:, ok] * LSB24, rtol=0, atol=1e-9)
    assert [e["state"] for e in rec.link_events][:1] == ["lost"]
    assert rec.labels[:2] == ["LU1", "LU2"] and len(rec.labels) == 24
    assert rec.info["software"]["name"] == "perifacial" and rec.info["board"]["firmware"] == "fake"
    assert rec.fs_device == pytest.approx(1000.0)  # the device clock ticks 1000 us per sample
    # BDF+ written with edfio, read back with pyEDFlib
    pyedflib = pytest.importorskip("pyedflib")
    bdf = export.to_bdf(rec, tmp_path / "s.bdf")
    f = pyedflib.EdfReader(str(bdf))
    try:
        assert f.filetype == pyedflib.FILETYPE_BDFPLUS
        assert f.getSignalLabels()[:2] == ["EMG LU1", "EMG LU2"]
        assert f.getPhysicalDimension(0) == "uV" and "LP:262Hz" in f.getPrefilter(0)
        for ch in range(24):
            dig = f.readSignal(ch, digital=True)[:6000]
            assert np.array_equal(dig[ok], dev.codes[ch, :6000][ok])
            assert (dig[a:b] == 0).all()
        phys = f.readSignal(0)[:6000]
        assert np.array_equal(phys[ok], dev.codes[0, :6000][ok] * LSB24)  # exact: codes map to uV exactly
        assert f.getPhysicalMinimum(0) == -187500 and f.getPhysicalMaximum(0) == 164062.5
        assert f.getDigitalMaximum(5) == (1 << 23) - 1  # the railed channel keeps every code
        assert np.array_equal(f.readSignal(5, digital=True)[100:200], np.full(100, (1 << 23) - 1))
        onsets, durations, texts = f.readAnnotations()
        gi = [i for i, t in enumerate(texts) if t.startswith("gap")]
        assert len(gi) == 1 and onsets[gi[0]] == pytest.approx(a / 1000) and durations[gi[0]] == pytest.approx(0.1)
    finally:
        f.close()
    # NPZ and CSV
    npz = np.load(export.to_npz(rec, tmp_path / "s.npz"))
    assert np.array_equal(npz["codes"], rec.codes) and npz["gaps"].tolist() == [[a, b]]
    assert np.array_equal(npz["data"], rec.data, equal_nan=True)
    csv = export.to_csv(rec, tmp_path / "s.csv")
    rows = np.genfromtxt(csv, delimiter=",", skip_header=1, max_rows=50)
    assert np.allclose(rows[:, 2:], rec.data[:, :50].T, atol=5e-7)
    assert np.array_equal(np.round(rows[:, 2:] / LSB24).astype(np.int64), rec.codes[:, :50].T)


def test_markers_and_sync_rows(server, tmp_path):
    from perifacial.host.recording import Recorder, session_header

    path = tmp_path / "m.pfr"
    with open_board(server.url) as board:
        rec = Recorder(path, session_header(board)).attach(board)
        board.start()
        # Driven by sample counts only: however the reads split, keep reading until the marker and all three
        # syncs are placed; at most one sync per block read, so their samples rise.
        while rec.markers == 0 or rec.sync_events < 3:
            blk = board.read(2.0)
            if blk.first_sample >= 500 and rec.markers == 0:
                rec.marker(7, "smile")
            if rec.sync_events < 3 and blk.first_sample >= 200 * (rec.sync_events + 1):
                rec.sync(rec.sync_events + 1)
        board.stop()
        rec.close()
    r = load(path)
    (m,) = r.markers
    assert m["value"] == 7 and m["label"] == "smile" and m["source"] == "host" and m["sample"] >= 500
    assert r.sync["value"].tolist() == [1, 2, 3]
    assert set(r.sync["kind"]) == {"received"}
    assert np.all(np.diff(r.sync["sample"]) > 0)


def test_torn_file_loads_every_prefix(server, tmp_path):
    path = tmp_path / "t.pfr"
    with open_board(server.url) as board:
        board.record(path, duration_s=1.0, progress=False)
    full = load(path)
    data = path.read_bytes()
    header_end = list(rawlog.read_records(path))[1].offset  # the session record ends here
    cut = tmp_path / "cut.pfr"
    rng = np.random.default_rng(0)
    offsets = sorted(
        set(rng.integers(0, len(data), 40).tolist())
        | {0, 3, 8, 9, 30, header_end - 1, header_end, header_end + 5, len(data) - 1}
    )
    prev = -1
    for off in offsets:
        cut.write_bytes(data[:off])
        if off < header_end:  # not even the session header
            with pytest.raises(ValueError):
                load(cut)
            continue
        r = load(cut)
        assert not r.stats["complete"] and r.n_samples >= prev
        prev = r.n_samples
        assert r.gaps == []
        assert np.array_equal(r.codes, full.codes[:, : r.n_samples])
    # a damaged record in the middle is skipped, the rest still loads
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    cut.write_bytes(bytes(bad))
    r = load(cut)
    assert r.stats["file_damaged"] == 1 and r.stats["complete"]


def test_rawlog_refuses_to_overwrite(tmp_path):
    p = tmp_path / "x.pfr"
    w = rawlog.RawLogWriter(p)
    w.write(rawlog.K_NOTE, b"{}")
    w.close()
    with pytest.raises(FileExistsError):
        rawlog.RawLogWriter(p)
