"""Helpers for the ADS1299 model tests: a minimal SPI 'bus master' that drives DaisyChain directly (no shim)."""

import pytest

from perifacial.host.sim import ads1299_model as M

T_READY_US = 150_000.0  # past tPOR = 2^18 tCLK = 128 ms (DS Table 30)


class Bus:
    """Drives a DaisyChain like an MCU would: CS pins, bytes at sclk_hz, explicit virtual time in us."""

    def __init__(self, chain, sclk_hz=4_000_000, t_us=T_READY_US):
        self.c = chain
        self.t = t_us
        self.byte_us = 8e6 / sclk_hz
        self.n = chain.n_chips
        chain.advance_to(self.t)

    def wait(self, us):
        self.t += us
        self.c.advance_to(self.t)

    def xfer(self, tx, cs=None, gap_us=3.0):
        sel = range(self.n) if cs is None else cs
        self.c.advance_to(self.t)
        for i in sel:
            self.c.set_pin("cs", 0, self.t, i)
        self.t += 1.0
        rx = bytearray(len(tx))
        self.t = self.c.transfer(bytes(tx), rx, self.t, self.byte_us, tx_zero=not any(tx))
        self.t += 2.0
        for i in sel:
            self.c.set_pin("cs", 1, self.t, i)
        self.t += gap_us
        self.c.advance_to(self.t)
        return bytes(rx)

    def cmd(self, *ops, cs=None):
        for op in ops:
            self.xfer([op], cs)

    def rreg(self, addr, n, cs=None):
        k = self.n if cs is None else len(cs)
        return self.xfer([M.RREG | addr, n - 1] + [0] * (n * k), cs)[2:]

    def wreg(self, addr, values, cs=None):
        self.xfer([M.WREG | addr, len(values) - 1] + list(values), cs)

    def read_frames(self):
        """One chained RDATAC read of n_chips x 27 bytes: list of per-chip frames."""
        raw = self.xfer([0] * (27 * self.n))
        return [raw[27 * i : 27 * (i + 1)] for i in range(self.n)]

    def next_drdy(self):
        t = self.c.tick()
        assert t is not None, "no conversion scheduled"
        if t > self.t:
            self.t = t
        return t

    def setup(self, config1=0x94, config2=0xC0, config3=0xE0, chset=0x60, config4=0x00):
        """SDATAC, the usual registers, RDATAC, START pin high."""
        self.cmd(M.SDATAC)
        self.wreg(M.REG_CONFIG1, [config1, config2, config3])
        self.wreg(M.REG_CH1SET, [chset] * 8)
        self.wreg(M.REG_CONFIG4, [config4])
        self.cmd(M.RDATAC)
        self.c.set_pin("start", 1, self.t)

    def collect(self, n):
        """Read n consecutive samples (one chained read per DRDY); returns codes[n_chips*8][n] and status words."""
        codes = [[] for _ in range(8 * self.n)]
        status = []
        for _ in range(n):
            self.next_drdy()
            self.t += 5.0
            frames = self.read_frames()
            st = []
            for ci, f in enumerate(frames):
                s, cc = M.decode_frame(f)
                st.append(s)
                for j in range(8):
                    codes[8 * ci + j].append(cc[j])
            status.append(st)
        return codes, status


@pytest.fixture
def chain():
    return M.DaisyChain(n_chips=3, seed=7)


@pytest.fixture
def bus(chain):
    return Bus(chain)


@pytest.fixture
def make_bus():
    """The Bus class (test modules here are not a package, so they get it through this fixture)."""
    return Bus
