"""The README's first command: ``perifacial demo`` on the virtual board, end to end."""

import csv
import json

from perifacial.cli import main


def test_demo_records_processes_and_scores(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--seconds", "30", "--seed", "3", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    for name in (
        "demo.pfr",
        "demo.events.csv",
        "demo.summary.json",
        "demo.preprocessing.png",
        "demo.regions.png",
        "demo.mvc_duration.png",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "demo.summary.json").read_text())
    assert summary["gaps"]["count"] == 0 and summary["gaps"]["lost_samples"] == 0
    # at least what was asked; whole received frames past the target are kept, never dropped (fast mode reads in
    # batches)
    assert 30 <= summary["duration_s"] < 31.5
    rows = list(csv.DictReader(open(out / "demo.events.csv")))
    assert len(rows) == summary["counts"]["expressions"] > 0
    assert {r["kind"] for r in rows} <= {"ME", "MaE"}
    # the printed score is against the simulator's ground truth, and the spotter finds what was simulated
    line = next(ln for ln in text.splitlines() if ln.startswith("against the simulator"))
    f1 = float(line.split("F1 ")[1].split()[0])
    assert f1 >= 0.8, line


def test_demo_rejects_bad_length(capsys):
    assert main(["demo", "--seconds", "0"]) == 2
    err = capsys.readouterr().err
    assert "--seconds" in err and "must be > 0" in err and len(err.strip().splitlines()) == 1
