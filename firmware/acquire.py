# DRDY-driven acquisition into a preallocated ring of raw chained frames.
#
# The DRDY handler (a hard IRQ where the port has one: rp2; a soft, scheduled one on ESP32) does only this:
#   1. t = ticks_us(). The handler keeps an estimate of the DRDY grid: the time of the last DRDY it accounted for
#      plus the smallest read latency seen (it re-anchors on any read earlier than expected, and follows a late
#      one by at most period/128); the period is measured in MCU ticks by calibrate() from the main loop (the
#      ADS1299 oscillator is +-0.5 % off the MCU's).
#      k = floor((t - grid) / period + 1/32) DRDYs happened since the last accounted one.
#      k == 0 and less than half a period after the previous call (soft IRQ only): a duplicate (soft IRQs queued
#      while the handler ran late): nothing new, ignored. Otherwise k is at least 1 (a new DRDY edge).
#      k >= 2: the read came more than ~31/32 of a period after its DRDY, the next conversion(s) had replaced the
#      data (the ADS1299 has no FIFO): k - 1 samples are counted lost and the sample index advances by k, so the
#      data read (the newest conversion) keeps its true index.
#   2. ring full: the sample is not read, counted as an overrun, and the sample index still advances.
#   3. else: clock the n x 27 bytes into the ring slot, store the sample index and the ticks.
# Either way the host sees a sample-index gap in the DATA frames (with FLAG_OVERRUN): no silent drop.
#
# No allocation in the handler: bound methods and memoryviews are prepared in __init__, counters are small ints
# (the sample index stays below 2**30: 6.2 days at 2000 SPS; Acquirer.near_limit() lets the main loop stop first).
#
# Hard IRQ (rp2): latency is tens of us, far below 31/32 of a period (484 us at 2000 SPS), so k is exact; every call
# is a new DRDY edge, so k is at least 1 (tests/firmware/test_acquire.py: jitter up to 120 us, +-0.5 % clock, all
# labels exact). Soft IRQ (ESP32): the handler runs from the scheduler, up to ms late (GC, Wi-Fi), so late reads
# happen: step 1 detects and counts them, never hides them. Timing alone cannot tell which conversion a late read got
# when it lands within the read latency of a newer DRDY edge: such a read (a few % of late reads) is labelled one
# sample off; indices stay strictly increasing and samples read + lost = samples seen. A read can also overlap a
# DRDY update and return a torn frame: the framer's 0xC status-nibble check counts those (FLAG_STATUS_ERROR).
try:
    import micropython  # type: ignore[import-not-found]
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython: const and the code-emitter decorators are no-ops

    def const(x):  # type: ignore[no-redef]
        return x

    class micropython:  # type: ignore[no-redef]
        @staticmethod
        def native(f):
            return f


import array

INDEX_LIMIT = const(0x3FFFFFFF)


class Acquirer:
    def __init__(self, reader, n_chips, time, rate=1000, slots=256, soft=False, busy=None):
        """``reader(mv)`` clocks one chained frame into ``mv`` (ADS1299.make_reader), or starts clocking it (a DMA
        reader, dmaspi.py): then ``busy()`` is True while the newest slot is still being filled."""
        self.rec = 27 * n_chips
        self.slots = slots
        self.buf = bytearray(self.rec * slots)
        self.mv = mv = memoryview(self.buf)
        self.views = [mv[i * self.rec : (i + 1) * self.rec] for i in range(slots)]
        self.index = array.array("i", [0] * slots)  # sample index of each slot
        self.ticks = array.array("i", [0] * slots)  # ticks_us when it was read
        self._read = reader
        self._busy = busy
        self._ticks_us = time.ticks_us
        self._ticks_diff = time.ticks_diff
        self._ticks_add = time.ticks_add
        self.soft = soft  # scheduled (soft) IRQ: duplicate calls possible
        self.handler = self._irq  # the bound method, created once (hard IRQs must not allocate)
        self.set_rate(rate)
        self.reset()

    def set_rate(self, rate):
        self.rate = rate
        self.period = 1000000 // rate  # us (500 SPS: 2000, 1000: 1000, 2000: 500)
        self.tol = self.period // 32  # timing tolerance of the DRDY grid estimate (drift, anchoring)
        self.half = self.period // 2
        self.period_q = self.period << 8  # the DRDY period in MCU ticks, 1/256 us; calibrate() measures it
        self.follow = self.period // 128  # how far a late read may move the grid (> 0.5 % clock drift)

    def reset(self):
        self.wr = 0  # written by the handler only, 0 .. 2 * slots - 1
        self.rd = 0  # written by the main loop only
        self.count = 0  # index of the next sample (samples seen, acquired or lost)
        self.lost_late = 0  # samples overwritten before a late read
        self.lost_full = 0  # samples not read because the ring was full
        self.t_grid = 0
        self.t_last = 0
        self.grid_n = 0
        self.cal_n = -1
        self.cal_t = 0
        self.period_q = self.period << 8
        self.first = True
        self.dup = 0  # duplicate handler calls ignored (soft IRQ)

    # -- IRQ side: no allocation ---------------------------------------------------------------------------------
    # Machine code (native emitter) on the boards: about 15 % less CPU per DRDY on the emulated RP2040. A port without
    # the emitter rejects the decorator at compile time (the WebAssembly build: tests/firmware/mpy_harness.py drops
    # the decorator line there; CPython: the no-op above).
    @micropython.native
    def _irq(self, pin):
        t = self._ticks_us()
        n = self.count
        if self.first:
            self.first = False
            self.t_grid = t
            self.t_last = t
            self.grid_n = n
        else:
            p = self.period
            d = self._ticks_diff(t, self.t_grid)
            if d < 0x100000:  # < 1 s: the measured period (1/256 us units; stays a small int)
                k = ((d + self.tol) << 8) // self.period_q
            else:  # a long stall: nominal period (the gap is counted either way)
                k = (d + self.tol) // p
            if k < 1:
                if self.soft and self._ticks_diff(t, self.t_last) < self.half:
                    self.dup += 1  # right behind the previous call: a queued duplicate, nothing new to read
                    return
                k = 1  # a new DRDY, read earlier than the grid expected: re-anchored below
            if k > 1:
                self.lost_late += k - 1
                n += k - 1
            if d < 0x100000:
                g = self._ticks_add(self.t_grid, (k * self.period_q) >> 8)
            else:
                g = self._ticks_add(self.t_grid, k * p)
            r = self._ticks_diff(t, g)
            self.t_last = t
            if r < self.follow:
                self.t_grid = t  # earlier than (or about as) expected: the new smallest-latency phase
            else:
                self.t_grid = self._ticks_add(g, self.follow)
            self.grid_n = n
        slots = self.slots
        wr = self.wr
        used = wr - self.rd
        if used < 0:
            used += 2 * slots
        if used >= slots:
            self.lost_full += 1
            self.count = n + 1
            return
        s = wr if wr < slots else wr - slots
        if self._read(self.views[s]) is False:
            # a DMA reader refuses while its previous read is still clocking (SPI slower than the data rate): the
            # chips replaced their data under it (the ADS1299 wants a read finished before the next DRDY), so that
            # record is withdrawn (the main loop leaves the newest slot alone while busy) and this sample is not
            # read either. Both are counted as lost. (A blocking reader returns None.)
            wr -= 1
            if wr < 0:
                wr += 2 * slots
            self.wr = wr
            self.lost_late += 2
            self.count = n + 1
            return
        self.index[s] = n
        self.ticks[s] = t
        self.count = n + 1
        wr += 1
        if wr == 2 * slots:
            wr = 0
        self.wr = wr

    # -- main-loop side --------------------------------------------------------------------------------------------
    def wait_read(self, limit_us=5000):
        """Until a read still in flight (DMA) has finished, at most ``limit_us``: call after the DRDY interrupt is
        off and before other SPI traffic (stop commands), which would cut the read short."""
        busy = self._busy
        if busy is None:
            return
        t0 = self._ticks_us()
        while busy() and self._ticks_diff(self._ticks_us(), t0) < limit_us:
            pass

    def available(self):
        used = self.wr - self.rd
        if used < 0:
            used += 2 * self.slots
        if used and self._busy is not None and self._busy():
            used -= 1  # the newest slot is still being filled by DMA
        return used

    def peek(self):
        """Slot number of the oldest unread record (call only when available() > 0)."""
        rd = self.rd
        return rd if rd < self.slots else rd - self.slots

    def release(self, k=1):
        """Give the ``k`` oldest records back to the handler (k <= available())."""
        rd = self.rd + k
        if rd >= 2 * self.slots:
            rd -= 2 * self.slots
        self.rd = rd

    def calibrate(self, min_samples=2000):
        """Main loop, about once a second: measure the DRDY period in MCU ticks from the handler's grid (the ADS1299
        oscillator is +-0.5 % off the MCU's), so late-read accounting stays exact however late the read."""
        if self.first:
            return
        n1 = self.grid_n
        t = self.t_grid
        if self.grid_n != n1:  # the handler ran in between: try again next time
            return
        if self.cal_n < 0:
            self.cal_n = n1
            self.cal_t = t
            return
        dn = n1 - self.cal_n
        if dn < min_samples:
            return
        q = (self._ticks_diff(t, self.cal_t) << 8) // dn
        nominal = self.period << 8
        if abs(q - nominal) < nominal // 50:  # within 2 %: a plausible oscillator, not a glitch
            self.period_q = q
        self.cal_n = n1
        self.cal_t = t

    def lost(self):
        return self.lost_late + self.lost_full

    def near_limit(self):
        return self.count > INDEX_LIMIT - 10 * self.rate
