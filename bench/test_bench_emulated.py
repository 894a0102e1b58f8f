"""The firmware's real-time budget on the emulated RP2040 (MicroPython's RPI_PICO build in rp2040js), per
acquisition path and rate: emulated CPU busy fraction, DRDY-to-read latency, ring high-water mark, samples lost.

The reference is the sample period itself: ratio = period / CPU time per sample = 1 / cpu_busy (>= 1 fits; the
goals of issue 12 are busy <= 0.35 at 1000 SPS and <= 0.6 at 2000 SPS, i.e. ratios >= 2.9 and >= 1.7). Emulated
time is deterministic and a lower bound for silicon (no flash wait states, free interrupt entry), so these figures
do not depend on the machine's load and are asserted with PERIFACIAL_BENCH_STRICT=1. Under the default
``--benchmark-disable`` the measurement runs once per (path, rate) and is shared with tests/emu in the same session
(:func:`perifacial.host.emu.budget.measured`).

Paths: :data:`perifacial.host.emu.budget.PATHS`: ``irq+dma`` (the rp2 boards': the DRDY hard IRQ starts a DMA read)
carries issue 12's goals; ``irq`` (blocking SPI.readinto in the handler, the fallback where rp2.DMA is absent) is
guarded against regressions only (measured 32.1 % and 63.3 % at 1000 and 2000 SPS). A new path (e.g. PIO + DMA) is
one entry there and shows up here as another row per rate.
"""

from __future__ import annotations

import os

import pytest

from perifacial.host.emu.budget import PATHS, measured

SECONDS = 10.0  # the same streams as tests/emu (shared through `measured`)
GOAL_BUSY = {  # issue 12: <= 35 % at 1000 SPS, <= 60 % at 2000 SPS on the rp2 path; the fallback's regression guard
    "irq+dma": {500: 0.35, 1000: 0.35, 2000: 0.6},
    "irq": {500: 0.35, 1000: 0.42, 2000: 0.72},
}


@pytest.fixture(scope="module")
def emu_ready():
    from perifacial.host.emu.runner import missing

    why = missing()
    if why:
        if os.environ.get("PERIFACIAL_REQUIRE_EMULATOR") == "1":
            pytest.fail(f"emulator required (PERIFACIAL_REQUIRE_EMULATOR=1) but {why}", pytrace=False)
        pytest.skip(f"emulated RP2040 unavailable: {why}")


@pytest.mark.emulator
@pytest.mark.parametrize("rate", [500, 1000, 2000])
@pytest.mark.parametrize("path", list(PATHS))
def test_emulated_budget(emu_ready, benchmark, ratios, path, rate):
    b = benchmark.pedantic(measured, args=(rate, SECONDS, path), rounds=1, iterations=1)
    period_s = 1.0 / rate
    benchmark.extra_info.update(b.as_dict())
    note = (
        f"{path}: busy {100 * b.cpu_busy:.1f} %, DRDY->read median {b.latency_us_median} us / worst "
        f"{b.latency_us_max} us, ring high-water {b.ring_high_water}, lost {b.samples_lost} of "
        f"{b.samples_expected}, USB {b.usb_bytes_per_s / 1000:.1f} kB/s (emulated RP2040, {SECONDS:g} s)"
    )
    ratios.add(
        f"emulated budget {path} {rate} SPS",
        "sample period (1 / cpu_busy)",
        period_s,
        b.cpu_busy * period_s,
        1.0 / GOAL_BUSY[path][rate],
        note,
    )
    # always true, whatever the firmware's speed: every sample is accounted for and what arrived is exact
    assert b.samples_received + b.samples_lost == b.samples_expected
    assert b.frames_mismatched == 0 and b.duplicates == 0
    if os.environ.get("PERIFACIAL_BENCH_STRICT") == "1":
        assert b.samples_lost == 0
        assert b.cpu_busy <= GOAL_BUSY[path][rate]
