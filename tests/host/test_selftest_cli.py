"""`perifacial selftest URL` and perifacial.host.selftest, against the virtual board."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perifacial import cli
from perifacial.host import selftest as st


@pytest.fixture
def main():
    """The ``perifacial`` entry point (selftest must be registered in COMMAND_MODULES)."""
    assert "perifacial.commands.selftest" in cli.COMMAND_MODULES
    return cli.main


def test_selftest_passes_on_the_virtual_board(main, capsys):
    rc = main(["selftest", "sim://?seed=3", "--seconds", "1.5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    for name in (
        "chip IDs",
        "register read-back",
        "board test signal",
        "board noise (shorted)",
        "noise vs datasheet",
        "test signal via host",
        "stream continuity",
        "sample rate",
    ):
        assert name in out
    assert "FAIL" not in out
    assert out.strip().splitlines()[-1].startswith("PASS")


def test_selftest_json(main, capsys):
    rc = main(["selftest", "sim://?seed=4", "--json", "--seconds", "1"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["pass"] is True
    rows = {c["name"]: c for c in res["checks"]}
    assert rows["sample rate"]["status"] == "pass"
    assert abs(rows["sample rate"]["details"]["device_rate"] - 1000.0) < 1000.0 * st.RATE_TOLERANCE
    assert rows["lead-off (reported)"]["status"] == "info"
    periods = rows["test signal via host"]["details"]["periods"]
    assert len(periods) == 24 and all(p and set(p) == {1024} for p in periods)
    assert res["board_report"]["pass"] is True
    assert res["info"]["channels"] == 24


def test_selftest_fails_on_a_clock_out_of_tolerance(main, capsys):
    """A virtual board whose ADS1299 clock runs 0.8 % fast: the rate check fails, exit code 1 (the test-signal
    period, tied to the same clock, still passes)."""
    rc = main(["selftest", "sim://?seed=5&clock_error_ppm=8000", "--seconds", "1", "--no-board-selftest"])
    out = capsys.readouterr().out
    assert rc == 1
    rate_line = next(line for line in out.splitlines() if line.startswith("sample rate"))
    assert "FAIL" in rate_line and "1008.0" in rate_line
    assert "test signal via host" in out and out.strip().splitlines()[-1].startswith("FAIL (1 check failed)")


def test_selftest_unreachable_board_is_a_user_error(main, capsys):
    assert main(["selftest", "nosuch://board"]) == 2
    assert "unknown board URL" in capsys.readouterr().err
    assert main(["selftest", "sim://", "--seconds", "0"]) == 2


def test_run_selftest_on_an_open_board_restores_its_configuration():
    from perifacial.host.board import open_board

    with open_board("sim://?seed=6") as board:
        cfg = board.configure(gain=12, samples_per_frame=5)
        res = st.run_selftest(board, stream_seconds=1.0, board_selftest=False)
        assert res.ok, [(c.name, c.measured) for c in res.failed]
        assert board.transport.is_open
        assert board.command("get_config")["config"] == cfg
        sw = res.checks[[c.name for c in res.checks].index("test signal via host")]
        assert all(abs(a - 1875.0) < 1875.0 * st.TEST_AMP_TOLERANCE for a in sw.details["amplitude_uv"])


# -- the measurement helpers shared with hil_tests ---------------------------------------------------------------
def test_check_id_fields():
    assert st.check_id(0x3E)[0]  # REV_ID 001, 1, DEV_ID 11, NU_CH 10
    assert not st.check_id(0x3D)[0]  # NU_CH 01: a 6-channel ADS1299-6
    assert not st.check_id(0x32)[0]  # DEV_ID 00
    assert not st.check_id(0xFF)[0] and not st.check_id(0x00)[0]  # MISO stuck high / low


def test_expected_test_signal_and_noise_limits():
    assert [st.expected_test_period(r) for r in (500, 1000, 2000)] == [512, 1024, 2048]
    assert st.expected_test_period(1000, cal_freq=1) == 512
    assert st.expected_test_amplitude_uv() == pytest.approx(1875.0)
    assert st.expected_test_amplitude_uv(True) == pytest.approx(3750.0)
    assert st.noise_limits(1, 1000) == (2.17, 15.17)
    assert st.noise_limits(24, 1000) == (1.14, 7.98)


def test_square_wave_measures_period_and_amplitude():
    rng = np.random.default_rng(0)
    n = 3500
    k = np.arange(n) + 300
    x = np.where((k // 512) % 2 == 0, 1875.0, -1875.0) + 60.0 + rng.normal(0, 0.3, (2, n))
    x[1] *= 2
    res = st.square_wave(x)
    assert res["periods"][0] == [1024, 1024] and res["periods"][1] == [1024, 1024]
    assert res["amplitude_uv"][0] == pytest.approx(1875.0, abs=0.1)
    assert res["amplitude_uv"][1] == pytest.approx(3750.0, abs=0.2)


def test_noise_figures_and_rate_fit():
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 0.3, (3, 4000))
    nf = st.noise_figures(x)
    assert nf["readings"] == 4
    assert all(abs(r - 0.3) < 0.02 for r in nf["rms_uv"])
    assert all(1.2 < p < 2.6 for p in nf["pp_uv"])  # ~6.5 sigma for 1000 Gaussian readings
    first = np.arange(0, 20000, 10)
    t_us = (np.round(first * 1e6 / 1003.0) + (1 << 30) - 5_000_000) % (1 << 30)  # wraps once
    assert st.rate_from_frames(first, t_us) == pytest.approx(1003.0, rel=1e-6)
    assert st.rate_from_frames(first[:1], t_us[:1]) is None
