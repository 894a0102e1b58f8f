# Sync digit display board: shows the counter the host sends over USB serial, echoes each command with the
# board's time. Copy main.py, proto.py and the driver to the board: firmware/tm1637.py (the acquisition firmware's
# TM1637 driver, shared) or firmware/syncdisplay/max7219.py; optionally a config.json overriding CONFIG below.
# Protocol: proto.py (fixed 14-byte commands, 20-byte echoes).
#
# Constant latency: the loop blocks on exactly the bytes still missing from the current command, writes the digits
# as soon as the last byte arrives (all digits every time, the same bus traffic for every value), then reads the
# time and echoes. No allocation-heavy work between the last byte and the latch.
import sys
import time

import proto

CONFIG = {
    "driver": "tm1637",  # "tm1637" (4 digits) or "max7219" (8 digits)
    "clk": 2,  # TM1637 CLK pin
    "dio": 3,  # TM1637 DIO pin
    "spi": 0,  # MAX7219: hardware SPI id (-1: SoftSPI on sck/mosi)
    "sck": 18,
    "mosi": 19,
    "miso": 16,
    "cs": 17,
    "baudrate": 1000000,
    "brightness": 4,
}


def load_config(path="config.json"):
    cfg = dict(CONFIG)
    try:
        import json

        with open(path) as f:
            cfg.update(json.load(f))
    except OSError:
        pass
    return cfg


def make_display(cfg):
    from machine import Pin  # type: ignore[import-not-found]

    if cfg["driver"] == "max7219":
        import max7219
        from machine import SPI  # type: ignore[import-not-found]

        if cfg["spi"] < 0:
            from machine import SoftSPI  # type: ignore[import-not-found]

            spi = SoftSPI(baudrate=cfg["baudrate"], sck=Pin(cfg["sck"]), mosi=Pin(cfg["mosi"]), miso=Pin(cfg["miso"]))
        else:
            spi = SPI(cfg["spi"], baudrate=cfg["baudrate"], polarity=0, phase=0)
        return max7219.MAX7219(spi, Pin(cfg["cs"]), cfg["brightness"])
    import tm1637

    tm = tm1637.TM1637(Pin(cfg["clk"], Pin.OUT, value=1), Pin(cfg["dio"], Pin.OUT, value=1), time, cfg["brightness"])
    return Tm1637Digits(tm)


class Tm1637Digits:
    """Adapter over the shared TM1637 driver (firmware/tm1637.py): 4 digits, zero-padded, all written at once."""

    digits = 4

    def __init__(self, tm):
        self.tm = tm
        self.last = 0

    def show(self, value):
        self.last = value
        self.tm.show(value)

    def brightness(self, level):
        self.tm.brightness = level & 7
        self.tm.show(self.last)


class App:
    """Command handling, independent of the transport (tested on CPython with a fake display)."""

    def __init__(self, display, ticks_us):
        self.display = display
        self.ticks_us = ticks_us
        self.capacity = 10**display.digits
        self.value = 0

    def handle(self, frame, bad=0):
        """Execute one CRC-checked command frame and return the echo frame (bytes)."""
        op, arg, value, seq = proto.unpack_command(frame)
        status = proto.ST_OK
        if op == proto.OP_SHOW:
            self.value = value % self.capacity
            self.display.show(self.value)
        elif op == proto.OP_BLANK and hasattr(self.display, "blank"):
            self.display.blank()
        elif op == proto.OP_BRIGHTNESS:
            self.display.brightness(arg)
        elif op != proto.OP_HELLO:
            status = proto.ST_BAD_OP  # unknown op, or BLANK on a driver without it
        ticks = self.ticks_us()
        return proto.pack_echo(op, status, self.display.digits, bad, self.value, seq, ticks)


def run():
    import micropython  # type: ignore[import-not-found]

    micropython.kbd_intr(-1)  # binary frames may contain 0x03: do not let it raise KeyboardInterrupt
    app = App(make_display(load_config()), time.ticks_us)  # type: ignore[attr-defined]
    app.display.show(0)
    reader = proto.FrameReader(proto.CMD_MAGIC, proto.CMD_SIZE)
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        # the reader keeps at most a partial frame: ask for exactly the bytes that complete it
        data = stdin.read(proto.CMD_SIZE - len(reader.buf))
        if not data:
            continue
        for frame in reader.feed(data):
            stdout.write(app.handle(frame, reader.bad))


if __name__ == "__main__":
    run()
