# The firmware application: builds the driver, acquisition, framer, display and command dispatch from a board
# profile, and runs the main loop. Everything the hardware provides is injected (`machine`, `time`, the link), so the
# same object runs on a board (main.py), under CPython with host/sim's machine shim, under the MicroPython
# WebAssembly runtime in the tests, and inside host/sim/virtual_board.py.
#
# Imports: on the board the modules sit at the top level (`import wire`); on the host they are the package
# `perifacial.firmware`. Every intra-firmware import is `try: from . import x / except ImportError: import x`: a
# relative import in a top-level module raises ImportError on both MicroPython ("can't perform relative import")
# and CPython, so the fallback runs exactly where it should (checked under MicroPython by tests/firmware).
try:
    from . import interlock, wire
    from .acquire import Acquirer
    from .ads1299 import ADS1299, MUX_NAMES, ADSError
    from .auth import Auth, FileStore
    from .commands import Commands
    from .framer import MAX_SAMPLES_PER_FRAME, Framer
    from .tm1637 import NullDisplay
except ImportError:
    import interlock  # type: ignore[no-redef]
    import wire  # type: ignore[no-redef]
    from acquire import Acquirer  # type: ignore[no-redef]
    from ads1299 import ADS1299, MUX_NAMES, ADSError  # type: ignore[no-redef]
    from auth import Auth, FileStore  # type: ignore[no-redef]
    from commands import Commands  # type: ignore[no-redef]
    from framer import MAX_SAMPLES_PER_FRAME, Framer  # type: ignore[no-redef]
    from tm1637 import NullDisplay  # type: ignore[no-redef]

VERSION = "0.1.0"
RATES = (500, 1000, 2000)
_MUX_BY_CODE = {}
for _k in MUX_NAMES:
    _MUX_BY_CODE[MUX_NAMES[_k]] = _k

HEARTBEAT_MS = 1000
RX_SIZE = 4096
BATCH_MS = 20  # while streaming the main loop frames about this much data per wake-up (ring: >= 96 ms at 2000 SPS)
STALL_PERIODS = 4  # no DRDY for this many sample periods while started: a stall (reported, DRDY IRQ re-armed)
STALL_REPEAT_US = 250000  # a stall that goes on is reported and re-armed again at most 4 times a second
RX_TIMEOUT_MS = 500  # a partial command frame older than this is dropped (resynchronise on what follows)
LOCAL_LINKS = ("usb", "sim")  # links where physical access is the proof: pair, bench, repl, reboot


def _board_id(machine):
    """Hex of the MCU's unique id (flash/eFuse serial), or "unknown" where the port has none."""
    try:
        import binascii

        return binascii.hexlify(machine.unique_id()).decode()
    except (AttributeError, ImportError):
        return "unknown"


def _dma_reader(spi_id, nbytes, rp2350):
    """The DMA reader (dmaspi.py) where the port has rp2.DMA, else None (the blocking read is used)."""
    try:
        try:
            from .dmaspi import DmaReader
        except ImportError:
            from dmaspi import DmaReader  # type: ignore[no-redef]
    except ImportError:
        return None
    return DmaReader(spi_id, nbytes, rp2350)


def default_config(n_ch):
    return {
        "rate": 1000,
        "gain": [24] * n_ch,
        "mux": ["normal"] * n_ch,
        "enabled": [True] * n_ch,
        "bias": True,
        "lead_off": None,  # or {"current_na": 6|24|6000|24000, "ac": bool}: lead-off flags while streaming
        "test_amp_2x": False,
        "samples_per_frame": 10,
        "srb1": False,
    }


def _per_channel(name, v, n, check):
    if isinstance(v, list):
        if len(v) != n:
            raise ValueError("%s: expected %d values, got %d" % (name, n, len(v)))
        vals = v
    else:
        vals = [v] * n
    for x in vals:
        check(x)
    return list(vals)


def _check_gain(g):
    if g not in (1, 2, 4, 6, 8, 12, 24):
        raise ValueError("gain %r not in [1, 2, 4, 6, 8, 12, 24]" % (g,))


def _check_mux(m):
    if m not in ("normal", "shorted", "test"):
        raise ValueError("mux %r not in ['normal', 'shorted', 'test']" % (m,))


def _check_bool(b):
    if not isinstance(b, bool):
        raise ValueError("enabled: expected true/false, got %r" % (b,))


class App:
    VERSION = VERSION

    def __init__(self, profile, machine, time, link, display=None, link_name="usb", store=None, montage=None):
        """``store``: where the pairing key lives (auth.FileStore("/auth.json") by default); ``montage``: the
        montage dict (hardware/montage.json) the lead-off interlock maps inputs to electrodes with."""
        self.profile = profile
        self.machine = machine
        self.time = time
        self.link = link
        self.link_name = link_name
        ads_p = profile.get("ads", {})
        spi_p = profile.get("spi", {})
        Pin = machine.Pin
        kw = {"baudrate": spi_p.get("baudrate", 4000000), "polarity": 0, "phase": 1}
        for k in ("sck", "mosi", "miso"):
            if k in spi_p:
                kw[k] = Pin(spi_p[k])
        self.spi = machine.SPI(spi_p.get("id", 0), **kw)
        cs = [Pin(p, Pin.OUT, value=1) for p in ads_p.get("cs", [0, 1, 2])]
        self.n_chips = len(cs)
        self.drdy = Pin(ads_p.get("drdy", 3), Pin.IN)

        def opt(name):
            p = ads_p.get(name)
            return None if p is None else Pin(p, Pin.OUT, value=1 if name != "start" else 0)

        self.ads = ADS1299(self.spi, cs, self.drdy, time, reset=opt("reset"), start=opt("start"), pwdn=opt("pwdn"))
        self.hard_irq = bool(profile.get("hard_irq", True))
        self.idle_us = int(profile.get("idle_us", 500))
        # the rates this board's measured budget supports (profile "rates", each with its figure in "rates_budget";
        # `perifacial emulate` measures them); set_config refuses the others, identify advertises only these
        self.rates = tuple([r for r in profile.get("rates", RATES) if r in RATES])
        self.config = default_config(self.n_chips * 8)
        if self.rates and self.config["rate"] not in self.rates:  # the default (1000) is beyond this board's budget
            self.config["rate"] = max(self.rates)
        # a board may frame more samples per DATA frame by default (fewer frames and USB writes per second: the
        # RP2040's budget at 2000 SPS); the host can still set any 1..MAX_SAMPLES_PER_FRAME
        spf = int(profile.get("samples_per_frame", self.config["samples_per_frame"]))
        if 1 <= spf <= MAX_SAMPLES_PER_FRAME:
            self.config["samples_per_frame"] = spf
        # cs_hold (default true): chip-selects stay low while streaming, a DRDY read is one SPI transfer
        self.cs_hold = bool(profile.get("cs_hold", True))
        reader = self.ads.make_reader(self.cs_hold)
        busy = None
        self.acq_path = "irq"  # DRDY IRQ, blocking SPI read in the handler
        if self.cs_hold and profile.get("spi_dma"):
            dma = _dma_reader(spi_p.get("id", 0), 27 * self.n_chips, profile.get("mcu") == "RP2350")
            if dma is not None:
                reader, busy = dma.read, dma.busy
                self.acq_path = "irq+dma"  # DRDY IRQ starts a DMA read and returns (rp2)
        self.acq = Acquirer(
            reader,
            self.n_chips,
            time,
            self.config["rate"],
            int(profile.get("ring", 256)),
            soft=not self.hard_irq,
            busy=busy,
        )
        self.framer = Framer(self.acq, link, self.n_chips, self.config["samples_per_frame"])
        self.display = display if display is not None else NullDisplay()
        self.commands = Commands(self)
        self.auth = Auth(store if store is not None else FileStore(), profile.get("board_id") or _board_id(machine))
        attach = getattr(link, "attach", None)
        if attach is not None:
            attach(self.auth, time)
        self.montage = montage
        self.bench = False  # lead-off interlock off (no participant); set over USB only, reported in STATUS
        self.rx = bytearray(RX_SIZE)
        self.rx_n = 0
        self.rx_discarded = 0
        self.rx_partial_t = None
        self._service = getattr(link, "service", None)
        self.bad_commands = 0
        self.running = False
        self.fault = None
        self.plans = None
        self.after_reply = None
        self.exit_requested = False
        self.collect_lost = 0
        self.disp_mode = "off"
        self.disp_every = 0
        self.disp_value = 0
        self.disp_next = 0
        # a short gc.collect() once per heartbeat keeps collections small and predictable instead of one long pause
        # when the heap runs out (matters on soft-IRQ ports, where a GC pause delays DRDY reads); 0 = off
        self.gc_every_ms = int(profile.get("gc_collect_ms", 0))
        self._gc = None
        if self.gc_every_ms:
            try:
                import gc

                self._gc = gc.collect
            except ImportError:
                pass
        self.t_gc = time.ticks_ms()
        self.t_boot = time.ticks_ms()
        self.t_beat = self.t_boot
        self._pin_falling = Pin.IRQ_FALLING
        self.wdt = None  # machine.WDT once run() starts it (profile wdt_ms)
        self.loop_errors = 0  # exceptions caught around a main-loop step
        self.stalls = 0  # DRDY stalls detected (and re-armed) since start
        self.t_started = 0
        self.t_rearm = 0
        self.batch = 1  # samples the main loop lets gather before framing (set by start())

    # -- bring-up -----------------------------------------------------------------------------------------------------
    def boot(self):
        """Power up and configure the chips; a fault is remembered and reported (identify, start), not raised."""
        try:
            self.ads.power_up()
            self.apply_config()
            self.framer.log(
                wire.LOG_INFO,
                "perifacial %s ready: %d chips, ids %s"
                % (VERSION, self.n_chips, " ".join(["0x%02X" % i for i in self.ads.ids])),
            )
        except ADSError as e:
            self.fault = e.args[0]
            self.framer.log(wire.LOG_ERROR, "ADS1299 fault: " + self.fault)
        return self.fault is None

    def plans_for(self, mux=None, lead_off=None):
        cfg = self.config
        plans = []
        lo = cfg["lead_off"]
        if lead_off is None and lo:
            lead_off = (lo["current_na"], bool(lo.get("ac", False)))
        for c in range(self.n_chips):
            a = c * 8
            b = a + 8
            muxes = [MUX_NAMES[m] for m in cfg["mux"][a:b]] if mux is None else [mux] * 8
            plans.append(
                self.ads.register_plan(
                    c,
                    cfg["rate"],
                    cfg["gain"][a:b],
                    muxes,
                    cfg["enabled"][a:b],
                    bias=cfg["bias"],
                    lead_off=lead_off,
                    test_amp_2x=cfg["test_amp_2x"],
                    srb1=cfg["srb1"],
                )
            )
        return plans

    def apply_config(self, mux=None, lead_off=None):
        plans = self.plans_for(mux, lead_off)
        bad = self.ads.apply(plans)
        if mux is None and lead_off is None:
            self.plans = plans
        if bad:
            raise ADSError("register read-back differs on chip(s) %s" % bad)
        self.acq.set_rate(self.config["rate"])

    def config_dict(self):
        return self.config

    def set_config(self, args):
        cfg = self.config
        new = {}
        for k in cfg:
            new[k] = cfg[k]
        n = self.n_chips * 8
        for k in args:
            v = args[k]
            if k == "rate":
                if v not in RATES:
                    raise ValueError("rate %r not in %r" % (v, list(RATES)))
                if v not in self.rates:
                    raise ValueError(
                        "rate %d is not supported on this board (%s): its measured CPU budget does not "
                        "carry it (board profile 'rates_budget'); supported: %r"
                        % (v, self.profile.get("name", "?"), list(self.rates))
                    )
                new[k] = v
            elif k == "gain":
                new[k] = _per_channel(k, v, n, _check_gain)
            elif k == "mux":
                new[k] = _per_channel(k, v, n, _check_mux)
            elif k == "enabled":
                new[k] = _per_channel(k, v, n, _check_bool)
            elif k in ("bias", "test_amp_2x", "srb1"):
                if not isinstance(v, bool):
                    raise ValueError("%s: expected true/false" % k)
                new[k] = v
            elif k == "lead_off":
                if v is not None:
                    if not isinstance(v, dict) or v.get("current_na", 6) not in (6, 24, 6000, 24000):
                        raise ValueError("lead_off: null or {'current_na': 6|24|6000|24000, 'ac': bool}")
                    v = {"current_na": v.get("current_na", 6), "ac": bool(v.get("ac", False))}
                new[k] = v
            elif k == "samples_per_frame":
                if not isinstance(v, int) or not 1 <= v <= MAX_SAMPLES_PER_FRAME:
                    raise ValueError("samples_per_frame must be 1..%d" % MAX_SAMPLES_PER_FRAME)
                new[k] = v
            else:
                raise ValueError("unknown setting %r (known: %s)" % (k, ", ".join(sorted(cfg))))
        lo = new["lead_off"]
        if lo:
            self.check_leadoff(lo["current_na"], new["enabled"], new["srb1"])
        self.config = new
        try:
            self.apply_config()
        except ADSError as e:
            self.config = cfg
            raise ValueError(e.args[0])
        self.framer.set_samples_per_frame(new["samples_per_frame"])

    def local_link(self):
        return self.link_name in LOCAL_LINKS

    def check_leadoff(self, current_na, enabled=None, srb1=None):
        """Raise ValueError (naming the electrode and the current) if lead-off at ``current_na`` per input would put
        more than interlock.LIMIT_NA through any electrode, unless bench mode is on."""
        cfg = self.config
        p, n = interlock.electrode_map(self.montage, self.n_chips * 8, cfg["srb1"] if srb1 is None else srb1)
        interlock.check(p, n, cfg["enabled"] if enabled is None else enabled, current_na, self.bench)

    # -- acquisition ---------------------------------------------------------------------------------------------------
    def _irq_on(self):
        if self.hard_irq:
            self.drdy.irq(trigger=self._pin_falling, handler=self.acq.handler, hard=True)
        else:
            self.drdy.irq(trigger=self._pin_falling, handler=self.acq.handler)

    def _irq_off(self):
        self.drdy.irq(handler=None)

    def start(self):
        self.acq.reset()
        self.framer.reset_stream()
        self.framer.reset_counters()
        if self.disp_mode == "board":
            self.disp_next = self.disp_every
        self.stalls = 0
        self.batch = max(self.framer.spf, self.config["rate"] * BATCH_MS // 1000)
        self._irq_on()
        self.ads.start(self.cs_hold)
        self.t_started = self.t_rearm = self.time.ticks_us()
        self.running = True

    def stop(self):
        self._irq_off()  # first: no DRDY read may run while stop() raises the chip-selects
        self.acq.wait_read()  # nor a DMA read still clocking (the stop commands share the SPI)
        self.ads.stop()
        self.running = False
        while self.acq.available():
            if not self.framer.poll():
                break
        self.framer.flush()

    def supported_rates(self):
        """The profile's rates that the link can also carry (identify)."""
        can = getattr(self.link, "can_carry", None)
        return [r for r in self.rates if can is None or can(self.bytes_per_s(r))]

    def bytes_per_s(self, rate):
        """Link bytes per second the DATA stream needs at ``rate`` (plus ~50 B/s of STATUS heartbeats)."""
        spf = self.config["samples_per_frame"]
        return rate * 27 * self.n_chips + (rate * (wire.OVERHEAD + wire.DATA_HDR_SIZE) + spf - 1) // spf + 50

    def lost(self):
        return self.acq.lost() + self.framer.dropped_samples

    def collect(self, n, consume, mux=None, lead_off=None, timeout_ms=None):
        """Acquire ``n`` samples with a temporary mux/lead-off setting, calling ``consume(index, view)`` for each,
        then restore the configuration. Returns the samples lost meanwhile (ring full or late)."""
        self.apply_config(mux, lead_off)
        acq = self.acq
        acq.reset()
        self._irq_on()
        self.ads.start(self.cs_hold)
        t = self.time
        if timeout_ms is None:
            timeout_ms = 2000 + n * 1000 // self.config["rate"] * 2
        t0 = t.ticks_ms()
        got = 0
        try:
            while got < n:
                if acq.available():
                    s = acq.peek()
                    consume(acq.index[s], acq.views[s])
                    acq.release()
                    got += 1
                else:
                    if t.ticks_diff(t.ticks_ms(), t0) > timeout_ms:
                        raise ADSError("no DRDY: %d of %d samples in %d ms" % (got, n, timeout_ms))
                    t.sleep_us(self.idle_us)
                    if self.wdt is not None:
                        self.wdt.feed()
        finally:
            self._irq_off()
            acq.wait_read()
            self.ads.stop()
            lost = acq.lost()
            self.collect_lost += lost
            self.apply_config()
        return lost

    # -- display and markers -------------------------------------------------------------------------------------------
    def set_display(self, mode, every, value):
        if every is not None:
            self.disp_every = every
        if mode is not None:
            if mode == "board" and self.disp_every < 1:
                raise ValueError("board mode needs 'every' (samples)")
            self.disp_mode = mode
            if mode == "board":
                c = self.acq.count if self.running else 0
                self.disp_next = (c // self.disp_every + 1) * self.disp_every
        out = {"mode": self.disp_mode, "every": self.disp_every}
        if value is not None:
            self.disp_value = value
            out["sample"] = self._show()
        out["value"] = self.disp_value
        return out

    def _show(self):
        """Show disp_value now; return the sample index it is latched at (first sample acquired with it shown)."""
        self.display.show(self.disp_value)
        s = self.acq.count if self.running else 0
        self.framer.event(wire.EV_DISPLAY, self.disp_value, s, self.time.ticks_us())
        return s

    def marker(self, value):
        s = self.acq.count if self.running else 0
        self.framer.event(wire.EV_MARKER, value, s, self.time.ticks_us())
        return s

    # -- status --------------------------------------------------------------------------------------------------------
    def status_values(self):
        t = self.time
        f = self.framer
        return (
            t.ticks_diff(t.ticks_ms(), self.t_boot) & 0xFFFFFFFF,
            self.acq.count,
            self.lost(),
            f.frames_sent,
            f.frames_dropped,
            f.status_errors,
            self.bad_commands,
            self.disp_value & 0xFFFFFFFF,
            (wire.STATUS_RUNNING if self.running else 0) | (wire.STATUS_BENCH if self.bench else 0),
        )

    def leave(self):
        """`repl` command: stop, give Ctrl-C back to the REPL and end run()."""
        self.framer.flush_ctrl()
        if self.running:
            self.stop()
        release = getattr(self.link, "release", None)
        if release is not None:
            release()
        self.exit_requested = True

    def reboot(self):
        self.framer.flush_ctrl()
        if self.running:
            self.stop()
        self.machine.reset()

    # -- link input ----------------------------------------------------------------------------------------------------
    def poll_link(self):
        n = self.rx_n
        rx = self.rx
        mv = memoryview(rx)
        got = 0
        if n < RX_SIZE:
            got = self.link.read_into(mv[n:])
            n += got
        expired = False
        if not got:
            # nothing new: only a partial frame that has waited too long needs attention
            t0 = self.rx_partial_t
            if t0 is None or not n:
                return False
            if self.time.ticks_diff(self.time.ticks_ms(), t0) < RX_TIMEOUT_MS:
                return False
            expired = True
        off = 0
        partial = False
        while off < n:
            if rx[off] != wire.MAGIC0:
                off += 1
                self.rx_discarded += 1
                continue
            hdr = wire.parse_header(mv[:n], off)
            if hdr is None:
                if n - off < wire.HEADER_SIZE and not expired:
                    partial = True
                    break  # maybe the start of a header: wait for more bytes
                off += 1
                self.rx_discarded += 1
                continue
            if hdr[1] + wire.OVERHEAD > RX_SIZE:
                self.commands.error(None, "bad frame: %d-byte payload is longer than %d" % (hdr[1], RX_SIZE - 14))
                off += 1
                self.rx_discarded += 1
                continue
            size = wire.check(mv[:n], off)
            if size < 0:
                if expired:
                    # the rest of this frame never came: drop its first byte and look for a frame inside
                    self.commands.error(
                        None,
                        "bad frame: truncated (%d of %d bytes, nothing more for %d ms)"
                        % (n - off, hdr[1] + wire.OVERHEAD, RX_TIMEOUT_MS),
                    )
                    expired = False
                    off += 1
                    self.rx_discarded += 1
                    continue
                partial = True
                break
            if size == 0:
                self.commands.error(None, "bad frame: CRC mismatch (type %d, %d bytes)" % (hdr[0], hdr[1]))
                off += 1
                self.rx_discarded += 1
                continue
            ftype = hdr[0]
            payload = bytes(mv[off + wire.HEADER_SIZE : off + size - wire.CRC_SIZE])
            off += size
            if ftype == wire.T_COMMAND:
                self.commands.handle(payload)
            else:
                self.commands.error(None, "bad frame: type %d is not a COMMAND" % ftype)
        if off:
            rx[: n - off] = rx[off:n]
            n -= off
        self.rx_n = n
        if partial:
            if off or self.rx_partial_t is None:
                self.rx_partial_t = self.time.ticks_ms()  # a (new) partial frame starts waiting now
        else:
            self.rx_partial_t = None
        return True

    # -- main loop -----------------------------------------------------------------------------------------------------
    def step(self):
        """One main-loop iteration; sleeps when there was nothing to do."""
        busy = self.poll_link()
        t = self.time
        if self.running:
            # frame in batches of about BATCH_MS of samples: on the emulated RP2040 every wake-up that frames a few
            # samples costs as much as framing a whole batch (measured with `perifacial emulate`)
            if self.acq.available() >= self.batch:
                if self.framer.poll():
                    busy = True
            elif self.check_drdy():
                busy = True
            if self.disp_mode == "board" and self.acq.count >= self.disp_next:
                self.disp_value += 1
                self._show()
                self.disp_next += self.disp_every
            if self.acq.near_limit():
                self.stop()
                self.framer.log(wire.LOG_ERROR, "sample index limit reached: acquisition stopped")
        elif self.framer.ctrl:
            self.framer.flush_ctrl()
        now = t.ticks_ms()
        if t.ticks_diff(now, self.t_beat) >= HEARTBEAT_MS:
            self.t_beat = now
            if self.running:
                self.acq.calibrate()
            self.framer.status(self.status_values())
        if self._gc is not None and t.ticks_diff(now, self.t_gc) >= self.gc_every_ms:
            self.t_gc = now
            self._gc()
        service = self._service
        if service is not None:
            service()
        if not busy:
            us = self.idle_us
            if self.running:
                # until the next batch is in the ring (commands wait at most that long: BATCH_MS); a full batch
                # that the link did not take (busy): try again after idle_us
                rem = self.batch - self.acq.available()
                if rem > 0:
                    us = rem * self.acq.period
            if self.running and self.disp_mode == "board":
                # wake between the DRDY of sample disp_next - 1 and the next one, so the display latches exactly
                period = self.acq.period
                rem = self.disp_next - self.acq.count
                if rem <= 1:
                    us = period // 4
                elif (rem - 1) * period < us:
                    us = (rem - 1) * period
            if us >= 1000:
                t.sleep_ms(us // 1000)  # rp2: waits in WFE; sleep_us busy-waits below 1 ms
            elif us > 0:
                t.sleep_us(us)

    def check_drdy(self):
        """While started: no DRDY for STALL_PERIODS sample periods is a stall (a lost edge, a chip that stopped):
        report it and re-arm the DRDY interrupt. Returns True when it re-armed."""
        acq = self.acq
        t = self.time
        now = t.ticks_us()
        last = self.t_started if acq.first else acq.t_last
        limit = STALL_PERIODS * acq.period
        if t.ticks_diff(now, last) < limit:
            return False
        if self.stalls and t.ticks_diff(now, self.t_rearm) < STALL_REPEAT_US:
            return False  # still stalled: report and re-arm again a little later, not on every loop
        self.stalls += 1
        self.t_rearm = now
        self._irq_off()
        self._irq_on()
        self.framer.log(
            wire.LOG_WARNING,
            "DRDY stall: no DRDY for %d us after sample %d; DRDY interrupt re-armed"
            % (t.ticks_diff(now, last), acq.count),
        )
        return True

    def guarded_step(self):
        """step(), and whatever it raises is reported (LOG error) instead of ending the main loop; acquisition
        goes on (the DRDY interrupt does not depend on the loop)."""
        try:
            self.step()
        except Exception as e:  # noqa: BLE001 - nothing from outside may stop the firmware
            self.loop_errors += 1
            try:
                self.framer.log(wire.LOG_ERROR, "main loop: %s: %s" % (type(e).__name__, e))
            except Exception:  # noqa: BLE001 - not even a failing report
                pass
        if self.wdt is not None:
            self.wdt.feed()

    def start_watchdog(self):
        """machine.WDT with the profile's ``wdt_ms`` (0 or absent: off; rp2 allows up to 8388 ms)."""
        ms = int(self.profile.get("wdt_ms", 0))
        wdt = getattr(self.machine, "WDT", None)
        if ms > 0 and wdt is not None:
            self.wdt = wdt(timeout=ms)

    def run(self):
        self.boot()
        self.start_watchdog()
        while not self.exit_requested:
            self.guarded_step()
