"""Links (USB CDC, TCP, BLE) and the TM1637 driver, with fakes of the MicroPython modules (and real sockets)."""

import socket
import time

import scenarios
from fakebluetooth import BluetoothModule
from test_auth import Clock

from perifacial.firmware import auth, links, tm1637, wire


def _until(cond, timeout: float = 30.0) -> bool:
    """Poll ``cond`` until it holds; the timeout only ends a hang (no outcome depends on how long anything takes)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


# -- USB CDC -----------------------------------------------------------------------------------------------------------
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


# -- TCP ---------------------------------------------------------------------------------------------------------------
def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class _WallTicks:
    """ticks_ms for the link's timeouts on real sockets (generous: nothing here waits that long)."""

    def ticks_ms(self):
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a, b):
        return a - b


def _authenticate(link, c, key):
    """Answer the link's challenge on client socket ``c`` (the host side, as perifacial.host.pairing does it)."""
    import hashlib
    import hmac

    def line():
        got = [b""]

        def complete():
            link.connected()
            try:
                got[0] += c.recv(200)
            except TimeoutError:
                pass
            return got[0].endswith(b"\n")

        _until(complete)
        return got[0]

    c.settimeout(0.01)
    _, bid, nb = line().strip().split(b" ")
    nh = b"2" * 32
    c.sendall(nh + b" " + hmac.new(key, auth.host_msg(bid, nb, nh), hashlib.sha256).hexdigest().encode() + b"\n")
    ok = line()
    assert ok.startswith(b"OK ")


def test_tcp_link_accepts_backpressure_and_reconnects():
    port = _free_port()
    link = links.TcpLink(port, tx_size=4096, host="127.0.0.1")
    a = auth.Auth(auth.MemStore(), "t")
    a.pair(bytes(32).hex())
    link.attach(a, _WallTicks())
    assert not link.connected()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    _authenticate(link, c, bytes(32))
    assert _until(link.connected) and link.accepts == 1
    link.conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    # host -> board
    c.sendall(b"hello")
    buf = bytearray(16)
    got = 0

    def read():
        nonlocal got
        got = link.read_into(memoryview(buf))
        return got

    assert _until(read) and bytes(buf[:got]) == b"hello"
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
    c.settimeout(0.05)
    got = bytearray()

    def drained():
        link.service()
        try:
            got.extend(c.recv(1 << 16))
        except TimeoutError:
            pass
        return len(got) >= sent * len(frame)

    _until(drained)
    assert len(got) == sent * len(frame)
    assert all(wire.check(got, i * len(frame)) == len(frame) for i in range(sent))
    # the host disconnects: the link notices, counts, and accepts the next host
    c.close()

    def gone():
        link.read_into(memoryview(buf))
        link.write(frame)
        return link.conn is None

    assert _until(gone) and link.disconnects == 1
    c2 = socket.create_connection(("127.0.0.1", port))
    _authenticate(link, c2, bytes(32))
    assert _until(link.connected) and link.accepts == 2
    c2.close()
    link.srv.close()


# -- BLE ---------------------------------------------------------------------------------------------------------------
class FakeBLE:
    def __init__(self):
        self.notified = []
        self.values = {}
        self.buffers_free = 1000

    def active(self, on):
        pass

    reject_security = False  # a port without LE pairing (ValueError on the unknown config keys)

    def config(self, **kw):
        if "bond" in kw and self.reject_security:
            raise ValueError("unknown config param")
        self.cfg = getattr(self, "cfg", {})
        self.cfg.update(kw)

    def gap_passkey(self, conn, action, passkey):
        self.passkey = (conn, action, passkey)

    def gap_disconnect(self, conn):
        self.disconnected = conn
        return True

    def irq(self, h):
        self.h = h

    def gatts_register_services(self, svcs):
        self.svcs = svcs
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


BLE_KEY = bytes(range(100, 132))


def _ble(notify_per_s=100, reject_security=False, key=BLE_KEY):
    bt = BluetoothModule(FakeBLE())
    bt.ble.reject_security = reject_security
    link = links.BleLink("perifacial", bluetooth_mod=bt, notify_per_s=notify_per_s)
    a = auth.Auth(auth.MemStore(), "ble-1")
    if key is not None:
        a.pair(key.hex())
    clk = Clock()
    link.attach(a, clk)
    return bt, link, a, clk


def _central(bt, link, clk, key=BLE_KEY, answer=True):
    """A central connects (MTU 185) and answers the challenge with ``key``; returns what the board notified."""
    import hashlib
    import hmac

    link._irq(1, (7, 0, b""))  # central connected
    link._irq(21, (7, 185))  # MTU exchanged: 182-byte notifications
    assert not link.connected()  # the challenge is staged
    clk.ms += 100
    link.service()
    hello = b"".join(bt.ble.notified)
    bt.ble.notified.clear()
    if answer:
        _, bid, nb = hello.strip().split(b" ")
        nh = b"3" * 32
        bt.ble.values[2] = (
            nh + b" " + hmac.new(key, auth.host_msg(bid, nb, nh), hashlib.sha256).hexdigest().encode() + b"\n"
        )
        link._irq(3, (7, 2))
    link.connected()
    clk.ms += 100
    link.service()
    out = b"".join(bt.ble.notified)
    bt.ble.notified.clear()
    return hello, out


def test_ble_link_session_mtu_chunks_enomem():
    bt, link, a, clk = _ble()
    assert b"perifacial" in bt.ble.adv and not link.connected()
    hello, ok = _central(bt, link, clk)
    assert hello.startswith(b"PFAUTH1 ble-1 ") and ok.startswith(b"OK ") and link.connected()
    assert link.capacity() == 182 * 100
    clk.ms += 1000  # a full burst of notification tokens
    link.service()
    frame = wire.encode(wire.T_DATA, 0, bytes(822))
    assert link.write(frame) == len(frame)
    assert [len(x) for x in bt.ble.notified] == [182] * 4 + [len(frame) - 4 * 182]
    assert b"".join(bt.ble.notified) == frame
    clk.ms += 1000
    bt.ble.buffers_free = 2  # the stack runs out of notification buffers: the rest stays staged, nothing dropped
    bt.ble.notified.clear()
    link.write(frame)
    assert len(bt.ble.notified) == 2 and link.tx_n == len(frame) - 2 * 182 and link.enomem == 1
    bt.ble.buffers_free = 100
    link.service()
    assert b"".join(bt.ble.notified) == frame and link.tx_n == 0
    # host -> board writes reach the App only now
    bt.ble.values[2] = b"\xa5\x5a"
    link._irq(3, (7, 2))
    buf = bytearray(4)
    assert link.read_into(memoryview(buf)) == 2 and bytes(buf[:2]) == b"\xa5\x5a"


def test_ble_a_new_central_starts_fresh_and_must_authenticate_again():
    """Every connection starts as the link did: default MTU, nothing staged or received, not authenticated; what
    the previous central wrote is never read."""
    bt, link, a, clk = _ble()
    names = ("conn", "mtu", "tx_n", "rx_n", "authed", "encrypted", "hs")
    fresh = {"conn": None, "mtu": 23, "tx_n": 0, "rx_n": 0, "authed": False, "encrypted": False, "hs": None}
    assert {k: getattr(link, k) for k in names} == fresh
    _central(bt, link, clk)
    assert link.connected() and link.mtu == 185
    bt.ble.values[2] = b"\x01\x02\x03"
    link._irq(3, (7, 2))  # the first central writes, then goes away before it is read
    link._irq(2, (7, 0, b""))
    link._irq(1, (8, 0, b""))  # a second central
    assert {k: getattr(link, k) for k in names} == dict(fresh, conn=8)
    assert link.capacity() == 20 * 100
    assert not link.connected() and link.read_into(memoryview(bytearray(8))) == 0  # challenged, not served


def test_ble_unauthenticated_or_wrong_key_central_gets_nothing():
    bt, link, a, clk = _ble()
    _central(bt, link, clk, answer=False)
    bt.ble.values[2] = wire.encode(wire.T_COMMAND, 0, b'{"id":1,"cmd":"stop"}')  # no handshake: a command
    link._irq(3, (7, 2))
    buf = bytearray(64)
    for _ in range(5):
        clk.ms += 10
        assert link.read_into(memoryview(buf)) == 0 and not link.connected()  # eaten by the handshake
    clk.ms += link.auth_timeout_ms
    assert not link.connected() and a.timeouts == 1 and bt.ble.disconnected == 7
    link.service()
    assert b"".join(bt.ble.notified).endswith(b"DENIED timeout\n")
    bt2, link2, a2, clk2 = _ble()
    _, denied = _central(bt2, link2, clk2, key=bytes(32))
    assert denied == b"DENIED wrong key\n" and not link2.connected() and a2.wrong_key == 1
    bt3, link3, a3, clk3 = _ble(key=None)  # never paired: told so and disconnected
    link3._irq(1, (7, 0, b""))
    assert not link3.connected() and a3.unpaired == 1 and bt3.ble.disconnected == 7


def test_ble_notifications_bounded_for_a_slow_central():
    """A central that takes notifications slower than the stream: the board never has more than the token budget
    in the stack (no heap growth), the staging buffer stays its fixed size, the rest is refused (busy) and ends as
    counted overruns upstream."""
    bt, link, a, clk = _ble(notify_per_s=50)
    _central(bt, link, clk)
    size = len(link.tx)
    frame = wire.encode(wire.T_DATA, 0, bytes(822))
    refused = 0
    for _i in range(200):  # 2 s of a 100 frames/s stream, 10 ms per main-loop pass
        clk.ms += 10
        if not link.write(frame):
            refused += 1
        link.service()
    sent = len(bt.ble.notified)
    assert sent <= 50 * 2 + 1 + links.NOTIFY_BURST  # at most notify_per_s x seconds + one burst
    assert len(link.tx) == size and link.tx_n <= size and link.throttled > 0
    assert refused > 0 and link.busy == refused


def test_ble_le_secure_bonding_where_the_port_has_it_and_passkey_from_the_key():
    import hashlib
    import hmac

    bt, link, a, clk = _ble()
    assert bt.ble.cfg["bond"] and bt.ble.cfg["le_secure"] and bt.ble.cfg["mitm"] and link.le_security
    (svc,) = bt.ble.svcs
    tx_flags, rx_flags = svc[1][0][1], svc[1][1][1]
    assert rx_flags & 0x1000 and rx_flags & 0x2000  # _FLAG_WRITE_ENCRYPTED | _FLAG_WRITE_AUTHENTICATED
    assert tx_flags & 0x0200 and tx_flags & 0x0400  # read encrypted + authenticated
    link._irq(31, (7, 3, 0))  # _IRQ_PASSKEY_ACTION, display: the board answers with the key-derived passkey
    d = hmac.new(BLE_KEY, b"perifacial-ble-passkey ble-1", hashlib.sha256).digest()
    assert bt.ble.passkey == (7, 3, int.from_bytes(d[:4], "big") % 1000000)
    from perifacial.host.pairing import ble_passkey

    assert ble_passkey(BLE_KEY, "ble-1") == bt.ble.passkey[2]
    # a port without LE pairing: plain characteristics, the challenge-response still guards the session
    bt2, link2, a2, clk2 = _ble(reject_security=True)
    (svc2,) = bt2.ble.svcs
    assert not link2.le_security and not svc2[1][1][1] & 0x3000
    _, ok = _central(bt2, link2, clk2)
    assert ok.startswith(b"OK ")


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
    bt = BluetoothModule(FakeBLE())
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
    usb = links.UsbLink(
        sysm,
        FakeSelect(sysm),
        FakeMicropython(),
        capacity=11520,
        limit="the generic ESP32-S3 MicroPython build mirrors USB output to UART0 at 115200 baud",
    )
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
