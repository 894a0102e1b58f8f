"""``perifacial export --to bids`` and :func:`perifacial.host.bids.write_bids`, checked with the BIDS validator
(``bids-validator-deno``, the reference validator with the BIDS 1.11 schema that defines the EMG datatype; it runs
offline from the bundled schema)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perifacial.host.readers import from_array, load


def _validator() -> str:
    exe = shutil.which("bids-validator-deno") or str(Path(sys.executable).parent / "bids-validator-deno")
    if not Path(exe).exists():
        pytest.fail("bids-validator-deno is not installed (it is in the [test] extra: pip install -e '.[test]')")
    return exe


def validate(root: Path) -> list[dict]:
    """The validator's issues (dicts with severity, code, location) for the dataset at ``root``."""
    out = subprocess.run(
        [_validator(), str(root), "--format", "json"], capture_output=True, text=True, timeout=300, cwd=root.parent
    )
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"validator gave no JSON (exit {out.returncode}): {out.stderr[-2000:]}")
    return report["issues"]["issues"]


def _tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def pfr(tmp_path_factory) -> Path:
    from perifacial import cli

    d = tmp_path_factory.mktemp("bids_src")
    path = d / "s01.pfr"
    assert cli.main(["record", "sim://?seed=3", "-o", str(path), "--seconds", "8", "--quiet"]) == 0
    return path


def test_export_to_bids_passes_the_validator(pfr, tmp_path):
    from perifacial import cli

    root = tmp_path / "study"
    # our recording, then a foreign one (an EDF from MNE with a skin-conductance channel) into the same dataset
    assert (
        cli.main(
            [
                "export",
                str(pfr),
                "--to",
                "bids",
                str(root),
                "--subject",
                "01",
                "--session",
                "1",
                "--run",
                "1",
                "--power-line",
                "50",
                "--authors",
                "A. Author; B. Author",
            ]
        )
        == 0
    )
    mne = pytest.importorskip("mne")
    x = np.random.default_rng(0).standard_normal((3, 5000))
    raw = mne.io.RawArray(
        x * [[1e-5], [1e-5], [1.0]],
        mne.create_info(["zyg", "corr", "gsr"], 1000.0, ["emg", "emg", "misc"]),
        verbose="error",
    )
    raw.set_annotations(mne.Annotations([1.0, 2.0], [0, 0], ["smile", "smile"]))
    edf = tmp_path / "lab.edf"
    mne.export.export_raw(edf, raw, fmt="edf", verbose="error")
    assert cli.main(["export", str(edf), "--to", "bids", str(root), "--subject", "02"]) == 0
    issues = validate(root)
    errors = [i for i in issues if i["severity"] == "error"]
    assert errors == [], errors
    assert not {"NO_AUTHORS", "TOO_FEW_AUTHORS"} & {i["code"] for i in issues}
    # what was written
    emg1 = root / "sub-01" / "ses-1" / "emg"
    base = "sub-01_ses-1_task-face_run-1"
    for suffix in ("_emg.bdf", "_emg.json", "_channels.tsv", "_events.tsv", "_events.json"):
        assert (emg1 / (base + suffix)).exists(), suffix
    assert (emg1 / "sub-01_ses-1_electrodes.tsv").exists()
    assert [r["participant_id"] for r in _tsv(root / "participants.tsv")] == ["sub-01", "sub-02"]
    side = json.loads((emg1 / f"{base}_emg.json").read_text())
    assert side["SamplingFrequency"] == 1000.0 and side["PowerLineFrequency"] == 50 and side["EMGChannelCount"] == 24
    ch = _tsv(emg1 / f"{base}_channels.tsv")
    assert [r["name"] for r in ch][:2] == ["EMG LU1", "EMG LU2"] and {r["type"] for r in ch} == {"EMG"}
    assert ch[0]["reference"] == "LUref" and ch[0]["group"] == "left_upper" and ch[0]["units"] == "uV"
    el = _tsv(emg1 / "sub-01_ses-1_electrodes.tsv")
    assert len(el) == 24 + 6  # recording electrodes + one reference per region
    # the data file holds the recording: read back, equal to the source
    rec = load(pfr)
    back = load(emg1 / f"{base}_emg.bdf")
    assert np.array_equal(back.data, rec.data)
    # events.tsv: the spotted expressions equal those of `perifacial process`
    assert cli.main(["process", str(pfr), "--out", str(tmp_path / "proc"), "--no-figures", "--quiet"]) == 0
    with open(tmp_path / "proc" / "s01.events.csv", newline="") as f:
        proc = list(csv.DictReader(f))
    ev = [r for r in _tsv(emg1 / f"{base}_events.tsv") if r["source"] == "perifacial spotting"]
    assert len(proc) >= 1 and [int(r["sample"]) for r in ev] == [int(r["onset_sample"]) for r in proc]
    assert [r["trial_type"] for r in ev] == [r["kind"] for r in proc]
    # the foreign recording: EMG and MISC channels, markers with one trial_type
    ch2 = _tsv(root / "sub-02" / "emg" / "sub-02_task-face_channels.tsv")
    assert [(r["name"], r["type"]) for r in ch2] == [("EMG zyg", "EMG"), ("EMG corr", "EMG"), ("gsr", "MISC")]
    ev2 = _tsv(root / "sub-02" / "emg" / "sub-02_task-face_events.tsv")
    assert [r["trial_type"] for r in ev2 if r["source"] == "file"] == ["smile", "smile"]


def test_write_bids_many_participants_and_refusals(tmp_path):
    from perifacial.host.bids import write_bids

    root = tmp_path / "ds"
    rng = np.random.default_rng(1)
    for sub in ("01", "02", "03"):
        for run in (1, 2):
            x = rng.standard_normal((2, 3000))
            if sub == "02":
                x[:, 1000:1100] = np.nan  # 100 samples never received
            rec = from_array(
                x,
                1000.0,
                ["zyg", "corr"],
                "mV",
                markers=[{"sample": 500, "value": 3, "label": f"trial:{run}", "source": "host"}],
            )
            write_bids(rec, root, sub, run=run, participant={"group": "control" if sub != "03" else "patient"})
    assert [i for i in validate(root) if i["severity"] == "error"] == []
    parts = _tsv(root / "participants.tsv")
    assert [(p["participant_id"], p["group"]) for p in parts] == [
        ("sub-01", "control"),
        ("sub-02", "control"),
        ("sub-03", "patient"),
    ]
    with pytest.raises(FileExistsError, match="overwrite"):
        write_bids(rec, root, "03", run=2)
    with pytest.raises(ValueError, match="letters and digits"):
        write_bids(rec, root, "P-01")
    ev = _tsv(root / "sub-01" / "emg" / "sub-01_task-face_run-2_events.tsv")
    assert [(r["trial_type"], r["value"], r["label"]) for r in ev] == [("trial", "3", "trial:2")]
    ev = _tsv(root / "sub-02" / "emg" / "sub-02_task-face_run-1_events.tsv")
    assert [(r["trial_type"], r["onset"], r["duration"], r["value"]) for r in ev][1] == ("gap", "1", "0.1", "100")
    back = load(root / "sub-02" / "emg" / "sub-02_task-face_run-1_emg.bdf")
    assert back.gaps == [(1000, 1100)] and np.isnan(back.data[:, 1000:1100]).all()
    # the validator does check what we rely on: without a required EMG field it reports an error
    side = root / "sub-02" / "emg" / "sub-02_task-face_run-1_emg.json"
    d = json.loads(side.read_text())
    del d["EMGReference"]
    side.write_text(json.dumps(d))
    assert {i["code"] for i in validate(root) if i["severity"] == "error"} == {"SIDECAR_KEY_REQUIRED"}
