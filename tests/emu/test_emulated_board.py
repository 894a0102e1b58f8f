"""The project's firmware (compiled as `perifacial flash --board picow` compiles it) on MicroPython's real RP2040
build in rp2040js, against the emulated ADS1299 chain (host/emu/js/ads1299_chain.mjs), decoded by the host's own
decoder. The expected bytes come from an independent re-implementation of the chain's pattern
(perifacial.host.emu.chain). Emulated time is deterministic: the figures asserted here are the same every run."""

from __future__ import annotations

import pytest

from perifacial.host.board import BoardError, open_board
from perifacial.host.emu.budget import PATHS, measure, measured

SECONDS = 10.0  # emulated seconds per stream (issue 12: 10 s at 2000 SPS)

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def board(emu_ready):
    b = open_board("emu://", command_timeout=5.0)
    yield b
    b.close()


def test_boots_and_identifies(board):
    info = board.info
    assert info["fault"] is None
    assert info["ids"] == [0x3E, 0x3E, 0x3E]  # the emulated chips' ID register: DEV_ID 11, NU_CH 10
    assert info["chips"] == 3 and info["channels"] == 24
    assert info["hard_irq"] is True and info["board"] == "picow"
    # honest capabilities: what the measured budget supports (hardware/boards/picow.json rates_budget)
    assert info["rates"] == [500, 1000, 2000]
    assert info["acquisition"] == "irq+dma"  # the rp2 profile's DMA read path (spi_dma)
    assert board.config["rate"] == 1000
    assert board.transport.stats()["id_reads"] >= 3  # the firmware read every chip's ID over SPI


def test_rate_beyond_the_budget_is_refused_with_the_reason(emu_ready):
    b = open_board("emu://", command_timeout=5.0, profile={"rates": [500]})  # a profile whose budget allows 500
    try:
        assert b.info["rates"] == [500] and b.config["rate"] == 500
        with pytest.raises(
            BoardError,
            match=r"rate 2000 is not supported on this board \(picow\): its measured CPU "
            r"budget",
        ):
            b.configure(rate=2000)
        assert b.command("get_config")["config"]["rate"] == 500
    finally:
        b.close()


def _assert_lossless_and_exact(b, rate):
    assert b.samples_expected == rate * SECONDS
    assert b.samples_lost == 0 and b.n_gaps == 0 and b.firmware_lost == 0 and b.overwritten == 0
    assert b.samples_received == b.samples_expected
    assert b.duplicates == 0
    # every DATA frame byte-exact to what the emulated chips produced for that sample index
    assert b.frames_mismatched == 0
    assert b.frames_checked >= b.samples_expected // 40  # picow frames 40 samples per DATA frame
    assert 0.0 < b.cpu_busy <= 1.0
    assert b.latency_us_max is not None and b.latency_us_max < 1e6 / rate


@pytest.mark.parametrize("rate", [500, 1000, 2000])
def test_stream_every_sample_once_byte_exact(emu_ready, rate):
    _assert_lossless_and_exact(measured(rate, SECONDS), rate)


def test_loss_is_counted_never_hidden_2000(emu_ready):
    """Whatever the firmware cannot keep up with is lost at the chip (no FIFO), and every lost sample shows up: as a
    host-side gap, in the firmware's own counter, and the samples that did arrive are still byte-exact."""
    b = measured(2000, SECONDS)
    assert b.duplicates == 0 and b.frames_mismatched == 0
    assert b.samples_received + b.samples_lost == b.samples_expected
    if b.samples_lost:
        assert b.n_gaps > 0
        assert b.firmware_lost >= b.samples_lost  # the firmware counts until stop (a little after the window)
    # a sample either reached the firmware's ring or was overwritten at the chip (or the ring was full)
    assert b.reads + b.overwritten <= b.conversions <= b.reads + b.overwritten + 1


def test_emulation_is_deterministic(emu_ready):
    """Two fresh boots, the same short stream: the same emulated cycles, latencies and ring fill to the last unit
    (for the same flash content: any byte changed in the firmware or board.json moves heap layout and GC)."""
    a, b = measure(500, 0.3, check=False), measure(500, 0.3, check=False)
    assert (a.cpu_busy, a.latency_us_median, a.latency_us_max, a.ring_high_water, a.conversions) == (
        b.cpu_busy,
        b.latency_us_median,
        b.latency_us_max,
        b.ring_high_water,
        b.conversions,
    )


def test_emulated_budget_figures(emu_ready):
    """Emulated time is deterministic, so the figures can be asserted: issue 12's budget (irq+dma path, the picow
    profile's 40 samples per frame) is at most 35 % CPU busy at 1000 SPS and 60 % at 2000 SPS (measured 26.1 % and
    52.5 % over 10 s; any change to the firmware or board.json moves them by about 1 %); more work per second at
    higher rates; the DRDY-to-read latency is the hard-IRQ entry plus the handler's bookkeeping (tens of us, far below
    a period)."""
    b500, b1000, b2000 = measured(500, SECONDS), measured(1000, SECONDS), measured(2000, SECONDS)
    assert 0.0 < b500.cpu_busy < b1000.cpu_busy < b2000.cpu_busy
    assert b1000.cpu_busy <= 0.35 and b2000.cpu_busy <= 0.60
    assert b1000.latency_us_median is not None and 10.0 < b1000.latency_us_median < 200.0
    # USB carries the DATA stream: 24 ch x 3 B + 3 x 3 B status = 81 B/sample + 26 B per 40-sample frame
    expect = 1000 * (81 + 26 / 40)
    assert abs(b1000.usb_bytes_per_s - expect) / expect < 0.03
    assert 0 < b2000.ring_high_water <= 192


@pytest.fixture(scope="module")
def selftest_result(board):
    return board.selftest(timeout=30.0)


def test_selftest_chip_checks_pass(selftest_result):
    """The firmware's self-test reads every chip's ID and register read-back over the emulated SPI: all correct."""
    r = selftest_result
    assert [c["id_ok"] and c["regs_ok"] for c in r["chips"]] == [True, True, True]
    # the test signal is the chain's internal square wave: +-VREF/2.4 = 1875 uV whatever the gain
    assert all(abs(a - 1875.0) < 1.0 for a in r["test_signal"]["amplitude_uv"])
    # honest: lost samples fail the self-test (today: see test_selftest_passes)
    assert (r["lost"] == 0) or (r["pass"] is False)


def test_selftest_passes(selftest_result, board):
    """The whole self-test passes on the emulated Pico W: IDs, read-back, test-signal period (512 samples) and
    amplitude, noise with inputs shorted, no sample lost. Its per-sample analysis in Python (~2.5 ms for 24 channels
    on the RP2040) does not keep up at the default 1000 SPS, so the picow profile's ``selftest_rate`` (500) runs the
    tests there and restores the board's rate afterwards."""
    assert selftest_result["test_signal"]["rate"] == 500
    assert selftest_result["test_signal"]["period"] == [512.0] * 24  # the ADS1299 test signal: fCLK / 2**21
    assert selftest_result["lost"] == 0
    assert selftest_result["pass"] is True
    assert board.command("get_config")["config"]["rate"] == 1000  # restored


def test_miswired_drdy_is_detected(emu_ready):
    """The chips' DRDY wired to GP15 while the profile says GP22: the board boots (SPI works), but no sample ever
    arrives: the stream test reports every sample lost, and the self-test fails instead of passing."""
    b = open_board("emu://?drdy_pin=15", command_timeout=5.0)
    try:
        assert b.info["fault"] is None
        budget = measure(500, 1.0, board=b, timeout=0.5)
        assert budget.samples_received == 0
        assert budget.samples_lost == budget.samples_expected == 500
        assert budget.conversions > 0 and budget.reads == 0  # the chips converted; nobody read them
        with pytest.raises(BoardError, match="no DRDY"):
            b.selftest(timeout=10.0)
    finally:
        b.close()


@pytest.mark.parametrize("path", list(PATHS))
def test_slow_read_path_loses_samples_and_says_so(emu_ready, path):
    """An SPI clock of 250 kHz makes a 81-byte read take 2.6 ms, longer than the 2 ms period at 500 SPS: samples are
    lost at the chip, and the loss is reported (host gaps, firmware counter), never hidden. On the DMA path what
    arrives is exact: a read still in flight at the next DRDY is withdrawn and counted as lost. (The blocking path
    cannot tell a read that overlapped the next conversion: see the issue 12 closing note.)"""
    b = open_board("emu://?spi_baud=250000", command_timeout=5.0, profile=PATHS[path])
    try:
        budget = measure(500, 1.0, board=b)
        assert budget.samples_lost > 50
        assert budget.overwritten > 50
        assert budget.n_gaps > 0 or budget.samples_received == 0  # DMA path: every read overlaps, none is kept
        assert budget.firmware_lost >= budget.samples_lost
        assert budget.duplicates == 0
        if path == "irq+dma":
            # a read still in flight at the next DRDY is withdrawn: nothing corrupt is ever counted as a sample
            assert budget.frames_mismatched == 0
    finally:
        b.close()
