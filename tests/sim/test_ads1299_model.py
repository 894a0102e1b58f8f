"""The ADS1299 / daisy-chain model against datasheet numbers (TI SBAS499, "DS"; sources in host/sim/MODEL.md).

Every expected value below comes from the datasheet (or TI's own forum answers), not from the model's output."""

import numpy as np
import pytest

from perifacial.host.sim import ads1299_model as M

FCLK = 2_048_000  # DS: 2.048 MHz nominal master clock
VREF = 4.5  # DS: internal reference 4.5 V


def _codes_to_uv(codes, gain):
    # DS / TI e2e 465481: LSB = 2 VREF / gain / 2^24
    return np.asarray(codes, dtype=float) * (2 * VREF / gain / 2**24) * 1e6


# --- registers --------------------------------------------------------------------------------------------------------
def test_id_register_fields(bus, chain):
    bus.cmd(M.SDATAC)
    ids = bus.rreg(M.REG_ID, 1)
    assert len(ids) == 3
    for v in ids:
        assert v == 0x3E  # DS / OpenBCI ADS_ID: ADS1299 (8 ch) reads 0x3E
        assert (v >> 4) & 1 == 1  # bit 4 reads 1
        assert (v >> 2) & 3 == 0b11  # DEV_ID = 11 (ADS1299 family)
        assert v & 3 == 0b10  # NU_CH = 10: 8 channels
    assert chain.violations == []


def test_reset_values_all_registers(bus, chain):
    bus.cmd(M.SDATAC)
    regs = bus.rreg(0x00, 24)  # RREG of all 24 registers, all CS low: 24 bytes per chip, chip 0 first (e2e 909755)
    # DS register map (SBAS499C 9.6): ID, CONFIG1 96, CONFIG2 C0, CONFIG3 60, LOFF 00, CHnSET 61, ..., GPIO 0F, ...
    expected = bytes([0x3E, 0x96, 0xC0, 0x60, 0x00] + [0x61] * 8 + [0x00] * 7 + [0x0F, 0x00, 0x00, 0x00])
    assert regs == expected * 3
    assert chain.violations == []


def test_wreg_rreg_multi_register_and_per_chip_cs(bus, chain):
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CH1SET, [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x81])  # 8 registers in one WREG
    assert bus.rreg(M.REG_CH1SET, 8) == bytes([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x81]) * 3
    bus.wreg(M.REG_CH1SET, [0x05], cs=[1])  # per-chip CS: only chip 1 gets it (e2e 788103)
    got = bus.rreg(M.REG_CH1SET, 1)
    assert got == bytes([0x00, 0x05, 0x00])
    assert chain.violations == []


def test_single_chip_selected_alone_reads_hiz_through_chip0(bus, chain):
    # DOUT of chip 1 goes to chip 0's DAISY_IN; chip 0 deselected -> its DOUT is Hi-Z (DS: DOUT Hi-Z when CS high)
    bus.cmd(M.SDATAC)
    assert bus.rreg(M.REG_ID, 1, cs=[0]) == bytes([0x3E])
    assert bus.rreg(M.REG_ID, 1, cs=[1]) == bytes([chain.hiz_byte])


def test_rdatac_at_power_up_ignores_register_commands(bus, chain):
    # DS p.36: RDATAC is the power-up default; a SDATAC must be issued before register commands
    got = bus.rreg(M.REG_ID, 1)
    assert got != bytes([0x3E] * 3)
    assert [v.code for v in chain.violations] == ["RDATAC"] * 3
    chain.violations.clear()
    bus.wreg(M.REG_CONFIG1, [0x95])
    bus.cmd(M.SDATAC)
    assert bus.rreg(M.REG_CONFIG1, 1) == bytes([0x96] * 3)  # the WREG in RDATAC did nothing


def test_reserved_and_read_only_bits(bus, chain):
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG1, [0x06])  # DS: CONFIG1 bit 7 must be 1, bits 4:3 must be 10
    assert bus.rreg(M.REG_CONFIG1, 1) == bytes([0x96] * 3)
    assert {v.code for v in chain.violations} == {"reserved-bits"}
    chain.violations.clear()
    bus.wreg(M.REG_LOFF_STATP, [0xFF, 0xFF])  # DS: LOFF_STATP/N are read-only
    assert bus.rreg(M.REG_LOFF_STATP, 2) == bytes([0, 0] * 3)
    bus.wreg(M.REG_ID, [0x00])  # ID is read-only
    assert bus.rreg(M.REG_ID, 1) == bytes([0x3E] * 3)
    assert chain.violations == []


def test_command_before_tpor_is_ignored_and_recorded(make_bus):
    chain = M.DaisyChain(n_chips=1)
    bus = make_bus(chain, t_us=100_000.0)  # 100 ms < tPOR = 2^18 tCLK = 128 ms (DS Table 30; TI e2e 480770)
    bus.cmd(M.SDATAC)
    assert [v.code for v in chain.violations] == ["tPOR"]
    assert chain.chips[0].rdatac  # ignored
    bus.t = 2**18 / FCLK * 1e6 + 10.0
    bus.cmd(M.SDATAC)
    assert not chain.chips[0].rdatac
    assert len(chain.violations) == 1


def test_reset_pin_pulse_and_init_time(bus, chain):
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG1, [0x95])
    chain.set_pin("reset", 0, bus.t)
    chain.set_pin("reset", 1, bus.t + 0.5)  # 0.5 us < 2 tCLK = 0.98 us (DS Table 30 tRST)
    assert [v.code for v in chain.violations] == ["tRST"] * 3  # RESET tied to all chips
    chain.violations.clear()
    bus.t += 0.5 + 2.0  # 2 us < 18 tCLK = 8.8 us needed after a reset (DS p.29)
    bus.cmd(M.SDATAC)
    assert [v.code for v in chain.violations] == ["busy"] * 3  # RESET tied: each chip still initialising
    chain.violations.clear()
    bus.wait(20)
    bus.cmd(M.SDATAC)
    assert bus.rreg(M.REG_CONFIG1, 1) == bytes([0x96] * 3)  # registers back at reset values
    assert chain.violations == []


def test_multibyte_command_needs_4_tclk_per_byte(chain, make_bus):
    # DS p.37: 4 tCLK (1.96 us) between the ends of consecutive bytes: 16 MHz SCLK (0.5 us/byte) breaks it
    bus = make_bus(chain, sclk_hz=16_000_000)
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG1, [0x95])
    assert "tSDECODE" in {v.code for v in chain.violations}
    chain.violations.clear()
    bus = make_bus(chain, sclk_hz=4_000_000, t_us=bus.t + 10)  # 2 us/byte: fine
    bus.wreg(M.REG_CONFIG1, [0x95])
    assert chain.violations == []


# --- conversions, DRDY, data rate -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dr,rate", [(0b100, 1000), (0b101, 500), (0b011, 2000), (0b110, 250)])
@pytest.mark.parametrize("err", [0.0, 0.002, -0.005])
def test_drdy_period_follows_dr_and_clock(dr, rate, err, make_bus):
    # DS Table 1: DR 011/100/101/110 = 2000/1000/500/250 SPS at fCLK = 2.048 MHz; fMOD = fCLK/2 (DS p.20), so the
    # period is fCLK/rate tCLK; a clock off by err runs the real rate off by err (internal osc. +-0.5 %, DESIGN.md)
    chain = M.DaisyChain(n_chips=3, clock_error=err)
    bus = make_bus(chain)
    bus.setup(config1=0x90 | dr)
    times = [bus.next_drdy() for _ in range(50)]
    periods = np.diff(times)
    expected_us = (FCLK // rate) / (FCLK * (1 + err)) * 1e6
    assert np.allclose(periods, expected_us, rtol=0, atol=1e-6)
    assert abs(chain.data_rate_hz() - rate * (1 + err)) < 1e-6


def test_no_drdy_without_start_and_first_drdy_after_settling(bus, chain):
    bus.setup()
    chain.set_pin("start", 0, bus.t)
    bus.wait(5000)
    assert chain.next_event_us() is None  # DS p.29: START low and no START command: no DRDY
    t_start = bus.t
    chain.set_pin("start", 1, t_start)
    t1 = bus.next_drdy()
    t2 = bus.next_drdy()
    tdr = 2048 / FCLK * 1e6
    # DS p.29 / Fig. 35: the first DRDY comes after tSETTLE (> tDR: the filter has to settle), then every tDR
    assert t1 - t_start > 3 * tdr
    assert t2 - t1 == pytest.approx(tdr)


def test_start_command_and_stop_completes_current_conversion(bus, chain):
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG1, [0x94])
    bus.cmd(M.START)  # DS p.29: the START opcode starts conversions (START pin held low)
    t1 = bus.next_drdy()
    bus.t = t1 + 300.0
    bus.cmd(M.STOP)  # DS p.30: the conversion in progress completes, then they halt
    t2 = bus.next_drdy()
    assert t2 == pytest.approx(t1 + 1000.0)
    assert chain.next_event_us() is None


def test_single_shot_mode_one_conversion_per_start(bus, chain):
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG4, [0x08])  # CONFIG4 bit 3 SINGLE_SHOT
    bus.cmd(M.START)
    bus.next_drdy()
    assert chain.next_event_us() is None
    bus.cmd(M.START)
    bus.next_drdy()
    assert chain.conversions == 2


def test_drdy_rises_on_first_sclk_of_a_read(bus, chain):
    bus.setup()
    t = bus.next_drdy()
    assert chain.drdy_level(t + 1.0) == 0
    bus.t = t + 5.0
    bus.read_frames()
    assert chain.drdy_level(bus.t) == 1  # DS p.27: DRDY returns high on the first SCLK falling edge


def test_status_word_nibble_and_frame_size(bus, chain):
    bus.setup()
    _, status = bus.collect(20)
    for per_chip in status:
        for s in per_chip:
            assert s >> 20 == 0b1100  # DS p.27: status = 1100 + LOFF_STATP + LOFF_STATN + GPIO[7:4]
    assert len(bus.read_frames()[0]) == 27  # 24 status bits + 8 x 24 bits = 216 bits


def test_daisy_order_chip0_first(bus, chain):
    # one chained read of 3 x 27 bytes returns chip 0's frame, then chip 1's, then chip 2's (DS p.34 daisy-chain)
    dc = np.array([100e-6 * (1 + i // 8) for i in range(24)])  # chip k channels at (k+1) x 100 uV
    chain.set_source(lambda n: np.repeat(dc[:, None], n, axis=1))
    bus.setup(chset=0x30)  # GAIN=011: gain 6, normal electrode input
    codes, _ = bus.collect(10)
    for ch in range(24):
        expected = (1 + ch // 8) * 100e-6 * 6 * 2**23 / VREF  # code = v x gain / VREF x 2^23
        assert abs(np.mean(codes[ch]) - expected) < 50


def test_lost_sample_is_counted_not_queued(bus, chain):
    bus.setup()
    bus.collect(3)
    assert chain.overwritten == 0
    for _ in range(5):  # five DRDYs nobody reads: no FIFO, each is replaced by the next (DS p.36-37; DESIGN.md)
        bus.next_drdy()
    assert chain.overwritten == 4  # the 5th is still unread in the output register
    bus.t += 5
    bus.read_frames()
    bus.next_drdy()
    assert chain.overwritten == 4
    assert [c.overwritten for c in chain.chips] == [4, 4, 4]


def test_read_overlapping_drdy_is_corrupted_and_recorded(bus, chain):
    bus.setup()
    t = bus.next_drdy()
    # start a chained read 40 us before the next DRDY: 81 bytes at 4 MHz take 162 us
    bus.t = t + 1000.0 - 40.0
    bus.read_frames()
    assert chain.corrupted_reads == 1
    codes = {v.code for v in chain.violations}
    assert "tUPDATE" in codes and "read-overlap" in codes  # DS Fig. 42: do not read during tUPDATE = 4 tCLK


def test_rdata_snapshot_overlaps_drdy_safely(bus, chain):
    bus.setup()
    bus.cmd(M.SDATAC)
    t = bus.next_drdy()
    bus.t = t + 1000.0 - 40.0
    raw = bus.xfer([M.RDATA] + [0] * 81)[1:]
    assert chain.violations == []  # DS p.37: an RDATA read can overlap the next DRDY without corruption
    assert all(raw[27 * i] >> 4 == 0xC for i in range(3))


def test_config1_write_restarts_conversions(bus, chain):
    bus.setup()
    t1 = bus.next_drdy()
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG1, [0x95])  # DS p.29: a new CONFIG1 value resets the digital filter
    t_w = bus.t
    t2 = bus.next_drdy()
    assert t2 - t_w > 3 * 2000.0  # settling again (tSETTLE > 3 tDR: the filter settles a step in 3 tDR, DS p.22)
    t3 = bus.next_drdy()
    assert t3 - t2 == pytest.approx(2000.0)
    assert t1 < t_w


# --- test signal ------------------------------------------------------------------------------------------------------
def _transitions(x):
    s = np.sign(np.asarray(x))
    return np.nonzero(s[1:] != s[:-1])[0] + 1


@pytest.mark.parametrize("dr,rate,period", [(0b100, 1000, 1024), (0b101, 500, 512), (0b011, 2000, 2048)])
@pytest.mark.parametrize("err", [0.0, 0.002, -0.005])
def test_test_signal_period_exact_in_samples(dr, rate, period, err, make_bus):
    # DS CONFIG2: CAL_FREQ=00 pulses at fCLK/2^21: 2^21 tCLK / (fCLK/rate tCLK per sample) = 1024 samples at 1 kSPS,
    # the same whatever the clock error (DESIGN.md "exactly 1024 samples")
    chain = M.DaisyChain(n_chips=1, clock_error=err, seed=3)
    bus = make_bus(chain)
    bus.setup(config1=0x90 | dr, config2=0xD0, config3=0xE0, chset=0x35)  # INT_CAL=1, MUX=101, GAIN=011: gain 6
    codes, _ = bus.collect(3 * period + 10)
    tr = _transitions(codes[0])
    assert len(tr) >= 5
    assert set(np.diff(tr)) == {period // 2}
    # the fast one (CAL_FREQ=01, fCLK/2^20) has half the period
    chain2 = M.DaisyChain(n_chips=1, clock_error=err, seed=3)
    bus2 = make_bus(chain2)
    bus2.setup(config1=0x90 | dr, config2=0xD1, config3=0xE0, chset=0x05)
    codes2, _ = bus2.collect(2 * period)
    assert set(np.diff(_transitions(codes2[0]))) == {period // 4}


@pytest.mark.parametrize("config2,mult", [(0xD0, 1), (0xD4, 2)])
def test_test_signal_amplitude(bus, chain, config2, mult):
    # DS CONFIG2 CAL_AMP: 1x or 2x (VREFP - VREFN)/2.4 mV = 1.875 / 3.75 mV at VREF = 4.5 V; a user's measurement of
    # ~7000 codes p-p at gain 1 in TI e2e 465481 matches 2 x 1.875 mV / (2 x 4.5 V / 2^24) = 6990 codes
    bus.setup(config2=config2, chset=0x05)  # GAIN=000: gain 1, MUX = test signal
    codes, _ = bus.collect(2048)  # two whole periods
    uv = _codes_to_uv(codes[0], 1)
    hi = uv[uv > 0]
    lo = uv[uv < 0]
    assert np.mean(hi) == pytest.approx(mult * 1875.0, abs=5)
    assert np.mean(lo) == pytest.approx(-mult * 1875.0, abs=5)
    assert abs(len(hi) - len(lo)) <= 2


def test_test_signal_dc(bus, chain):
    bus.setup(config2=0xD3, chset=0x05)  # CAL_FREQ = 11: at dc; GAIN=000: gain 1
    codes, _ = bus.collect(50)
    assert abs(abs(np.mean(_codes_to_uv(codes[0], 1))) - 1875.0) < 5


# --- noise ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dr,gain_code,gain,uvrms",
    [
        (0b100, 0b000, 1, 2.17),  # DS Table 1: gain 1, 1 kSPS: 2.17 uVrms
        (0b101, 0b001, 2, 0.81),  # DS Table 1: gain 2, 500 SPS: 0.81 uVrms
        (0b011, 0b000, 1, 3.06),  # DS Table 1: gain 1, 2 kSPS: 3.06 uVrms
    ],
)
def test_shorted_input_noise_matches_table(dr, gain_code, gain, uvrms, make_bus):
    chain = M.DaisyChain(n_chips=1, seed=11)
    bus = make_bus(chain)
    bus.setup(config1=0x90 | dr, chset=(gain_code << 4) | 0x01)  # MUX = 001: input shorted
    codes, _ = bus.collect(4000)
    for ch in range(8):
        rms = np.std(_codes_to_uv(codes[ch], gain))
        assert rms == pytest.approx(uvrms, rel=0.08)


def test_shorted_noise_gain24_is_about_1uvpp_in_70hz(make_bus):
    # DS feature list: input-referred noise 1 uVpp (70 Hz BW) -> gain 24, 250 SPS (-3 dB at 65 Hz, DS Table 1);
    # DS: rms ~ pp / 6.6 -> ~0.15 uVrms
    chain = M.DaisyChain(n_chips=1, seed=5)
    bus = make_bus(chain)
    bus.setup(config1=0x96, chset=0x61)  # reset-default channel setting: gain 24, shorted
    codes, _ = bus.collect(3000)
    uv = _codes_to_uv(codes[0], 24)
    assert 0.10 < np.std(uv) < 0.20
    pp = [np.ptp(uv[i : i + 1000]) for i in range(0, 3000, 1000)]
    assert 0.6 < np.mean(pp) < 1.4


# --- gain, LSB, clipping, power-down ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "gain_code,gain", [(0, 1), (1, 2), (2, 4), (3, 6), (4, 8), (5, 12), (6, 24)]
)  # DS CHnSET GAIN[2:0]
def test_gain_scaling_and_lsb(gain_code, gain, make_bus):
    # DS CHnSET GAIN: 000=1, 001=2, 010=4, 011=6, 100=8, 101=12, 110=24; LSB = 2 VREF / gain / 2^24 (e2e 465481)
    chain = M.DaisyChain(n_chips=1, seed=2, device_noise=False)
    v = 0.01 / gain  # 10 mV / gain stays in range at every gain
    chain.set_source(lambda n: np.full((8, n), v))
    bus = make_bus(chain)
    bus.setup(chset=gain_code << 4)
    codes, _ = bus.collect(3)
    lsb = 2 * VREF / gain / 2**24
    assert codes[0][-1] == round(v / lsb)


def test_full_scale_clipping_and_power_down(chain, make_bus):
    # DS data format: +FS -> 7FFFFFh, -FS -> 800000h, output clips beyond; a powered-down channel reads 0 (DS p.27)
    vals = np.array([1.0, -1.0, 0.1, 0.0, 0, 0, 0, 0] + [0] * 16)
    chain.set_source(lambda n: np.repeat(vals[:, None], n, axis=1))
    bus = make_bus(chain)
    bus.setup(chset=0x60)
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CH1SET + 2, [0xE0])  # channel 3 powered down (bit 7)
    bus.cmd(M.RDATAC)
    codes, _ = bus.collect(5)
    assert codes[0][-1] == 0x7FFFFF
    assert codes[1][-1] == -0x800000
    assert codes[2][-1] == 0


# --- lead-off ---------------------------------------------------------------------------------------------------------
def test_lead_off_bits_in_status_and_registers(bus, chain):
    bus.setup(config4=0x02)  # CONFIG4 PD_LOFF_COMP = 1: comparators on
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_LOFF_SENSP, [0xFF, 0xFF])  # LOFF_SENSP, LOFF_SENSN: all inputs
    bus.cmd(M.RDATAC)
    chain.set_electrode_open(3, positive=True)  # chip 0, IN4P
    chain.set_electrode_open(8 + 5, positive=False)  # chip 1, IN6N
    _, status = bus.collect(2)
    s0, s1, s2 = status[-1]
    # DS p.27: status = 1100 | LOFF_STATP[19:12] | LOFF_STATN[11:4] | GPIO[7:4]
    assert (s0 >> 12) & 0xFF == 1 << 3 and (s0 >> 4) & 0xFF == 0
    assert (s1 >> 12) & 0xFF == 0 and (s1 >> 4) & 0xFF == 1 << 5
    assert (s2 >> 4) & 0xFFFF == 0
    bus.cmd(M.SDATAC)
    stat = bus.rreg(M.REG_LOFF_STATP, 2)
    assert stat == bytes([1 << 3, 0, 0, 1 << 5, 0, 0])


def test_lead_off_needs_comparators_and_sense_bits(bus, chain):
    bus.setup(config4=0x00)  # comparators off (reset default)
    chain.set_electrode_open(0, positive=True)
    _, status = bus.collect(2)
    assert status[-1][0] == 0xC00000
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_CONFIG4, [0x02])  # on, but LOFF_SENSP still 0
    bus.cmd(M.RDATAC)
    _, status = bus.collect(2)
    assert status[-1][0] == 0xC00000


def test_gpio_nibble_in_status(bus, chain):
    bus.setup()
    bus.cmd(M.SDATAC)
    bus.wreg(M.REG_GPIO, [0xA0])  # GPIO1..4 outputs, data 1010
    bus.cmd(M.RDATAC)
    _, status = bus.collect(2)
    assert status[-1][0] & 0xF == 0xA


# --- sources ----------------------------------------------------------------------------------------------------------
def test_source_stream_is_consumed_in_order_and_codes_path(chain, make_bus):
    fed = []

    def src(n):
        start = len(fed)
        fed.extend(range(start, start + n))
        return np.tile(np.arange(start, start + n, dtype=np.int64) % 1000, (24, 1))

    chain.set_source_codes(src)
    bus = make_bus(chain)
    bus.setup(chset=0x00)
    codes, _ = bus.collect(30)
    assert codes[0] == list(range(0, 30))
    assert codes[23] == list(range(0, 30))


def test_pure_python_path_matches_datasheet_too(monkeypatch, make_bus):
    # the path MicroPython runs (no numpy): same test-signal period and amplitude
    chain = M.DaisyChain(n_chips=1, seed=4)
    chain._numpy = None
    bus = make_bus(chain)
    bus.setup(config2=0xD0, chset=0x05)  # GAIN=000: gain 1
    codes, _ = bus.collect(1100)
    tr = _transitions(codes[0])
    assert set(np.diff(tr)) == {512}
    assert np.mean(_codes_to_uv(codes[0], 1)[np.asarray(codes[0]) > 0]) == pytest.approx(1875.0, abs=10)


# --- clock distribution -----------------------------------------------------------------------------------------------
def test_chip0_clock_mode_needs_clk_en_and_a_tpor_for_the_others(make_bus):
    # DS Table 6: chip 0 (CLKSEL=1) outputs its oscillator on CLK only with CONFIG1.CLK_EN = 1 (reset value 0x96:
    # off); the others (CLKSEL=0) have no clock before that, and their tPOR starts once CLK is valid
    chain = M.DaisyChain(n_chips=3, clock="chip0")
    bus = make_bus(chain)
    bus.cmd(M.SDATAC)
    assert {(v.code, v.chip) for v in chain.violations} == {("no-clock", 1), ("no-clock", 2)}
    chain.violations.clear()
    bus.wreg(M.REG_CONFIG1, [0xB4], cs=[0])  # CLK_EN on chip 0, 1 kSPS
    t_clk = bus.t
    bus.cmd(M.SDATAC, cs=[1, 2])  # too early: their tPOR just started
    assert {v.code for v in chain.violations} == {"tPOR"}
    chain.violations.clear()
    bus.t = t_clk + 2**18 / FCLK * 1e6 + 100.0
    bus.cmd(M.RESET, cs=[1, 2])
    bus.wait(20)
    bus.cmd(M.SDATAC, cs=[1, 2])
    assert bus.rreg(M.REG_ID, 1) == bytes([0x3E] * 3)
    assert chain.violations == []
    chain.set_pin("reset", 0, bus.t)  # the RESET pin clears chip 0's CLK_EN: the others lose their clock
    chain.set_pin("reset", 1, bus.t + 5)
    assert not chain.chips[1].has_clock and chain.chips[0].has_clock


def test_source_set_mid_run_starts_at_the_next_conversion(chain, make_bus):
    bus = make_bus(chain)
    bus.setup(chset=0x00)
    bus.collect(5)
    chain.set_source_codes(lambda n: np.full((24, n), 1234, dtype=np.int64))
    codes, _ = bus.collect(3)
    assert codes[0] == [1234, 1234, 1234]
