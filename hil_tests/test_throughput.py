"""Throughput of the link at each data rate: achieved frames/s and bytes/s, and no sample lost."""

from __future__ import annotations

import pytest
from _board import skip_unadvertised

from perifacial.firmware import wire


@pytest.mark.parametrize("rate", [500, 1000, 2000])
def test_throughput_per_rate(hil, hil_report, request, rate):
    """Stream --throughput-seconds (default 2) at 500, 1000 and 2000 SPS over this link. Report data frames/s,
    bytes/s and samples/s per second of acquisition (samples / nominal rate) and, on a real-time link, per second
    of host wall time; fail if any sample or frame is lost or the data arrive short of what the rate needs
    (rate x (chips x 27 B + (14 + 12) B / samples_per_frame): 83.6 kB/s at 1000 SPS with 3 chips, 10 per frame).
    Criterion: firmware/WIRE.md DATA frame layout and overhead; issue 8 ("fails if samples are lost")."""
    seconds = float(request.config.getoption("--throughput-seconds"))
    skip_unadvertised(hil, rate)
    hil.configure(rate=rate)
    n = int(round(seconds * rate))
    cap = hil.acquire(n, keep_data=False)
    st = cap.stats
    spf = int(hil.config.get("samples_per_frame", 10))
    chips = hil.chips
    # the link delivers whole reads: count everything the tap decoded (it may run past n up to the stop)
    acq_s = (st["samples"] + st["lost_samples"]) / rate
    data_frames = st["data_frames"]
    need_bps = rate * (chips * wire.CHIP_BYTES + (wire.OVERHEAD + wire.DATA_HDR_SIZE) / spf)
    got_bps = cap.bytes / acq_s
    fig = {
        "rate": rate,
        "link": hil.info.get("link"),
        "samples": cap.received,
        "seconds_acquired": acq_s,
        "frames_per_s": data_frames / acq_s,
        "bytes_per_s": got_bps,
        "needed_bytes_per_s": need_bps,
        "samples_per_s": cap.received / acq_s,
        "lost_samples": st["lost_samples"],
        "seq_gaps": st["seq_gaps"],
        "wall_s": cap.wall_s,
    }
    if hil.realtime:
        fig["wall_bytes_per_s"] = cap.bytes / cap.wall_s
        fig["wall_frames_per_s"] = data_frames / cap.wall_s
    else:
        fig["emulation_speed"] = acq_s / cap.wall_s  # virtual seconds per wall second (sim://, CPU bound)
    fig["summary"] = (
        f"{fig['frames_per_s']:.1f} frames/s, {got_bps / 1000:.1f} kB/s (needs {need_bps / 1000:.1f}), "
        f"{st['lost_samples']} samples lost"
    )
    hil_report.add(f"throughput_{rate}sps", fig)
    assert st["sample_gaps"] == 0 and st["lost_samples"] == 0 and not cap.gaps, f"samples lost: {cap.gaps}"
    assert st["seq_gaps"] == 0, f"frames lost: {st}"
    assert cap.stop_reply.get("lost", 0) == 0, f"the board lost samples: {cap.stop_reply}"
    assert cap.received >= n
    assert got_bps >= need_bps * 0.99, f"{got_bps:.0f} B/s received, the stream needs {need_bps:.0f} B/s"


@pytest.mark.sim_only
def test_firmware_broke_no_datasheet_rule(hil, sim_board, hil_report):
    """Run last (this file sorts last): over everything the session did on the virtual board, the firmware broke no
    timing or protocol rule the chip model checks (tPOR, RESET pulse, byte spacing, RDATAC/SDATAC, reserved bits,
    reads overlapping DRDY, SPI mode, SCLK <= 20 MHz ...), and no conversion was overwritten unread while the
    firmware was supposed to be reading.
    Criterion: SBAS499C timing requirements and command rules, as host/sim/MODEL.md lists them."""
    v = sim_board.violations()
    counts = dict(getattr(sim_board.chain, "violation_counts", {}) or {})
    hil_report.add(
        "sim_violations",
        {"summary": f"{len(v)} datasheet violations", "counts": counts, "first": [str(x) for x in v[:10]]},
    )
    assert not v, f"{len(v)} violations, first: {v[:5]}"
