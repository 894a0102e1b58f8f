"""The montage figure renders headless (Agg) with every channel label, the references and the muscles/AUs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from perifacial.dsp.montage import Montage, Region, default_montage  # noqa: E402
from perifacial.host.montage_figure import electrode_positions, plot_montage  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_default_montage_figure_has_every_label_reference_and_au():
    m = default_montage()
    fig = plot_montage()
    try:
        texts = _texts(fig)
        joined = "\n".join(texts)
        for label in m.labels:  # LU1 .. RL4
            assert label in texts, label
        assert texts.count("LU1") == 1 and "RL4" in texts
        for r in m.regions:
            assert f"{r.code} ref" in texts
            for muscle in r.muscles:
                assert muscle in joined
            for au in r.aus:
                assert au in joined
        assert "participant's LEFT" in texts and "BIAS" in texts
        fig.canvas.draw()  # really renders with Agg
    finally:
        plt.close(fig)


def test_left_is_drawn_on_the_right_and_positions_are_distinct():
    m = default_montage()
    seen = set()
    for i, r in enumerate(m.regions):
        pts, ref = electrode_positions(r, i)
        assert len(pts) == len(r.channels) == 4
        side = 1 if r.side == "left" else -1
        assert all(x * side > 0 for x, _ in pts) and ref[0] * side > 0
        for p in pts:
            assert p not in seen
            seen.add(p)
    assert electrode_positions(m.region("LU"))[0][0] == (
        -electrode_positions(m.region("RU"))[0][0][0],
        electrode_positions(m.region("RU"))[0][0][1],
    )


def test_custom_montage_and_given_axes(tmp_path):
    m = Montage(
        "two",
        (Region("chin", "CH", "left", "jaw", (0, 1, 2)), Region("brow_right", "BR", "right", "upper", (3, 4, 5, 6, 7))),
    )
    fig, ax = plt.subplots()
    try:
        out = plot_montage(m, ax=ax, show_text=False, show_bias=False, title="custom")
        assert out is fig
        texts = _texts(fig)
        assert {"CH1", "CH3", "BR5", "CH ref", "BR ref"} <= set(texts) and "BIAS" not in texts
        fig.savefig(tmp_path / "m.png")
        assert (tmp_path / "m.png").stat().st_size > 1000
    finally:
        plt.close(fig)


def test_montage_json_documents_every_electrode():
    import json
    from importlib import resources

    d = json.loads(resources.files("perifacial.hardware").joinpath("montage.json").read_text(encoding="utf-8"))
    for r in d["regions"]:
        assert len(r["electrode_placement"]) == len(r["channels"]) == 4
        assert all(t.startswith(f"{r['code']}{k + 1}:") for k, t in enumerate(r["electrode_placement"]))
        assert r["reference"]["label"] == f"{r['code']} ref" and r["reference"]["placement"]
    assert d["bias"]["placement"] and d["conventions"]["side"]


@pytest.mark.slow
def test_the_script_writes_svg_and_png(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "hardware" / "make_montage_figure.py"), "--out-dir", str(tmp_path), "--dpi", "60"],
        check=True,
        capture_output=True,
        text=True,
    )
    svg = (tmp_path / "montage.svg").read_text()
    assert "<svg" in svg and "LU1" in svg and "RL4" in svg and (tmp_path / "montage.png").stat().st_size > 5000


def test_montage_command_draws_the_same_figure(tmp_path):
    """`perifacial montage -o DIR` writes what the hardware script writes (one library function draws both)."""
    from perifacial import cli

    assert cli.main(["montage", "-o", str(tmp_path), "--dpi", "40"]) == 0
    svg = (tmp_path / "montage.svg").read_text()
    assert "<svg" in svg and "LU1" in svg and "RL4" in svg and (tmp_path / "montage.png").stat().st_size > 2000
    (tmp_path / "afile").write_text("x")
    assert cli.main(["montage", "-o", str(tmp_path / "afile" / "sub")]) == 2  # under a file: a one-line error
