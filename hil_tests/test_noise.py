"""Noise floor with the inputs shorted (CHnSET.MUX = 001) on every channel."""

from __future__ import annotations

import numpy as np
import pytest
from _board import skip_unadvertised

from perifacial.host.selftest import NOISE_WINDOW, noise_figures, noise_limits


@pytest.mark.parametrize("rate", [500, 1000, 2000])
def test_shorted_input_noise(hil, hil_report, rate):
    """Inputs shorted at PGA gain 24: per channel, the rms about the mean and the mean peak-to-peak of consecutive
    1000-sample readings stay at or below the datasheet's input-referred noise for that data rate: Table 1
    (5-V supply, 4.5-V reference, inputs shorted, >= 1000 consecutive readings) gives 0.81/1.14/1.61 uVrms and
    5.65/7.98/11.29 uVpp at gain 2 for 500/1000/2000 SPS; noise falls with gain (datasheet 8.1), so the gain-2
    figures bound gain 24 (typical at gain 24 is ~1 uVpp at 250 SPS, feature list). A broken or floating input, a
    bad reference or SPI bit errors exceed them by orders of magnitude.
    Criterion: SBAS499C 8.1 Noise Measurements, Table 1."""
    gain = 24
    skip_unadvertised(hil, rate)
    hil.configure(rate=rate, mux="shorted", gain=gain, enabled=True)
    n = 4 * NOISE_WINDOW + 64
    cap = hil.acquire(n)
    assert not cap.gaps, f"samples lost during the capture: {cap.gaps}"
    x = cap.data[:, 64:]  # leave out the digital filter's settling after start
    nf = noise_figures(x)
    lim_rms, lim_pp = noise_limits(gain, rate)
    bad = [
        f"ch {c}: {nf['rms_uv'][c]:.3f} uVrms, {nf['pp_uv'][c]:.2f} uVpp"
        for c in range(hil.channels)
        if nf["rms_uv"][c] > lim_rms or nf["pp_uv"][c] > lim_pp
    ]
    hil_report.add(
        f"noise_{rate}sps_gain{gain}",
        {
            "summary": (
                f"{min(nf['rms_uv']):.3f}..{max(nf['rms_uv']):.3f} uVrms, {min(nf['pp_uv']):.2f}.."
                f"{max(nf['pp_uv']):.2f} uVpp (limits {lim_rms} uVrms, {lim_pp} uVpp)"
            ),
            "rms_uv": nf["rms_uv"],
            "pp_uv": nf["pp_uv"],
            "pp_max_uv": nf["pp_max_uv"],
            "readings": nf["readings"],
            "limit_rms_uv": lim_rms,
            "limit_pp_uv": lim_pp,
            "rate": rate,
            "gain": gain,
            "offset_uv": [float(v) for v in np.mean(x, axis=1)],
        },
    )
    assert not bad, f"above {lim_rms} uVrms / {lim_pp} uVpp: " + "; ".join(bad)
