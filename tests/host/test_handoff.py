"""Hand-offs to MNE-Python and pandas: exact round trips, stable annotation descriptions, DataFrames."""

from __future__ import annotations

import numpy as np
import pytest

from perifacial.host.readers import from_array, load

mne = pytest.importorskip("mne")


@pytest.fixture(scope="module")
def pfr_rec(tmp_path_factory):
    """An 8 s virtual-board recording with an MVC-like marker sequence and one gap (codes 0, data NaN)."""
    from perifacial import cli

    d = tmp_path_factory.mktemp("handoff")
    path = d / "s.pfr"
    assert cli.main(["record", "sim://?seed=3", "-o", str(path), "--seconds", "8", "--quiet"]) == 0
    rec = load(path)
    steps = [
        ("prepare", "brow_raise"),
        ("contract", "brow_raise"),
        ("rest", "brow_raise"),
        ("prepare", "smile"),
        ("contract", "smile"),
        ("rest", "smile"),
    ]
    rec.markers = [
        {"sample": 200 + 250 * k, "value": k, "label": f"{kind}:{mov}:{rep}", "source": "host"}
        for k, ((kind, mov), rep) in enumerate((s, r) for r in (1, 2) for s in steps)
    ]
    rec.gaps = [(1500, 1620)]
    rec.codes[:, 1500:1620] = 0
    rec.data[:, 1500:1620] = np.nan
    return rec, d


def test_to_mne_round_trips_exactly(pfr_rec):
    rec, _ = pfr_rec
    raw = rec.to_mne()
    assert raw.get_channel_types() == ["emg"] * 24 and raw.ch_names == rec.labels
    assert raw.info["sfreq"] == rec.fs
    y = raw.get_data()
    assert np.array_equal(y, rec.data * 1e-6, equal_nan=True)  # MNE holds volts
    back = type(rec).from_mne(raw)
    assert np.array_equal(back.codes, rec.codes)  # the ADC codes come back
    assert np.array_equal(back.data, rec.data, equal_nan=True)  # and so the µV data, bit for bit
    assert back.gaps == rec.gaps and back.labels == rec.labels and back.types == ["EMG"] * 24
    assert [(m["sample"], m["value"], m["label"]) for m in back.markers] == [
        (m["sample"], m["value"], m["label"]) for m in rec.markers
    ]


def test_annotations_map_to_few_event_ids(pfr_rec, tmp_path):
    rec, _ = pfr_rec
    raw = rec.to_mne()
    events, ids = mne.events_from_annotations(raw, verbose="error")
    # 12 markers of 3 kinds x 2 movements -> 6 ids, not 12 (MNE leaves BAD_ annotations such as the gap out)
    assert set(ids) == {
        "prepare:brow_raise",
        "contract:brow_raise",
        "rest:brow_raise",
        "prepare:smile",
        "contract:smile",
        "rest:smile",
    }
    assert len(events) == 12
    assert "BAD_ACQ_SKIP" in set(raw.annotations.description)
    # the same through the BDF export read by MNE's own reader
    from perifacial.host import export

    bdf = mne.io.read_raw_bdf(export.to_bdf(rec, tmp_path / "s.bdf"), verbose="error")
    _, ids_bdf = mne.events_from_annotations(bdf, verbose="error")
    assert set(ids_bdf) - {"padding"} == set(ids) | {"gap"}


def test_mne_filter_skips_the_gap(pfr_rec):
    rec, _ = pfr_rec
    raw = rec.to_mne()
    raw.filter(20.0, 450.0, picks="emg", verbose="error")  # BAD_ACQ_SKIP: filtered segment by segment
    y = raw.get_data()
    a, b = rec.gaps[0]
    assert np.isnan(y[:, a:b]).all() and np.isfinite(y[:, :a]).all() and np.isfinite(y[:, b:]).all()


def test_foreign_recording_through_mne(tmp_path):
    x = np.random.default_rng(2).standard_normal((3, 2000))
    rec = from_array(
        x,
        500.0,
        ["zyg", "corr", "gsr"],
        ["mV", "mV", "uS"],
        markers=[{"sample": 10, "value": "", "label": "smile", "source": "file"}],
    )
    raw = rec.to_mne()
    assert raw.get_channel_types() == ["emg", "emg", "misc"]
    back = type(rec).from_mne(raw)
    assert back.types == ["EMG", "EMG", "MISC"] and back.units[:2] == ["µV", "µV"]
    # float scaling µV -> V -> µV: within one unit in the last place
    assert np.allclose(back.data[:2], rec.data[:2], rtol=2.3e-16, atol=0)
    assert np.array_equal(back.data[2], rec.data[2])
    assert back.markers[0]["label"] == "smile" and back.markers[0]["sample"] == 10


def test_pandas_tables(pfr_rec, tmp_path):
    pd = pytest.importorskip("pandas")
    from perifacial.host.handoff import events_to_pandas, quantification_to_pandas
    from perifacial.host.workflow.process import EVENT_COLUMNS, ProcessOptions, process_recording, read_events_csv

    rec, d = pfr_rec
    ev = rec.to_pandas()
    assert list(ev.columns) == ["kind", "sample", "onset_s", "duration_s", "description", "value", "label", "source"]
    assert (ev["kind"] == "marker").sum() == 12 and (ev["kind"] == "gap").sum() == 1
    assert ev["sample"].is_monotonic_increasing
    data = rec.to_pandas("data")
    assert data.shape == (rec.n_samples, 24) and data.attrs["units"]["LU1"] == "µV"
    assert np.array_equal(data.to_numpy().T, rec.data, equal_nan=True)
    res = process_recording(rec, None, ProcessOptions(figures=False), out_dir=d, stem="p")
    df = res.to_pandas()
    on_disk = read_events_csv(d / "p.events.csv")
    assert len(df) == len(on_disk) and list(df.columns) == list(EVENT_COLUMNS)
    assert df["onset_sample"].tolist() == [int(r["onset_sample"]) for r in on_disk]
    assert df["kind"].tolist() == [r["kind"] for r in on_disk]
    raw = rec.to_mne(events=res.rows)  # spotted expressions as annotations named by kind
    kinds = [(a["onset"], a["description"]) for a in raw.annotations if a["description"] in ("ME", "MaE")]
    assert kinds == [(pytest.approx(r.onset_sample / rec.fs), r.kind) for r in res.rows]
    spotted = events_to_pandas(res.events, rec.fs, rec.labels)
    assert len(spotted) == len(res.events) and len(res.rows) >= 1
    assert np.allclose(spotted["onset_s"], [e.onset / rec.fs for e in res.events])
    from perifacial.dsp.quantification import quantify

    env = np.nan_to_num(res.envelope, nan=0.0)
    table = quantify(
        [e for e in res.events if e.is_expression],
        env,
        rec.fs,
        calibration=None,
        montage=rec.montage,
        classify="duration",
        use_event_channel=True,
    )
    q = quantification_to_pandas(table)
    assert isinstance(q, pd.DataFrame) and list(q.columns) == list(table.columns()) and len(q) == len(table)
    assert q["onset"].tolist() == [r.onset for r in table]
