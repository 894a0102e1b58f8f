import argparse
import csv
import subprocess
import sys

import numpy as np
import pytest

from perifacial.cli import CliError
from perifacial.commands import evaluate as evaluate_cmd
from perifacial.commands import spot as spot_cmd


def _parser():
    p = argparse.ArgumentParser(prog="perifacial")
    sub = p.add_subparsers(dest="command")
    spot_cmd.register(sub)
    evaluate_cmd.register(sub)
    return p


def _run(argv):
    args = _parser().parse_args(argv)
    return args.func(args)


def test_registering_does_not_import_numpy():
    code = (
        "import sys, argparse\n"
        "from perifacial.commands import spot, evaluate\n"
        "p = argparse.ArgumentParser(); s = p.add_subparsers()\n"
        "spot.register(s); evaluate.register(s)\n"
        "print('numpy' in sys.modules, 'numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from perifacial.dsp.synth import synthesize

    s = synthesize(4, 1000.0, duration=40.0, snr="high")
    d = tmp_path_factory.mktemp("rec")
    np.savez(d / "rec.npz", data=s.data, fs=s.fs)
    return s, d


def test_spot_npz_prints_and_writes_csv(session, capsys):
    from perifacial.dsp.filters import linear_envelope
    from perifacial.dsp.spotting import spot

    s, d = session
    out_csv = d / "events.csv"
    assert _run(["spot", str(d / "rec.npz"), "-o", str(out_csv)]) == 0
    text = capsys.readouterr().out
    expected = [e for e in spot(linear_envelope(s.data, s.fs), s.fs) if e.is_expression]
    assert f"{len(expected)} events" in text
    rows = list(csv.DictReader(open(out_csv)))
    assert [(int(r["onset"]), int(r["offset"]), r["kind"], r["region"]) for r in rows] == [
        (e.onset, e.offset, e.kind, e.region) for e in expected
    ]
    assert rows and rows[0]["channel"][:2] in {"LU", "LM", "LL", "RU", "RM", "RL"}
    # --all adds blinks/jaw/artefacts
    assert _run(["spot", str(d / "rec.npz"), "--all"]) == 0
    assert "blink" in capsys.readouterr().out


def test_spot_csv_input_with_header_and_casmemg(tmp_path, capsys):
    rng = np.random.default_rng(0)
    env = 1 + 0.05 * np.abs(rng.standard_normal(3000))
    env[1200:1500] += 3
    f = tmp_path / "env.csv"
    with open(f, "w") as fh:
        fh.write("ch1\n")
        for v in env:
            fh.write(f"{v}\n")
    assert _run(["spot", str(f), "--fs", "1000", "--envelope", "--method", "casmemg"]) == 0
    out = capsys.readouterr().out
    assert "expression" in out and "1 events" in out


def test_spot_user_errors(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    with pytest.raises(CliError, match="needs --fs"):
        _run(["spot", str(tmp_path / "x.csv")])
    with pytest.raises(CliError, match="cannot read"):
        _run(["spot", str(tmp_path / "missing.npz")])
    (tmp_path / "x.bin").write_bytes(b"\x00\x01junk\x00")
    with pytest.raises(CliError, match="unsupported"):
        _run(["spot", str(tmp_path / "x.bin")])
    np.savez(tmp_path / "nofs.npz", data=np.zeros((2, 10)))
    with pytest.raises(CliError, match="fs"):
        _run(["spot", str(tmp_path / "nofs.npz")])


def test_evaluate_spotting_small(capsys):
    assert _run(["evaluate-spotting", "--sessions", "1", "--seconds", "40", "--snr", "medium", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| SNR | method |")
    lines = [line for line in out.splitlines() if line.startswith("| medium")]
    assert [line.split("|")[2].strip() for line in lines] == ["adaptive", "casmemg-clip", "casmemg-session"]
    with pytest.raises(CliError):
        _run(["evaluate-spotting", "--snr", "loud"])


def test_spot_at_500_hz_lowers_the_band_edge(tmp_path, capsys):
    from perifacial.dsp.synth import synthesize

    s = synthesize(6, 500.0, duration=30.0, snr="high")
    np.savez(tmp_path / "r500.npz", data=s.data, fs=s.fs)
    assert _run(["spot", str(tmp_path / "r500.npz")]) == 0
    out = capsys.readouterr().out
    assert "at 500 Hz" in out and len(s.expressions) > 3
    n_listed = int(out.split(" events")[0].rsplit(" ", 1)[1])
    assert n_listed >= len(s.expressions) // 2


def test_through_the_real_cli_main(monkeypatch, tmp_path, capsys):
    import perifacial.cli as cli

    mods = tuple(
        m for m in cli.COMMAND_MODULES if m not in ("perifacial.commands.spot", "perifacial.commands.evaluate")
    )
    monkeypatch.setattr(cli, "COMMAND_MODULES", mods + ("perifacial.commands.spot", "perifacial.commands.evaluate"))
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    assert cli.main(["spot", str(tmp_path / "x.csv")]) == 2  # user error: message, exit code 2
    assert "needs --fs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["evaluate-spotting", "--help"])
    assert "--sessions" in capsys.readouterr().out
