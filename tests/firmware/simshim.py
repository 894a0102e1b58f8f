# A minimal `machine` + `time` fake over host/sim's DaisyChain model, for the firmware tests (CPython and the
# MicroPython WebAssembly runtime: plain classes, no typing, no f-strings with specs).
#
# Virtual time: a float microsecond clock shared with the chain. sleep_us advances it (conversions on the way fire
# DRDY, which calls the firmware's Pin.irq handler synchronously at the DRDY instant); SPI transfers take
# 8 / baudrate per byte. A DRDY that falls while the handler runs is delivered after it returns (a hard IRQ does
# not nest). `stall_us(n)` advances time without running the main loop (a stalled main loop, or a GC pause).
TICKS_MASK = 0x3FFFFFFF
TICKS_HALF = 0x20000000


class Clock:
    def __init__(self, chain):
        self.chain = chain
        self.now = chain.now_us
        self.irq = None  # (handler, pin)
        self.in_irq = False
        self.pending = 0
        self.irq_calls = 0
        self.late_once_us = 0  # latency added before the next handler call only (a late soft IRQ)
        chain.on_drdy = self._on_drdy

    def _on_drdy(self, t, chip):
        if chip != 0 or self.irq is None:
            return
        if self.in_irq:
            self.pending += 1
            return
        if t > self.now:
            self.now = t
        self._call()

    def _call(self):
        h, pin = self.irq
        self.in_irq = True
        try:
            self.irq_calls += 1
            if self.late_once_us:
                self.now += self.late_once_us
                self.late_once_us = 0
            h(pin)
        finally:
            self.in_irq = False
        while self.pending and self.irq is not None:
            self.pending -= 1
            self._call()

    def advance(self, us):
        target = self.now + us
        self.chain.advance_to(target)
        if target > self.now:
            self.now = target


class SimTime:
    def __init__(self, clock):
        self.clock = clock

    def ticks_us(self):
        return int(self.clock.now) & TICKS_MASK

    def ticks_ms(self):
        return int(self.clock.now // 1000) & TICKS_MASK

    def ticks_diff(self, a, b):
        return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF

    def ticks_add(self, a, d):
        return (a + d) & TICKS_MASK

    def sleep_us(self, us):
        self.clock.advance(us)

    def sleep_ms(self, ms):
        self.clock.advance(ms * 1000)

    def sleep(self, s):
        self.clock.advance(s * 1000000)


class Pin:
    IN = 0
    OUT = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, machine, pid, mode=0, value=None):
        self.m = machine
        self.id = pid
        self.mode = mode
        self.level = 0
        self.role = machine.roles.get(pid)
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.role == ("drdy", 0):
                return self.m.chain.drdy_level(self.m.clock.now)
            return self.level
        self.level = 1 if v else 0
        r = self.role
        if r is not None and r[0] != "drdy":
            self.m.chain.set_pin(r[0], self.level, self.m.clock.now, chip=r[1])
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=2, hard=False):
        if self.role == ("drdy", 0):
            self.m.clock.irq = None if handler is None else (handler, self)
            self.m.hard = hard


class SPI:
    MSB = 0

    def __init__(self, machine, sid, baudrate=4000000, polarity=0, phase=1, **kw):
        self.m = machine
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.byte_us = 8e6 / baudrate / 1e6 * 1.0

    def write(self, buf):
        c = self.m.clock
        c.now = self.m.chain.transfer(buf, None, c.now, self.byte_us)

    def readinto(self, buf, write=0):
        c = self.m.clock
        if write:
            c.now = self.m.chain.transfer(bytes([write]) * len(buf), buf, c.now, self.byte_us)
        else:
            c.now = self.m.chain.transfer(None, buf, c.now, self.byte_us, True)

    def write_readinto(self, wbuf, rbuf):
        c = self.m.clock
        c.now = self.m.chain.transfer(wbuf, rbuf, c.now, self.byte_us)


class Machine:
    """The `machine` module stand-in. ``roles``: pin id -> (chain pin name, chip or None) for the profile's pins."""

    def __init__(self, chain, profile):
        self.chain = chain
        self.clock = Clock(chain)
        self.time = SimTime(self.clock)
        self.hard = None
        self.resets = 0
        a = profile["ads"]
        roles = {}
        for i, p in enumerate(a["cs"]):
            roles[p] = ("cs", i)
        for name in ("reset", "start", "pwdn"):
            if a.get(name) is not None:
                roles[a[name]] = (name, None)
        roles[a["drdy"]] = ("drdy", 0)
        self.roles = roles
        m = self

        class _Pin(Pin):
            IN = 0
            OUT = 1
            IRQ_FALLING = 2

            def __init__(self, pid, mode=0, value=None, **kw):
                Pin.__init__(self, m, pid, mode, value)

        class _SPI(SPI):
            def __init__(self, sid, **kw):
                SPI.__init__(self, m, sid, **kw)

        self.Pin = _Pin
        self.SPI = _SPI

    def reset(self):
        self.resets += 1
