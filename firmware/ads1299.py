# ADS1299 driver for N chips in a daisy chain (TI SBAS499C), MicroPython and CPython.
#
# Wiring assumed (hardware/boards/*.json): SPI mode 1 shared by all chips; one chip-select per chip (per-chip CS
# for register access, all CS low together for the chained data read); DOUT of chip k+1 into DAISY_IN of chip k,
# DOUT of chip 0 to the MCU; DRDY of chip 0 to the MCU; RESET, START and PWDN shared (optional: a missing pin is
# replaced by the RESET/START/STOP opcodes); chip 0 runs on its internal oscillator and drives CLK out to the
# others (CONFIG1.CLK_EN on chip 0 only).
#
# `machine`-free: the caller passes SPI and Pin objects and a `time` module (ticks/sleeps), so the same driver runs
# on the board, under CPython with the machine shim and under the MicroPython WebAssembly runtime.
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


# Opcodes (SBAS499C sec. 9.5.3)
WAKEUP = const(0x02)
STANDBY = const(0x04)
RESET = const(0x06)
START = const(0x08)
STOP = const(0x0A)
RDATAC = const(0x10)
SDATAC = const(0x11)
RDATA = const(0x12)
RREG = const(0x20)  # | address, then (count - 1)
WREG = const(0x40)  # | address, then (count - 1), then the values

# Registers (sec. 9.6)
ID = const(0x00)
CONFIG1 = const(0x01)
CONFIG2 = const(0x02)
CONFIG3 = const(0x03)
LOFF = const(0x04)
CH1SET = const(0x05)  # CH1SET..CH8SET = 0x05..0x0C
BIAS_SENSP = const(0x0D)
BIAS_SENSN = const(0x0E)
LOFF_SENSP = const(0x0F)
LOFF_SENSN = const(0x10)
LOFF_FLIP = const(0x11)
LOFF_STATP = const(0x12)
LOFF_STATN = const(0x13)
GPIO = const(0x14)
MISC1 = const(0x15)
MISC2 = const(0x16)
CONFIG4 = const(0x17)
N_REGS = const(0x18)

# ID fields: REV_ID[7:5], 1 [4], DEV_ID[3:2] = 11, NU_CH[1:0] (00 = 4, 01 = 6, 10 = 8 channels)
ID_DEV_MASK = const(0x0C)
ID_DEV_ADS1299 = const(0x0C)
ID_NU_CH_MASK = const(0x03)
ID_NU_CH_8 = const(0x02)

# CONFIG1: 1, DAISY_EN (0 = daisy chain), CLK_EN, 1, 0, DR[2:0]
CONFIG1_BASE = const(0x90)
CONFIG1_CLK_EN = const(0x20)
CONFIG1_DAISY_OFF = const(0x40)  # multiple-readback mode; not used (we daisy-chain)
DR_CODES = {2000: 3, 1000: 4, 500: 5}  # fMOD/DR: 0=16k 1=8k 2=4k 3=2k 4=1k 5=500 6=250
# CONFIG2: 110, INT_CAL, 0, CAL_AMP, CAL_FREQ[1:0]
CONFIG2_BASE = const(0xC0)
CONFIG2_INT_CAL = const(0x10)
CONFIG2_CAL_AMP_2X = const(0x04)
CAL_FREQ_SLOW = const(0x00)  # fCLK / 2^21: at 1000 SPS (fCLK / 2048) a period of exactly 1024 samples
CAL_FREQ_FAST = const(0x01)  # fCLK / 2^20
CAL_FREQ_DC = const(0x03)
# CONFIG3: PD_REFBUF, 1, 1, BIAS_MEAS, BIASREF_INT, PD_BIAS, BIAS_LOFF_SENS, BIAS_STAT
CONFIG3_BASE = const(0x60)
CONFIG3_PD_REFBUF = const(0x80)  # 1 = internal reference buffer on
CONFIG3_BIASREF_INT = const(0x08)  # bias reference (AVDD + AVSS) / 2 generated internally
CONFIG3_PD_BIAS = const(0x04)  # 1 = bias buffer on
# CHnSET: PD, GAIN[2:0], SRB2, MUX[2:0]
CHSET_PD = const(0x80)
CHSET_SRB2 = const(0x08)
GAINS = (1, 2, 4, 6, 8, 12, 24)  # GAIN code = index
MUX_NORMAL = const(0)
MUX_SHORTED = const(1)
MUX_BIAS_MEAS = const(2)
MUX_MVDD = const(3)
MUX_TEMP = const(4)
MUX_TEST = const(5)
MUX_NAMES = {"normal": MUX_NORMAL, "shorted": MUX_SHORTED, "test": MUX_TEST, "mvdd": MUX_MVDD, "temp": MUX_TEMP}
# LOFF: COMP_TH[7:5], 0, ILEAD_OFF[3:2], FLEAD_OFF[1:0]
LOFF_CURRENTS_NA = (6, 24, 6000, 24000)  # ILEAD_OFF code = index
LOFF_FREQ_DC = const(0)
LOFF_FREQ_AC_FDR4 = const(3)  # AC excitation at fDR / 4
# MISC1: SRB1 (bit 5) connects every channel's negative input to SRB1
MISC1_SRB1 = const(0x20)
# CONFIG4: SINGLE_SHOT (bit 3), PD_LOFF_COMP (bit 1: 1 = lead-off comparators on)
CONFIG4_PD_LOFF_COMP = const(0x02)

CHIP_BYTES = const(27)
STATUS_NIBBLE = const(0xC0)  # the first status byte of every chip's frame is 1100 xxxx
VREF_UV = 4500000.0

# Datasheet waits
T_POR_MS = const(150)  # tPOR >= 2^18 tCLK = 128 ms at 2.048 MHz (+ margin for the oscillator's tolerance)
T_RESET_PULSE_US = const(10)  # RESET low >= 2 tCLK (~1 us)
T_AFTER_RESET_US = const(20)  # 18 tCLK (~9 us) before the next command
T_CMD_GAP_US = const(2)  # 4 tCLK (1.96 us) between bytes of a multi-byte command / before raising CS


class ADSError(Exception):
    pass


def lsb_uv(gain):
    """Microvolts per code at ``gain``: 2 * VREF / gain / 2**24."""
    return 2.0 * VREF_UV / gain / 16777216.0


def code24(buf, off):
    """Signed value of the 24-bit big-endian two's complement word at ``buf[off:off + 3]``."""
    v = (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2]
    if v & 0x800000:
        v -= 0x1000000
    return v


class ADS1299:
    def __init__(self, spi, cs, drdy, time, reset=None, start=None, pwdn=None):
        """``cs``: one output Pin per chip (chip 0 first: the chip whose DOUT reaches the MCU)."""
        self.spi = spi
        self.cs = list(cs)
        self.n = len(self.cs)
        self.drdy = drdy
        self.time = time
        self.reset_pin = reset
        self.start_pin = start
        self.pwdn_pin = pwdn
        self.ids = [0] * self.n
        self.shadow = [bytearray(N_REGS) for _ in range(self.n)]  # last values written (for read-back)
        self._one = bytearray(1)
        self._cmd = bytearray(2)
        self.frame_bytes = CHIP_BYTES * self.n
        for p in self.cs:
            p.value(1)

    # -- low level -------------------------------------------------------------------------------------------
    def _select(self, chip):
        if chip is None:
            for p in self.cs:
                p.value(0)
        else:
            self.cs[chip].value(0)

    def _deselect(self):
        self.time.sleep_us(T_CMD_GAP_US)  # >= 4 tCLK after the last SCLK before CS goes high
        for p in self.cs:
            p.value(1)

    def _send(self, data):
        one = self._one
        first = True
        for b in data:
            if not first:
                self.time.sleep_us(T_CMD_GAP_US)  # command decode time between bytes
            one[0] = b
            self.spi.write(one)
            first = False

    def command(self, opcode, chip=None):
        """Send a one-byte opcode to ``chip`` (None: all chips at once)."""
        self._select(chip)
        self._send((opcode,))
        self._deselect()

    def wreg(self, chip, addr, values):
        self._select(chip)
        self._send(bytes((WREG | addr, len(values) - 1)) + bytes(values))
        self._deselect()
        chips = range(self.n) if chip is None else (chip,)
        for c in chips:
            sh = self.shadow[c]
            for i in range(len(values)):
                sh[addr + i] = values[i]

    def rreg(self, chip, addr, count=1):
        """Read ``count`` registers of ``chip``. Only chip 0's DOUT reaches the MCU, so chips 0..chip are selected
        together: each loads its registers, the chain shifts them out in order, and ours come last."""
        for c in range(chip + 1):
            self.cs[c].value(0)
        self._send((RREG | addr, count - 1))
        self.time.sleep_us(T_CMD_GAP_US)
        out = bytearray(count * (chip + 1))
        self.spi.readinto(out, 0)
        self._deselect()
        return out[count * chip :]

    # -- bring-up ----------------------------------------------------------------------------------------------
    def power_up(self):
        """The datasheet power-up: tPOR, RESET pulse, SDATAC, clock out from chip 0, the same for the others."""
        if self.start_pin is not None:
            self.start_pin.value(0)
        if self.pwdn_pin is not None:
            self.pwdn_pin.value(1)
        if self.reset_pin is not None:
            self.reset_pin.value(1)
        self.time.sleep_ms(T_POR_MS)  # chip 0 (internal oscillator) is through its power-on reset
        if self.reset_pin is not None:
            self.reset_pin.value(0)
            self.time.sleep_us(T_RESET_PULSE_US)
            self.reset_pin.value(1)
        else:
            self.command(RESET, 0)
        self.time.sleep_us(T_AFTER_RESET_US)
        self.command(SDATAC, 0)  # the device wakes in RDATAC and ignores register commands until SDATAC
        self.wreg(0, CONFIG1, (CONFIG1_BASE | CONFIG1_CLK_EN | DR_CODES[1000],))
        if self.n > 1:
            # the other chips only now get a clock: give them their own tPOR, then reset them by opcode (the
            # RESET pin would also clear chip 0's CLK_EN)
            self.time.sleep_ms(T_POR_MS)
            for c in range(1, self.n):
                self.command(RESET, c)
            self.time.sleep_us(T_AFTER_RESET_US)
            for c in range(1, self.n):
                self.command(SDATAC, c)
        return self.check_ids()

    def check_ids(self):
        """Read every chip's ID and check DEV_ID and NU_CH; raise ADSError naming the first failing chip."""
        for c in range(self.n):
            v = self.rreg(c, ID, 1)[0]
            self.ids[c] = v
            if v & ID_DEV_MASK != ID_DEV_ADS1299:
                raise ADSError("chip %d: ID 0x%02X has DEV_ID %d, expected 3 (ADS1299)" % (c, v, (v >> 2) & 3))
            if v & ID_NU_CH_MASK != ID_NU_CH_8:
                raise ADSError("chip %d: ID 0x%02X has NU_CH %d, expected 2 (8 channels)" % (c, v, v & 3))
        return list(self.ids)

    # -- configuration -----------------------------------------------------------------------------------------
    def register_plan(
        self,
        chip,
        rate,
        gains,
        muxes,
        enabled,
        bias=True,
        lead_off=None,
        test_amp_2x=False,
        test_freq=CAL_FREQ_SLOW,
        srb1=False,
    ):
        """Return {address: value} for ``chip``. ``gains``/``muxes``/``enabled``: 8 entries for this chip.

        ``lead_off``: None (off) or (current_na, ac) with ``ac`` True for excitation at fDR/4.
        """
        if rate not in DR_CODES:
            raise ADSError("rate %r not in %r" % (rate, sorted(DR_CODES)))
        regs = {}
        regs[CONFIG1] = CONFIG1_BASE | (CONFIG1_CLK_EN if chip == 0 else 0) | DR_CODES[rate]
        regs[CONFIG2] = CONFIG2_BASE | CONFIG2_INT_CAL | (CONFIG2_CAL_AMP_2X if test_amp_2x else 0) | test_freq
        c3 = CONFIG3_BASE | CONFIG3_PD_REFBUF
        if bias and chip == 0:
            c3 |= CONFIG3_BIASREF_INT | CONFIG3_PD_BIAS
        regs[CONFIG3] = c3
        on_mask = 0
        for i in range(8):
            g = gains[i]
            if g not in GAINS:
                raise ADSError("gain %r not in %r" % (g, GAINS))
            v = (GAINS.index(g) << 4) | (muxes[i] & 7)
            if enabled[i]:
                on_mask |= 1 << i
            else:
                v |= CHSET_PD | MUX_SHORTED
            regs[CH1SET + i] = v
        regs[BIAS_SENSP] = on_mask if (bias and chip == 0) else 0
        regs[BIAS_SENSN] = on_mask if (bias and chip == 0) else 0
        if lead_off is None:
            regs[LOFF] = 0
            regs[LOFF_SENSP] = 0
            regs[LOFF_SENSN] = 0
            regs[CONFIG4] = 0
        else:
            cur, ac = lead_off
            if cur not in LOFF_CURRENTS_NA:
                raise ADSError("lead-off current %r nA not in %r" % (cur, LOFF_CURRENTS_NA))
            regs[LOFF] = (LOFF_CURRENTS_NA.index(cur) << 2) | (LOFF_FREQ_AC_FDR4 if ac else LOFF_FREQ_DC)
            regs[LOFF_SENSP] = on_mask
            regs[LOFF_SENSN] = on_mask
            regs[CONFIG4] = CONFIG4_PD_LOFF_COMP
        regs[LOFF_FLIP] = 0
        regs[MISC1] = MISC1_SRB1 if srb1 else 0
        return regs

    def apply(self, plans):
        """Write one register plan per chip (SDATAC first); return the chips whose read-back differs."""
        self.command(SDATAC)
        bad = []
        for c in range(self.n):
            plan = plans[c]
            # CONFIG1 of chip 0 keeps CLK_EN: writing it never stops the others' clock
            for addr in sorted(plan):
                self.wreg(c, addr, (plan[addr],))
        for c in range(self.n):
            if self.verify(c, plans[c]):
                bad.append(c)
        return bad

    def verify(self, chip, plan):
        """Return the list of (address, wrote, read) that differ on ``chip``."""
        back = self.rreg(chip, 0, N_REGS)
        out = []
        for addr in sorted(plan):
            m = 0xFE if addr == CONFIG3 else 0xFF  # CONFIG3 bit 0 (BIAS_STAT) is a read-only status bit
            if back[addr] & m != plan[addr] & m:
                out.append((addr, plan[addr], back[addr]))
        return out

    def read_all(self, chip):
        return self.rreg(chip, 0, N_REGS)

    def lead_off_status(self):
        """Return [(LOFF_STATP, LOFF_STATN)] per chip, read from the registers (SDATAC mode)."""
        out = []
        for c in range(self.n):
            r = self.rreg(c, LOFF_STATP, 2)
            out.append((r[0], r[1]))
        return out

    # -- streaming -----------------------------------------------------------------------------------------------
    def start(self, hold_cs=False):
        """RDATAC on every chip, then START (pin, or the opcode to all chips at once so they start together).

        ``hold_cs``: leave every CS low while streaming (the reader made with ``make_reader(True)`` then only clocks
        bytes). The datasheet only requires CS low during a transfer; in RDATAC each DRDY reloads the output
        registers, so every read starts at the frame's first byte; stop() raises CS (which resets the serial
        interface) before sending commands. Saves 2 x n pin writes per DRDY in the IRQ handler."""
        self.command(RDATAC)
        if self.start_pin is not None:
            self.start_pin.value(1)
        else:
            self.command(START)
        if hold_cs:
            for p in self.cs:
                p.value(0)

    def stop(self):
        self._deselect()  # (held CS) back high: the serial interface restarts at a byte boundary
        if self.start_pin is not None:
            self.start_pin.value(0)
        else:
            self.command(STOP)
        # the conversion in progress completes (DS p.30): wait it out so SDATAC cannot meet a DRDY update (tUPDATE)
        dr = self.shadow[0][CONFIG1] & 7
        self.time.sleep_us(((128 << dr) * 1000) // 2048 + 50)
        self.command(SDATAC)

    def make_reader(self, hold_cs=False):
        """Return a function ``read(mv)`` that clocks the chained frame (n x 27 bytes) into ``mv``.

        Allocation-free: bound methods are cached here, so the DRDY hard IRQ may call it. With ``hold_cs`` the
        chip-selects stay low between reads (see start()), so a read is one SPI transfer.
        """
        spi_readinto = self.spi.readinto
        if hold_cs:
            return spi_readinto  # readinto(mv) clocks out 0x00 (its default): no Python frame of our own per DRDY
        lows = [p.value for p in self.cs]
        n = self.n

        if n == 3:
            c0, c1, c2 = lows[0], lows[1], lows[2]

            def read3(mv):
                c0(0)
                c1(0)
                c2(0)
                spi_readinto(mv, 0)
                c0(1)
                c1(1)
                c2(1)

            return read3

        def read(mv):
            i = 0
            while i < n:
                lows[i](0)
                i += 1
            spi_readinto(mv, 0)
            i = 0
            while i < n:
                lows[i](1)
                i += 1

        return read
