"""`perifacial emulate`: the budget as JSON, and a one-line error with exit code 2 where something is missing."""

from __future__ import annotations

import json

import pytest

from perifacial.cli import main


@pytest.mark.emulator
def test_emulate_json_reports_the_budget(emu_ready, capsys):
    code = main(["emulate", "--rate", "500", "--seconds", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    for k in (
        "rate",
        "seconds",
        "samples_expected",
        "samples_received",
        "samples_lost",
        "cpu_busy",
        "ring_high_water",
        "latency_us_median",
        "latency_us_max",
        "usb_bytes_per_s",
    ):
        assert k in out
    assert out["rate"] == 500 and out["seconds"] == 1.0 and out["samples_expected"] == 500
    assert out["samples_lost"] == 0 and out["samples_received"] == 500 and code == 0
    assert 0.0 < out["cpu_busy"] < 1.0
    assert out["frames_mismatched"] == 0


@pytest.mark.emulator
def test_emulate_table(emu_ready, capsys):
    assert main(["emulate", "--rate", "500", "--seconds", "0.5"]) == 0
    text = capsys.readouterr().out
    for label in ("CPU busy", "DRDY -> read", "ring high-water", "samples", "USB"):
        assert label in text


def test_missing_node_is_one_line_exit_2(monkeypatch, capsys):
    import shutil

    monkeypatch.delenv("PERIFACIAL_NODE", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert main(["emulate", "--seconds", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "node is not installed" in err and "Node.js" in err


def test_missing_uf2_is_one_line_exit_2(tmp_path, capsys):
    assert main(["emulate", "--uf2", str(tmp_path / "nope.uf2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.uf2" in err and "does not exist" in err


def test_missing_rp2emu_folder_names_the_variable(monkeypatch, tmp_path, capsys):
    from perifacial.host.emu import runner

    monkeypatch.setenv("PERIFACIAL_RP2EMU", str(tmp_path))
    monkeypatch.setattr(runner, "REPO_ROOT", tmp_path / "clone")  # a fresh clone: no ../shared next to it
    assert main(["emulate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "PERIFACIAL_RP2EMU" in err and "--uf2" in err


def test_unknown_emu_option_is_refused_with_the_known_ones():
    from perifacial.host.transport import TransportOpenError, open_transport

    with pytest.raises(TransportOpenError, match=r"does not know the option 'bogus' \(known: rate, uf2"):
        open_transport("emu://?bogus=1")


@pytest.mark.emulator
def test_record_on_the_emulated_board(emu_ready, tmp_path, capsys):
    """`perifacial record emu://` works unchanged: 1 s at the board's 500 SPS, no gap, every
    sample's codes equal to what the emulated chips produced."""
    from perifacial.host.recording import load

    out = tmp_path / "e.pfr"
    assert main(["record", "emu://", "-o", str(out), "--seconds", "1", "--quiet"]) == 0
    from perifacial.host.emu.chain import expected_codes

    rec = load(out)
    n = rec.codes.shape[1]
    assert rec.codes.shape[0] == 24 and n >= 500  # the raw log also keeps what arrived until stop
    assert not rec.gaps
    assert (rec.codes == expected_codes(rec.first_sample, n)).all()
