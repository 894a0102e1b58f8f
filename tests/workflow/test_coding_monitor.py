"""Coder hand-off (export, corrected table, agreement), parallel processing, and the live monitor headless."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from perifacial.host.workflow.coding import CODER_COLUMNS, agreement, read_coder_csv


def test_coding_export_and_agree(session_dir, cli_run, capsys, tmp_path):
    ev = session_dir / "out" / "s01.events.csv"
    out = tmp_path / "s01.coding.csv"
    assert cli_run(["coding", "export", ev, "-o", out]) == 0
    rows = list(csv.DictReader(open(out, newline="")))
    assert tuple(rows[0]) == CODER_COLUMNS and all(r["keep"] == "yes" for r in rows)
    n = len(rows)
    # the coder: rejects the first candidate, shifts onsets of the others by +2 frames, adds one missed event
    rows[0]["keep"] = "no"
    for r in rows[1:]:
        r["onset_frame"] = str(int(r["onset_frame"]) + 2)
        r["aus"] = "AU12"
    rows.append(
        {**{k: "" for k in CODER_COLUMNS}, "onset_frame": "5000", "offset_frame": "5010", "region": "left_upper"}
    )
    corrected = tmp_path / "s01.coded.csv"
    with open(corrected, "w", newline="") as f:
        w = csv.DictWriter(f, CODER_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    capsys.readouterr()
    assert cli_run(["coding", "agree", out, corrected, "--json", tmp_path / "agree.json"]) == 0
    assert "F1" in capsys.readouterr().out
    a = json.loads((tmp_path / "agree.json").read_text())
    assert a["fp"] == 1 and a["fn"] == 1 and a["tp"] == n - 1
    assert a["onset_mae_frames"] == pytest.approx(2.0) and a["onset_bias_s"] == pytest.approx(-2 / 30)
    assert a["offset_mae_frames"] == 0


def test_coder_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("id,onset_frame,offset_frame\n0,10,5\n")
    with pytest.raises(ValueError, match="line 2"):
        read_coder_csv(p)
    p.write_text("id,onset_frame,offset_frame\n0,10,12\n,20,30\n")
    rows = read_coder_csv(p)
    assert rows[1].id == -1 and agreement(rows, rows, 30.0).f1 == 1.0


def test_process_parallel_jobs(session_dir, cli_run, tmp_path, capsys):
    import shutil

    for k in (1, 2):
        shutil.copy(session_dir / "s01.pfr", tmp_path / f"r{k}.pfr")
    assert (
        cli_run(
            [
                "process",
                tmp_path / "r1.pfr",
                tmp_path / "r2.pfr",
                "-j",
                "2",
                "--no-figures",
                "--out",
                tmp_path / "o",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("expressions") == 2
    a = (tmp_path / "o" / "r1.events.csv").read_text()
    assert a == (tmp_path / "o" / "r2.events.csv").read_text() and a.count("\n") > 10


def test_process_errors(cli_run, capsys, tmp_path):
    assert cli_run(["process", tmp_path / "missing.pfr"]) == 2
    assert "no such recording" in capsys.readouterr().err


def test_monitor_headless_artists():
    from matplotlib.figure import Figure

    from perifacial.host.board import open_board
    from perifacial.host.workflow.monitor import run_monitor

    with open_board("sim://?seed=2") as board:
        state, view = run_monitor(board, figure=Figure(figsize=(12, 9)), iterations=16, interactive=False, window_s=8.0)
    assert state.n_seen > 8_000
    assert len(view.axes_regions) == 6 and all(len(ls) == 4 for ls in view.lines)
    y = view.lines[0][0].get_ydata()
    assert np.isfinite(y).all() and y.max() > 0
    assert len(view.bars) == 24 and max(b.get_width() for b in view.bars) > 0
    assert state.events, "the online spotter reported nothing in ~13 s of simulated EMG"
    txt = view.text.get_text()
    assert "sync counter" in txt and "events:" in txt and "mains 50 Hz" in txt
    view.toggle_raw()
    view.update()
    assert view.axes_regions[0].get_ylabel() == "raw µV"
