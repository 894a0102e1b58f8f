"""Recording from the virtual board (sim://) with the display hooked into Board.record: host-driven (screen
backend rendered off-screen) and board-driven (the virtual board's on-board display), then filming the display,
reading it and fitting against the recording's own sync log."""

import numpy as np
import pytest

pytest.importorskip("perifacial.host.sim.virtual_board")
from _simsession import film  # noqa: E402

from perifacial.host.board import open_board  # noqa: E402
from perifacial.host.recording import load  # noqa: E402
from perifacial.host.sync import (  # noqa: E402
    DigitDisplay,
    ScreenBackend,
    SevenSegmentReader,
    SyncLog,
    fit_sync,
    open_display,
    readings_to_observations,
)

DURATION_S = 10.0


def _check(path, images, latency_s, max_err_samples):
    rec = load(path, data=False)
    syncl = SyncLog.from_rows(rec.sync, capacity=10**4)
    change_t = syncl.samples / rec.fs + latency_s
    frames, roi, true_sample, true_value = film(
        change_t, images, syncl.values, rate=rec.fs, rng=np.random.default_rng(2)
    )
    reads = SevenSegmentReader(4, roi).calibrate(frames).read_frames(frames)
    fit = fit_sync(readings_to_observations(reads), syncl, 30.0, rate=rec.fs)
    err = fit.sample_at(np.arange(len(frames))) - true_sample
    assert np.max(np.abs(err)) < max_err_samples
    assert abs(fit.drift_ppm - (1 / 1.003 - 1) * 1e6) < 600  # 10 s of video only
    return syncl, fit, reads


def test_host_driven_screen_on_virtual_board(tmp_path):
    screen = ScreenBackend(4, offscreen=True, width_px=180, height_px=70)
    display = DigitDisplay(screen, every_frames=12)  # 10-sample DATA frames: a change every 120 ms
    with open_board("sim://?seed=3&realtime=0") as board:
        board.record(tmp_path / "host.pfr", DURATION_S, display=display, progress=False)
    rows = display.rows
    assert len(rows) > 60 and screen.value == rows[-1].shown
    # one row per 12 DATA frames, however the link grouped the frames into blocks
    assert np.all(np.diff([r.sample for r in rows]) == 120)
    # film it: the virtual link has no latency, so the change is drawn ~5 ms after its mark (the virtual board
    # runs faster than real time here, so the change times come from the samples, not from the host clock)
    syncl = SyncLog.from_rows(load(tmp_path / "host.pfr", data=False).sync)
    assert syncl.kind == "received" and [int(v) for v in syncl.values[:3]] == [r.value for r in rows[:3]]
    images = []
    for v in syncl.values:
        screen.show(int(v) % 10**4)
        images.append(screen.render())
    _, fit, _ = _check(tmp_path / "host.pfr", images, 0.005, 1000 / 30)
    assert fit.kind == "received"


def test_board_driven_display_on_virtual_board(tmp_path, capsys):
    display = open_display("board", every_samples=120)
    with open_board("sim://?seed=4&realtime=0") as board:
        board.record(tmp_path / "board.pfr", DURATION_S, display=display, progress=False)
    rows = display.rows
    assert rows and all(r.kind == "sampled" for r in rows)
    assert np.all(np.diff([r.sample for r in rows][1:]) == 120)
    # film the on-board display: it latches exactly at the logged samples
    screen = ScreenBackend(4, offscreen=True, width_px=180, height_px=70)
    loaded = load(tmp_path / "board.pfr", data=False)
    # the display's description (capacity: how the digits wrap) comes back with the recording
    assert loaded.info["sync_display"]["capacity"] == 10**4
    syncl = SyncLog.from_rows(loaded.sync, capacity=loaded.info["sync_display"]["capacity"])
    images = []
    for v in syncl.values:
        screen.show(int(v) % 10**4)
        images.append(screen.render())
    # sample-exact marks: the error is the camera's (half an exposure, jitter), well under half a frame
    _, fit, reads = _check(tmp_path / "board.pfr", images, 0.0, 1000 / 30 / 2)
    # the CLI reads the recording's sync log itself
    import argparse
    import json

    from perifacial.commands import sync as sync_cmd
    from perifacial.host.sync import write_observations_csv

    write_observations_csv(tmp_path / "obs.csv", readings_to_observations(reads))
    parser = argparse.ArgumentParser()
    sync_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["sync", str(tmp_path / "board.pfr"), "--observations", str(tmp_path / "obs.csv"), "--fps", "30", "--json"]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["log"]["kind"] == "sampled" and out["log"]["capacity"] == 10**4
    assert out["fit"]["drift_ppm"] == pytest.approx(fit.drift_ppm)
