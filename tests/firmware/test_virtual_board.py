"""The virtual board: the firmware app on the ADS1299 model + machine shim, as a host byte stream."""

import json

import numpy as np

from perifacial.firmware import wire
from perifacial.host.sim.virtual_board import VirtualBoard


class Host:
    """A minimal host: sends commands, splits the stream into frames (the real decoder lives in perifacial.host)."""

    def __init__(self, vb):
        self.vb = vb
        self.buf = bytearray()
        self.frames = []
        self.seq = 0

    def pump(self, timeout=0.05):
        self.buf += self.vb.read(1 << 20, timeout)
        off = 0
        while True:
            n = wire.check(self.buf, off)
            if n <= 0:
                assert n == -1 or len(self.buf) - off < wire.HEADER_SIZE, "corrupt stream"
                break
            ftype, length, seq = wire.parse_header(self.buf, off)
            self.frames.append((ftype, seq, bytes(self.buf[off + 10 : off + 10 + length])))
            off += n
        del self.buf[:off]

    def cmd(self, name, **args):
        self.seq += 1
        args.update(id=self.seq, cmd=name)
        self.vb.write(wire.encode(wire.T_COMMAND, self.seq, json.dumps(args).encode()))
        for _ in range(200):
            self.pump()
            for f in self.frames:
                if f[0] == wire.T_RESPONSE:
                    r = json.loads(f[2])
                    if r.get("id") == self.seq:
                        return r
        raise AssertionError("no reply")

    def data(self):
        out = []
        for ftype, _seq, p in self.frames:
            if ftype == wire.T_DATA:
                fs, t, ns, nc, fl = wire.unpack_data_header(p)
                out.append((fs, ns, fl, p[12:]))
        return out

    def series(self, ch):
        o = 3 + (ch // 8) * 27 + (ch % 8) * 3
        vals = []
        for _fs, ns, _fl, raw in self.data():
            a = np.frombuffer(raw, dtype=np.uint8).reshape(ns, -1)
            v = (a[:, o].astype(np.int32) << 16) | (a[:, o + 1].astype(np.int32) << 8) | a[:, o + 2]
            vals.append(np.where(v & 0x800000, v - (1 << 24), v))
        return np.concatenate(vals)


def test_stream_is_gapless():
    vb = VirtualBoard(rate=1000, seed=3, clock_error_ppm=3000)
    h = Host(vb)
    ident = h.cmd("identify")
    assert ident["ids"] == [0x3E] * 3 and ident["board"].startswith("sim:")
    assert h.cmd("start")["ok"]
    v0 = vb.now_s
    while vb.now_s - v0 < 10.0:
        h.pump(0.5)
    h.cmd("stop")
    seqs = [f[1] for f in h.frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    nxt = 0
    for fs, ns, fl, _raw in h.data():
        assert fs == nxt and fl == 0
        nxt = fs + ns
    # the chip clock runs 0.3 % fast: the board delivers 0.3 % more samples per second of MCU time
    assert abs(nxt / (vb.now_s - v0) - 1003.0) < 15
    assert vb.violations() == []
    st = [wire.unpack_status(f[2]) for f in h.frames if f[0] == wire.T_STATUS]
    assert st and st[-1]["overruns"] == 0
    # (the virtual board's speed, virtual seconds per CPU second, is measured in bench/, not asserted here)


def test_source_hook_units():
    n_ch = 24

    class Ramp:
        def __init__(self):
            self.k = 0

        def read(self, n):  # uV, like perifacial.dsp.synth.SynthStream
            t = np.arange(self.k, self.k + n) / 1000.0
            self.k += n
            return np.tile(1000.0 * np.sin(2 * np.pi * 10 * t), (n_ch, 1))

    vb = VirtualBoard(rate=1000, seed=1, source=Ramp())
    h = Host(vb)
    h.cmd("start")
    vb.run_for(500)
    h.pump()
    h.cmd("stop")
    x = h.series(5) * 2 * 4.5e6 / 24 / 2**24  # uV at gain 24
    assert 990 < x.max() < 1010 and -1010 < x.min() < -990

    # a plain callable in volts
    vb2 = VirtualBoard(rate=500, seed=1, source=lambda n: np.full((n_ch, n), 0.002), source_units="V")
    h2 = Host(vb2)
    h2.cmd("start")
    vb2.run_for(200)
    h2.pump()
    y = h2.series(0) * 2 * 4.5e6 / 24 / 2**24
    assert abs(np.median(y) - 2000) < 5


def test_stall_shows_as_gap_and_display_is_sample_exact():
    vb = VirtualBoard(seed=2, source=False)
    h = Host(vb)
    assert h.cmd("display", mode="board", every=100)["ok"]
    h.cmd("start")
    vb.run_for(300)
    vb.stall(600)  # the main loop stops for 600 ms: 600 DRDYs, 256 fit in the ring
    vb.run_for(300)
    h.pump()
    h.cmd("stop")
    gaps = []
    nxt = 0
    for fs, ns, fl, _raw in h.data():
        if fs != nxt:
            gaps.append(fs - nxt)
            assert fl & wire.FLAG_OVERRUN
        nxt = fs + ns
    st = h.cmd("status")
    assert len(gaps) == 1 and gaps[0] == st["overruns"] == st["lost_ring_full"] > 300
    ev = [wire.unpack_event(f[2]) for f in h.frames if f[0] == wire.T_EVENT]
    disp = [(e[1], e[2]) for e in ev if e[0] == wire.EV_DISPLAY]
    # display changes land on exact multiples of 100 samples, except those that fell into the stall (late, and
    # honest about it: latched at the sample really acquired next)
    exact = [d for d in disp if d[1] == d[0] * 100]
    assert len(exact) >= 5 and vb.display_value == disp[-1][0]


def test_link_down_and_reboot():
    vb = VirtualBoard(seed=4, source=False)
    h = Host(vb)
    h.cmd("start")
    vb.run_for(100)
    vb.link_down(200)
    vb.run_for(100)
    h.pump()
    st = h.cmd("status")
    assert st["frames_dropped"] >= 19 and st["overruns"] >= 190
    seqs = [f[1] for f in h.frames]
    assert any(b - a > 1 for a, b in zip(seqs, seqs[1:]))  # the host sees the sequence gap
    r = h.cmd("reboot")
    assert r["ok"] and r["rebooting"]
    h.pump(1.0)
    assert vb.reboots == 1
    assert h.cmd("identify")["fault"] is None
    logs = [f[2] for f in h.frames if f[0] == wire.T_LOG]
    assert sum(1 for p in logs if b"ready" in p) == 2
    assert h.cmd("repl")["repl"] is True  # no REPL on the virtual board: the firmware starts over
    h.pump(1.0)
    assert vb.reboots == 2


class _FakeWallClock:
    """A wall clock the test advances: sleeping moves it forward, so pacing is checked without real time."""

    def __init__(self):
        self.t = 1000.0

    def monotonic(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_realtime_mode_paces_to_wall_clock(monkeypatch):
    from perifacial.host.sim import virtual_board

    clock = _FakeWallClock()
    monkeypatch.setattr(virtual_board, "_walltime", clock)
    vb = VirtualBoard(seed=5, source=False, realtime=True)
    h = Host(vb)
    h.cmd("start")
    v0, t0 = vb.now_s, clock.t
    while clock.t - t0 < 0.5:
        h.pump(0.05)
        clock.t += 0.01  # the host spends 10 ms between reads
    # the virtual board never runs ahead of the wall clock and keeps up with it (within one frame of samples)
    ahead = (vb.now_s - v0) - (clock.t - t0)
    assert -0.02 < ahead <= 0.001, ahead


def test_selftest_on_the_virtual_board():
    vb = VirtualBoard(seed=6)
    vb.set_electrode_open(17)
    h = Host(vb)
    s = h.cmd("selftest")
    assert s["ok"] and s["pass"], s
    assert s["test_signal"]["period"] == [1024] * 24
    assert [i for i, v in enumerate(s["lead_off"]["p"]) if v] == [17]


def test_esp32_profile_runs_with_a_soft_irq():
    vb = VirtualBoard(board="esp32s3", seed=7, source=False)
    h = Host(vb)
    assert h.cmd("identify")["hard_irq"] is False
    h.cmd("start")
    drdy = [ps for ps in vb.hw.pins.values() if ps.handler is not None]
    assert len(drdy) == 1 and drdy[0].hard is False  # scheduled like MicroPython's ESP32 pin IRQ
    vb.run_for(2000)
    h.pump()
    h.cmd("stop")
    nxt = 0
    for fs, ns, fl, _raw in h.data():
        assert fs == nxt and fl == 0
        nxt = fs + ns
    assert nxt > 1900 and vb.violations() == []


def test_two_chip_chain_with_the_default_source():
    vb = VirtualBoard(n_chips=2, seed=1, rate=500, samples_per_frame=20)
    h = Host(vb)
    ident = h.cmd("identify")
    assert ident["chips"] == 2 and ident["channels"] == 16 and ident["ids"] == [0x3E, 0x3E]
    h.cmd("start")
    vb.run_for(2500)
    h.pump()
    d = h.data()
    assert d[0][1] == 20 and len(d[0][3]) == 20 * 54
    assert sum(x[1] for x in d) > 1100 and vb.violations() == []


def test_hostile_commands_do_not_stop_the_virtual_board():
    """The long-backslash command and 1000 random garbage/oversized commands over the sim:// byte stream while it
    streams: each gets a bounded error reply, then 1 s is recorded without a lost sample (also run on the
    WebAssembly MicroPython: scenarios.sc_hostile_commands)."""
    from scenarios import hostile_payloads

    vb = VirtualBoard(rate=1000, seed=5)
    h = Host(vb)
    assert h.cmd("start")["ok"]
    sent = 0
    for payload, announced in hostile_payloads(1000):
        if announced is None:
            vb.write(wire.encode(wire.T_COMMAND, 1000 + sent, payload))
        else:
            hdr = bytearray(wire.HEADER_SIZE)
            wire.pack_header(hdr, wire.T_COMMAND, 1000 + sent, announced)
            vb.write(bytes(hdr) + payload + b"\0\0\0\0")
        sent += 1
        h.pump(0.002)
    v0 = vb.now_s
    while vb.now_s - v0 < 1.0:
        h.pump(0.5)
    st = h.cmd("status")
    stop = h.cmd("stop")
    replies = [f[2] for f in h.frames if f[0] == wire.T_RESPONSE]
    errors = [r for r in replies if json.loads(r)["ok"] is False]
    assert len(errors) >= sent and st["bad_commands"] >= sent
    assert max(len(r) for r in replies) < 3000
    assert st["loop_errors"] == 0 and not [f for f in h.frames if f[0] == wire.T_LOG and f[2][0] >= wire.LOG_ERROR]
    nxt = 0
    for fs, ns, fl, _raw in h.data():
        assert fs == nxt and fl == 0
        nxt = fs + ns
    assert stop["lost"] == 0 and stop["samples"] == nxt and nxt >= 1000
    assert vb.reboots == 0 and vb.violations() == []
