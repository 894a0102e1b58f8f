"""``perifacial sync --events`` on the events table ``perifacial process`` writes (issue 16): it has both
``*_sample`` and ``*_frame`` columns; the frames are recomputed from the EMG samples with the video fit."""

from __future__ import annotations

import argparse
import json
import math

from eventrows import event_row

from perifacial.commands import sync as sync_cmd
from perifacial.host.sync import write_observations_csv
from perifacial.host.sync.sevenseg import readings_to_observations
from perifacial.host.workflow.process import read_events_csv, write_events_csv


def test_sync_events_accepts_process_output(sim_session, sim_reads, tmp_path, capsys):
    sim_session.log.write_csv(tmp_path / "sync.csv")
    write_observations_csv(tmp_path / "obs.csv", readings_to_observations(sim_reads))
    # as `process` writes it without a video fit: frames assumed from t * fps (wrong for this video)
    write_events_csv(
        [event_row(12_000, 12_299, (360, 364, 369)), event_row(30_000, 31_199, (900, 918, 936), index=1)],
        tmp_path / "s01.events.csv",
    )
    parser = argparse.ArgumentParser()
    sync_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "sync",
            str(tmp_path / "sync.csv"),
            "--observations",
            str(tmp_path / "obs.csv"),
            "--fps",
            "30",
            "--rate",
            "1000",
            "--json",
            "--events",
            str(tmp_path / "s01.events.csv"),
            "--out",
            str(tmp_path / "s01.synced.csv"),
        ]
    )
    assert args.func(args) == 0
    res = json.loads(capsys.readouterr().out)
    fit = res["fit"]
    rows = read_events_csv(tmp_path / "s01.synced.csv")
    assert [r["onset_sample"] for r in rows] == ["12000", "30000"]  # the EMG samples are kept
    assert list(rows[0]) == list(read_events_csv(tmp_path / "s01.events.csv")[0])  # no duplicate columns
    for r in rows:

        def frame(s):
            return (float(s) - fit["offset"]) / fit["slope"] * fit["fps"]

        assert int(r["onset_frame"]) == math.floor(frame(r["onset_sample"]))
        assert int(r["offset_frame"]) == math.ceil(frame(r["offset_sample"]))
        assert int(r["apex_frame"]) == round(frame(r["apex_sample"]))
    assert int(rows[0]["onset_frame"]) != 360  # the assumed frame was replaced by the fitted one
