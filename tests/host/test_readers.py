"""One reader for every recording (perifacial.host.readers.load), checked on files written by each format's own
writer (MNE and edfio for EDF+, bioread for its text export, BrainFlow's write_file, a BIOPAC sample shipped with
bioread), by a small
spec-following writer where the format has no Python writer (XDF: ``_xdfwriter``; the OpenBCI GUI and AcqKnowledge
text layouts), and `perifacial process` run on each.

The signals are from the project's synthetic generator (seed 5, not a seed any detector was tuned on); the checks
are of the reading (values, units, rate, gaps, markers), not of the spotting quality.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from perifacial.host.readers import detect_format, from_array, load

DATA = Path(__file__).resolve().parents[1] / "data"
ACQ = DATA / "bioread_r42_test.acq"
FS = 1000.0
REGION = ["LM1", "LM2", "LM3", "LM4"]  # the left middle region of the synthetic montage


@pytest.fixture(scope="module")
def synth4():
    """12 s of 4 channels (one facial region) in µV from the synthetic generator, with its labels."""
    from perifacial.dsp.synth import synthesize

    s = synthesize(5, FS, duration=12.0, snr="high")
    idx = [list(s.labels).index(lab) for lab in REGION]
    return s.data[idx].astype(np.float32).astype(np.float64)


def _process(path, tmp_path, *extra) -> dict:
    from perifacial import cli

    out = tmp_path / "out"
    assert cli.main(["process", str(path), "-o", str(out), "--no-figures", "--quiet", *map(str, extra)]) == 0
    summary = json.loads((out / f"{Path(path).stem}.summary.json").read_text())
    assert (out / f"{Path(path).stem}.events.csv").exists()
    return summary


# ------------------------------------------------------------------------------------------------- BIOPAC
def test_biopac_acq_sample_from_bioread(tmp_path):
    bioread = pytest.importorskip("bioread")
    ref = bioread.read_file(str(ACQ))
    rec = load(ACQ)
    assert rec.info["file_format"] == "acq" and rec.fs == 1000.0 and rec.n_samples == 7901
    assert rec.labels == [c.name for c in ref.channels]
    assert rec.types == ["ECG", "EMG", "MISC", "EMG"]  # ECG by name, EDA by its unit (microsiemen)
    assert rec.units == ["µV", "µV", "microsiemen", "µV"]
    assert np.array_equal(rec.data[1], ref.channels[1].data * 1000.0)  # mV -> µV
    assert np.array_equal(rec.data[2], ref.channels[2].data)  # non-voltage: unchanged
    assert [m["sample"] for m in rec.markers] == [m.sample_index for m in ref.event_markers]
    s = _process(ACQ, tmp_path)
    assert s["channels"] == 2 and s["region_context"] is False  # the two EMG channels, no channel map


def test_bioread_text_export_reads_like_the_acq(tmp_path):
    bioread = pytest.importorskip("bioread")
    from bioread.writers.txtwriter import write_text

    ref = bioread.read_file(str(ACQ))
    path = tmp_path / "r42.txt"
    with open(path, "w", newline="") as f:
        write_text(ref, f, None, "")
    rec = load(path)
    acq = load(ACQ)
    assert rec.info["file_format"] == "csv"  # "time (s)" + "name (unit)" columns
    assert rec.fs == pytest.approx(1000.0) and rec.labels == acq.labels and rec.units == acq.units
    assert rec.n_channels == 4  # the time column is not a channel
    assert np.allclose(rec.data, acq.data, rtol=1e-12, atol=0)
    _process(path, tmp_path)


def test_acqknowledge_text_layout(synth4, tmp_path):
    """AcqKnowledge's own "save as text": title, interval, channel count, label/unit pairs, CHn header, sample
    counts, then tab-separated values in the channel's unit (mV here)."""
    path = tmp_path / "session.txt"
    mv = synth4 / 1000.0
    with open(path, "w") as f:
        f.write("session.acq\n1 msec/sample\n4 channels\n")
        for lab in REGION:
            f.write(f"EMG {lab} - EMG100C\nmV\n")
        f.write("\t".join(f"CH{i + 1}" for i in range(4)) + "\n")
        f.write("\t".join([str(mv.shape[1])] * 4) + "\n")
        for row in mv.T:
            f.write("\t".join(f"{v:.9f}" for v in row) + "\n")
    assert detect_format(path) == "acq-text"
    rec = load(path)
    assert rec.fs == 1000.0 and rec.labels == [f"EMG {lab} - EMG100C" for lab in REGION]
    assert rec.units == ["µV"] * 4 and rec.n_samples == mv.shape[1]
    assert np.allclose(rec.data, synth4, atol=1e-6, rtol=0)  # 9 decimals of mV
    _process(path, tmp_path)


# ------------------------------------------------------------------------------------------------- XDF
def _xdf_streams(data, gap=(4000, 5500)):
    n = data.shape[1]
    keep = np.r_[0 : gap[0], gap[1] : n]
    ts = 1000.0 + np.arange(n) / FS
    chans = [{"label": lab, "unit": "microvolts", "type": "EMG", "region": "left_middle"} for lab in REGION]
    return [
        {
            "name": "perifacial EMG",
            "type": "EMG",
            "srate": FS,
            "format": "float32",
            "timestamps": ts[keep],
            "data": data[:, keep].T,
            "channels": chans,
        },
        {
            "name": "stim",
            "type": "Markers",
            "srate": 0,
            "format": "string",
            "timestamps": [1001.0, 1009.5],
            "data": ["smile", "frown"],
        },
        {
            "name": "accel",
            "type": "ACC",
            "srate": 100.0,
            "format": "double64",
            "timestamps": 1000.0 + np.arange(1200) / 100.0,
            "data": np.zeros((1200, 3)),
        },
    ]


def test_xdf_like_our_lsl_stream(synth4, tmp_path):
    pytest.importorskip("pyxdf")
    from _xdfwriter import write_xdf

    path = tmp_path / "lab.xdf"
    write_xdf(path, _xdf_streams(synth4))
    rec = load(path)
    assert rec.info["file_format"] == "xdf" and rec.info["stream"] == "perifacial EMG"  # the EMG stream, not ACC
    assert rec.labels == REGION and rec.units == ["µV"] * 4 and rec.fs == FS
    assert rec.n_samples == synth4.shape[1] and rec.gaps == [(4000, 5500)]
    ok = rec.valid
    assert np.array_equal(rec.data[:, ok], synth4[:, ok])  # float32 values, exactly
    assert np.isnan(rec.data[:, ~ok]).all()
    assert [(m["label"], m["sample"]) for m in rec.markers] == [("smile", 1000), ("frown", 9500)]
    # choosing another stream by type
    acc = load(path, stream="ACC", units="g")
    assert acc.n_channels == 3 and acc.fs == 100.0 and acc.types == ["MISC"] * 3
    assert rec.region_context and [r.name for r in rec.montage.regions] == ["left_middle"]  # <region> children
    s = _process(path, tmp_path)
    assert s["gaps"]["count"] == 1 and s["region_context"] is True


def test_xdf_without_numeric_stream_is_a_clear_error(tmp_path):
    pytest.importorskip("pyxdf")
    from _xdfwriter import write_xdf

    path = tmp_path / "markers.xdf"
    write_xdf(path, [_xdf_streams(np.zeros((4, 3000)), gap=(1000, 1500))[1]])
    with pytest.raises(ValueError, match="no numeric stream"):
        load(path)


# ------------------------------------------------------------------------------------------------- EDF+
def test_edf_plus_written_by_mne(synth4, tmp_path):
    mne = pytest.importorskip("mne")
    pyedflib = pytest.importorskip("pyedflib")
    info = mne.create_info(REGION, FS, "emg")
    raw = mne.io.RawArray(synth4 * 1e-6, info, verbose="error")
    raw.set_annotations(mne.Annotations([1.0, 3.0, 5.0], [0.0, 0.0, 0.5], ["smile", "smile", "frown"]))
    path = tmp_path / "mne.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    rec = load(path)
    assert rec.info["file_format"] == "edf" and rec.labels == REGION and rec.fs == FS
    assert rec.units == ["µV"] * 4 and rec.types == ["EMG"] * 4
    f = pyedflib.EdfReader(str(path))  # the independent reader
    try:
        for i in range(4):
            ref = f.readSignal(i) * (
                1e6 if f.getPhysicalDimension(i) == "V" else 1e3 if f.getPhysicalDimension(i) == "mV" else 1.0
            )
            assert np.allclose(rec.data[i], ref[: rec.n_samples], rtol=1e-12, atol=1e-9)
            step = (f.getPhysicalMaximum(i) - f.getPhysicalMinimum(i)) / (
                f.getDigitalMaximum(i) - f.getDigitalMinimum(i)
            )
    finally:
        f.close()
    n = synth4.shape[1]
    assert rec.n_samples >= n
    scale = {"V": 1e6, "mV": 1e3, "uV": 1.0}.get(raw.info["chs"][0].get("unit_str", "V"), 1e6)
    assert np.max(np.abs(rec.data[:, :n] - synth4)) <= step * scale  # 16-bit EDF quantisation
    assert [(m["label"], m["sample"]) for m in rec.markers] == [("smile", 1000), ("smile", 3000), ("frown", 5000)]
    _process(path, tmp_path)


def test_edf_written_by_edfio_in_millivolts(synth4, tmp_path):
    edfio = pytest.importorskip("edfio")
    sig = [
        edfio.EdfSignal(synth4[i] / 1000.0, FS, label=f"EMG {lab}", physical_dimension="mV", physical_range=(-5.0, 5.0))
        for i, lab in enumerate(REGION)
    ]
    sig.append(
        edfio.EdfSignal(
            np.zeros(synth4.shape[1] // 10), FS / 10, label="Temp", physical_dimension="degC", physical_range=(-1, 1)
        )
    )
    path = tmp_path / "edfio.edf"
    edfio.Edf(sig, annotations=[edfio.EdfAnnotation(2.0, None, "marker 7 smile:3")]).write(path)
    rec = load(path)
    assert rec.labels == REGION and rec.units == ["µV"] * 4  # the slower Temp signal is left out and listed
    assert rec.info["skipped_signals"] == ["Temp (100 Hz)"]
    assert np.max(np.abs(rec.data - synth4)) <= 10.0 / 65535 * 1000  # one 16-bit step of the mV range, in µV
    (m,) = rec.markers
    assert (m["sample"], m["value"], m["label"]) == (2000, 7, "smile:3")


def test_interrupted_edf_plus_d_keeps_its_gaps(tmp_path):
    """EDF+D: no Python library writes one, so an edfio EDF+C file is turned into EDF+D as the specification
    defines it: 'EDF+D' in the reserved field and later records' time-keeping annotations moved 2 s on."""
    edfio = pytest.importorskip("edfio")
    x = np.sin(np.arange(600) / 7.0)
    path = tmp_path / "d.edf"
    edfio.Edf(
        [edfio.EdfSignal(x, 100, label="EMG a", physical_range=(-1, 1))],
        annotations=[edfio.EdfAnnotation(0.5, None, "smile")],
        data_record_duration=1,
    ).write(path)
    b = bytearray(path.read_bytes())
    assert b[192:197] == b"EDF+C"
    b[192:197] = b"EDF+D"
    header, record = int(b[184:192]), (100 + 9) * 2  # 100 samples + the annotation signal's 9, 2 bytes each
    for k in (3, 4, 5):
        i = header + k * record + 200
        assert b[i : i + 4] == b"+%d\x14\x14" % k
        b[i : i + 2] = b"+%d" % (k + 2)
    path.write_bytes(bytes(b))
    rec = load(path, units="mV")  # the file names no physical dimension
    assert rec.n_samples == 800 and rec.gaps == [(300, 500)] and rec.units == ["µV"]
    assert np.isnan(rec.data[:, 300:500]).all()
    step = 2.0 / 65535 * 1e3  # one 16-bit step of the +-1 mV range, in µV
    assert np.allclose(rec.data[0, :300], x[:300] * 1e3, atol=step, rtol=0)
    assert np.allclose(rec.data[0, 500:], x[300:] * 1e3, atol=step, rtol=0)
    assert rec.markers[0]["sample"] == 50


def test_own_bdf_export_round_trips_exactly(tmp_path):
    from perifacial import cli
    from perifacial.host import export

    pfr = tmp_path / "s.pfr"
    assert cli.main(["record", "sim://?seed=4", "-o", str(pfr), "--seconds", "3", "--quiet"]) == 0
    rec = load(pfr)
    rec.markers = [
        {"sample": 100 * k, "value": k, "label": f"contract:smile:{k}", "source": "host"} for k in range(1, 4)
    ]
    rec.gaps = [(1000, 1100)]
    rec.codes[:, 1000:1100] = 0
    rec.data[:, 1000:1100] = np.nan
    back = load(export.to_bdf(rec, tmp_path / "s.bdf"))
    assert back.n_samples == rec.n_samples and back.labels == rec.labels and back.gaps == rec.gaps
    assert np.array_equal(back.data, rec.data, equal_nan=True)
    assert back.region_context  # perifacial labels: its montage again
    assert {m["description"] for m in back.markers} == {"contract:smile"}  # one kind, one description


# ------------------------------------------------------------------------------------------------- OpenBCI
def test_openbci_gui_file(synth4, tmp_path):
    """The OpenBCI GUI v5 (BrainFlow) text layout: % header with the rate, EXG in µV, accel and timestamps."""
    path = tmp_path / "OpenBCI-RAW-2026-01-01_10-00-00.txt"
    n = synth4.shape[1]
    with open(path, "w") as f:
        f.write(
            "%OpenBCI Raw EXG Data\n%Number of channels = 4\n%Sample Rate = 1000 Hz\n"
            "%Board = OpenBCI_GUI$BoardCytonSerial\n"
        )
        cols = (
            ["Sample Index"]
            + [f"EXG Channel {i}" for i in range(4)]
            + [f"Accel Channel {i}" for i in range(3)]
            + ["Other", "Timestamp", "Timestamp (Formatted)"]
        )
        f.write(", ".join(cols) + "\n")
        for k in range(n):
            vals = (
                [f"{k % 256:.1f}"]
                + [f"{v:.6f}" for v in synth4[:, k]]
                + ["0.000", "0.000", "0.000", "0.0", f"{1.7e9 + k / FS:.6f}", "2026-01-01 10:00:00.000"]
            )
            f.write(", ".join(vals) + "\n")
    assert detect_format(path) == "openbci"
    rec = load(path)
    assert rec.fs == FS and rec.labels == ["EXG0", "EXG1", "EXG2", "EXG3"] and rec.units == ["µV"] * 4
    assert np.allclose(rec.data, synth4, atol=1e-6, rtol=0)  # 6 decimals
    _process(path, tmp_path)


def test_brainflow_write_file(synth4, tmp_path):
    """A Cyton board's data array written by BrainFlow's own DataFilter.write_file (no header: the board says
    which rows are EXG, the rate and the marker row)."""
    pytest.importorskip("brainflow")
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    bid = BoardIds.CYTON_BOARD.value
    d = BoardShim.get_board_descr(bid)
    fs = float(d["sampling_rate"])  # 250 Hz
    n = synth4.shape[1] // 2
    arr = np.zeros((d["num_rows"], n))
    arr[d["package_num_channel"]] = np.arange(n) % 256
    arr[d["eeg_channels"][:4]] = synth4[:, :n]
    arr[d["timestamp_channel"]] = 1.7e9 + np.arange(n) / fs
    arr[d["marker_channel"], [100, 2000]] = [3, 4]
    path = tmp_path / "cyton.csv"
    DataFilter.write_file(arr, str(path), "w")
    with pytest.raises(ValueError, match="needs the board"):
        load(path, format="brainflow")
    rec = load(path, board="CYTON_BOARD")
    assert rec.info["file_format"] == "brainflow" and rec.fs == fs and rec.n_channels == 8
    assert rec.labels[:2] == ["Fp1", "Fp2"] and rec.units == ["µV"] * 8
    assert np.allclose(rec.data[:4], synth4[:, :n], atol=1e-6, rtol=0)  # write_file keeps 6 decimals
    assert [(m["sample"], m["value"]) for m in rec.markers] == [(100, 3), (2000, 4)]
    with pytest.raises(ValueError, match="columns"):
        load(path, board="GANGLION_BOARD")
    _process(path, tmp_path, "--board", "CYTON_BOARD", "--labels", ",".join(f"c{i}" for i in range(8)))


# ------------------------------------------------------------------------------------------------- CSV / NPZ
def test_our_csv_export_columns_are_not_channels(tmp_path, capsys):
    from perifacial import cli
    from perifacial.host import export

    pfr = tmp_path / "s.pfr"
    assert cli.main(["record", "sim://?seed=6", "-o", str(pfr), "--seconds", "3", "--quiet"]) == 0
    rec = load(pfr)
    back = load(export.to_csv(rec, tmp_path / "s.csv"))
    assert back.n_channels == 24 and back.labels == rec.labels  # not 26: sample and time_s are not EMG
    assert back.units == ["µV"] * 24 and not back.info["units_assumed"]  # our export's unit is known
    assert back.region_context  # and its montage
    # spotting the export finds what spotting the recording finds (the issue: 26 channels and 79 events before)
    capsys.readouterr()
    assert cli.main(["spot", str(pfr)]) == 0
    from_pfr = capsys.readouterr().out.splitlines()[1:]
    assert cli.main(["spot", str(tmp_path / "s.csv")]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == from_pfr
    assert back.fs == pytest.approx(1000.0)  # from time_s
    assert np.allclose(back.data, rec.data, atol=5e-7, rtol=0)
    npz = load(export.to_npz(rec, tmp_path / "s.npz"))
    assert np.array_equal(npz.data, rec.data) and np.array_equal(npz.codes, rec.codes) and npz.region_context


def test_generic_csv_units_rate_and_errors(tmp_path, caplog):
    x = np.random.default_rng(1).standard_normal((2, 500))
    headerless = tmp_path / "raw.csv"
    np.savetxt(headerless, x.T, delimiter=",")
    with pytest.raises(ValueError, match="needs --fs"):
        load(headerless)
    with caplog.at_level("WARNING"):
        rec = load(headerless, fs=500.0)
    assert rec.info["units_assumed"] and "read as µV" in caplog.text
    mv = load(headerless, fs=500.0, units="mV")
    assert np.allclose(mv.data, x * 1000.0) and not mv.info["units_assumed"]
    named = tmp_path / "named.tsv"
    with open(named, "w") as f:
        f.write("time_ms\tzyg (mV)\tcorr (V)\n")
        for k in range(500):
            f.write(f"{2 * k}\t{float(x[0, k])!r}\t{float(x[1, k])!r}\n")
    rec = load(named)
    assert rec.fs == pytest.approx(500.0) and rec.labels == ["zyg", "corr"]
    assert np.allclose(rec.data[0], x[0] * 1e3, rtol=1e-15) and np.allclose(rec.data[1], x[1] * 1e6, rtol=1e-15)
    junk = tmp_path / "x.dat"
    junk.write_bytes(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="unsupported format"):
        load(junk)
    renamed = tmp_path / "fake.edf"
    renamed.write_text("1,2\n")
    with pytest.raises(ValueError, match="not one"):
        load(renamed)


# ------------------------------------------------------------------------------------------------- channel map
def test_channel_map_gives_region_context(synth4, tmp_path, capsys):
    from perifacial import cli

    path = tmp_path / "four.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s"] + [f"{lab} (uV)" for lab in REGION])
        for k in range(synth4.shape[1]):
            w.writerow([k / FS] + [repr(float(v)) for v in synth4[:, k]])
    cmap = tmp_path / "map.toml"
    cmap.write_text('[regions]\nleft_middle = ["LM1", "LM2", "LM3", "LM4"]\n')
    rec = load(path, channel_map=cmap)
    assert rec.region_context and [r.name for r in rec.montage.regions] == ["left_middle"]
    assert rec.montage.regions[0].aus  # inherits the perifacial region's action units
    plain = load(path)
    assert not plain.region_context
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"channels": {"Zyg L": "left_middle"}}))
    with pytest.raises(ValueError, match="lacks: Zyg L"):
        load(path, channel_map=bad)
    # spot: per channel without the map (and says so), by region with it
    assert cli.main(["spot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no region context" in out
    assert cli.main(["spot", str(path), "--channel-map", str(cmap)]) == 0
    out = capsys.readouterr().out
    assert "no region context" not in out and "left_middle" in out
    s_map = _process(path, tmp_path, "--channel-map", cmap)
    assert s_map["region_context"] is True


def test_from_array_and_non_emg_channels_stay_out_of_the_chain():
    rec = from_array(np.ones((3, 10)), 100.0, ["zyg", "gsr", "ECG lead II"], ["mV", "uS", "mV"])
    assert rec.types == ["EMG", "MISC", "ECG"] and rec.units == ["µV", "uS", "µV"]
    emg = rec.pick_emg()
    assert emg.labels == ["zyg"] and emg.data.shape == (1, 10) and emg.data[0, 0] == 1000.0
    with pytest.raises(ValueError, match="sampling rate"):
        from_array(np.ones((1, 10)), 0.0)
