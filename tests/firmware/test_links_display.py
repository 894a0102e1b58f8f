"""Links (USB CDC, TCP, BLE) and the TM1637 driver, with fakes of the MicroPython modules (and real sockets)."""

import io
import json
import socket
import time

import pytest

import scenarios
from perifacial.firmware import links, tm1637, wire


# -- USB CDC -------------------------------------------------------------------------------------------------------------
class FakeStd:
    def __init__(self, data=b"", chunk=None):
        self.buffer = self
        self.data = bytearray(data)
        self.written = bytearray()
        self.chunk = chunk

    def write(self, b):
        n = len(b) if self.chunk is None else min(self.chunk, len(b))
        self.written += bytes(b[:n])
        return n

    def readinto(self, b):
        if not self.data:
            return 0
        b[0] = self.data.pop(0)
        return 1


class FakeSys:
    def __init__(self, data=b"", chunk=None):
        self.stdout = FakeStd(chunk=chunk)
        self.stdin = FakeStd(data)


class FakeSelect:
    POLLIN = 1

    def __init__(self, sysm):
        self.sysm = sysm

    def poll(self):
        outer = self

        class P:
            def register(self, obj, mask):
                self.obj = obj

            def poll(self, timeout):
                return [(self.obj, 1)] if outer.sysm.stdin.data else []

        return P()


class FakeMicropython:
    def __init__(self):
        self.kbd = None

    def kbd_intr(self, c):
        self.kbd = c


def test_usb_link_raw_bytes_ctrl_c_disabled_and_whole_frames():
    sysm = FakeSys(b"\x03\xa5\x5a")
    mp = FakeMicropython()
    link = links.UsbLink(sysm, FakeSelect(sysm), mp)
    assert mp.kbd == -1  # 0x03 in a command is data, not KeyboardInterrupt
    buf = bytearray(8)
    assert link.read_into(memoryview(buf)) == 3 and bytes(buf[:3]) == b"\x03\xa5\x5a"
    assert link.read_into(memoryview(buf)) == 0
    frame = wire.encode(wire.T_LOG, 1, b"\x14hello")
    sysm.stdout.chunk = 7  # the CDC takes 7 bytes per call (timeouts): the link finishes the frame
    assert link.write(frame) == len(frame) and bytes(sysm.stdout.written) == frame
    assert link.connected()
    link.release()  # the `repl` command: Ctrl-C works again
    assert mp.kbd == 3


# -- TCP ----------------------------------------------------------------------------------------------------------------
def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_tcp_link_accepts_backpressure_and_reconnects():
    port = _free_port()
    link = links.TcpLink(port, tx_size=4096)
    assert not link.connected()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    for _ in range(100):
        if link.connected():
            break
        time.sleep(0.01)
    assert link.connected() and link.accepts == 1
    link.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    # host -> board
    c.sendall(b"hello")
    buf = bytearray(16)
    got = 0
    for _ in range(100):
        got = link.read_into(memoryview(buf))
        if got:
            break
        time.sleep(0.01)
    assert bytes(buf[:got]) == b"hello"
    # board -> host: whole frames or nothing; a host that does not read fills the buffers -> busy, counted
    frame = wire.encode(wire.T_DATA, 0, bytes(822))
    sent = refused = 0
    for _ in range(100000):
        if link.write(frame):
            sent += 1
        else:
            refused += 1
            if refused > 5:
                break
    assert refused > 5 and link.busy == refused
    c.setblocking(True)
    c.settimeout(2)
    got = bytearray()
    while len(got) < sent * len(frame):
        link.service()
        try:
            d = c.recv(1 << 16)
        except socket.timeout:
            break
        got += d
    assert len(got) == sent * len(frame)
    assert all(wire.check(got, i * len(frame)) == len(frame) for i in range(sent))
    # the host disconnects: the link notices, counts, and accepts the next host
    c.close()
    for _ in range(200):
        link.read_into(memoryview(buf))
        link.write(frame)
        if link.conn is None:
            break
        time.sleep(0.01)
    assert link.conn is None and link.disconnects == 1
    c2 = socket.create_connection(("127.0.0.1", port))
    for _ in range(100):
        if link.connected():
            break
        time.sleep(0.01)
    assert link.accepts == 2
    c2.close()
    link.srv.close()


# -- BLE ----------------------------------------------------------------------------------------------------------------
class FakeBLE:
    def __init__(self):
        self.notified = []
        self.values = {}
        self.buffers_free = 1000

    def active(self, on):
        pass

    def config(self, **kw):
        pass

    def irq(self, h):
        self.h = h

    def gatts_register_services(self, svcs):
        return ((1, 2),)

    def gatts_set_buffer(self, h, n, append):
        pass

    def gap_advertise(self, interval, adv):
        self.adv = adv

    def gatts_read(self, h):
        return self.values[h]

    def gatts_notify(self, conn, h, data):
        if self.buffers_free <= 0:
            raise OSError(12)  # ENOMEM
        self.buffers_free -= 1
        self.notified.append(bytes(data))


class FakeBluetooth:
    def __init__(self):
        self.ble = FakeBLE()

    def BLE(self):
        return self.ble

    def UUID(self, s):
        return s


def test_ble_link_mtu_chunks_enomem_and_rate_refusal():
    bt = FakeBluetooth()
    link = links.BleLink("perifacial", bluetooth_mod=bt, notify_per_s=100)
    assert b"perifacial" in bt.ble.adv and not link.connected()
    link._irq(1, (7, 0, b""))  # central connected
    link._irq(21, (7, 185))  # MTU exchanged: 182-byte notifications
    assert link.capacity() == 182 * 100
    frame = wire.encode(wire.T_DATA, 0, bytes(822))
    assert link.write(frame) == len(frame)
    assert [len(x) for x in bt.ble.notified] == [182] * 4 + [len(frame) - 4 * 182]
    assert b"".join(bt.ble.notified) == frame
    bt.ble.buffers_free = 2  # NimBLE runs out of notification buffers: the rest stays staged, nothing dropped
    bt.ble.notified.clear()
    link.write(frame)
    assert len(bt.ble.notified) == 2 and link.tx_n == len(frame) - 2 * 182
    bt.ble.buffers_free = 100
    link.service()
    assert b"".join(bt.ble.notified) == frame and link.tx_n == 0
    # host -> board writes
    bt.ble.values[2] = b"\xa5\x5a"
    link._irq(3, (7, 2))
    buf = bytearray(4)
    assert link.read_into(memoryview(buf)) == 2 and bytes(buf[:2]) == b"\xa5\x5a"


class CapacityOf:
    """The rig's memory link for the bytes, another link's capacity (and limit reason) for the rate decision."""

    def __init__(self, data_link, limiter):
        self._data = data_link
        self._lim = limiter
        self.limit = getattr(limiter, "limit", None)

    def __getattr__(self, k):
        return getattr(self._data, k)

    def can_carry(self, bps):
        return self._lim.can_carry(bps)

    def capacity(self):
        return self._lim.capacity()


def test_ble_rate_the_link_cannot_carry_is_refused_or_lowered():
    r = scenarios.Rig()
    bt = FakeBluetooth()
    ble = links.BleLink(bluetooth_mod=bt, notify_per_s=300)
    ble._irq(1, (7, 0, b""))
    ble._irq(21, (7, 185))  # 182 x 300 = 54.6 kB/s: carries 500 SPS (~42 kB/s), not 1000 (~84 kB/s)

    r.app.link = CapacityOf(r.link, ble)
    refused = r.cmd("start")
    assert not refused["ok"] and "lower the rate" in refused["error"] and "54600" in refused["error"], refused
    assert not r.app.running
    ok = r.cmd("start", lower_rate=True)
    assert ok["ok"] and ok["rate"] == 500 and ok["lowered_from"] == 1000
    logs = [f[2] for f in r.of_type(wire.T_LOG)]
    assert any(b"rate lowered from 1000 to 500" in p for p in logs)
    r.cmd("stop")


def test_usb_link_slower_than_usb_refuses_rates_with_the_reason():
    """ESP32-S3 generic build: USB output is mirrored to UART0 at 115200 baud (profile link.usb_bytes_per_s 11520).
    identify advertises no rate on that link, and start refuses, naming the UART mirror, instead of losing data."""
    sysm = FakeSys()
    usb = links.UsbLink(sysm, FakeSelect(sysm), FakeMicropython(), capacity=11520,
                        limit="the generic ESP32-S3 MicroPython build mirrors USB output to UART0 at 115200 baud")
    assert usb.can_carry(11520) and not usb.can_carry(11521)
    assert links.UsbLink(sysm, FakeSelect(sysm), FakeMicropython()).can_carry(10**9)  # plain USB: no limit
    r = scenarios.Rig()

    r.app.link = CapacityOf(r.link, usb)
    assert r.cmd("identify")["rates"] == []
    refused = r.cmd("start")
    assert not refused["ok"] and "UART0 at 115200 baud" in refused["error"] and "11520" in refused["error"]
    low = r.cmd("start", lower_rate=True)
    assert not low["ok"] and "even 500 SPS needs" in low["error"] and "UART0" in low["error"]
    assert not r.app.running


def test_profile_rates_limit_identify_and_set_config():
    """A board profile lists the rates its measured budget supports: identify advertises those, set_config refuses
    the others with the reason, and the default rate falls back to the highest supported one."""
    r = scenarios.Rig(profile={**scenarios.PROFILE, "rates": [500], "name": "slowboard"})
    assert r.cmd("identify")["rates"] == [500]
    assert r.cmd("get_config")["config"]["rate"] == 500
    bad = r.cmd("set_config", rate=1000)
    assert not bad["ok"] and "rate 1000 is not supported on this board (slowboard)" in bad["error"]
    assert "supported: [500]" in bad["error"]


# -- TM1637 ------------------------------------------------------------------------------------------------------------
class Wire2:
    """Records the TM1637 bus: decodes bytes from CLK/DIO levels (LSB first, data valid on CLK rising)."""

    def __init__(self):
        self.clk = 1
        self.dio = 1
        self.bytes = []
        self.cur = []
        self.events = []

    def pin(self, name):
        bus = self

        class P:
            def value(self, v=None):
                if v is None:
                    return getattr(bus, name)
                old_clk, old_dio = bus.clk, bus.dio
                setattr(bus, name, v)
                if name == "dio" and bus.clk == 1 and old_dio == 1 and v == 0:
                    bus.events.append("start")
                    bus.cur = []
                elif name == "dio" and bus.clk == 1 and old_dio == 0 and v == 1:
                    bus.events.append("stop")
                elif name == "clk" and old_clk == 0 and v == 1:
                    bus.cur.append(bus.dio)
                    if len(bus.cur) == 9:  # 8 data bits + ack clock
                        bits = bus.cur[:8]
                        bus.bytes.append(sum(b << i for i, b in enumerate(bits)))
                        bus.cur = []

        return P()


class NoTime:
    def sleep_us(self, us):
        pass


def test_tm1637_bit_protocol_and_digits():
    bus = Wire2()
    d = tm1637.TM1637(bus.pin("clk"), bus.pin("dio"), NoTime(), brightness=7)
    d.show(12345)  # 4 digits: shows 2345, the sync log carries the full value
    assert bus.bytes == [0x40, 0xC0, 0x5B, 0x4F, 0x66, 0x6D, 0x8F]
    assert bus.events.count("start") == 3 and bus.events.count("stop") == 3
    assert d.value == 12345 and d.writes == 1
    n = tm1637.NullDisplay()
    n.show(7)
    assert n.value == 7
