"""Register plans against the ADS1299 datasheet bit layouts (SBAS499C sec. 9.6), and the power-up timing."""

import pytest
import scenarios

from perifacial.firmware import ads1299 as A


class Dummy:
    def value(self, v=None):
        return 1


def drv():
    return A.ADS1299(None, [Dummy(), Dummy(), Dummy()], Dummy(), None)


@pytest.mark.parametrize("rate,dr", [(500, 0b101), (1000, 0b100), (2000, 0b011)])
def test_config1_rate_and_clock_out(rate, dr):
    d = drv()
    p0 = d.register_plan(0, rate, [24] * 8, [0] * 8, [True] * 8)
    p1 = d.register_plan(1, rate, [24] * 8, [0] * 8, [True] * 8)
    assert p0[A.CONFIG1] == 0b1011_0000 | dr  # bit7 1, DAISY_EN 0 (daisy chain), CLK_EN 1, bits 4:3 = 10
    assert p1[A.CONFIG1] == 0b1001_0000 | dr  # the others take chip 0's clock


def test_gain_mux_power_down_bits():
    d = drv()
    gains = [1, 2, 4, 6, 8, 12, 24, 24]
    p = d.register_plan(0, 1000, gains, [0, 1, 5, 0, 0, 0, 0, 0], [True] * 7 + [False])
    assert [p[A.CH1SET + i] >> 4 for i in range(7)] == [0, 1, 2, 3, 4, 5, 6]  # GAIN codes 000..110
    assert p[A.CH1SET + 1] & 7 == 1 and p[A.CH1SET + 2] & 7 == 5  # shorted, test signal
    assert p[A.CH1SET + 7] == 0x80 | 0x60 | 1  # powered down (PD) and shorted
    with pytest.raises(A.ADSError):
        d.register_plan(0, 1000, [5] * 8, [0] * 8, [True] * 8)
    with pytest.raises(A.ADSError):
        d.register_plan(0, 250, [24] * 8, [0] * 8, [True] * 8)


def test_reference_bias_test_signal_and_lead_off():
    d = drv()
    p0 = d.register_plan(0, 1000, [24] * 8, [0] * 8, [True] * 6 + [False] * 2, lead_off=(24, True), test_amp_2x=True)
    p2 = d.register_plan(2, 1000, [24] * 8, [0] * 8, [True] * 8, bias=True)
    assert p0[A.CONFIG3] == 0xEC and p2[A.CONFIG3] == 0xE0  # internal reference on; bias drive on chip 0 only
    assert p0[A.BIAS_SENSP] == p0[A.BIAS_SENSN] == 0x3F and p2[A.BIAS_SENSP] == 0
    assert p0[A.CONFIG2] == 0xC0 | 0x10 | 0x04 | 0x00  # INT_CAL, 2x amplitude, fCLK/2^21
    assert p0[A.LOFF] == (1 << 2) | 0b11  # 24 nA, AC at fDR/4
    assert p0[A.LOFF_SENSP] == p0[A.LOFF_SENSN] == 0x3F and p0[A.CONFIG4] == 0x02  # comparators on
    assert p2[A.LOFF] == 0 and p2[A.CONFIG4] == 0


def test_power_up_respects_the_datasheet_waits():
    r = scenarios.Rig(boot=False)
    t0 = r.clock.now
    assert r.app.boot()
    # tPOR (2^18 tCLK = 128 ms) for chip 0, then again for the chips fed by its clock output
    assert r.clock.now - t0 >= 2 * 128000
    assert r.violations() == []


def test_code24_and_lsb():
    assert A.code24(b"\x7f\xff\xff", 0) == 8388607 and A.code24(b"\x80\x00\x00", 0) == -8388608
    assert A.code24(b"\xff\xff\xff", 0) == -1
    assert abs(A.lsb_uv(24) - 0.0223517) < 1e-6  # 2 x 4.5 V / 24 / 2^24


def test_read_back_ignores_the_read_only_bias_stat_bit():
    r = scenarios.Rig()
    chip = r.chain.chips[0]
    chip.regs[A.CONFIG3] |= 0x01  # BIAS_STAT: bias electrode reported not connected
    assert r.app.ads.verify(0, r.app.plans[0]) == []
    chip.regs[A.CONFIG3] &= ~0x80 & 0xFF  # but a lost reference-buffer bit is a real mismatch
    assert r.app.ads.verify(0, r.app.plans[0]) == [(A.CONFIG3, 0xEC, 0x6D)]
