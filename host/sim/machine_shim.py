# MicroPython `machine` / `time` / `micropython` shims wired to the ADS1299 chain model, on a virtual clock.
#
#   hw = SimHardware(profile)            # builds a DaisyChain (or pass chain=...)
#   machine = install(hw)                # module-like: Pin, SPI, SoftSPI, Timer, PWM, WDT, ADC, unique_id, freq, ...
#   time = hw.time                       # ticks_us/ms, ticks_diff/add, sleep_us/ms, sleep, time, time_ns
#   hw.modules() -> {"machine": ..., "time": ..., "utime": ..., "micropython": ...}
#
# The firmware sees real-hardware behaviour: DRDY falling edges call its Pin.irq handler synchronously (hard=True)
# or at the next shim call once the configured soft latency has passed (hard=False, like ESP32); sleeping advances
# the virtual clock and fires what falls due; every shim call costs a little virtual time so busy-wait loops progress.
#
# Runs under CPython and MicroPython (plain classes, no typing/dataclasses). The `machine` classes live at module
# level; install(hw) binds them to one SimHardware (a subclass each with the class attribute `hw`). The firmware tests
# (tests/firmware) and the virtual board use this one fake.

TICKS_PERIOD = 1 << 30  # MicroPython's ticks wrap (MICROPY_PY_TIME_TICKS_PERIOD on 32-bit ports)
TICKS_MASK = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD >> 1

DEFAULT_PROFILE = {
    "spi": {"id": 0, "baudrate": 4000000, "sck": 18, "mosi": 19, "miso": 16},
    "pins": {"cs": [17, 20, 21], "drdy": 22, "start": 26, "reset": 27, "pwdn": 28},
}


class SimReset(BaseException):
    """machine.reset() / soft_reset() / watchdog expiry on the virtual board.

    A BaseException (like SystemExit): on a board machine.reset() never returns, so the firmware's own guards
    (``except Exception`` around a main-loop step) must not catch it."""


def _model():
    try:
        from perifacial.host.sim import ads1299_model  # CPython package

        return ads1299_model
    except ImportError:
        import ads1299_model  # MicroPython: both files side by side on sys.path

        return ads1299_model


def pin_key(p):
    """Normalise a pin id: 17, "17", "GP17", "GPIO17" -> 17; other names unchanged; Pin objects -> their id."""
    if hasattr(p, "_sim_id"):
        return p._sim_id
    if isinstance(p, str):
        s = p
        for pre in ("GPIO", "GP", "P"):
            if s.startswith(pre) and s[len(pre) :].isdigit():
                return int(s[len(pre) :])
        if s.isdigit():
            return int(s)
        return s
    return p


def _as_list(v):
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


class _PinState:
    def __init__(self, key):
        self.key = key
        self.mode = 0  # IN
        self.pull = -1
        self.out = None  # driven level or None (not driven)
        self.ext = None  # externally forced input level
        self.handler = None
        self.trigger = 0
        self.hard = False
        self.last_level = None
        self.pin_obj = None


class SimHardware:
    """The virtual board: a DaisyChain wired to MCU pins per a board profile, a virtual clock and the IRQ machinery.

    Cost knobs (virtual microseconds): call_cost_us per shim call (ticks_us, Pin.value, ...), spi_overhead_us per SPI
    call before the first SCLK, soft_irq_latency_us for hard=False handlers (ESP32-like; a number, or a callable
    returning each IRQ's latency, e.g. random jitter). hw.advance(us) called from outside the firmware is a stalled
    main loop (a GC pause): hard IRQs still run on time.

    Soft IRQ edges: soft_irq_queue=False (default) keeps one pending flag per pin (edges while it is pending coalesce,
    counted in irq_coalesced); True queues every edge in order like MicroPython's scheduler (micropython.schedule,
    8 entries; a later edge never runs before an earlier one), so a late handler is followed by its queued
    duplicates. late_once_us (settable at any time): extra latency for the next IRQ only (a late handler call)."""

    def __init__(
        self,
        profile=None,
        chain=None,
        n_chips=None,
        clock_error=0.0,
        seed=1,
        t0_us=0.0,
        call_cost_us=1.0,
        spi_overhead_us=4.0,
        soft_irq_latency_us=50.0,
        ticks_offset_us=0,
        cpu_freq=125000000,
        soft_irq_queue=False,
        **chain_kw,
    ):
        prof = profile if profile is not None else DEFAULT_PROFILE
        self.profile = prof
        spi = prof.get("spi", {})
        ads = prof.get("ads", {})
        pins = prof.get("pins", ads)  # "pins" (MODEL.md) or the firmware's "ads" block (hardware/boards/*.json)
        cs = _as_list(pins.get("cs"))
        if not cs:
            i = 0
            while ("cs" + str(i)) in pins:
                cs.append(pins["cs" + str(i)])
                i += 1
        if chain is None:
            if n_chips is None:
                n_chips = prof.get("n_chips", prof.get("ads1299", {}).get("n_chips", len(cs) if len(cs) > 1 else 3))
            chain = _model().DaisyChain(n_chips=n_chips, clock_error=clock_error, seed=seed, t0_us=t0_us, **chain_kw)
        self.chain = chain
        self.now_us = float(t0_us)
        self.call_cost_us = call_cost_us
        self.spi_overhead_us = spi_overhead_us
        self.soft_irq_latency_us = soft_irq_latency_us
        self.soft_irq_queue = soft_irq_queue
        self.late_once_us = 0
        self.ticks_offset_us = ticks_offset_us
        self.cpu_freq = cpu_freq
        self.spi_id = spi.get("id", 0)
        self.spi_pins = (pin_key(spi.get("sck", spi.get("sclk"))), pin_key(spi.get("mosi")), pin_key(spi.get("miso")))
        self.spi_baudrate_default = spi.get("baudrate", 1000000)
        # role of each MCU pin: key -> (role, chip index or None)
        self.roles = {}
        n = chain.n_chips
        if len(cs) == 1:
            self.roles[pin_key(cs[0])] = ("cs", None)  # one CS for all chips (plain daisy chain)
        else:
            for i, p in enumerate(cs):
                self.roles[pin_key(p)] = ("cs", i)
        for role in ("start", "reset", "pwdn"):
            v = _as_list(pins.get(role))
            if len(v) == 1:
                self.roles[pin_key(v[0])] = (role, None)
            else:
                for i, p in enumerate(v):
                    self.roles[pin_key(p)] = (role, i)
        d = _as_list(pins.get("drdy"))
        for i, p in enumerate(d):
            self.roles[pin_key(p)] = ("drdy", i if i < n else 0)
        self.pins = {}
        self.irq_depth = 0
        self.in_spi = False
        self.irq_disabled = 0
        self.pending = []  # [due_us, pinstate or callable, arg, hard]
        self.scheduled = []  # micropython.schedule queue: (fn, arg)
        self.timers = []
        self.wdt = None
        self.spi_transfers = 0
        self.spi_bytes = 0
        self.irq_calls = 0
        self.irq_coalesced = 0  # edges that came while the same pin's IRQ was still pending (lost as IRQs)
        chain.on_drdy = self._on_drdy
        self.time = SimTime(self)
        self.machine = None
        self.micropython = SimMicropython(self)

    # --- violations ---------------------------------------------------------------------------------------------------
    @property
    def violations(self):
        return self.chain.violations

    def _violate(self, code, msg):
        self.chain._violate(self.now_us, None, code, msg)

    # --- the clock ----------------------------------------------------------------------------------------------------
    def _next_time(self, t=None):
        """The earliest of ``t`` (default: the chain's next event), due timers and pending IRQs (those only when
        they may run now)."""
        if t is None:
            t = self.chain.next_event_us()
        for tm in self.timers:
            if tm.active and (t is None or tm.next_us < t):
                t = tm.next_us
        if self.pending and self.irq_depth == 0 and not self.in_spi and not self.irq_disabled:
            for p in self.pending:
                if t is None or p[0] < t:
                    t = p[0]
        return t

    def run_until(self, target):
        """Advance the virtual clock to target (us), running conversions, IRQ handlers and timers that fall due."""
        if self.pending or self.scheduled:
            self._flush()
        chain = self.chain
        while True:
            ct = chain.next_event_us()
            t = self._next_time(ct) if self.timers or self.pending else ct
            if t is None or t > target:
                break
            if t > self.now_us:
                self.now_us = t
            if ct is not None and ct <= t:
                chain.process_next()
            if self.timers:
                for tm in self.timers:
                    if tm.active and tm.next_us <= t:
                        tm._fire()
            if self.pending or self.scheduled:
                self._flush(target)
        if target > self.now_us:
            self.now_us = target
        if chain.now_us < self.now_us:
            chain.now_us = self.now_us
        if self.wdt is not None:
            self._check_wdt()

    def advance(self, dt_us):
        self.run_until(self.now_us + dt_us)

    def advance_to(self, t_us):
        self.run_until(t_us)

    def _cost(self):
        if self.call_cost_us:
            self.run_until(self.now_us + self.call_cost_us)
        else:
            self._flush()

    def _check_wdt(self):
        w = self.wdt
        if w is not None and self.now_us - w.last_feed > w.timeout_us:
            self.wdt = None
            raise SimReset("watchdog timeout")

    # --- IRQs ---------------------------------------------------------------------------------------------------------
    def _on_drdy(self, t, chip):
        for key, (role, idx) in self.roles.items():
            if role == "drdy" and idx == chip:
                ps = self.pins.get(key)
                if ps is not None and ps.handler is not None and (ps.trigger & 4):  # IRQ_FALLING
                    self._raise(ps, t)

    def _raise(self, ps, t):
        queued = 0
        last = None
        for p in self.pending:
            if p[4] is ps:
                queued += 1
                last = p[0]
        if queued and (ps.hard or not self.soft_irq_queue or queued >= 8):
            # one pending flag per pin, like the hardware (or a full scheduler queue): the edge is lost as an IRQ
            self.irq_coalesced += 1
            return
        lat = self.soft_irq_latency_us
        due = t if ps.hard else t + (lat() if callable(lat) else lat)
        if self.late_once_us:
            due += self.late_once_us
            self.late_once_us = 0
        if last is not None and last > due:
            due = last  # the scheduler's queue is in order
        self.pending.append([due, ps.handler, ps.pin_obj, ps.hard, ps])

    def _flush(self, limit=None):
        if self.irq_depth or self.in_spi or self.irq_disabled:
            return
        # only what is due by now (at entry): a handler slower than its IRQ period cannot loop here forever
        if limit is None or limit > self.now_us:
            limit = self.now_us
        while True:
            ran = False
            if self.pending:
                self.pending.sort(key=lambda p: p[0])
                p = self.pending[0]
                if p[0] <= limit + 1e-9:
                    self.pending.pop(0)
                    self._run_handler(p[1], p[2])
                    ran = True
            if not ran and self.scheduled:
                fn, arg = self.scheduled.pop(0)
                self.irq_depth += 1
                try:
                    fn(arg)
                finally:
                    self.irq_depth -= 1
                ran = True
            if not ran:
                return

    def _run_handler(self, fn, arg):
        if fn is None:
            return
        self.irq_calls += 1
        self.irq_depth += 1
        try:
            fn(arg)
        finally:
            self.irq_depth -= 1

    # --- pins ---------------------------------------------------------------------------------------------------------
    def pin_state(self, key):
        ps = self.pins.get(key)
        if ps is None:
            ps = _PinState(key)
            self.pins[key] = ps
        return ps

    def pin_write(self, key, level):
        level = 1 if level else 0
        ps = self.pin_state(key)
        role = self.roles.get(key)
        if role is not None and role[0] == "drdy":
            self._violate("pin", "writing the DRDY pin (an ADS1299 output)")
            return
        ps.out = level
        if role is not None:
            self.chain.set_pin(role[0], level, self.now_us, role[1])

    def pin_read(self, key):
        ps = self.pin_state(key)
        role = self.roles.get(key)
        if role is not None and role[0] == "drdy":
            return self.chain.drdy_level(self.now_us, role[1])
        if ps.mode == 1 and ps.out is not None:
            return ps.out
        if ps.ext is not None:
            return ps.ext
        if ps.out is not None and ps.mode != 0:
            return ps.out
        return 1 if ps.pull == 1 else 0

    def set_input(self, key, level):
        """Drive an MCU input pin from outside (a button, a sync line); fires its IRQ on the edge."""
        key = pin_key(key)
        ps = self.pin_state(key)
        old = self.pin_read(key)
        ps.ext = 1 if level else 0
        if ps.handler is not None and old != ps.ext:
            if (ps.ext == 0 and ps.trigger & 4) or (ps.ext == 1 and ps.trigger & 8):
                self._raise(ps, self.now_us)
                self._flush()

    # --- SPI ----------------------------------------------------------------------------------------------------------
    def spi_transfer(self, spi, tx, rx, tx_zero):
        if spi.polarity != 0 or spi.phase != 1:
            self._violate(
                "spi-mode", f"SPI polarity={spi.polarity} phase={spi.phase}: the ADS1299 needs mode 1 (CPOL=0, CPHA=1)"
            )
        if spi.baudrate > 20000000:
            self._violate("sclk", f"SCLK {spi.baudrate} Hz above the ADS1299 maximum of 20 MHz")
        if spi.bits != 8 or spi.firstbit != 0:
            self._violate("spi-format", "SPI must be 8 bits, MSB first")
        self.run_until(self.now_us + self.spi_overhead_us)
        n = len(rx) if tx is None else len(tx)
        byte_us = 8e6 / spi.baudrate
        self.spi_transfers += 1
        self.spi_bytes += n
        if not spi.wired:
            if rx is not None:
                for i in range(len(rx)):
                    rx[i] = 0xFF
            self.run_until(self.now_us + n * byte_us)
            return
        self.in_spi = True
        try:
            t_end = self.chain.transfer(tx, rx, self.now_us, byte_us, tx_zero)
        finally:
            self.in_spi = False
        if spi.polarity != 0 or spi.phase != 1:
            if rx is not None and len(rx):  # wrong edge: every bit sampled one position late
                prev = 0
                for i in range(len(rx)):
                    b = rx[i]
                    rx[i] = ((prev & 1) << 7) | (b >> 1)
                    prev = b
        self.run_until(t_end)

    # --- conveniences -------------------------------------------------------------------------------------------------
    def modules(self):
        if self.machine is None:
            install(self)
        return {"machine": self.machine, "time": self.time, "utime": self.time, "micropython": self.micropython}

    def ticks_us(self):
        return (int(self.now_us) + self.ticks_offset_us) & TICKS_MASK


# ----------------------------------------------------------------------------------------------------------------------
# the `time` and `micropython` modules (one instance each per SimHardware)
# ----------------------------------------------------------------------------------------------------------------------
class SimTime:
    """The `time` (and `utime`) module of one SimHardware: ticks on the virtual clock (each call costs call_cost_us)."""

    def __init__(self, hw):
        self.__name__ = "time"
        self.hw = hw
        try:
            import time as _real

            if hasattr(_real, "gmtime"):
                self.gmtime = _real.gmtime
                self.localtime = _real.gmtime
        except ImportError:
            pass

    def ticks_us(self):
        hw = self.hw
        hw._cost()
        return (int(hw.now_us) + hw.ticks_offset_us) & TICKS_MASK

    def ticks_ms(self):
        hw = self.hw
        hw._cost()
        return ((int(hw.now_us) + hw.ticks_offset_us) // 1000) & TICKS_MASK

    def ticks_cpu(self):
        return self.ticks_us()

    def ticks_diff(self, a, b):
        return ((a - b + TICKS_HALF) & TICKS_MASK) - TICKS_HALF

    def ticks_add(self, a, d):
        return (a + d) & TICKS_MASK

    def sleep_us(self, us):
        hw = self.hw
        if us > 0:
            hw.run_until(hw.now_us + us)
        else:
            hw._cost()

    def sleep_ms(self, ms):
        self.sleep_us(ms * 1000)

    def sleep(self, s):
        self.sleep_us(s * 1000000.0)

    def time_ns(self):
        hw = self.hw
        hw._cost()
        return int(hw.now_us * 1000) + 1700000000 * 1000000000

    def time(self):
        return self.time_ns() // 1000000000


class SimMicropython:
    """The `micropython` module of one SimHardware: const, schedule (the 8-entry queue), no-op decorators."""

    def __init__(self, hw):
        self.__name__ = "micropython"
        self.hw = hw

    def const(self, x):
        return x

    def schedule(self, fn, arg):
        if len(self.hw.scheduled) >= 8:  # rp2/esp32 queue depth (MICROPY_SCHEDULER_DEPTH)
            raise RuntimeError("schedule queue full")
        self.hw.scheduled.append((fn, arg))

    def alloc_emergency_exception_buf(self, *a, **k):
        return None

    kbd_intr = alloc_emergency_exception_buf
    mem_info = alloc_emergency_exception_buf
    opt_level = alloc_emergency_exception_buf
    heap_lock = alloc_emergency_exception_buf
    heap_unlock = alloc_emergency_exception_buf

    def native(self, f):
        return f

    viper = native


# ----------------------------------------------------------------------------------------------------------------------
# the `machine` module: classes at module level, bound to one SimHardware by install() (class attribute `hw`)
# ----------------------------------------------------------------------------------------------------------------------
class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    hw = None  # the SimHardware (set on the subclass install() makes)

    def __init__(self, id, mode=-1, pull=-1, value=None, **kw):
        self._sim_id = pin_key(id)
        self._ps = self.hw.pin_state(self._sim_id)
        self._ps.pin_obj = self
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        ps = self._ps
        if mode != -1 and mode is not None:
            ps.mode = mode
        if pull != -1:
            ps.pull = pull
        if value is not None:
            self.hw.pin_write(self._sim_id, value)
        elif ps.mode == 1 and ps.out is not None:
            self.hw.pin_write(self._sim_id, ps.out)

    def value(self, x=None):
        hw = self.hw
        hw._cost()
        if x is None:
            return hw.pin_read(self._sim_id)
        hw.pin_write(self._sim_id, x)
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(0 if self.hw.pin_read(self._sim_id) else 1)

    def irq(self, handler=None, trigger=12, hard=False, **kw):
        hw = self.hw
        ps = self._ps
        ps.handler = handler
        ps.trigger = trigger
        ps.hard = bool(hard)
        role = hw.roles.get(self._sim_id)
        if role is not None and role[0] == "drdy" and handler is not None and (trigger & 8):
            hw.chain._warn(hw.now_us, None, "IRQ_RISING on DRDY is not modelled (only falling edges fire)")
        return Irq(ps)

    def __repr__(self):
        return f"Pin({self._sim_id})"


class Irq:
    """What Pin.irq() returns."""

    def __init__(self, ps):
        self._ps = ps

    def trigger(self, t=None):
        return self._ps.trigger

    def flags(self):
        return self._ps.trigger


class SPI:
    MSB = 0
    LSB = 1
    hw = None

    def __init__(
        self, id=0, baudrate=None, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None, **kw
    ):
        self.id = id
        self.baudrate = self.hw.spi_baudrate_default
        self.polarity, self.phase, self.bits, self.firstbit = 0, 0, 8, 0  # machine.SPI's defaults
        self.sck = self.mosi = self.miso = None
        self.init(baudrate, polarity, phase, bits, firstbit, sck, mosi, miso)

    def _check(self):
        hw = self.hw
        pins = (self.sck, self.mosi, self.miso)
        wired = self.id == hw.spi_id or self.id == -1
        for want, got in zip(hw.spi_pins, pins):
            if got is not None and want is not None and pin_key(got) != want:
                wired = False
        if self.id == -1 and None in pins:
            wired = False
        self.wired = wired
        if not wired:
            hw._violate(
                "spi-wiring",
                f"SPI(id={self.id}, sck={self.sck}, mosi={self.mosi}, miso={self.miso}) is not the bus the ADS1299 "
                "chain is on "
                f"(board: id {hw.spi_id}, pins {hw.spi_pins})",
            )

    def init(
        self, baudrate=None, polarity=None, phase=None, bits=None, firstbit=None, sck=None, mosi=None, miso=None, **kw
    ):
        given = dict(baudrate=baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit)
        for name, value in dict(given, sck=sck, mosi=mosi, miso=miso).items():
            if value is not None:  # as machine.SPI.init: what is not given stays as it was
                setattr(self, name, value)
        self._check()

    def deinit(self):
        pass

    def write(self, buf):
        self.hw.spi_transfer(self, buf, None, False)
        return None

    def read(self, nbytes, write=0):
        rx = bytearray(nbytes)
        if write == 0:
            self.hw.spi_transfer(self, None, rx, True)
        else:
            self.hw.spi_transfer(self, bytes([write]) * nbytes, rx, False)
        return bytes(rx)

    def readinto(self, buf, write=0):
        if write == 0:
            self.hw.spi_transfer(self, None, buf, True)
        else:
            self.hw.spi_transfer(self, bytes([write]) * len(buf), buf, False)
        return None

    def write_readinto(self, write_buf, read_buf):
        if len(write_buf) != len(read_buf):
            raise ValueError("buffers must be the same length")
        wb = bytes(write_buf)
        self.hw.spi_transfer(self, wb, read_buf, wb.count(0) == len(wb))
        return None


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, polarity=0, phase=0, bits=8, firstbit=0, sck=None, mosi=None, miso=None):
        SPI.__init__(self, -1, baudrate, polarity, phase, bits, firstbit, sck, mosi, miso)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1
    hw = None

    def __init__(self, id=-1, mode=1, freq=-1, period=-1, callback=None, tick_hz=1000, hard=False, **kw):
        self.active = False
        self.next_us = 0.0
        if callback is not None:
            self.init(mode=mode, freq=freq, period=period, callback=callback, tick_hz=tick_hz, hard=hard)

    def init(self, mode=1, freq=-1, period=-1, callback=None, tick_hz=1000, hard=False, **kw):
        hw = self.hw
        if freq is not None and freq > 0:
            self.period_us = 1e6 / freq
        else:
            self.period_us = period * 1e6 / tick_hz
        self.mode = mode
        self.callback = callback
        self.next_us = hw.now_us + self.period_us
        self.active = True
        if self not in hw.timers:
            hw.timers.append(self)

    def _fire(self):
        if self.mode == 1:
            self.next_us += self.period_us
        else:
            self.active = False
        if self.callback is not None:
            self.hw.pending.append([self.hw.now_us, self.callback, self, True, self])

    def deinit(self):
        self.active = False
        if self in self.hw.timers:
            self.hw.timers.remove(self)


class PWM:
    hw = None

    def __init__(self, pin, freq=None, duty_u16=None, **kw):
        self.pin = pin
        self._freq = freq or 1000
        self._duty = duty_u16 or 0

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d

    def deinit(self):
        pass


class ADC:
    hw = None

    def __init__(self, pin, **kw):
        self.pin = pin

    def read_u16(self):
        return 0


class WDT:
    hw = None

    def __init__(self, id=0, timeout=5000):
        self.timeout_us = timeout * 1000.0
        self.last_feed = self.hw.now_us
        self.hw.wdt = self

    def feed(self):
        self.last_feed = self.hw.now_us


#: The classes of the `machine` module, bound to one SimHardware each by install().
CLASSES = (Pin, SPI, SoftSPI, Timer, PWM, ADC, WDT)


class Machine:
    """The `machine` module of one SimHardware: its classes (subclasses of the module-level ones with ``hw`` set) and
    its functions (methods, so ``machine.freq()`` reads like the module's)."""

    PWRON_RESET = 1
    WDT_RESET = 3
    SimReset = SimReset

    def __init__(self, hw):
        self.__name__ = "machine"
        self.hw = hw
        for cls in CLASSES:
            setattr(self, cls.__name__, type(cls.__name__, (cls,), {"hw": hw}))
        self.deepsleep = self.lightsleep

    def unique_id(self):
        return b"\xe6\x61\x41\x04\x03\x2c\x2b\x2a"

    def freq(self, hz=None):
        if hz is None:
            return self.hw.cpu_freq
        self.hw.cpu_freq = hz

    def reset(self):
        raise SimReset("machine.reset()")

    def soft_reset(self):
        raise SimReset("machine.soft_reset()")

    def idle(self):
        hw = self.hw
        t = hw._next_time()
        lim = hw.now_us + 1000.0  # the 1 ms system tick wakes idle() at the latest
        hw.run_until(lim if t is None or t > lim else t)

    def lightsleep(self, ms=None):
        self.hw.run_until(self.hw.now_us + (ms or 0) * 1000.0)

    def disable_irq(self):
        self.hw.irq_disabled += 1
        return 1

    def enable_irq(self, state=1):
        hw = self.hw
        if hw.irq_disabled:
            hw.irq_disabled -= 1
        hw._flush()

    def reset_cause(self):
        return 1

    def bootloader(self, *a):
        raise SimReset("machine.bootloader()")


def install(hw):
    """Make the `machine` module for this hardware (also stored as hw.machine) and return it."""
    hw.machine = Machine(hw)
    return hw.machine


def install_sys_modules(hw, names=("machine", "micropython")):
    """Put the shims into sys.modules (so `import machine` finds them); returns a function that restores the old
    entries. Include "time" only around importing firmware modules under CPython (pytest itself needs the real one)."""
    import sys

    mods = hw.modules()
    old = {}
    for n in names:
        old[n] = sys.modules.get(n)
        sys.modules[n] = mods[n]

    def restore():
        for n, m in old.items():
            if m is None:
                if n in sys.modules:
                    del sys.modules[n]
            else:
                sys.modules[n] = m

    return restore
