# Firmware logic scenarios that run unchanged under CPython (pytest imports this module) and under the real
# MicroPython runtime (tests/mpy/run.mjs loads it with the firmware modules at the top level). Each scenario
# returns a dict of measured facts and raises AssertionError on a failed check; pytest compares the two runtimes.
#
# MicroPython-compatible on purpose: no f-strings with format specs, no typing, no dataclasses, no numpy.
import json

try:
    from perifacial.firmware import app as fapp  # CPython: the installed package
    from perifacial.firmware import wire
except ImportError:
    import app as fapp  # MicroPython: modules at the top level, like on a board
    import wire

import machine_shim as S

PROFILE = {
    "name": "sim",
    "spi": {"id": 0, "baudrate": 8000000},
    "ads": {"cs": [10, 11, 12], "drdy": 13, "reset": 14, "start": 15, "pwdn": 16},
    "hard_irq": True,
    "idle_us": 1000,
    "ring": 256,
}


class MemLink:
    def __init__(self):
        self.out = bytearray()
        self.inp = bytearray()
        self.up = True
        self.busy = False

    def connected(self):
        return self.up

    def write(self, frame):
        if self.busy:
            return 0
        self.out.extend(frame)
        return len(frame)

    def read_into(self, mv):
        n = len(self.inp)
        if n > len(mv):
            n = len(mv)
        if n:
            mv[:n] = self.inp[:n]
            self.inp = self.inp[n:]
        return n


def decode(buf):
    """Split a byte stream into frames; every frame must be valid (this stream has no corruption)."""
    out = []
    off = 0
    while off < len(buf):
        n = wire.check(buf, off)
        assert n > 0, "invalid frame at offset %d (check=%d)" % (off, n)
        ftype, length, seq = wire.parse_header(buf, off)
        out.append((ftype, seq, bytes(buf[off + wire.HEADER_SIZE : off + wire.HEADER_SIZE + length])))
        off += n
    return out


def code24(b, o):
    v = (b[o] << 16) | (b[o + 1] << 8) | b[o + 2]
    return v - 0x1000000 if v & 0x800000 else v


class _ShimClock:
    """The rig's clock: host/sim's SimHardware virtual time (now, in us) and advance(us), a stalled main loop."""

    def __init__(self, hw):
        self.hw = hw

    @property
    def now(self):
        return self.hw.now_us

    def advance(self, us):
        self.hw.advance(us)


class Rig:
    """The firmware's App on host/sim's machine shim (the virtual board's `machine`), talking over a MemLink.

    Soft IRQs queue like MicroPython's scheduler (soft_irq_queue=True): a late handler call is followed by the calls
    of the DRDYs that fell meanwhile."""

    def __init__(self, seed=1, clock_error=0.0, profile=None, boot=True):
        self.profile = profile or PROFILE
        a = self.profile["ads"]
        pins = {"cs": a["cs"], "drdy": a["drdy"]}
        for k in ("reset", "start", "pwdn"):
            pins[k] = a[k]
        hw = S.SimHardware(
            {"spi": self.profile["spi"], "pins": pins}, clock_error=clock_error, seed=seed, soft_irq_queue=True
        )
        self.chain = hw.chain
        self.hw = hw
        self.machine = S.install(hw)
        self.time = hw.time
        self.clock = _ShimClock(hw)
        self.link = MemLink()
        self.app = fapp.App(self.profile, self.machine, self.time, self.link)
        self.seq = 0
        self.pos = 0  # frames already returned by new_frames()
        self.frames = []
        if boot:
            assert self.app.boot(), self.app.fault

    def now_ms(self):
        return self.clock.now / 1000.0

    def send(self, obj):
        self.link.inp.extend(wire.encode(wire.T_COMMAND, self.seq, json.dumps(obj).encode()))
        self.seq += 1

    def collect(self):
        if self.link.out:
            self.frames.extend(decode(self.link.out))
            self.link.out = bytearray()
        return self.frames

    def cmd(self, name, **args):
        args["cmd"] = name
        args["id"] = 100 + self.seq
        cid = args["id"]
        self.send(args)
        for _ in range(2000):
            self.app.step()
            for f in self.collect()[self.pos :]:
                if f[0] == wire.T_RESPONSE:
                    r = json.loads(f[2])
                    if r.get("id") == cid:
                        self.pos = len(self.frames)
                        return r
        raise AssertionError("no reply to " + name)

    def run_ms(self, ms):
        end = self.clock.now + ms * 1000
        while self.clock.now < end:
            self.app.step()
        self.collect()

    def data(self):
        """[(first_sample, n_samples, flags, raw)] of the DATA frames received so far."""
        out = []
        for ftype, _seq, p in self.collect():
            if ftype == wire.T_DATA:
                fs, t, ns, nc, fl = wire.unpack_data_header(p)
                out.append((fs, ns, fl, p[wire.DATA_HDR_SIZE :]))
        return out

    def of_type(self, ftype):
        return [f for f in self.collect() if f[0] == ftype]

    def violations(self):
        return [str(v) for v in self.chain.violations]


def check_seq(frames):
    for i in range(1, len(frames)):
        assert frames[i][1] == (frames[i - 1][1] + 1) & 0xFFFFFFFF, "sequence gap at frame %d" % i


# -- scenarios ---------------------------------------------------------------------------------------------------------
def sc_boot_identify():
    r = Rig()
    ident = r.cmd("identify")
    assert ident["ok"] and ident["chips"] == 3 and ident["channels"] == 24, ident
    assert ident["ids"] == [0x3E, 0x3E, 0x3E], ident
    assert ident["fault"] is None
    v = r.cmd("version")
    assert v["wire"] == wire.VERSION
    regs = r.cmd("registers")["registers"]
    assert len(regs) == 3 and all(len(x) == 24 for x in regs)
    assert regs[0][1] == 0x90 | 0x20 | 4 and regs[1][1] == 0x94 and regs[2][1] == 0x94, regs  # CLK_EN on chip 0
    assert regs[0][3] == 0xEC and regs[1][3] == 0xE0, regs  # internal reference; bias on chip 0
    assert regs[0][5] == 0x60, regs  # CH1SET: gain 24, normal input
    assert r.violations() == [], r.violations()
    logs = r.of_type(wire.T_LOG)
    assert logs and logs[0][2][0] == wire.LOG_INFO
    return {"ids": ident["ids"], "regs0": regs[0][:5]}


def sc_stream(ms=2000, rate=1000, clock_error=0.0, profile=None):
    r = Rig(clock_error=clock_error, profile=profile)
    ramp_source(r.chain)
    if rate != 1000:
        assert r.cmd("set_config", rate=rate)["ok"]
    t0 = r.now_ms()
    assert r.cmd("start")["first_sample"] == 0
    r.run_ms(ms)
    stop = r.cmd("stop")
    elapsed = r.now_ms() - t0
    frames = r.collect()
    check_seq(frames)
    data = r.data()
    nxt = 0
    nsamp = 0
    for fs, ns, fl, raw in data:
        assert fs == nxt, "sample-index gap: %d != %d" % (fs, nxt)
        assert fl == 0, fl
        assert len(raw) == ns * 81
        for s in range(ns):
            for c in range(3):
                assert raw[s * 81 + c * 27] & 0xF0 == 0xC0
        nxt = fs + ns
        nsamp += ns
    assert stop["samples"] == nsamp and stop["lost"] == 0, (stop, nsamp)
    check_ramp(data)
    assert abs(nsamp - rate * elapsed / 1000.0) < rate * 0.02 + 10, (nsamp, elapsed)
    full = [d for d in data if d[1] == 10]
    over = (wire.OVERHEAD + wire.DATA_HDR_SIZE) / (wire.frame_size(wire.data_payload_size(10, 3)))
    assert over <= 0.05, over
    assert r.violations() == [], r.violations()[:3]
    st = r.cmd("status")
    assert st["overruns"] == 0 and st["status_errors"] == 0
    return {"samples": nsamp, "frames": len(data), "full_frames": len(full), "overhead": over}


def sc_stream_cs_toggle():
    """The same stream with chip-selects raised after every DRDY read (profile cs_hold: false)."""
    p = {}
    for k in PROFILE:
        p[k] = PROFILE[k]
    p["cs_hold"] = False
    return sc_stream(ms=500, profile=p)


def channel_series(data, ch):
    out = []
    o = 3 + (ch >> 3) * 27 + (ch & 7) * 3
    for _fs, ns, _fl, raw in data:
        for s in range(ns):
            out.append(code24(raw, s * 81 + o))
    return out


def rising_edges(x):
    e = []
    for i in range(1, len(x)):
        if x[i - 1] < 0 <= x[i]:
            e.append(i)
    return e


def sc_test_signal(rate=1000, clock_error=0.0, channels=(0, 9, 23)):
    r = Rig(clock_error=clock_error)
    assert r.cmd("set_config", mux="test", rate=rate)["ok"]
    r.cmd("start")
    r.run_ms(int(3.3 * 1024 * 1000 / 1000))
    r.cmd("stop")
    data = r.data()
    periods = []
    for ch in channels:
        x = channel_series(data, ch)
        e = rising_edges(x)
        assert len(e) >= 2, (ch, e)
        d = [e[i + 1] - e[i] for i in range(len(e) - 1)]
        periods.append(d)
        for p in d:
            assert p == 1024 * rate // 1000, (ch, d)
        hi = max(x)
        lo = min(x)
        amp_uv = (hi - lo) / 2 * 2 * 4.5e6 / 24 / 16777216
        assert 1700 < amp_uv < 2050, amp_uv  # +-VREF/2.4 mV = 1.875 mV, plus noise
    return {"periods": periods}


def sc_overrun():
    r = started_rig(300)
    # the main loop stalls (a long GC, a blocking call): DRDY keeps firing, the 256-slot ring fills up
    r.clock.advance(500 * 1000)
    r.run_ms(300)
    stop = r.cmd("stop")
    data = r.data()
    gaps = []
    flagged = 0
    nxt = 0
    got = 0
    for fs, ns, fl, _raw in data:
        if fs != nxt:
            gaps.append((nxt, fs - nxt))
            assert fl & wire.FLAG_OVERRUN, "gap without FLAG_OVERRUN"
            flagged += 1
        nxt = fs + ns
        got += ns
    st = r.cmd("status")
    lost = sum([g[1] for g in gaps])
    assert len(gaps) == 1, gaps
    assert lost == st["overruns"] == r.app.acq.lost_full, (lost, st)
    # 500 ms stalled: 500 samples, 256 of them fit in the ring, less the up to one batch (app.BATCH_MS of samples)
    # the main loop had let gather there before the stall
    assert 230 <= lost <= 260 + r.app.batch, lost
    assert got + lost == stop["samples"], (got, lost, stop)
    check_ramp(data)
    return {"gap": list(gaps[0]), "lost": lost}


def started_rig(ms, **kw):
    """A :class:`Rig` (``kw``) on the :func:`ramp_source`, started and run for ``ms`` ms."""
    r = Rig(**kw)
    ramp_source(r.chain)
    assert r.cmd("start")["ok"]
    r.run_ms(ms)
    return r


def ramp_source(chain):
    """Normal-input channels read code = conversion index + 1000 * channel: every sample tells its own index."""
    nch = chain.n_chips * 8
    pos = [0]

    def fn(n):
        k0 = pos[0]
        pos[0] += n
        return [[k0 + i + 1000 * c for i in range(n)] for c in range(nch)]

    chain.set_source_codes(fn)


def check_ramp(data):
    """Every sample's ramp value minus its labelled index is the same constant: labels are exact."""
    off = None
    for fs, ns, _fl, raw in data:
        for s in range(ns):
            v = code24(raw, s * 81 + 3) - (fs + s)
            if off is None:
                off = v
            assert v == off, "sample %d carries the data of sample %d" % (fs + s, fs + s + v - off)
            assert code24(raw, s * 81 + 27 + 3 + 3) - code24(raw, s * 81 + 3) == 9000  # channel 9 vs 0
    return off


def sc_late_reads():
    """Soft-IRQ latency: a handler that runs 2.6 sample periods late reads the newest conversion and counts the rest."""
    p = {}
    for k in PROFILE:
        p[k] = PROFILE[k]
    p["hard_irq"] = False
    r = started_rig(100, profile=p)  # injects late handler calls (SimHardware.late_once_us)
    r.hw.late_once_us = 2600  # the next DRDY is handled 2.6 periods late (DRDYs meanwhile queue behind it)
    r.run_ms(100)
    r.hw.late_once_us = 1400
    r.run_ms(100)
    stop = r.cmd("stop")
    data = r.data()
    nxt = 0
    gaps = []
    got = 0
    for fs, ns, fl, _raw in data:
        if fs != nxt:
            gaps.append((nxt, fs - nxt))
            assert fl & wire.FLAG_OVERRUN
        nxt = fs + ns
        got += ns
    acq = r.app.acq
    assert acq.lost_late == 3 and acq.lost_full == 0 and acq.dup == 3, (acq.lost_late, acq.dup)
    assert [g[1] for g in gaps] == [2, 1], gaps
    assert got + acq.lost_late == stop["samples"]
    check_ramp(data)
    return {"lost_late": acq.lost_late, "dup": acq.dup, "gaps": gaps}


def sc_commands():
    r = Rig()
    u = r.cmd("frobnicate")
    assert not u["ok"] and "unknown command" in u["error"] and "selftest" in u["error"], u
    m = r.cmd("set_config", gain=5)
    assert not m["ok"] and "gain" in m["error"], m
    m2 = r.cmd("set_config", colour="red")
    assert not m2["ok"] and "unknown setting" in m2["error"], m2
    # malformed JSON, a non-object, a missing cmd, a CRC error, a non-COMMAND frame: an error reply each
    r.link.inp.extend(wire.encode(wire.T_COMMAND, 1, b"{not json"))
    r.link.inp.extend(wire.encode(wire.T_COMMAND, 2, b"[1, 2]"))
    r.link.inp.extend(wire.encode(wire.T_COMMAND, 3, b'{"id": 7}'))
    bad = bytearray(wire.encode(wire.T_COMMAND, 4, b'{"id": 8, "cmd": "status"}'))
    bad[12] ^= 0x55
    r.link.inp.extend(bad)
    r.link.inp.extend(b"\x00garbage\xa5")
    r.link.inp.extend(wire.encode(wire.T_DATA, 5, b"x"))
    for _ in range(5):
        r.app.step()
    errs = [json.loads(f[2]) for f in r.of_type(wire.T_RESPONSE)[-5:]]
    texts = [e["error"] for e in errs]
    assert all([not e["ok"] for e in errs]), errs
    assert "not JSON" in texts[0] and "JSON object" in texts[1] and "missing 'cmd'" in texts[2], texts
    assert "CRC" in texts[3] and "not a COMMAND" in texts[4], texts
    st = r.cmd("status")
    assert st["bad_commands"] == 8, st
    assert st["rx_discarded"] > 8, st
    # still alive and streaming after the garbage
    r.cmd("start")
    assert not r.cmd("start")["ok"]
    assert not r.cmd("set_config", rate=500)["ok"]
    r.run_ms(50)
    r.cmd("stop")
    assert len(r.data()) >= 3
    h = r.cmd("help")
    # a header announcing 3000 bytes that never come: dropped after the receive timeout, the next command answers
    r.link.inp.extend(wire.encode(wire.T_COMMAND, 9, b"x" * 3000)[:40])
    r.app.step()
    t0 = r.now_ms()
    ident = r.cmd("identify")
    assert ident["ok"] and r.now_ms() - t0 < 1000, r.now_ms() - t0
    trunc = [json.loads(f[2])["error"] for f in r.of_type(wire.T_RESPONSE) if b"truncated" in f[2]]
    assert len(trunc) == 1, trunc
    r.cmd("start")
    q = r.cmd("repl")
    assert q["ok"] and q["repl"] and r.app.exit_requested and not r.app.running
    return {"errors": texts, "commands": h["commands"]}


def sc_config():
    r = Rig()
    g = [24] * 24
    g[3] = 1
    g[12] = 8
    en = [True] * 24
    en[20] = False
    c = r.cmd("set_config", gain=g, enabled=en, rate=2000, samples_per_frame=20)
    assert c["ok"], c
    regs = r.cmd("registers")["registers"]
    assert regs[0][1] & 7 == 3 and regs[1][1] & 7 == 3  # DR 2 kSPS on every chip
    assert regs[0][5 + 3] == 0x00, hex(regs[0][8])  # gain 1 = code 000
    assert regs[1][5 + 4] == 0x40, hex(regs[1][9])  # gain 8 = code 100
    assert regs[2][5 + 4] == 0x80 | 0x60 | 1, hex(regs[2][9])  # channel 21 powered down, shorted
    cfg = r.cmd("get_config")["config"]
    assert cfg["rate"] == 2000 and cfg["gain"][3] == 1 and cfg["enabled"][20] is False
    r.cmd("start")
    r.run_ms(200)
    r.cmd("stop")
    data = r.data()
    assert data[0][1] == 20
    n = sum([d[1] for d in data])
    assert 360 <= n <= 420, n
    x = channel_series(data, 20)
    assert max(x) == 0 and min(x) == 0  # a powered-down channel reads 0 (DS p.27)
    assert r.violations() == [], r.violations()[:3]
    return {"samples": n}


def sc_display_marker(every=250):
    r = Rig()
    d = r.cmd("display", mode="board", every=every)
    assert d["ok"] and d["mode"] == "board", d
    r.cmd("start")
    r.run_ms(1100)
    m = r.cmd("marker", value=42)
    r.run_ms(100)
    r.cmd("stop")
    evs = [wire.unpack_event(f[2]) for f in r.of_type(wire.T_EVENT)]
    disp = [e for e in evs if e[0] == wire.EV_DISPLAY]
    marks = [e for e in evs if e[0] == wire.EV_MARKER]
    assert len(disp) >= 4, disp
    for i in range(len(disp)):
        assert disp[i][1] == i + 1 and disp[i][2] == (i + 1) * every, disp
    assert len(marks) == 1 and marks[0][1] == 42 and marks[0][2] == m["sample"]
    assert r.app.display.value == disp[-1][1]
    st = r.cmd("status")
    assert st["display"] == disp[-1][1]
    return {"display": [[e[1], e[2]] for e in disp], "marker": m["sample"]}


def sc_selftest(open_channel=5):
    r = Rig()
    if open_channel is not None:
        r.chain.set_electrode_open(open_channel, positive=True)
    s = r.cmd("selftest")
    assert s["ok"], s
    assert s["pass"] is True, s
    assert [c["id"] for c in s["chips"]] == [0x3E] * 3 and all([c["regs_ok"] for c in s["chips"]])
    ts = s["test_signal"]
    assert ts["expected_period"] == 1024 and ts["period"] == [1024] * 24, ts["period"]
    nz = s["noise"]
    assert len(nz["rms_uv"]) == 24 and all([0.05 < x < 1.0 for x in nz["rms_uv"]]), nz["rms_uv"]
    lo = s["lead_off"]
    want = [i == open_channel for i in range(24)]
    assert lo["p"] == want and lo["n"] == [False] * 24, lo
    assert s["lost"] == 0
    assert r.violations() == [], r.violations()[:3]
    imp = r.cmd("impedance", current_na=6)
    assert imp["ok"] and len(imp["impedance_kohm"]) == 24 and imp["impedance_kohm"][open_channel] is None, imp
    assert imp["p"] == want
    assert not r.cmd("impedance", current_na=6000)["ok"]
    lo24 = r.cmd("leadoff", current_na=24)
    assert lo24["p"] == want and lo24["current_na"] == 24
    # the configuration is restored afterwards
    regs = r.cmd("registers")["registers"]
    assert regs[0][5] == 0x60 and regs[0][4] == 0
    return {"keys": sorted(s.keys()), "noise_rms0": nz["rms_uv"][0], "amp": ts["amplitude_uv"][0]}


def sc_link_drop():
    """A link without a peer: frames are dropped and counted; the host sees seq and sample-index gaps."""
    r = Rig()
    r.cmd("start")
    r.run_ms(100)
    r.link.up = False
    r.run_ms(100)
    r.link.up = True
    r.run_ms(100)
    stop = r.cmd("stop")
    data = r.data()
    nxt = 0
    lost = 0
    flagged = 0
    for fs, ns, fl, _raw in data:
        if fs != nxt:
            lost += fs - nxt
            assert fl & wire.FLAG_OVERRUN
            flagged += 1
        nxt = fs + ns
    assert flagged == 1 and 90 <= lost <= 110, (flagged, lost)
    assert stop["lost"] == lost, (stop, lost)
    return {"lost": lost}


def sc_machine_shim_stream():
    """The firmware on host/sim's own machine shim (the one the virtual board uses): boot, stream 1 s, no gaps,
    no datasheet violations; with the shim's default costs (1 us of virtual time per shim call) and its default
    soft-IRQ model, without the Rig."""
    fw = {}
    for k in PROFILE:
        fw[k] = PROFILE[k]
    a = PROFILE["ads"]
    hw = S.SimHardware(
        {
            "spi": {"id": 0, "baudrate": 8000000},
            "pins": {"cs": a["cs"], "drdy": a["drdy"], "reset": a["reset"], "start": a["start"], "pwdn": a["pwdn"]},
        },
        seed=3,
    )
    machine = S.install(hw)
    link = MemLink()
    app = fapp.App(fw, machine, hw.time, link)
    assert app.boot(), app.fault
    link.inp.extend(wire.encode(wire.T_COMMAND, 1, b'{"id": 1, "cmd": "start"}'))
    t_end = hw.now_us + 1000000
    while hw.now_us < t_end:
        app.step()
    app.stop()
    frames = decode(link.out)
    check_seq(frames)
    nxt = 0
    for ftype, _seq, p in frames:
        if ftype == wire.T_DATA:
            fs, t, ns, nc, fl = wire.unpack_data_header(p)
            assert fs == nxt and fl == 0, (fs, nxt, fl)
            nxt = fs + ns
    assert 950 <= nxt <= 1000, nxt
    v = [str(x) for x in hw.violations]
    assert v == [], v[:3]
    return {"samples": nxt}


def sc_backpressure():
    """A busy link (connected, not taking frames): the frame waits, the ring absorbs, then overruns are counted."""
    r = started_rig(100)
    r.link.busy = True
    r.run_ms(150)  # 150 samples: fit in the 256-slot ring, nothing lost
    r.link.busy = False
    r.run_ms(100)
    r.link.busy = True
    r.run_ms(500)  # 500 samples: the ring overflows
    r.link.busy = False
    r.run_ms(100)
    stop = r.cmd("stop")
    data = r.data()
    nxt = 0
    gaps = []
    for fs, ns, fl, _raw in data:
        if fs != nxt:
            gaps.append(fs - nxt)
            assert fl & wire.FLAG_OVERRUN
        nxt = fs + ns
    check_ramp(data)
    st = r.cmd("status")
    assert len(gaps) == 1 and gaps[0] == st["overruns"] == r.app.acq.lost_full, (gaps, st)
    assert st["frames_dropped"] == 0
    assert nxt == stop["samples"]
    return {"gaps": gaps}


def hostile_payloads(n, seed=12345):
    """The long-backslash command (the known crash: its error reply used to exceed the frame limit) and ``n``
    random garbage and oversized COMMAND payloads, from a fixed LCG (the same on both runtimes). Yields
    (payload bytes, announced_length or None); command ids are 1000000 and up."""
    state = [seed]

    def rnd(m):
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return state[0] % m

    alphabet = ["\\", '"', "a", "\u00e9", "\u2028", "\n", "{", "%", "\x00"]
    yield b"\\" * 2000, None  # ~2000 backslashes: not JSON
    yield b'{"id": 999999, "cmd": "' + b"\\\\" * 2030 + b'"}', None  # a command named by 2030 backslashes
    for i in range(n):
        kind = rnd(6)
        if kind == 0:  # random bytes
            yield bytes([rnd(256) for _ in range(rnd(300))]), None
        elif kind == 1:  # an unknown command with a long, escape-heavy name
            name = "".join([alphabet[rnd(len(alphabet))] for _ in range(rnd(1300))])
            yield json.dumps({"id": 1000000 + i, "cmd": name}).encode()[:4000], None
        elif kind == 2:  # set_config with a long unknown key
            yield ('{"id": %d, "cmd": "set_config", "%s": 1}' % (1000000 + i, "\\\\" * rnd(1500))).encode(), None
        elif kind == 3:  # a header announcing more than the board's receive buffer, with that many bytes after it
            size = 4083 + rnd(4000)
            yield b"\\" * size, size
        elif kind == 4:  # an id far beyond 32 bits
            yield ('{"id": %s, "cmd": "status"}' % ("9" * (1 + rnd(400)))).encode(), None
        else:  # a known command with a long bad value
            yield ('{"id": %d, "cmd": "display", "mode": "%s"}' % (1000000 + i, "\\\\" * rnd(1500))).encode(), None


def sc_hostile_commands(n=1000, rate=1000, record_ms=1000):
    """Garbage on the link while streaming: every bad command gets a bounded error reply, the main loop never
    stops, and not one sample is lost during the garbage and 1 s of recording after it."""
    r = Rig()
    ramp_source(r.chain)
    if rate != 1000:
        assert r.cmd("set_config", rate=rate)["ok"]
    assert r.cmd("start")["ok"]
    sent = 0
    for payload, announced in hostile_payloads(n):
        if announced is None:
            r.link.inp.extend(wire.encode(wire.T_COMMAND, r.seq, payload))
        else:  # wire.encode refuses a frame this long: build it by hand (header + payload + any 4 bytes)
            hdr = bytearray(wire.HEADER_SIZE)
            wire.pack_header(hdr, wire.T_COMMAND, r.seq, announced)
            r.link.inp.extend(bytes(hdr) + payload + b"\x00\x00\x00\x00")
        r.seq += 1
        sent += 1
        while len(r.link.inp) > 4096:
            r.app.guarded_step()
        r.app.guarded_step()
    for _ in range(20):
        r.app.guarded_step()
    r.run_ms(record_ms)
    st = r.cmd("status")
    stop = r.cmd("stop")
    assert r.app.loop_errors == 0, r.app.loop_errors
    replies = r.of_type(wire.T_RESPONSE)
    errors = [json.loads(f[2]) for f in replies if b'"ok": false' in f[2] or b'"ok":false' in f[2]]
    longest = max([len(f[2]) for f in replies])
    assert longest < 3000, longest  # bounded: at most 400 characters of text, escaped
    assert len(errors) >= sent and st["bad_commands"] >= sent, (len(errors), st["bad_commands"], sent)
    data = r.data()
    nxt = 0
    for fs, ns, fl, _raw in data:
        assert fs == nxt and fl == 0, (fs, nxt, fl)
        nxt = fs + ns
    check_ramp(data)
    assert stop["lost"] == 0 and stop["samples"] == nxt, (stop, nxt)
    assert nxt >= rate * record_ms // 1000, nxt
    assert r.violations() == [], r.violations()[:3]
    return {"sent": sent, "errors": len(errors), "samples": nxt, "longest_reply": longest}


def sc_drdy_stall():
    """The DRDY interrupt is lost while streaming (here: its handler removed behind the firmware's back): within a
    few sample periods the main loop reports the stall, re-arms, and streaming goes on; the samples missed meanwhile
    are a flagged, counted gap."""
    r = started_rig(100)
    r.app.drdy.irq(handler=None)
    r.run_ms(200)
    st = r.cmd("status")
    stop = r.cmd("stop")
    logs = [f[2] for f in r.of_type(wire.T_LOG) if f[2][0] == wire.LOG_WARNING and b"DRDY stall" in f[2]]
    assert st["drdy_stalls"] == 1 and len(logs) == 1, (st, logs)
    gaps = []
    nxt = 0
    for fs, ns, fl, _raw in r.data():
        if fs != nxt:
            assert fl & wire.FLAG_OVERRUN
            gaps.append(fs - nxt)
        nxt = fs + ns
    check_ramp(r.data())
    # the stall is found after 4 periods and at most one main-loop sleep (app.BATCH_MS) later
    assert len(gaps) == 1 and 4 <= gaps[0] <= 4 + 2 * r.app.batch, gaps
    assert stop["lost"] == gaps[0] and stop["samples"] == nxt and nxt > 250, (stop, nxt)
    return {"gap": gaps[0], "stalls": st["drdy_stalls"]}


SCENARIOS = {
    "drdy_stall": sc_drdy_stall,
    "hostile_commands": sc_hostile_commands,
    "backpressure": sc_backpressure,
    "machine_shim_stream": sc_machine_shim_stream,
    "boot_identify": sc_boot_identify,
    "stream": sc_stream,
    "stream_cs_toggle": sc_stream_cs_toggle,
    "test_signal": sc_test_signal,
    "overrun": sc_overrun,
    "late_reads": sc_late_reads,
    "commands": sc_commands,
    "config": sc_config,
    "display_marker": sc_display_marker,
    "selftest": sc_selftest,
    "link_drop": sc_link_drop,
}


def run(name):
    return SCENARIOS[name]()
