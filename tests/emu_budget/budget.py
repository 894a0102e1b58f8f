# Acquisition budget on the emulated RP2040; tests/emu_budget/emu.py fills in RATE, SECONDS, BAUD, PATH and runs it
# with ads_chain_hook.mjs (DRDY on GP3, a 3-chip ADS1299 chain as SPI0 slave, busy cycles counted while GP2 is high).
# The firmware's own Acquirer + Framer on a hard DRDY IRQ; PATH "irq": the handler reads with the blocking
# spi.readinto (what ads1299.make_reader(hold_cs=True) returns); "irq+dma": the handler starts dmaspi.DmaReader and
# returns. Frames go to a null link that keeps every 25th for the content check after the measured window. The main
# loop sleeps with time.sleep_ms (WFE inside the port; sleep_us busy-waits on rp2) until about 20 ms of samples
# should be in the ring (App.step's rule, app.BATCH_MS): each wake-up costs about as much as framing a batch.
import time
from machine import SPI, Pin
import acquire, framer, wire
from app import BATCH_MS
RATE = %(rate)d
SECONDS = %(seconds)s
BAUD = %(baud)d
PATH = "%(path)s"
spi = SPI(0, baudrate=BAUD, polarity=0, phase=1, sck=Pin(18), mosi=Pin(19), miso=Pin(16))
drdy = Pin(3, Pin.IN)
start = Pin(2, Pin.OUT, value=0)
class Link:
    def __init__(self):
        self.bytes = 0
        self.frames = 0
        self.kept = []
    def connected(self): return True
    def write(self, b):
        self.bytes += len(b)
        self.frames += 1
        if self.frames %% 25 == 0:
            self.kept.append(bytes(b))
        return len(b)
link = Link()
if PATH == "irq+dma":
    import dmaspi
    dma = dmaspi.DmaReader(0, 81)
    acq = acquire.Acquirer(dma.read, 3, time, rate=RATE, slots=192, busy=dma.busy)
else:
    acq = acquire.Acquirer(spi.readinto, 3, time, rate=RATE, slots=192)
fr = framer.Framer(acq, link, 3, samples_per_frame=10)
drdy.irq(trigger=Pin.IRQ_FALLING, handler=acq.handler, hard=True)
spf = fr.spf
sleep_ms = time.sleep_ms
period_us = 1000000 // RATE
batch = max(spf, RATE * BATCH_MS // 1000)  # as App.step
poll = fr.poll
avail = acq.available
ms = int(SECONDS * 1000)
t0 = time.ticks_ms()
start.value(1)
while time.ticks_diff(time.ticks_ms(), t0) < ms:
    k = avail()
    if k >= batch:
        poll(64)
    else:
        sleep_ms(1 + (batch - k) * period_us // 1000)
start.value(0)
drdy.irq(handler=None)
time.sleep_ms(2)
while avail():
    poll(64)
fr.flush()
# content check: every kept frame's samples equal what the hook's chips sent for that sample index
bad = 0
checked = 0
for f in link.kept:
    first, tus, ns, nc, fl = wire.unpack_data_header(f, wire.HEADER_SIZE)
    for i in range(ns):
        for c in range(3):
            o = wire.HEADER_SIZE + wire.DATA_HDR_SIZE + i * 81 + c * 27
            for k in (0, 7):
                v = ((first + i) * 31 + c * 8 + k) & 0x7FFFFF
                b = f[o + 3 + 3 * k : o + 6 + 3 * k]
                if f[o] != 0xC0 or b[0] != v >> 16 or b[1] != (v >> 8) & 0xFF or b[2] != v & 0xFF:
                    bad += 1
                checked += 1
print("BUDGET " + repr({"path": PATH, "samples": acq.count, "lost": acq.lost(), "frames": fr.frames_sent,
                        "bytes": link.bytes, "status_errors": fr.status_errors, "checked": checked, "bad": bad}))
