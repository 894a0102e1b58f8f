"""Every bad input gets one line on stderr and a non-zero exit, never a traceback (issue 14, point 7).

Each row is a command line the issue found (or one like it). Run in-process through ``cli.main`` (fast); a few
run in a subprocess as a user would. Expected failures exit with 2; none may print "Traceback".
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perifacial import cli

DATA = Path(__file__).parent / "host" / "data"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    f = {}
    f["pfr"] = d / "ok.pfr"
    shutil.copy(DATA / "legacy_v1.pfr", f["pfr"])
    f["afile"] = d / "afile"
    f["afile"].write_text("x")
    f["dir"] = d / "folder"
    f["dir"].mkdir()
    f["png"] = d / "pic.png"
    f["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    f["txt"] = d / "notes.txt"
    f["txt"].write_text("hello\n")
    f["fakepfr"] = d / "fake.pfr"
    f["fakepfr"].write_text("not a recording at all\n")
    good = d / "good.npz"
    np.savez(good, data=np.random.default_rng(0).normal(size=(2, 3000)), fs=1000.0)
    f["npz_trunc"] = d / "trunc.npz"
    f["npz_trunc"].write_bytes(good.read_bytes()[:300])
    f["npz_nodata"] = d / "nodata.npz"
    np.savez(f["npz_nodata"], x=np.zeros(3))
    f["npz_3d"] = d / "threed.npz"
    np.savez(f["npz_3d"], data=np.zeros((2, 2, 2)), fs=1000.0)
    f["csv"] = d / "sig.csv"
    np.savetxt(f["csv"], np.zeros((100, 2)), delimiter=",")
    f["mvc_list"] = d / "list.mvc.json"
    f["mvc_list"].write_text("[1, 2, 3]")
    f["mvc_nolabels"] = d / "nolabels.mvc.json"
    f["mvc_nolabels"].write_text(json.dumps({"labels": None, "mvc": [1.0]}))
    f["mvc_notjson"] = d / "broken.mvc.json"
    f["mvc_notjson"].write_text("{not json")
    f["events_png"] = d / "events.png"
    f["events_png"].write_bytes(f["png"].read_bytes())
    return f


def _sub(files, argv):
    return [
        str(files[a[1:]])
        if isinstance(a, str) and a.startswith("@") and a[1:] in files
        else (
            str(files[a.split("/")[0][1:]]) + "/" + a.split("/", 1)[1]
            if isinstance(a, str) and a.startswith("@")
            else a
        )
        for a in argv
    ]


NEW = "@dir/new.pfr"  # a fresh output name in a writable folder

#: the bad command lines as a user types them (``shlex`` syntax; ``@name`` is a file of the ``files`` fixture)
CASES = [
    # record: URL parts
    f"record tcp://h:99999 -o {NEW}",
    f"record tcp://h:abc -o {NEW}",
    f"record tcp://h -o {NEW}",
    f"record tcp://:80 -o {NEW}",
    f"record sim://?seed=abc -o {NEW}",
    f"record sim://?seed=-1 -o {NEW}",
    f"record sim://?rate=123 -o {NEW}",
    f"record sim://?n_chips=0 -o {NEW}",
    f"record sim://?n_chips=99 -o {NEW}",
    f"record sim://?samples_per_frame=0 -o {NEW}",
    f"record sim://?realtime=maybe -o {NEW}",
    f"record sim://?bogus=xyz -o {NEW}",
    f"record sim://?reboot_at=nan -o {NEW}",
    f"record serial:///dev/ttyUSB0?baud=abc -o {NEW}",
    f"record serial:///dev/ttyUSB0?baud=0 -o {NEW}",
    f"record foo://x -o {NEW}",
    f"record '' -o {NEW}",
    f"record /dev/ttyNOPE9 -o {NEW}",
    # record: numbers and files
    f"record sim:// -o {NEW} --seconds nan",
    f"record sim:// -o {NEW} --seconds inf",
    f"record sim:// -o {NEW} --seconds -1",
    f"record sim:// -o {NEW} --seconds 0",
    f"record sim:// -o {NEW} --seconds 1e-9",
    f"record sim:// -o {NEW} --seconds abc",
    "record sim:// -o @afile/x.pfr --seconds 1",
    "record sim:// -o @dir/missing/x.pfr --seconds 1",
    "record sim:// -o @pfr --seconds 1",
    "record sim:// -o @dir --seconds 1",
    f"record sim:// -o {NEW} --silence 0",
    f"record sim:// -o {NEW} --max-silence nan",
    f"record sim:// -o {NEW} --rate 123",
    f"record sim:// -o {NEW} --gain 3",
    # export
    "export @dir --to csv",
    "export @dir/none.pfr --to csv",
    "export @txt --to csv",
    "export @fakepfr --to csv",
    "export @png --to npz",
    "export @pfr --to csv -o @afile/out.csv",
    "export @pfr --to xyz",
    # spot
    "spot @npz_trunc",
    "spot @npz_nodata",
    "spot @npz_3d",
    "spot @csv",
    "spot @csv --fs nan",
    "spot @csv --fs -5",
    "spot @txt",
    "spot @dir",
    "spot @dir/none.npz",
    "spot @csv --fs 1000 --csv @afile/ev.csv",  # old spelling of -o
    "spot @csv --fs 1000 -o @afile/ev.csv",
    "spot @fakepfr",
    # process
    "process @dir/none.pfr",
    "process @pfr --mvc @mvc_list",
    "process @pfr --mvc @mvc_nolabels",
    "process @pfr --mvc @mvc_notjson",
    "process @pfr --notch nan",
    "process @pfr --video-fps 0",
    "process @pfr -j 0",
    "process @pfr --sync-observations @dir/none.csv",
    "process @pfr --out @afile/sub",
    "process @png",
    # study
    "study @dir/none",
    "study @pfr",
    "study @dir",
    "study @dir --out @afile/sub",
    "study @dir --mvc @dir/none",
    "study @dir --workers 0",
    "study @dir --memory-limit lots",
    "study @dir --sequential --scheduler tcp://127.0.0.1:1",
    "study @dir --scheduler tcp://127.0.0.1:1 --workers 2",
    # mvc
    "mvc sim:// -o @dir/m.mvc.json --contract nan",
    "mvc sim:// -o @dir/m.mvc.json --repetitions 0",
    "mvc sim:// -o @dir/missing/m.mvc.json",
    "mvc sim://?rate=5 -o @dir/m.mvc.json",
    # coding
    "coding export @events_png",
    "coding export @dir/none.csv",
    "coding agree @csv @csv --iou 2",
    "coding agree @csv @csv --video-fps nan",
    # sync
    "sync @pfr --digits 100",
    "sync @pfr --digits 0",
    "sync @dir/none.pfr",
    "sync @pfr --fps nan",
    "sync @pfr --rate -1",
    # monitor, selftest, devices, evaluate, demo, flash
    "monitor sim:// --window nan",
    "monitor tcp://h:99999",
    "selftest sim:// --seconds nan",
    "selftest sim:// --timeout 0",
    "selftest sim://?rate=7",
    "devices --ble-seconds nan",
    "evaluate --sessions 0",
    "evaluate --fs nan",
    "evaluate --duration -1",  # the old spelling of --seconds: still checked
    "evaluate-spotting --seconds -1",
    "evaluate-spotting --seconds -1 --duration -1",
    "demo --seconds nan",
    "demo --out @afile/demo",  # deprecated spelling: a WARNING line, then the one error line
    "demo -o @afile/demo",
    "flash /dev/ttyNOPE9 --board pico2w --link tcp --wifi-ssid x --tcp-port 99999",
]


@pytest.mark.parametrize("line", CASES, ids=[c[:60] for c in CASES])
def test_bad_input_is_one_line(line, files, capsys):
    args = _sub(files, shlex.split(line))
    try:
        rc = cli.main(args)
    except SystemExit as exc:  # argparse
        rc = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    assert rc == 2, (rc, err)
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("WARNING ", "INFO "))]
    assert len(lines) == 1 and lines[0].startswith("perifacial"), err


def test_unexpected_bug_is_one_line_unless_debug(monkeypatch, capsys, files):
    from perifacial.commands import export

    def boom(args):
        raise ZeroDivisionError("simulated bug")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["export"].set_defaults(func=boom)
    rc = cli.main(["export", str(files["pfr"]), "--to", "csv"])
    err = capsys.readouterr().err
    assert rc == 3 and "Traceback" not in err and "--debug" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "export", str(files["pfr"]), "--to", "csv"])
    assert export.run is not boom


@pytest.mark.parametrize(
    "argv",
    [
        ["record", "tcp://h:99999", "-o", "x.pfr"],
        ["record", "sim://?n_chips=0", "-o", "x.pfr", "--seconds", "1"],
        ["spot", "missing.npz"],
    ],
)
def test_bad_input_in_a_subprocess(argv, tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "perifacial", *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0, reason="root may write anywhere"
)
def test_unwritable_output_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert cli.main(["record", "sim://", "-o", str(ro / "x.pfr"), "--seconds", "1"]) == 2
        assert "no permission to write" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)
