# Minimal MAX7219 8-digit seven-segment driver for the sync display (MicroPython, SPI + chip select).
#
# Registers (MAX7219 datasheet): digits 0x01..0x08 (0x01 = rightmost on the usual modules), decode mode 0x09
# (0xFF = Code-B on all digits: a register value 0..9 shows that digit), intensity 0x0A (0..15), scan limit 0x0B
# (7 = all eight digits; never used for blanking, it changes brightness), shutdown 0x0C (1 = normal operation),
# display test 0x0F. The MAX7219 wants VIH >= 3.5 V: a 3.3 V board needs a level shifter on DIN/CLK/CS.
from micropython import const  # type: ignore[import-not-found]

_REG_DIGIT0 = const(0x01)
_REG_DECODE = const(0x09)
_REG_INTENSITY = const(0x0A)
_REG_SCAN_LIMIT = const(0x0B)
_REG_SHUTDOWN = const(0x0C)
_REG_TEST = const(0x0F)
_CODE_B_BLANK = const(0x0F)


class MAX7219:
    digits = 8

    def __init__(self, spi, cs, brightness=8):
        self.spi = spi
        self.cs = cs
        self._cmd = bytearray(2)
        cs.init(cs.OUT, value=1)
        self._reg(_REG_TEST, 0)
        self._reg(_REG_SHUTDOWN, 1)
        self._reg(_REG_SCAN_LIMIT, 7)
        self._reg(_REG_DECODE, 0xFF)
        self._reg(_REG_INTENSITY, brightness & 15)
        self.show(0)

    def _reg(self, reg, value):
        cmd = self._cmd
        cmd[0] = reg
        cmd[1] = value
        self.cs(0)
        self.spi.write(cmd)
        self.cs(1)

    def show(self, value):
        """Show ``value`` mod 10**8, zero-padded; always writes all 8 digits, least significant last."""
        v = value % 100000000
        div = 10000000
        for pos in range(7, -1, -1):
            self._reg(_REG_DIGIT0 + pos, (v // div) % 10)
            div //= 10

    def blank(self):
        for pos in range(8):
            self._reg(_REG_DIGIT0 + pos, _CODE_B_BLANK)

    def brightness(self, level):
        self._reg(_REG_INTENSITY, level & 15)
