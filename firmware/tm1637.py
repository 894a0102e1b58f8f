# TM1637 4-digit 7-segment display (the board-driven sync display), bit-banged on two pins; a no-op fallback.
#
# Protocol (TM1637 datasheet): start = DIO falls while CLK high; bytes LSB first, data changes while CLK low, the
# chip acknowledges on the 9th clock; stop = DIO rises while CLK high. Commands: 0x40 data, auto-increment;
# 0xC0 | address; 0x88 | brightness (display on).
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


SEGMENTS = b"\x3f\x06\x5b\x4f\x66\x6d\x7d\x07\x7f\x6f"  # 0..9, segments gfedcba
DIGITS = const(4)
CAPACITY = const(10000)  # values shown modulo 10**4; the sync log disambiguates wraps (it carries the full value)
CMD_DATA_AUTO = const(0x40)
CMD_ADDR0 = const(0xC0)
CMD_DISPLAY_ON = const(0x88)
_BIT_US = const(5)


class NullDisplay:
    """No display wired: remembers the value (the virtual board shows it in its state)."""

    capacity = CAPACITY

    def __init__(self):
        self.value = 0
        self.writes = 0

    def show(self, value):
        self.value = value
        self.writes += 1


class TM1637(NullDisplay):
    def __init__(self, clk, dio, time, brightness=7):
        NullDisplay.__init__(self)
        self.clk = clk
        self.dio = dio
        self.time = time
        self.brightness = brightness & 7
        self._seg = bytearray(DIGITS)
        clk.value(1)
        dio.value(1)

    def _start(self):
        self.dio.value(0)
        self.time.sleep_us(_BIT_US)
        self.clk.value(0)

    def _stop(self):
        self.dio.value(0)
        self.clk.value(1)
        self.time.sleep_us(_BIT_US)
        self.dio.value(1)

    def _byte(self, b):
        clk = self.clk
        dio = self.dio
        for _ in range(8):
            dio.value(b & 1)
            b >>= 1
            self.time.sleep_us(_BIT_US)
            clk.value(1)
            self.time.sleep_us(_BIT_US)
            clk.value(0)
        # 9th clock: the chip pulls DIO low to acknowledge (not checked: DIO is driven as an output here)
        dio.value(0)
        clk.value(1)
        self.time.sleep_us(_BIT_US)
        clk.value(0)

    def segments(self, value):
        v = value % CAPACITY
        seg = self._seg
        for i in range(DIGITS - 1, -1, -1):
            seg[i] = SEGMENTS[v % 10]
            v //= 10
        return seg

    def show(self, value):
        seg = self.segments(value)
        self._start()
        self._byte(CMD_DATA_AUTO)
        self._stop()
        self._start()
        self._byte(CMD_ADDR0)
        for b in seg:
            self._byte(b)
        self._stop()
        self._start()
        self._byte(CMD_DISPLAY_ON | self.brightness)
        self._stop()
        NullDisplay.show(self, value)
