"""The record/export/devices subcommands, driven through their own argparse registration."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from perifacial.commands import devices, export, record
from perifacial.errors import PerifacialError


def run(*argv):
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    for m in (record, export, devices):
        m.register(sub)
    args = p.parse_args(list(argv))
    return args.func(args)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "r.pfr"
    assert run("record", "sim://?seed=9", "-o", str(path), "--seconds", "2", "--quiet") == 0
    return path


def test_export_all_formats(recording, capsys):
    from perifacial.host.recording import load

    rec = load(recording)
    for fmt in ("npz", "csv", "bdf"):
        assert run("export", str(recording), "--to", fmt) == 0
        out = recording.with_suffix("." + fmt)
        assert out.exists() and out.stat().st_size > 0
    assert np.array_equal(np.load(recording.with_suffix(".npz"))["codes"], rec.codes)
    assert "24 channels" in capsys.readouterr().out
    with pytest.raises(PerifacialError, match="exists"):
        run("export", str(recording), "--to", "npz")


def test_record_errors_are_user_errors(tmp_path, recording):
    with pytest.raises(PerifacialError, match="exists"):
        run("record", "sim://", "-o", str(recording), "--seconds", "1")
    with pytest.raises(PerifacialError, match="does not exist: is the board plugged in"):
        run("record", "/dev/ttyNOPE9", "-o", str(tmp_path / "x.pfr"), "--seconds", "1")
    with pytest.raises(PerifacialError, match="does not exist"):
        run("export", str(tmp_path / "none.pfr"), "--to", "csv")


def test_devices_lists_ports_and_sim(capsys):
    assert run("devices", "--ble-seconds", "0") == 0
    out = capsys.readouterr().out
    assert "serial ports:" in out and "sim://" in out
