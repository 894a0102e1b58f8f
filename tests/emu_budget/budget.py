# Acquisition budget on the emulated RP2040 (run by tests/emu_budget/run_budget.py, which fills in the settings).
# The firmware's own Acquirer + Framer read a 3-chip chain (ads_chain_hook.mjs) on a hard DRDY IRQ, frame and CRC
# into a null link. The main loop sleeps with time.sleep_ms (WFE inside the port, not a busy wait like sleep_us below
# 1 ms on rp2) until a whole frame's samples should be in the ring.
import time, machine
from machine import SPI, Pin
import acquire, framer, wire
RATE = %(rate)d
SECONDS = %(seconds)s
BAUD = %(baud)d
spi = SPI(0, baudrate=BAUD, polarity=0, phase=1, sck=Pin(18), mosi=Pin(19), miso=Pin(16))
drdy = Pin(3, Pin.IN)
start = Pin(2, Pin.OUT, value=0)
class Link:
    def __init__(self):
        self.bytes = 0
        self.frames = 0
    def connected(self): return True
    def write(self, b):
        self.bytes += len(b)
        self.frames += 1
        return len(b)
link = Link()
acq = acquire.Acquirer(spi.readinto,  # what ads1299.make_reader(hold_cs=True) returns
                            3, time, rate=RATE, slots=192)
fr = framer.Framer(acq, link, 3, samples_per_frame=10)
drdy.irq(trigger=Pin.IRQ_FALLING, handler=acq.handler, hard=True)
spf = fr.spf
sleep_ms = time.sleep_ms
period_us = 1000000 // RATE
batch = max(spf, RATE // 100)  # wake for about 10 ms of samples (one or two frames), not for every DRDY
poll = fr.poll
avail = acq.available
t0 = time.ticks_ms()
start.value(1)
ms = int(SECONDS * 1000)
while time.ticks_diff(time.ticks_ms(), t0) < ms:
    k = avail()
    if k >= batch:
        poll(64)
    else:
        sleep_ms(1 + (batch - k) * period_us // 1000)
start.value(0)
drdy.irq(handler=None)
while avail():
    poll(64)
fr.flush()
print("BUDGET", acq.count, acq.lost(), fr.frames_sent, link.bytes, fr.status_errors)
