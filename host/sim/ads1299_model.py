# Register-level model of the TI ADS1299 (and a daisy chain of them) for the virtual board.
#
# The firmware talks to this model only through the `machine` shim (machine_shim.py): SPI bytes, chip-select,
# START/RESET/PWDN pins and the DRDY pin. Everything here follows the datasheet (TI SBAS499, "DS" below); the
# numbers and where they come from are listed in host/sim/MODEL.md.
#
# Runs under CPython and MicroPython: plain classes, no dataclasses/typing/enum/abc, numpy only imported lazily
# (CPython fast path); the pure-Python path (tiny LCG noise) is what runs under MicroPython.
#
# Time is virtual, in microseconds (float), supplied by the caller (the shim's clock). The chip's own clock runs
# at fclk = 2.048 MHz x (1 + clock_error); conversions happen on integer tCLK counts, so everything derived from
# the conversion count (test-signal period in samples) is exact whatever the clock error.


# ---------------------------------------------------------------------------------------------------------------
# Datasheet constants
# ---------------------------------------------------------------------------------------------------------------
FCLK_NOMINAL_HZ = 2048000  # DS: internal oscillator / external CLK nominal 2.048 MHz
VREF_DEFAULT = 4.5  # DS: internal reference 4.5 V (5-V analog supply)
T_POR_TCLK = 1 << 18  # DS Table 30 / Fig. 76: tPOR >= 2^18 tCLK after power-up before reset / communication
T_RST_TCLK = 2  # DS Table 30: RESET low pulse >= 2 tCLK
T_RESET_INIT_TCLK = 18  # DS p.29: 18 tCLK to finish the reset before the next command
T_SDECODE_TCLK = 4  # DS p.37: 4 tCLK between the end of one command byte and the end of the next
T_UPDATE_TCLK = 4  # DS p.36 Fig. 42: tUPDATE = 4/fCLK before DRDY: do not read data during this time
SCLK_MAX_HZ = 20000000  # DS 7.6: tSCLK >= 50 ns at DVDD 2.7-3.6 V
CHIP_FRAME_BYTES = 27  # DS p.27: 24 status bits + 8 x 24 bits = 216 bits
N_CH = 8
ID_ADS1299_8CH = 0x3E  # REV_ID=001, bit4=1, DEV_ID=11, NU_CH=10 (8 channels)

# Opcodes (DS "SPI Command Definitions")
WAKEUP = 0x02
STANDBY = 0x04
RESET = 0x06
START = 0x08
STOP = 0x0A
RDATAC = 0x10
SDATAC = 0x11
RDATA = 0x12
RREG = 0x20
WREG = 0x40

# Register addresses
REG_ID = 0x00
REG_CONFIG1 = 0x01
REG_CONFIG2 = 0x02
REG_CONFIG3 = 0x03
REG_LOFF = 0x04
REG_CH1SET = 0x05
REG_BIAS_SENSP = 0x0D
REG_BIAS_SENSN = 0x0E
REG_LOFF_SENSP = 0x0F
REG_LOFF_SENSN = 0x10
REG_LOFF_FLIP = 0x11
REG_LOFF_STATP = 0x12
REG_LOFF_STATN = 0x13
REG_GPIO = 0x14
REG_MISC1 = 0x15
REG_MISC2 = 0x16
REG_CONFIG4 = 0x17
N_REGS = 0x18

REG_NAMES = (
    "ID",
    "CONFIG1",
    "CONFIG2",
    "CONFIG3",
    "LOFF",
    "CH1SET",
    "CH2SET",
    "CH3SET",
    "CH4SET",
    "CH5SET",
    "CH6SET",
    "CH7SET",
    "CH8SET",
    "BIAS_SENSP",
    "BIAS_SENSN",
    "LOFF_SENSP",
    "LOFF_SENSN",
    "LOFF_FLIP",
    "LOFF_STATP",
    "LOFF_STATN",
    "GPIO",
    "MISC1",
    "MISC2",
    "CONFIG4",
)

# Reset values (DS register map, SBAS499C 9.6; bit layouts as in gibic-leici/ADS1299 Include/ads1299lib_regs.h)
RESET_VALUES = (
    ID_ADS1299_8CH,
    0x96,
    0xC0,
    0x60,
    0x00,
    0x61,
    0x61,
    0x61,
    0x61,
    0x61,
    0x61,
    0x61,
    0x61,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x0F,
    0x00,
    0x00,
    0x00,
)

# Reserved bits that must be written with a fixed value: address -> (mask, required value under the mask)
#   CONFIG1: bit7 = 1, bits 4:3 = 10            CONFIG2: bits 7:5 = 110, bit3 = 0
#   CONFIG3: bits 6:5 = 11                      LOFF:    bit4 = 0
#   MISC1:   all but bit5 (SRB1) = 0            MISC2:   all 0
#   CONFIG4: bits 7:4, 2, 0 = 0
FIXED_BITS = {
    REG_CONFIG1: (0x98, 0x90),
    REG_CONFIG2: (0xE8, 0xC0),
    REG_CONFIG3: (0x60, 0x60),
    REG_LOFF: (0x10, 0x00),
    REG_MISC1: (0xDF, 0x00),
    REG_MISC2: (0xFF, 0x00),
    REG_CONFIG4: (0xF5, 0x00),
}
READ_ONLY_REGS = (REG_ID, REG_LOFF_STATP, REG_LOFF_STATN)

# CHnSET GAIN[6:4] codes -> PGA gain (111 reserved): 000=1 001=2 010=4 011=6 100=8 101=12 110=24 (DS CHnSET)
GAINS = (1, 2, 4, 6, 8, 12, 24)
# CONFIG1 DR[2:0] -> output data rate at fCLK = 2.048 MHz; tCLK per sample = 128 << DR (fMOD = fCLK/2)
DATA_RATES = (16000, 8000, 4000, 2000, 1000, 500, 250)

# MUX codes (CHnSET[2:0])
MUX_NORMAL = 0
MUX_SHORTED = 1
MUX_BIAS_MEAS = 2
MUX_MVDD = 3
MUX_TEMP = 4
MUX_TEST = 5
MUX_BIAS_DRP = 6
MUX_BIAS_DRN = 7

# Input-referred noise, uVrms, inputs shorted, 5-V supply, 4.5-V reference (DS Table 1, SBAS499A p.6), index = DR
NOISE_UVRMS_GAIN1 = (21.70, 6.93, 4.33, 3.06, 2.17, 1.53, 1.08)
NOISE_UVRMS_GAIN2 = (10.85, 3.65, 2.28, 1.61, 1.14, 0.81, 0.57)
# Gain 24 at 250 SPS: DS feature list "1 uVpp (70 Hz BW)" with the DS's rms = pp / 6.6 -> 0.15 uVrms. Other gains:
# n(G) = sqrt(a^2 + (b/G)^2) with b = the gain-1 figure (ADC noise) and a (PGA noise) fitted to the gain-24 figure;
# the fit reproduces the gain-2 column within 3 %. a scales with sqrt(data rate) like the table does.
NOISE_PGA_UVRMS_250SPS = 0.145

# Test signal (CONFIG2): amplitude 1x or 2x (VREFP - VREFN)/2.4 mV (DS CONFIG2 table; a TI engineer on e2e 465481
# called it a typo for /4.5, but the user's measurement in that thread, ~7000 codes p-p at gain 1, matches /2.4:
# 2 x 1.875 mV / 0.536 uV = 6990). Frequency fCLK/2^21 (CAL_FREQ=00) or fCLK/2^20 (01); 11 = DC; 10 = not used.
TEST_HALF_PERIOD_SHIFT = (20, 19)

# MVDD (MUX=011): channels 1, 2, 5-8 measure (AVDD - AVSS)/2, channels 3, 4 measure DVDD/4 (DS 9.3.1.1.4);
# temperature (MUX=100): 145.3 mV at 25 C, 490 uV/C (DS 9.3.1.1.3). Both modelled as fixed voltages.
AVDD = 5.0
DVDD = 3.3
TEMP_V_25C = 0.1453

FS_POS = (1 << 23) - 1
FS_NEG = -(1 << 23)


def _np():
    # numpy only on CPython (MicroPython builds with ulab may call it `numpy` but lack what we use)
    try:
        import sys

        if sys.implementation.name != "cpython":
            return None
        import numpy

        return numpy
    except ImportError:
        return None


def noise_uvrms(gain, dr):
    """Input-referred noise (uVrms) for a PGA gain and a DR code, from the datasheet tables (see above)."""
    if dr > 6:
        dr = 6
    if gain == 1:
        return NOISE_UVRMS_GAIN1[dr]
    if gain == 2:
        return NOISE_UVRMS_GAIN2[dr]
    b = NOISE_UVRMS_GAIN1[dr] / gain
    a2 = NOISE_PGA_UVRMS_250SPS * NOISE_PGA_UVRMS_250SPS * (DATA_RATES[dr] / 250.0)
    return (a2 + b * b) ** 0.5


def volts_to_code(v, gain, vref=VREF_DEFAULT):
    """code = v / LSB, LSB = 2 VREF / gain / 2^24 (DS data format; TI e2e 465481), clipped to the 24-bit range."""
    c = v * gain * 8388608.0 / vref
    c = int(c + 0.5) if c >= 0 else -int(-c + 0.5)
    if c > FS_POS:
        return FS_POS
    if c < FS_NEG:
        return FS_NEG
    return c


def code_to_volts(code, gain, vref=VREF_DEFAULT):
    return code * vref / gain / 8388608.0


def decode_frame(frame):
    """Split one chip's 27-byte frame into (status24, [8 signed codes]). Helper for tests and the virtual board."""
    status = (frame[0] << 16) | (frame[1] << 8) | frame[2]
    codes = []
    for i in range(N_CH):
        j = 3 + 3 * i
        c = (frame[j] << 16) | (frame[j + 1] << 8) | frame[j + 2]
        if c & 0x800000:
            c -= 0x1000000
        codes.append(c)
    return status, codes


class Violation:
    """A datasheet rule the firmware broke. code is a short stable key, msg a sentence."""

    def __init__(self, t_us, chip, code, msg):
        self.t_us = t_us
        self.chip = chip
        self.code = code
        self.msg = msg

    def __repr__(self):
        where = "chain" if self.chip is None else "chip" + str(self.chip)
        return f"<Violation {self.code} t={int(self.t_us)}us {where}: {self.msg}>"

    __str__ = __repr__


class _Rng:
    """Tiny LCG + Irwin-Hall(4) normal deviates for the pure-Python path (MicroPython has no numpy)."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 1) & 0xFFFFFFFF

    def uniform(self):
        self.s = (self.s * 1664525 + 1013904223) & 0xFFFFFFFF
        return (self.s >> 8) / 16777216.0

    def normal(self):
        u = self.uniform() + self.uniform() + self.uniform() + self.uniform()
        return (u - 2.0) * 1.7320508075688772


# ---------------------------------------------------------------------------------------------------------------
# One chip
# ---------------------------------------------------------------------------------------------------------------
class ADS1299Model:
    """One ADS1299 (8 channels). Normally owned by a DaisyChain, which supplies the clock and the SPI bus."""

    def __init__(self, chain, index):
        self.chain = chain
        self.index = index
        self.regs = bytearray(RESET_VALUES)
        self.gpio_in = 0  # external levels on GPIO1..4 (bits 0..3) for pins configured as inputs
        self.open_p = 0  # electrodes INnP open (bit n-1)
        self.open_n = 0
        # pins (levels as driven by the MCU); the chain sets them
        self.start_pin = 0
        self.reset_pin = 1
        self.pwdn_pin = 1
        self.cs = 1
        self.powered = True
        self.has_clock = True  # False: a chip fed by chip 0's CLK output while CLK_EN is off (clock="chip0")
        self.t_pon = 0.0  # power-on time (us): tPOR counts from here (for an external clock: from the clock start)
        self.t_reset_fall = None
        # digital state
        self.rdatac = True  # DS p.36: RDATAC is the power-up default
        self.standby = False
        self.start_cmd = False
        self.busy_until = 0.0  # no command byte may end before this time
        self.busy_why = ""
        self.t_last_cmd = -1e30
        self._pend_op = 0  # pending multi-byte command opcode (RREG/WREG) or 0
        self._pend_addr = 0
        self._pend_n = 0  # WREG data bytes still expected; -1 while waiting for the count byte
        # conversions
        self.running = False
        self.base_tclk = 0  # tCLK count of conversion 0 of this run
        self.conv_i = 0  # next conversion index within this run
        self.last_i = -1  # last allowed conversion index within this run (-1 = unlimited)
        self.ref_tclk = 0  # test-signal divider reference (power-on / reset)
        self.total = 0  # conversions since the chain was made (source sample index of the next one)
        self.latest_k = -1
        self.latest_frame = None
        self.unread = False
        self.drdy_low = False
        self.overwritten = 0  # conversions replaced before any of their bytes were clocked out
        self.conversions = 0
        # output shift register (bytes this chip puts on DOUT), filled by RDATAC DRDY, RDATA, RREG
        self.out = b""
        self.out_kind = 0  # 0 none, 1 data, 2 registers
        self.out_k = -1
        # frame block cache
        self._blk = None
        self._blk_k0 = 0
        self._blk_n = 0
        self._rng = _Rng(chain.seed * 7919 + index * 104729 + 17)
        self._np_rng = None

    # --- helpers -------------------------------------------------------------------------------------------------
    def _v(self, t, code, msg):
        self.chain._violate(t, self.index, code, msg)

    def dr(self):
        dr = self.regs[REG_CONFIG1] & 7
        return 6 if dr == 7 else dr

    def tclk_per_sample(self):
        return 128 << self.dr()  # fMOD = fCLK/2 and the DR decimation: 128 tCLK at 16 kSPS ... 8192 at 250 SPS

    def tsettle_tclk(self):
        # DS Table 8 (SBAS499A p.29): 521, 1033, 2057, 4105, 8201, 16393, 32777 tCLK for DR = 000..110,
        # i.e. 4 tDR + 9 tCLK.  [values as recalled from the table; the text (tSETTLE > tDR) is confirmed]
        return 4 * self.tclk_per_sample() + 9

    def gain(self, ch):
        g = (self.regs[REG_CH1SET + ch] >> 4) & 7
        return GAINS[g] if g < 7 else 24

    def loff_stat(self):
        """(LOFF_STATP, LOFF_STATN): comparators on (CONFIG4.PD_LOFF_COMP) and the input selected in LOFF_SENSx."""
        if not (self.regs[REG_CONFIG4] & 0x02):
            return 0, 0
        return self.open_p & self.regs[REG_LOFF_SENSP], self.open_n & self.regs[REG_LOFF_SENSN]

    def read_reg(self, a):
        if a >= N_REGS:
            return 0
        if a == REG_LOFF_STATP:
            return self.loff_stat()[0]
        if a == REG_LOFF_STATN:
            return self.loff_stat()[1]
        if a == REG_GPIO:
            r = self.regs[REG_GPIO]
            ctl = r & 0x0F  # 1 = input
            return (r & 0x0F) | (((r >> 4) & ~ctl & 0x0F) << 4) | ((self.gpio_in & ctl) << 4)
        return self.regs[a]

    def status_word(self):
        p, n = self.loff_stat()
        gpio = self.read_reg(REG_GPIO) >> 4
        return 0xC00000 | (p << 12) | (n << 4) | gpio

    def ready_time(self):
        return self.t_pon + T_POR_TCLK * self.chain.tclk_us

    # --- register writes -------------------------------------------------------------------------------------------
    def write_reg(self, a, v, t):
        if a >= N_REGS:
            self.chain._warn(t, self.index, f"WREG to address 0x{a:02x} (no such register)")
            return
        if a in READ_ONLY_REGS:
            self.chain._warn(t, self.index, "WREG to read-only register " + REG_NAMES[a] + " ignored")
            return
        fb = FIXED_BITS.get(a)
        if fb is not None:
            mask, val = fb
            if (v & mask) != val:
                self._v(
                    t,
                    "reserved-bits",
                    f"{REG_NAMES[a]} written 0x{v:02x}: reserved bits must read 0x{val:02x} under mask 0x{mask:02x}",
                )
            v = (v & ~mask & 0xFF) | val
        if a == REG_CONFIG3:
            v = (v & 0xFE) | (self.regs[a] & 0x01)  # BIAS_STAT read-only
        if a == REG_CONFIG1 and (v & 7) == 7:
            self._v(t, "reserved-dr", "CONFIG1 DR=111 is reserved (do not use)")
        if REG_CH1SET <= a <= REG_CH1SET + 7 and ((v >> 4) & 7) == 7:
            self._v(t, "reserved-gain", REG_NAMES[a] + " GAIN=111 is reserved")
        old = self.regs[a]
        self.regs[a] = v
        if a == REG_CONFIG1 and v != old:
            # DS p.29: writing a new CONFIG1 value resets the digital filter: conversions restart (settling again)
            if self.running:
                self._start_run(t)
            if self.index == 0:
                self.chain._config_changed(t)
        self._invalidate()

    def _invalidate(self):
        self._blk = None

    # --- conversions --------------------------------------------------------------------------------------------------
    def start_active(self):
        return self.start_pin or self.start_cmd

    def can_convert(self):
        return self.powered and self.has_clock and self.reset_pin and not self.standby

    def _start_run(self, t):
        ch = self.chain
        now_tclk = int((t - ch.epoch_us) / ch.tclk_us) + 1
        self.running = True
        self.base_tclk = now_tclk + self.tsettle_tclk()
        self.conv_i = 0
        self.last_i = 0 if (self.regs[REG_CONFIG4] & 0x08) else -1  # SINGLE_SHOT: one conversion per START
        self.drdy_low = False  # DS p.29: DRDY is pulled high when START goes high
        self._invalidate()
        ch._sched_dirty = True

    def _stop_after_current(self, t):
        # DS p.30: START low / STOP: the conversion in progress completes, then conversions halt
        if not self.running:
            return
        ch = self.chain
        t_tclk = (t - ch.epoch_us) / ch.tclk_us
        n = self.tclk_per_sample()
        i = self.conv_i
        while self.base_tclk + i * n < t_tclk:
            i += 1
        self.last_i = i
        ch._sched_dirty = True

    def _halt(self):
        self.running = False
        self.drdy_low = False
        self.chain._sched_dirty = True

    def update_run_state(self, t, restart=False):
        active = self.can_convert() and self.start_active()
        if active and (restart or not self.running):
            self._start_run(t)
        elif not active and self.running:
            if self.can_convert():
                self._stop_after_current(t)
            else:
                self._halt()

    def next_conv_us(self):
        if not self.running:
            return None
        if self.last_i >= 0 and self.conv_i > self.last_i:
            return None
        ch = self.chain
        return (
            ch.epoch_us
            + (
                self.base_tclk
                + self.conv_i * (128 << (self.regs[REG_CONFIG1] & 7 if (self.regs[REG_CONFIG1] & 7) != 7 else 6))
            )
            * ch.tclk_us
        )

    def sample_tclk(self, k):
        """tCLK count at which this run's conversion with total index k was taken."""
        return self.base_tclk + (k - (self.total - self.conv_i)) * self.tclk_per_sample()

    def convert(self, t):
        """A conversion finishes at time t: new data, DRDY falls."""
        if self.unread:
            self.overwritten += 1
        k = self.total
        self.latest_k = k
        self.total += 1
        self.conv_i += 1
        self.conversions += 1
        self.latest_frame = None  # made lazily from the block cache
        self.unread = True
        self.drdy_low = True
        if self.last_i >= 0 and self.conv_i > self.last_i:
            self.running = False
            if self.regs[REG_CONFIG4] & 0x08:
                self.start_cmd = False
        if self.rdatac:
            self.load_data(t, from_drdy=True)

    def frame(self, k):
        """The 27 bytes of conversion k (from the block cache; generated on demand)."""
        if self._blk is None or not (self._blk_k0 <= k < self._blk_k0 + self._blk_n):
            self._gen_block(k)
        o = (k - self._blk_k0) * CHIP_FRAME_BYTES
        return self._blk[o : o + CHIP_FRAME_BYTES]

    def load_data(self, t, from_drdy=False):
        if self.latest_k < 0:
            self.out = bytes(CHIP_FRAME_BYTES)
            self.out_k = -1
        else:
            self.out = self.frame(self.latest_k)
            self.out_k = self.latest_k
        self.out_kind = 1
        self.chain._loaded(self, t, from_drdy)

    # --- frame generation -------------------------------------------------------------------------------------------
    def _channel_plan(self):
        """Per channel: (kind, gain, arg). kind: 0 zero, 1 source+noise, 2 fixed volts+noise, 3 test, 4 rail code."""
        plan = []
        c2 = self.regs[REG_CONFIG2]
        has_ref = (self.regs[REG_CONFIG3] & 0x80) or self.chain.external_ref
        flip = self.regs[REG_LOFF_FLIP]
        sensp = self.regs[REG_LOFF_SENSP]
        sensn = self.regs[REG_LOFF_SENSN]
        for ch in range(N_CH):
            r = self.regs[REG_CH1SET + ch]
            g = self.gain(ch)
            mux = r & 7
            bit = 1 << ch
            if (r & 0x80) or not has_ref:
                plan.append((0, g, 0))  # DS p.27: powered-down channel reads 0 (no reference: modelled as 0 too)
            elif mux == MUX_NORMAL:
                if (self.open_p | self.open_n) & bit:
                    # an open electrode: the lead-off current (or the floating input) drives the input to a rail;
                    # pull-up on P / pull-down on N, reversed by LOFF_FLIP
                    pos = True if (self.open_p & bit) else ((sensn & bit) != 0 or not (sensp & bit))
                    if flip & bit:
                        pos = not pos
                    plan.append((4, g, FS_POS if pos else FS_NEG))
                else:
                    plan.append((1, g, 0))
            elif mux == MUX_TEST:
                if c2 & 0x10:
                    amp = (2.0 if (c2 & 0x04) else 1.0) * self.chain.vref / 2.4 * 1e-3
                    f = c2 & 3
                    if f == 3 or f == 2:
                        plan.append((2, g, -amp))  # DC (10 "not used": treated as DC)
                    else:
                        plan.append((3, g, (amp, TEST_HALF_PERIOD_SHIFT[f])))
                else:
                    plan.append((2, g, 0.0))  # test signals driven externally: nothing connected
            elif mux == MUX_MVDD:
                plan.append((2, g, DVDD / 4.0 if ch in (2, 3) else AVDD / 2.0))
            elif mux == MUX_TEMP:
                plan.append((2, g, TEMP_V_25C))
            else:  # shorted, BIAS_MEAS, BIAS_DRP/N: noise around 0
                plan.append((2, g, 0.0))
        return plan

    def _gen_block(self, k0):
        ch = self.chain
        np = ch._numpy
        n = ch.block if np is not None else ch.block_py
        # never generate beyond the conversions of this run that the source may still change: fine, source is by index
        self._blk_k0 = k0
        self._blk_n = n
        plan = self._channel_plan()
        dr = self.dr()
        status = self.status_word()
        st = bytes(((status >> 16) & 0xFF, (status >> 8) & 0xFF, status & 0xFF))
        if np is not None:
            self._blk = self._gen_np(np, k0, n, plan, dr, st)
        else:
            self._blk = self._gen_py(k0, n, plan, dr, st)

    def _gen_np(self, np, k0, n, plan, dr, st):
        ch = self.chain
        if self._np_rng is None:
            self._np_rng = np.random.default_rng(ch.seed * 1000003 + self.index)
        codes = np.zeros((N_CH, n), dtype=np.int64)
        src = None
        scale = 8388608.0 / ch.vref
        noise = None
        for c in range(N_CH):
            kind, g, arg = plan[c]
            if kind == 0:
                continue
            if kind == 4:
                codes[c, :] = arg
                continue
            if kind == 1 and src is None:
                src = ch._source_rows(self.index, k0, n)  # (is_codes, array [8, n]) or None
            if kind == 1 and src is not None and src[0]:
                codes[c, :] = src[1][c]
                continue
            if noise is None:
                noise = self._np_rng.standard_normal((N_CH, n))
            sig = noise_uvrms(g, dr) * 1e-6
            v = noise[c] * sig if ch.device_noise else np.zeros(n)
            if kind == 1:
                if src is not None:
                    v = v + src[1][c]
            elif kind == 2:
                v = v + arg
            else:
                amp, sh = arg
                tc = self.sample_tclk(k0) - self.ref_tclk + np.arange(n, dtype=np.int64) * self.tclk_per_sample()
                v = v + np.where(((tc >> sh) & 1) == 0, amp, -amp)
            codes[c, :] = np.clip(np.rint(v * (g * scale)), FS_NEG, FS_POS).astype(np.int64)
        out = np.empty((n, CHIP_FRAME_BYTES), dtype=np.uint8)
        out[:, 0] = st[0]
        out[:, 1] = st[1]
        out[:, 2] = st[2]
        be = np.ascontiguousarray((codes.T & 0xFFFFFF).astype(">u4")).view(np.uint8).reshape(n, N_CH, 4)[:, :, 1:]
        out[:, 3:] = be.reshape(n, N_CH * 3)
        return out.tobytes()

    def _gen_py(self, k0, n, plan, dr, st):
        ch = self.chain
        buf = bytearray(n * CHIP_FRAME_BYTES)
        scale = 8388608.0 / ch.vref
        rng = self._rng
        src = None
        sigs = [noise_uvrms(plan[c][1], dr) * 1e-6 for c in range(N_CH)]
        tps = self.tclk_per_sample()
        tc0 = self.sample_tclk(k0) - self.ref_tclk
        for i in range(n):
            o = i * CHIP_FRAME_BYTES
            buf[o] = st[0]
            buf[o + 1] = st[1]
            buf[o + 2] = st[2]
            for c in range(N_CH):
                kind, g, arg = plan[c]
                if kind == 0:
                    code = 0
                elif kind == 4:
                    code = arg
                else:
                    if kind == 1 and src is None:
                        src = ch._source_rows(self.index, k0, n)
                    if kind == 1 and src is not None and src[0]:
                        code = int(src[1][c][i])
                    else:
                        v = rng.normal() * sigs[c] if ch.device_noise else 0.0
                        if kind == 1:
                            if src is not None:
                                v += src[1][c][i]
                        elif kind == 2:
                            v += arg
                        else:
                            amp, sh = arg
                            v += amp if (((tc0 + i * tps) >> sh) & 1) == 0 else -amp
                        x = v * g * scale
                        code = int(x + 0.5) if x >= 0 else -int(-x + 0.5)
                        if code > FS_POS:
                            code = FS_POS
                        elif code < FS_NEG:
                            code = FS_NEG
                code &= 0xFFFFFF
                j = o + 3 + 3 * c
                buf[j] = code >> 16
                buf[j + 1] = (code >> 8) & 0xFF
                buf[j + 2] = code & 0xFF
        return bytes(buf)

    # --- resets and power --------------------------------------------------------------------------------------------
    def do_reset(self, t):
        """RESET command or RESET pin rising edge: registers to defaults, RDATAC, restart the conversion cycle."""
        self.regs = bytearray(RESET_VALUES)
        self.rdatac = True
        self.standby = False
        self.start_cmd = False
        self._pend_op = 0
        self.busy_until = t + T_RESET_INIT_TCLK * self.chain.tclk_us
        self.busy_why = "RESET needs 18 tCLK to finish (DS p.29)"
        self.t_last_cmd = -1e30
        self.ref_tclk = int((t - self.chain.epoch_us) / self.chain.tclk_us)
        self.out = b""
        self.out_kind = 0
        self.running = False
        self.drdy_low = False
        self.unread = False
        self._invalidate()
        self.update_run_state(t)
        self.chain._sched_dirty = True
        if self.index == 0:
            self.chain._config_changed(t)

    def power_up(self, t):
        self.powered = True
        self.t_pon = t
        self.do_reset(t)
        self.busy_until = t  # the tPOR check covers this case

    def power_down(self, t):
        self.powered = False
        self._halt()

    # --- serial interface ---------------------------------------------------------------------------------------------
    def cs_reset(self):
        # DS: taking CS high resets the serial interface (a partly sent multi-byte command is dropped)
        self._pend_op = 0

    def on_byte(self, b, t_end):
        """One byte on DIN, clocked while this chip's CS is low; t_end = its 8th SCLK falling edge."""
        if not self.powered or not self.reset_pin:
            return
        if not self.has_clock:
            if b:
                self._v(
                    t_end,
                    "no-clock",
                    f"byte 0x{b:02x} to a chip without a clock: chip 0 drives CLK only with "
                    "CONFIG1.CLK_EN = 1 (DS Table 6)",
                )
            return
        tclk = self.chain.tclk_us
        if self._pend_op == 0 and b == 0:
            return  # NOP / data-retrieval clock
        if t_end < self.ready_time():
            self._v(
                t_end,
                "tPOR",
                f"command byte 0x{b:02x} sent {int(t_end - self.t_pon)}us after power-up; "
                f"wait tPOR = 2^18 tCLK = {int(T_POR_TCLK * tclk)}us (DS Table 30)",
            )
            return
        if t_end < self.busy_until:
            early = int((self.busy_until - t_end) * 1000) / 1000.0
            self._v(t_end, "busy", f"byte 0x{b:02x} {early}us too early: {self.busy_why}")
        elif t_end - self.t_last_cmd < T_SDECODE_TCLK * tclk - 1e-9:
            apart = int((t_end - self.t_last_cmd) * 1000) / 1000.0
            self._v(
                t_end,
                "tSDECODE",
                f"command bytes {apart}us apart; the chip needs 4 tCLK = "
                f"{int(T_SDECODE_TCLK * tclk * 1000) / 1000.0}us (end to end) to decode "
                "each byte (DS p.37)",
            )
        self.t_last_cmd = t_end
        if self._pend_op:
            self._cont(b, t_end)
            return
        op = b
        if op == WAKEUP:
            self.standby = False
            self.update_run_state(t_end)
        elif op == STANDBY:
            self.standby = True
            self.update_run_state(t_end)
        elif op == RESET:
            self.do_reset(t_end)
        elif op == START:
            if self.start_pin:
                self.chain._warn(
                    t_end,
                    self.index,
                    "START command while the START pin is high (DS p.29: hold START low when using the opcode)",
                )
            self.start_cmd = True
            self.update_run_state(t_end, restart=True)
        elif op == STOP:
            self.start_cmd = False
            self.update_run_state(t_end)
        elif op == RDATAC:
            self.rdatac = True
        elif op == SDATAC:
            self.rdatac = False
        elif op == RDATA:
            if self.rdatac:
                self.chain._warn(t_end, self.index, "RDATA in RDATAC mode ignored")
            else:
                self.load_data(t_end)
        elif (op & 0xE0) == RREG or (op & 0xE0) == WREG:
            if self.rdatac:
                self._v(
                    t_end,
                    "RDATAC",
                    "{} 0x{:02x} while in RDATAC mode is ignored: send SDATAC first (DS p.36)".format(
                        "RREG" if (op & 0xE0) == RREG else "WREG", op
                    ),
                )
                return
            self._pend_op = op & 0xE0
            self._pend_addr = op & 0x1F
            self._pend_n = -1
        else:
            self.chain._warn(t_end, self.index, f"unknown opcode 0x{op:02x}")

    def _cont(self, b, t_end):
        if self._pend_n == -1:  # count byte: n - 1
            n = (b & 0x1F) + 1
            if b & 0xE0:
                self.chain._warn(t_end, self.index, f"RREG/WREG count byte 0x{b:02x} has bits 7:5 set")
            if self._pend_op == RREG:
                a = self._pend_addr
                self.out = bytes([self.read_reg(a + i) for i in range(n)])
                self.out_kind = 2
                self._pend_op = 0
                self.chain._loaded(self, t_end, False)
            else:
                self._pend_n = n
            return
        # WREG data byte
        self.write_reg(self._pend_addr, b, t_end)
        self._pend_addr += 1
        self._pend_n -= 1
        if self._pend_n <= 0:
            self._pend_op = 0


# ---------------------------------------------------------------------------------------------------------------
# The daisy chain
# ---------------------------------------------------------------------------------------------------------------
class DaisyChain:
    """N ADS1299 sharing SCLK, DIN, START, RESET, PWDN and the clock; DOUT(k+1) -> DAISY_IN(k); chip 0's DOUT is
    MISO and chip 0's DRDY is the DRDY the MCU sees; one CS per chip."""

    MAX_VIOLATIONS = 1000

    def __init__(
        self,
        n_chips=3,
        clock_error=0.0,
        seed=1,
        vref=VREF_DEFAULT,
        external_ref=False,
        fclk_hz=FCLK_NOMINAL_HZ,
        hiz_byte=0x00,
        device_noise=True,
        block=1024,
        t0_us=0.0,
        clock="common",
    ):
        """clock: "common" (every chip clocked from power-up: a shared oscillator on all CLK pins) or "chip0" (chip 0 on
        its internal oscillator, the others on chip 0's CLK output, which needs CONFIG1.CLK_EN = 1 on chip 0)."""
        if clock not in ("common", "chip0"):
            raise ValueError("clock must be 'common' or 'chip0'")
        self.clock = clock
        self.n_chips = n_chips
        self.seed = seed
        self.vref = vref
        self.external_ref = external_ref
        self.fclk_hz = fclk_hz * (1.0 + clock_error)
        self.clock_error = clock_error
        self.tclk_us = 1e6 / self.fclk_hz
        self.epoch_us = t0_us
        self.hiz_byte = hiz_byte
        self.device_noise = device_noise
        self.block = block
        self.block_py = 16
        self._numpy = _np()
        self.violations = []
        self.violation_counts = {}
        self.warnings = []
        self.corrupted_reads = 0
        self.on_drdy = None  # callback(t_us, chip_index) when a chip's DRDY falls
        self.chips = [ADS1299Model(self, i) for i in range(n_chips)]
        for c in self.chips:
            c.t_pon = t0_us
            c.ref_tclk = 0
            if clock == "chip0" and c.index > 0:
                c.has_clock = False
        self.now_us = t0_us
        self._sched_dirty = True
        self._next_t = None
        # the MISO stream composed from the chips' output registers
        self._stream = b""
        self._segs = ()  # (chip index, start, end, kind)
        self._pos = 0
        self._fill = 0
        self._dirty = True
        # signal source
        self._src_fn = None
        self._src_codes = False
        self._src_chunks = {}
        self._src_next = 0
        self._src_first = 0

    # --- bookkeeping ------------------------------------------------------------------------------------------------
    def _violate(self, t, chip, code, msg):
        self.violation_counts[code] = self.violation_counts.get(code, 0) + 1
        if len(self.violations) < self.MAX_VIOLATIONS:
            self.violations.append(Violation(t, chip, code, msg))

    def _warn(self, t, chip, msg):
        if len(self.warnings) < self.MAX_VIOLATIONS:
            self.warnings.append(f"t={int(t)}us chip{chip}: {msg}")

    def _config_changed(self, t):
        # clock="chip0": chips 1.. run on chip 0's CLK output, present only while its CONFIG1.CLK_EN (bit 5) is set
        # (DS Table 6); with an external clock tPOR only starts once the clock is valid (DS power-up sequencing)
        if self.clock != "chip0":
            return
        on = bool(self.chips[0].regs[REG_CONFIG1] & 0x20) and self.chips[0].powered
        for c in self.chips[1:]:
            if on and not c.has_clock:
                c.has_clock = True
                c.power_up(t)
            elif not on and c.has_clock:
                c.has_clock = False
                c._halt()

    @property
    def overwritten(self):
        """Samples of chip 0 (the DRDY master) replaced by the next conversion before being read."""
        return self.chips[0].overwritten

    @property
    def conversions(self):
        return self.chips[0].conversions

    def data_rate_hz(self):
        """Actual output data rate of chip 0 (nominal rate x (1 + clock error))."""
        return self.fclk_hz / self.chips[0].tclk_per_sample()

    def gains(self):
        return [c.gain(i) for c in self.chips for i in range(N_CH)]

    # --- signal source ------------------------------------------------------------------------------------------------
    def set_source(self, fn):
        """fn(n) -> the next n samples of input voltage (V) for all n_chips*8 channels: an [n_ch, n] array (numpy) or a
        list of n_ch lists. Called in order, in blocks; sample j of the stream is what conversion j (counted from the
        chain's creation) sees on the channels whose MUX is 'normal electrode'. None: no signal (noise only)."""
        self._src_fn = fn
        self._src_codes = False
        self._reset_source()

    def set_source_codes(self, fn):
        """Like set_source, but fn(n) returns final ADC codes (ints, [n_ch, n]) for 'normal' channels: no gain scaling
        and no device noise are applied (the provider may read chain.gains()). The fast path for long sessions."""
        self._src_fn = fn
        self._src_codes = True
        self._reset_source()

    def _reset_source(self):
        self._src_chunks = {}
        self._src_next = min(c.latest_k + 1 for c in self.chips) // self._chunk() * self._chunk() if self.chips else 0
        self._src_first = self._src_next
        for c in self.chips:
            c._invalidate()

    def _chunk(self):
        return self.block if self._numpy is not None else self.block_py

    def _fetch_chunk(self, ci):
        B = self._chunk()
        while self._src_next <= ci * B:
            j = self._src_next // B
            data = self._src_fn(B)
            np = self._numpy
            if np is not None:
                data = np.asarray(data, dtype=np.int64 if self._src_codes else np.float64)
                if data.shape != (self.n_chips * N_CH, B):
                    raise ValueError(f"source returned shape {data.shape}; expected {(self.n_chips * N_CH, B)}")
            self._src_chunks[j] = data
            self._src_next += B
            ks = [c.latest_k for c in self.chips]
            lo = max(min(ks) // B - 1, max(ks) // B - 4)  # a chip lagging more than 4 blocks gets zeros
            for old in list(self._src_chunks.keys()):
                if old < lo:
                    del self._src_chunks[old]
        return self._src_chunks.get(ci)

    def _source_rows(self, chip, k0, n):
        """(is_codes, rows [8][n]) of chip's channels for samples k0..k0+n-1, or None without a source."""
        if self._src_fn is None:
            return None
        B = self._chunk()
        np = self._numpy
        r0 = chip * N_CH
        parts = []
        k = k0
        while k < k0 + n:
            ci = k // B
            data = self._fetch_chunk(ci) if k >= self._src_first else None
            o = k - ci * B
            m = min(B - o, k0 + n - k)
            if data is None:
                parts.append((None, m))
            elif np is not None:
                parts.append((data[r0 : r0 + N_CH, o : o + m], m))
            else:
                parts.append(([list(data[r0 + c][o : o + m]) for c in range(N_CH)], m))
            k += m
        if np is not None:
            arrs = [p if p is not None else np.zeros((N_CH, m)) for p, m in parts]
            rows = arrs[0] if len(arrs) == 1 else np.concatenate(arrs, axis=1)
        else:
            rows = [[] for _ in range(N_CH)]
            for p, m in parts:
                for c in range(N_CH):
                    rows[c].extend(p[c] if p is not None else [0] * m)
        return (self._src_codes, rows)

    # --- electrodes ---------------------------------------------------------------------------------------------------
    def set_electrode_open(self, channel, positive=True, is_open=True):
        """Mark electrode INxP (positive) or INxN of a chain channel (0 .. n_chips*8-1) open (off the skin)."""
        chip = self.chips[channel // N_CH]
        bit = 1 << (channel % N_CH)
        if positive:
            chip.open_p = (chip.open_p | bit) if is_open else (chip.open_p & ~bit)
        else:
            chip.open_n = (chip.open_n | bit) if is_open else (chip.open_n & ~bit)
        chip._invalidate()

    def set_gpio_inputs(self, chip, levels):
        self.chips[chip].gpio_in = levels & 0x0F
        self.chips[chip]._invalidate()

    # --- pins ---------------------------------------------------------------------------------------------------------
    def set_pin(self, name, level, t_us, chip=None):
        """The MCU drives a chain pin: name in 'cs', 'start', 'reset', 'pwdn'; chip None = all chips (tied)."""
        level = 1 if level else 0
        chips = self.chips if chip is None else [self.chips[chip]]
        for c in chips:
            if name == "cs":
                if c.cs == level:
                    continue
                c.cs = level
                if level:
                    c.cs_reset()
                    if c.index == 0:
                        self._pos = 0
                self._dirty = True
            elif name == "start":
                if c.start_pin == level:
                    continue
                c.start_pin = level
                if c.powered and level and t_us < c.ready_time():
                    self._warn(t_us, c.index, "START pin driven high before tPOR after power-up")
                c.update_run_state(t_us, restart=bool(level))
            elif name == "reset":
                if c.reset_pin == level:
                    continue
                c.reset_pin = level
                if c.powered and t_us < c.ready_time():
                    self._violate(
                        t_us,
                        c.index,
                        "tPOR",
                        f"RESET pin toggled {int(t_us - c.t_pon)}us after power-up; "
                        "wait tPOR = 2^18 tCLK (DS Table 30)",
                    )
                if not level:
                    c.t_reset_fall = t_us
                    c._halt()
                else:
                    w = t_us - (c.t_reset_fall if c.t_reset_fall is not None else t_us)
                    if w < T_RST_TCLK * self.tclk_us:
                        self._violate(t_us, c.index, "tRST", f"RESET low for {w}us; needs >= 2 tCLK (DS Table 30)")
                    c.do_reset(t_us)
            elif name == "pwdn":
                if c.pwdn_pin == level:
                    continue
                c.pwdn_pin = level
                if level:
                    if c.has_clock:
                        c.power_up(t_us)
                    else:
                        c.powered = True
                else:
                    c.power_down(t_us)
                if c.index == 0:
                    self._config_changed(t_us)
            else:
                raise ValueError("unknown chain pin " + str(name))
        if name != "cs":
            self._sched_dirty = True

    def drdy_level(self, t_us, chip=0):
        c = self.chips[chip]
        if not c.drdy_low:
            return 1
        nt = c.next_conv_us()
        if nt is not None and t_us >= nt - T_UPDATE_TCLK * self.tclk_us:
            return 1  # not read: DRDY goes back high just before the next conversion (DS Fig. 42)
        return 0

    # --- time ---------------------------------------------------------------------------------------------------------
    def next_event_us(self):
        if self._sched_dirty:
            t = None
            for c in self.chips:
                x = c.next_conv_us()
                if x is not None and (t is None or x < t):
                    t = x
            self._next_t = t
            self._sched_dirty = False
        return self._next_t

    def process_next(self):
        """Run the next conversion event (all chips converting at that instant). Returns its time or None."""
        t = self.next_event_us()
        if t is None:
            return None
        if t > self.now_us:
            self.now_us = t
        fired = []
        for c in self.chips:
            x = c.next_conv_us()
            if x is not None and x <= t + 1e-9:
                c.convert(x)
                fired.append(c.index)
        self._sched_dirty = True
        cb = self.on_drdy
        if cb is not None:
            for i in fired:
                cb(t, i)
        return t

    def advance_to(self, t_us):
        """Process every conversion up to t_us (DRDY callbacks included), then set the chain's time to t_us."""
        while True:
            t = self.next_event_us()
            if t is None or t > t_us:
                break
            self.process_next()
        if t_us > self.now_us:
            self.now_us = t_us

    def tick(self):
        """Advance to the next DRDY (conversion) and return its time, or None when nothing is converting."""
        return self.process_next()

    # --- the SPI bus --------------------------------------------------------------------------------------------------
    def _loaded(self, chip, t, from_drdy):
        # a chip's output shift register was (re)loaded
        self._dirty = True
        if from_drdy and chip.index == 0 and chip.cs == 0 and 0 < self._pos < len(self._stream):
            # DRDY in the middle of a read: the rest of the frame is the new conversion (e2e 878877)
            self.corrupted_reads += 1
            self._violate(
                t, 0, "read-overlap", "new conversion while a data read was in progress (RDATAC): frame corrupted"
            )
            return
        if chip.index == 0 or not from_drdy:
            self._pos = 0

    def _compose(self):
        parts = []
        segs = []
        o = 0
        chips = self.chips
        if chips[0].cs:
            self._stream = b""
            self._segs = ()
            self._fill = self.hiz_byte
            self._dirty = False
            return
        fill = 0x00
        for c in chips:
            if c.cs:
                fill = self.hiz_byte  # DAISY_IN of the previous chip floats (this chip's DOUT is Hi-Z)
                break
            segs.append((c.index, o, o + len(c.out), c.out_kind))
            parts.append(c.out)
            o += len(c.out)
            if c.regs[REG_CONFIG1] & 0x40:  # DAISY_EN = 1: multiple readback, DAISY_IN ignored
                for _ in range(3):
                    parts.append(c.out)
                    segs.append((c.index, o, o + len(c.out), 0))
                    o += len(c.out)
                fill = self.hiz_byte
                break
        self._stream = b"".join(parts)
        self._segs = tuple(segs)
        self._fill = fill
        self._dirty = False

    def _mark_read(self, p0, p1):
        for ci, a, b, kind in self._segs:
            if kind == 1 and a < p1 and p0 < b:
                c = self.chips[ci]
                if c.out_k == c.latest_k:
                    c.unread = False

    def transfer(self, tx, rx, t0_us, byte_us, tx_zero=False):
        """Clock len(tx) bytes (or len(rx) zeros when tx is None) starting at t0_us, byte_us per byte.
        Fills rx (if given) with MISO bytes. Conversions falling inside the transfer are processed (on_drdy called).
        Returns the end time."""
        n = len(rx) if tx is None else len(tx)
        if n == 0:
            return t0_us
        t_end = t0_us + n * byte_us
        sel = [c for c in self.chips if not c.cs]
        # fast path: only zeros on DIN, no conversion (nor its tUPDATE window) inside, no command in progress
        if tx is None or tx_zero:
            nt = self.next_event_us()
            if (nt is None or nt > t_end + T_UPDATE_TCLK * self.tclk_us) and not any(c._pend_op for c in sel):
                self.advance_to(t0_us)
                if self._dirty:
                    self._compose()
                s = self._stream
                p = self._pos
                if rx is not None:
                    m = len(s) - p
                    if m >= n:
                        rx[:] = s[p : p + n]
                    else:
                        if m > 0:
                            rx[:m] = s[p:]
                        else:
                            m = 0
                        f = self._fill
                        for i in range(m, n):
                            rx[i] = f
                self._mark_read(p, p + n)
                self._pos = p + n
                c0 = self.chips[0]
                if not c0.cs:
                    c0.drdy_low = False
                if self.now_us < t_end:
                    self.now_us = t_end
                return t_end
        tclk = self.tclk_us
        for i in range(n):
            tb0 = t0_us + i * byte_us
            tb1 = tb0 + byte_us
            self.advance_to(tb0)
            if self._dirty:
                self._compose()
            p = self._pos
            if p < len(self._stream):
                ob = self._stream[p]
                in_data = False
                for _ci, a, b, kind in self._segs:
                    if kind == 1 and a <= p < b:
                        in_data = True
                if in_data and self.chips[0].rdatac:
                    nt = self.next_event_us()
                    if nt is not None and tb1 > nt - T_UPDATE_TCLK * tclk:
                        self._violate(tb0, 0, "tUPDATE", "data read within tUPDATE = 4 tCLK of DRDY (DS Fig. 42)")
            else:
                ob = self._fill
            if rx is not None:
                rx[i] = ob
            self._mark_read(p, p + 1)
            self._pos = p + 1
            c0 = self.chips[0]
            if not c0.cs:
                c0.drdy_low = False
            b = 0 if tx is None else tx[i]
            for c in sel:
                c.on_byte(b, tb1)
        self.advance_to(t_end)
        return t_end

    # --- conveniences for tests and the virtual board (no SPI timing involved) ----------------------------------------
    def peek_latest_frames(self):
        """bytes: every chip's latest frame concatenated (chip 0 first), as a chained RDATAC read would return."""
        return b"".join(bytes(c.frame(c.latest_k)) if c.latest_k >= 0 else bytes(CHIP_FRAME_BYTES) for c in self.chips)
