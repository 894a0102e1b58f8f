import json

import pytest

from perifacial.dsp.montage import Montage, default_montage, load_montage


def test_default_montage_is_six_regions_of_four_channels():
    m = default_montage()
    assert m.n_channels == 24
    assert [r.name for r in m.regions] == [
        "left_upper",
        "left_middle",
        "left_lower",
        "right_upper",
        "right_middle",
        "right_lower",
    ]
    assert all(len(r.channels) == 4 for r in m.regions)
    # every channel in exactly one region, in chip order (chip = channel // 8)
    assert sorted(c for r in m.regions for c in r.channels) == list(range(24))
    assert m.labels[0] == "LU1" and m.labels[23] == "RL4"
    assert all(len(label) <= 16 for label in m.labels)  # EDF/BDF label field


def test_regions_carry_the_seed_muscles():
    m = default_montage()
    assert "corrugator supercilii" in m.region("left_upper").muscles
    assert "zygomaticus major" in m.region("RM").muscles
    assert set(m.region("left_lower").muscles) == {"depressor anguli oris", "platysma"}
    assert set(m.region("right_lower").muscles) == {"depressor labii inferioris", "mentalis"}
    assert m.region_of(9).name == "left_lower"


def test_round_trip_and_errors(tmp_path):
    m = default_montage()
    p = tmp_path / "m.json"
    p.write_text(json.dumps(m.to_dict()))
    assert load_montage(p) == m
    with pytest.raises(IndexError, match="outside 0..23"):
        m.region_of(24)
    with pytest.raises(KeyError, match="known"):
        m.region("nose")
    d = m.to_dict()
    d["regions"][1]["channels"] = [3, 5, 6, 7]
    with pytest.raises(ValueError, match="channel 3 is in both"):
        Montage.from_dict(d)
    d["regions"][1]["channels"] = [5, 6, 7]
    with pytest.raises(ValueError, match=r"channels \[4\] belong to no region"):
        Montage.from_dict(d)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_montage(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="cannot read"):
        load_montage(tmp_path / "missing.json")
