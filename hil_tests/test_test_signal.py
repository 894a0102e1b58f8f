"""The ADS1299's internal test signal (CONFIG2.INT_CAL = 1, CHnSET.MUX = 101) on every channel, end to end:
SPI, daisy-chain order, framing, link, host decoder and per-channel gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _board import skip_unadvertised

from perifacial.host.selftest import (
    TEST_AMP_TOLERANCE,
    decode_registers,
    expected_test_amplitude_uv,
    expected_test_period,
    square_wave,
)


def _nominal_amp(request, amp_2x: bool) -> float:
    given = request.config.getoption("--test-amp-uv")
    if given is not None:
        return given * (2.0 if amp_2x else 1.0)
    return expected_test_amplitude_uv(amp_2x)


@pytest.mark.parametrize("rate", [500, 1000, 2000])
def test_square_wave_period_and_amplitude(hil, hil_report, request, rate):
    """Every channel shows a square wave whose period is exactly 2^21 tCLK = 1024 samples at 1000 SPS (2048 at
    2000, 512 at 500) between every pair of rising edges, whatever the clock error (signal and sampling share
    the clock), and whose amplitude is VREF/2.4 = 1875 uV (CAL_AMP = 0) +- 2 %.
    Criterion: SBAS499C CONFIG2 (INT_CAL, CAL_AMP, CAL_FREQ = 00: fCLK/2^21) and CONFIG1 DR (fCLK/2048 at
    1 kSPS); firmware/WIRE.md `selftest.test_signal.expected_period` = 1024 x rate / 1000; amplitude tolerance
    from research notes table 1.5 (calibrate on a golden board, --test-amp-uv)."""
    skip_unadvertised(hil, rate)
    hil.configure(rate=rate, mux="test", gain=24, test_amp_2x=False, enabled=True)
    f = decode_registers(hil.registers()[0])
    assert f["int_cal"], "CONFIG2.INT_CAL is 0: no test signal"
    period = expected_test_period(rate, f["cal_freq"])
    assert period == 1024 * rate // 1000, f"CONFIG2.CAL_FREQ = {f['cal_freq']:02b}: the firmware contract is 2^21 tCLK"
    cap = hil.acquire(int(period * 3.3))
    assert not cap.gaps and not np.isnan(cap.data).any(), f"samples lost during the capture: {cap.gaps}"
    sw = square_wave(cap.data)
    amp0 = _nominal_amp(request, False)
    bad = []
    for c in range(hil.channels):
        per = sw["periods"][c]
        amp = sw["amplitude_uv"][c]
        if len(per) < 2 or any(p != period for p in per):
            bad.append(f"ch {c}: periods {per} (expected {period})")
        elif abs(amp - amp0) > TEST_AMP_TOLERANCE * amp0:
            bad.append(f"ch {c}: amplitude {amp:.1f} uV (expected {amp0:.0f} +- {TEST_AMP_TOLERANCE:.0%})")
    all_p = sorted({p for per in sw["periods"] for p in per})
    amps = sw["amplitude_uv"]
    hil_report.add(
        f"test_signal_{rate}sps",
        {
            "summary": f"period {all_p} samples (expected {period}), amplitude {min(amps):.1f}..{max(amps):.1f} uV",
            "expected_period": period,
            "periods": sw["periods"],
            "amplitude_uv": amps,
            "expected_amplitude_uv": amp0,
        },
    )
    assert not bad, "; ".join(bad)


def test_gain_per_channel_and_cal_amp_2x(hil, hil_report, request):
    """With CAL_AMP = 1 (2 x VREF/2.4 = 3750 uV) and a different PGA gain on neighbouring channels (1, 2, 4, 6, 8,
    12, 24 cycling), every channel still reads 3750 uV +- 2 % once the host applies that channel's LSB
    (2 VREF / gain / 2^24): the gain reaches the right channel and the host converts with the right gain.
    Criterion: SBAS499C CONFIG2.CAL_AMP, CHnSET.GAIN, data format (LSB); firmware/WIRE.md (uV formula)."""
    n = hil.channels
    gains = [(1, 2, 4, 6, 8, 12, 24)[c % 7] for c in range(n)]
    hil.configure(mux="test", gain=gains, test_amp_2x=True, enabled=True)
    rate = int(hil.config["rate"])
    period = expected_test_period(rate, decode_registers(hil.registers()[0])["cal_freq"])
    cap = hil.acquire(int(period * 1.6))
    sw = square_wave(cap.data)
    amp0 = _nominal_amp(request, True)
    amps = sw["amplitude_uv"]
    bad = [
        f"ch {c} (gain {gains[c]}): {amps[c]:.1f} uV"
        for c in range(n)
        if abs(amps[c] - amp0) > TEST_AMP_TOLERANCE * amp0
    ]
    hil_report.add(
        "test_signal_gains_2x",
        {
            "summary": f"amplitude {min(amps):.1f}..{max(amps):.1f} uV (expected {amp0:.0f}) at gains 1..24",
            "gains": gains,
            "amplitude_uv": amps,
        },
    )
    assert not bad, f"expected {amp0:.0f} uV +- {TEST_AMP_TOLERANCE:.0%}: " + "; ".join(bad)


def test_channel_order_signature(hil, hil_report):
    """Channel order through the daisy chain and the decoder: channel c gets the code c + 1 written in binary
    over ceil(log2(channels + 1)) acquisitions (bit k set: MUX = test signal in acquisition k, else inputs
    shorted). Each channel's observed pattern (|x| > half the test amplitude in the plateau vs noise) must equal
    its own code, so a swapped pair of channels or chips, a shifted frame or a wrong chip count is caught.
    Criterion: SBAS499C CHnSET.MUX (101 test, 001 shorted), data frame order (chip 0 first, CH1..CH8);
    firmware/WIRE.md channel c = chip c // 8, input c % 8 + 1."""
    n = hil.channels
    bits = math.ceil(math.log2(n + 1))
    rate = int(hil.config["rate"])
    period = expected_test_period(rate)
    seen = np.zeros((n, bits), dtype=bool)
    amp = expected_test_amplitude_uv(False)
    for k in range(bits):
        mux = ["test" if (c + 1) >> k & 1 else "shorted" for c in range(n)]
        hil.configure(mux=mux, gain=24, test_amp_2x=False, enabled=True)
        cap = hil.acquire(period // 4)
        x = cap.data[:, 8:]  # skip the digital filter's settling after start
        level = np.median(np.abs(x), axis=1)
        seen[:, k] = level > amp / 2
    codes = (seen * (1 << np.arange(bits))).sum(axis=1)
    wrong = [f"ch {c}: pattern {int(codes[c])} (expected {c + 1})" for c in range(n) if codes[c] != c + 1]
    hil_report.add(
        "channel_order",
        {
            "summary": "intact" if not wrong else f"{len(wrong)} channels misplaced",
            "observed_codes": [int(v) for v in codes],
        },
    )
    assert not wrong, "; ".join(wrong)
