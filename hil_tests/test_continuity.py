"""Continuity soak: no lost frame or sample, and the real sample rate, over --soak-seconds."""

from __future__ import annotations

import pytest

from perifacial.host.board import open_board
from perifacial.host.selftest import RATE_TOLERANCE, FrameTap

HOST_RATE_MIN_SECONDS = 60.0  # below this, host-clock arrival jitter (USB/OS buffering) can exceed 0.5 %


def test_continuity_soak(hil, hil_report, request):
    """Stream --soak-seconds (default 5 s; hours on a rig) at the board's rate with electrodes as they are:
    zero frame-sequence gaps, zero sample-index gaps, zero CRC errors or truncated frames, no frame flagged
    FLAG_OVERRUN, and the board's own counters agree (`stop.lost` = 0, STATUS overruns = frames_dropped =
    status_errors = 0). The sample rate, measured by a least-squares fit of each frame's board timestamp
    (ticks_us) against its sample index, is within +-0.5 % of nominal; on a real board soaked >= 60 s the rate by
    the host clock must be too.
    Criterion: DESIGN.md / firmware/WIRE.md (no FIFO: every lost sample is counted, sequence numbers on every
    frame); SBAS499C 7.5 internal oscillator accuracy +-0.5 % at 25 C (research notes table 1.5)."""
    seconds = float(request.config.getoption("--soak-seconds"))
    rate = int(hil.config["rate"])
    n = max(1, int(round(seconds * rate)))
    cap = hil.acquire(n, keep_data=False, timeout=10.0)
    st = cap.stats
    dev = cap.status_after
    err_dev = None if cap.device_rate is None else cap.device_rate / rate - 1.0
    err_host = None if cap.host_rate is None else cap.host_rate / rate - 1.0
    hil_report.add(
        "soak",
        {
            "summary": (
                f"{cap.received} samples in {seconds:g} s: seq gaps {st['seq_gaps']}, sample gaps "
                f"{st['sample_gaps']}, CRC errors {st['crc_errors']}; rate {cap.device_rate:.3f} SPS by the board "
                f"clock" + (f", {cap.host_rate:.3f} SPS by the host clock" if cap.host_rate else "")
            ),
            "seconds": seconds,
            "samples": cap.received,
            "rate_nominal": rate,
            "rate_device": cap.device_rate,
            "rate_host": cap.host_rate,
            "rate_error_device": err_dev,
            "rate_error_host": err_host,
            "decoder": st,
            "device_status": dev,
            "wall_s": cap.wall_s,
        },
    )
    assert cap.received >= n
    assert st["seq_gaps"] == 0 and st["lost_frames"] == 0, f"frames lost: {st}"
    assert st["sample_gaps"] == 0 and st["lost_samples"] == 0 and not cap.gaps, f"samples lost: {cap.gaps}"
    assert st["crc_errors"] == 0 and st["truncated"] == 0 and st["malformed"] == 0, f"damaged frames: {st}"
    assert st["overrun_frames"] == 0 and st["device_status_errors"] == 0 and st["status_misaligned"] == 0
    assert cap.stop_reply.get("lost", 0) == 0, f"the board lost samples: {cap.stop_reply}"
    assert dev["overruns"] == 0 and dev["frames_dropped"] == 0 and dev["status_errors"] == 0, dev
    assert err_dev is not None, "rate not measurable (fewer than 2 frames)"
    assert abs(err_dev) <= RATE_TOLERANCE, f"rate {cap.device_rate:.3f} SPS is {err_dev:+.3%} off {rate}"
    if not hil.is_sim and seconds >= HOST_RATE_MIN_SECONDS and err_host is not None:
        assert abs(err_host) <= RATE_TOLERANCE, f"host-clock rate {cap.host_rate:.3f} SPS is {err_host:+.3%} off"


@pytest.mark.sim_only
@pytest.mark.parametrize("ppm, within", [(3000, True), (-7000, False)])
def test_rate_measurement_sees_clock_error(hil, sim_board, hil_report, ppm, within):
    """The rate check is not blind: virtual boards whose ADS1299 clock runs +0.3 % and -0.7 % fast are measured
    at 1000 x (1 + error) SPS within 0.01 %, so the first passes and the second fails the +-0.5 % criterion.
    Criterion: SBAS499C 7.5 (+-0.5 %); the model's clock_error (host/sim/MODEL.md)."""
    with open_board(f"sim://?seed=7&clock_error_ppm={ppm}") as b, FrameTap(b) as tap:
        b.start()
        for _ in b.blocks(n_samples=2000):
            pass
        b.stop()
        rate = tap.device_rate()
    expected = 1000.0 * (1 + ppm * 1e-6)
    hil_report.add(
        f"rate_check_{ppm:+d}ppm",
        {"summary": f"{rate:.3f} SPS (expected {expected:.3f})", "measured": rate, "expected": expected},
    )
    assert rate == pytest.approx(expected, rel=1e-4)
    assert (abs(rate / 1000.0 - 1) <= RATE_TOLERANCE) is within


@pytest.mark.sim_only
def test_device_overrun_is_reported_not_hidden(hil, sim_board, hil_report):
    """sim://: the firmware's main loop stalls for 0.5 s while DRDY keeps firing (the model's `stall`), so the
    256-sample ring overflows. The lost samples reach the host as exactly one counted gap: the next frame carries
    FLAG_OVERRUN, the host's gap equals the board's `lost` and its STATUS overruns, and the stream continues.
    Criterion: DESIGN.md (no FIFO: missed samples detected and reported as gaps, never hidden); firmware/WIRE.md
    (FLAG_OVERRUN, STATUS overruns)."""
    rate = int(hil.config["rate"])
    done = []

    def during(got, h):
        if got >= rate // 10 and not done:
            done.append(True)
            sim_board.stall(500.0)

    cap = hil.acquire(2 * rate, during=during)
    host_lost = sum(b - a for a, b in cap.gaps)
    st = cap.stats
    hil_report.add(
        "device_overrun",
        {"summary": f"0.5 s stall -> gaps {cap.gaps}, board lost {cap.stop_reply.get('lost')}", "gaps": cap.gaps},
    )
    assert len(cap.gaps) == 1 and host_lost > 0
    assert st["overrun_frames"] >= 1
    assert host_lost == cap.stop_reply["lost"] == cap.status_after["overruns"]
    assert cap.received + host_lost == cap.n
