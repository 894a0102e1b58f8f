"""The emulated ADS1299 chain also answers at bit level on the SPI pins (what a PIO acquisition path drives): a
MicroPython script on the emulated RP2040 bit-bangs SPI mode 1 on GP18/19/16 and reads the ID registers through the
daisy chain, sets every input to normal and reads one RDATAC frame, which must equal the independently computed
frame."""

from __future__ import annotations

import pytest

from perifacial.host.emu.chain import expected_frame

pytestmark = pytest.mark.emulator

SCRIPT = r"""
from machine import Pin
import time
time.sleep_ms(300)
sck = Pin(18, Pin.OUT, value=0)
mosi = Pin(19, Pin.OUT, value=0)
miso = Pin(16, Pin.IN)
drdy = Pin(22, Pin.IN)
cs = [Pin(p, Pin.OUT, value=1) for p in (17, 20, 21)]
reset = Pin(26, Pin.OUT, value=1)
start = Pin(27, Pin.OUT, value=0)

def xfer(b):
    r = 0
    for i in range(8):
        mosi.value((b >> (7 - i)) & 1)
        sck.value(1)   # the chip shifts its next MISO bit out on the rising edge
        sck.value(0)   # both sides sample on the falling edge (mode 1)
        r = (r << 1) | miso.value()
    return r

def sel(k, v):
    for c in range(k + 1):
        cs[c].value(v)

reset.value(0); time.sleep_us(10); reset.value(1); time.sleep_us(50)
sel(2, 0); xfer(0x11); sel(2, 1)                 # SDATAC, all chips
sel(2, 0); xfer(0x45); xfer(0x07)                # WREG CH1SET..CH8SET = 0x60 (gain 24, normal input)
for _ in range(8):
    xfer(0x60)
sel(2, 1)
sel(2, 0); xfer(0x20); xfer(0x00)                # RREG ID, chips 0..2 selected: chip 0's byte first
ids = [xfer(0) for _ in range(3)]
sel(2, 1)
sel(2, 0); xfer(0x10)                            # RDATAC, then START and wait for the first DRDY
start.value(1)
t0 = time.ticks_ms()
while drdy.value() and time.ticks_diff(time.ticks_ms(), t0) < 1000:
    pass
start.value(0)                                   # no further conversion overwrites the frame while we read
frame = bytes([xfer(0) for _ in range(81)])
sel(2, 1)
print("IDS", " ".join("%02X" % i for i in ids))
print("FRAME", frame.hex())
"""


def test_bit_banged_spi_reads_ids_and_a_frame(emu_ready):
    from perifacial.host.emu.runner import EmuProcess, build_flash_image, find_paths

    img = build_flash_image(extra_files={"main.py": SCRIPT.encode()})
    pins = {"cs": [17, 20, 21], "drdy": 22, "start": 27, "reset": 26, "pwdn": 28, "sck": 18, "mosi": 19, "miso": 16}
    p = EmuProcess(img, find_paths(), {"pins": pins})
    try:
        out = b""
        while b"FRAME" not in out or not out.endswith(b"\n") and p.now_s < 5.0:
            chunk = p.read(4096, timeout=1.0)
            out += chunk
            if not chunk and p.now_s >= 5.0:
                break
    finally:
        p.close()
    text = out.decode("latin1")
    lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1].strip() for ln in text.splitlines() if " " in ln}
    assert lines.get("IDS") == "3E 3E 3E", text
    assert bytes.fromhex(lines["FRAME"]) == expected_frame(0), text
