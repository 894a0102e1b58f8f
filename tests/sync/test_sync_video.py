import builtins
import re

import numpy as np
import pytest
from video_writer import write_video

from perifacial.host.sync import fit_sync, readings_to_observations, video


def test_missing_decoder_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *a, **kw):
        if name in ("imageio_ffmpeg", "av"):
            raise ImportError(name)
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=re.escape("pip install 'perifacial[video]'")):
        video.iter_video("whatever.mp4")


@pytest.fixture(scope="module")
def cam(sim_session, tmp_path_factory):
    """The first 200 frames (6.7 s) of the simulated session as an H.264 file."""
    pytest.importorskip("imageio_ffmpeg")
    path = tmp_path_factory.mktemp("video") / "cam.mp4"
    write_video(str(path), sim_session.frames[:200], fps=30)
    return path


def test_video_file_roundtrip(sim_session, cam):
    n = 200
    path = cam
    readings, info = video.read_video_digits(str(path), 4, sim_session.roi, calibration_frames=100)
    assert info.fps == pytest.approx(30) and len(readings) == n
    clean = [r for r in readings if not r.flag]
    assert len(clean) > 0.85 * n
    assert sum(r.value != sim_session.true_value[r.frame] for r in clean) <= 2
    fit = fit_sync(readings_to_observations(readings), sim_session.log, info.fps, rate=1000.0)
    err = fit.sample_at(np.arange(n)) - sim_session.true_sample[:n]
    assert np.max(np.abs(err)) < 1000 / 30


def test_cli_reads_video(sim_session, cam, tmp_path, capsys):
    import argparse
    import json

    from perifacial.commands import sync as sync_cmd
    from perifacial.errors import PerifacialError

    path = cam
    sim_session.log.write_csv(tmp_path / "sync.csv")
    parser = argparse.ArgumentParser()
    sync_cmd.register(parser.add_subparsers(dest="command"))
    roi = ",".join(str(v) for v in sim_session.roi)
    args = parser.parse_args(
        [
            "sync",
            str(tmp_path / "sync.csv"),
            "--video",
            str(path),
            "--roi",
            roi,
            "--fs",
            "1000",
            "--save-observations",
            str(tmp_path / "obs.csv"),
            "--json",
        ]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fit"]["fps"] == 30 and out["fit"]["method"] == "transitions"
    assert (tmp_path / "obs.csv").read_text().startswith("frame,digit,flag")
    args = parser.parse_args(["sync", str(tmp_path / "sync.csv"), "--video", str(path), "--roi", "0,0,5000,10"])
    with pytest.raises(PerifacialError, match="outside"):
        args.func(args)
