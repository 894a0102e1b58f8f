import argparse
import csv
import json

import pytest

from perifacial.commands import sync as sync_cmd
from perifacial.errors import PerifacialError
from perifacial.host.sync import write_observations_csv
from perifacial.host.sync.sevenseg import readings_to_observations


def run(argv, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sync_cmd.register(sub)
    args = parser.parse_args(["sync", *argv])
    code = args.func(args)
    return code, capsys.readouterr().out


def fit_args(d) -> list[str]:
    """The sync log, the video observations and the video frame rate: what every fit needs."""
    return [str(d / "sync.csv"), "--observations", str(d / "obs.csv"), "--fps", "30"]


@pytest.fixture(scope="module")
def files(sim_session, sim_reads, tmp_path_factory):
    d = tmp_path_factory.mktemp("sync_cli")
    sim_session.log.write_csv(d / "sync.csv")
    reads = sim_reads
    write_observations_csv(d / "obs.csv", readings_to_observations(reads))
    with open(d / "events.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "onset_frame", "apex_frame", "offset_frame"])
        w.writerow(["me1", 300, 305, 310])
    return d, reads


def test_cli_fit_lookup_and_events(files, sim_session, capsys):
    d, reads = files
    lookup = ["--frame", "300", "--digit", str(reads[300].value)]
    code, out = run([*fit_args(d), "--fs", "1000", "--json", *lookup, "--events", str(d / "events.csv")], capsys)
    assert code == 0
    res = json.loads(out)
    assert abs(res["fit"]["drift_ppm"] - (1 / 1.003 - 1) * 1e6) < 100
    assert res["lookup"]["value"] == reads[300].value
    ev = res["events"][0]
    assert abs(ev["onset_sample"] - sim_session.true_sample[300]) < 34
    assert ev["offset_sample"] > ev["apex_sample"] > ev["onset_sample"]
    # back: samples -> frames (onset rounded down, offset up)
    with open(d / "spotted.csv", "w", newline="") as f:
        f.write(f"onset_sample,offset_sample\n{ev['onset_sample']},{ev['offset_sample']}\n")
    code, out = run([*fit_args(d), "--events", str(d / "spotted.csv"), "-o", str(d / "spotted_frames.csv")], capsys)
    assert "drift" in out and "received" in out
    with open(d / "spotted_frames.csv") as f:
        row = next(csv.DictReader(f))
    assert int(row["onset_frame"]) in (299, 300) and int(row["offset_frame"]) in (310, 311)


def test_cli_errors(files, capsys):
    d, _ = files
    with pytest.raises(PerifacialError):
        run([str(d / "sync.csv")], capsys)
    with pytest.raises(PerifacialError):
        run([str(d / "sync.csv"), "--observations", str(d / "obs.csv")], capsys)  # no --fps
    with pytest.raises(PerifacialError):
        run([str(d / "sync.csv"), "--frame", "3"], capsys)
    with pytest.raises(PerifacialError):
        run([str(d / "missing.csv"), "--frame", "3", "--digit", "1"], capsys)
    code, out = run([str(d / "sync.csv"), "--frame", "3", "--digit", "1"], capsys)
    assert code == 0 and "counter 1" in out


def test_cli_old_spellings_still_work_with_a_warning(files, capsys, caplog):
    """``--rate`` (now ``--fs``) and ``--out`` (now ``-o/--output``) are accepted, logged as deprecated, and give the
    same result as the new spellings."""
    d, reads = files
    new = [*fit_args(d), "--json"]
    code, out_new = run([*new, "--fs", "1000"], capsys)
    with caplog.at_level("WARNING", logger="perifacial.cli"):
        code_old, out_old = run([*new, "--rate", "1000"], capsys)
    assert code == code_old == 0 and json.loads(out_old) == json.loads(out_new)
    assert any("--rate is deprecated: use --fs" in r.getMessage() for r in caplog.records)
    caplog.clear()
    events = [*fit_args(d), "--events", str(d / "events.csv")]
    with caplog.at_level("WARNING", logger="perifacial.cli"):
        run([*events, "--out", str(d / "old.csv")], capsys)
    run([*events, "--output", str(d / "new.csv")], capsys)
    assert (d / "old.csv").read_text() == (d / "new.csv").read_text() != ""
    assert any("--out is deprecated: use --output" in r.getMessage() for r in caplog.records)
