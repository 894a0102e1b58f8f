"""Pairing and the authenticated TCP link (firmware/auth.py, links.TcpLink): HMAC against CPython's hmac and RFC 4231,
the handshake, and the single-owner rules on an in-memory network with an injected clock (no wall-clock time)."""

import binascii
import hashlib
import hmac
import json

import pytest
from mpy_harness import FIRMWARE, require_runtime, run_micropython

from perifacial.firmware import auth, links, wire

KEY = bytes(range(32))


# -- HMAC-SHA256 ------------------------------------------------------------------------------------------------------
def test_hmac_rfc4231_vectors():
    # RFC 4231 test cases 1, 2 and 6 (key longer than the block: hashed first)
    assert auth.hmac_sha256(b"\x0b" * 20, b"Hi There").hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )
    assert auth.hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert auth.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First").hex() == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    )


@pytest.mark.parametrize("klen", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("mlen", [0, 5, 64, 1000])
def test_hmac_matches_cpython(klen, mlen):
    key = bytes((i * 7 + 3) & 0xFF for i in range(klen))
    msg = bytes((i * 13 + 1) & 0xFF for i in range(mlen))
    assert auth.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def _answer(hello: bytes, key: bytes, nonce_h: bytes = b"0" * 32) -> bytes:
    proto, bid, nb = hello.strip().split(b" ")
    assert proto == auth.PROTO
    mac = hmac.new(key, auth.host_msg(bid, nb, nonce_h), hashlib.sha256).hexdigest().encode()
    return nonce_h + b" " + mac + b"\n"


def _auth_obj(key=KEY):
    a = auth.Auth(auth.MemStore(), "board-7")
    if key is not None:
        a.pair(key.hex())
    return a


def test_handshake_accepts_the_key_refuses_wrong_key_replay_and_garbage():
    a = _auth_obj()
    hs = auth.Handshake(a)
    hello = hs.hello()
    assert hello.startswith(b"PFAUTH1 board-7 ") and len(hello.strip().split(b" ")[2]) == 32
    good = _answer(hello, KEY)
    assert hs.feed(good[:10]) is None and hs.feed(good[10:]) is True  # any split
    # the board proves the key too (the host checks this)
    nb = hello.strip().split(b" ")[2]
    want = hmac.new(KEY, auth.board_msg(b"board-7", nb, b"0" * 32), hashlib.sha256).hexdigest().encode()
    assert hs.welcome() == b"OK " + want + b"\n"
    # wrong key
    hs2 = auth.Handshake(a)
    assert hs2.feed(_answer(hs2.hello(), bytes(32))) is False
    # replay: the recorded valid response answers a different challenge
    hs3 = auth.Handshake(a)
    assert hs3.hello() != hello
    assert hs3.feed(good) is False
    # garbage and overlong lines
    assert auth.Handshake(a).feed(b"hello\n") is False
    assert auth.Handshake(a).feed(b"x" * 500) is False


def test_pairing_validates_the_key_and_persists_in_the_store():
    st = auth.MemStore()
    a = auth.Auth(st, "b")
    assert a.key is None and auth.Handshake(a).hello() == b"PFAUTH1 b UNPAIRED\n"
    with pytest.raises(ValueError, match="64 hex digits"):
        a.pair("abcd")
    with pytest.raises(ValueError, match="not hex"):
        a.pair("zz" * 32)
    a.pair(KEY.hex(), remote_admin=True)
    b = auth.Auth(st, "b")  # after a reboot
    assert b.key == KEY and b.remote_admin


def test_file_store_roundtrip(tmp_path):
    st = auth.FileStore(str(tmp_path / "auth.json"))
    assert st.load() is None
    auth.Auth(st, "b").pair(KEY.hex())
    assert json.loads((tmp_path / "auth.json").read_text())["key"] == KEY.hex()
    assert auth.Auth(st, "b").key == KEY


# -- the link on an in-memory network, clock injected ------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b


class End:
    """One end of an in-memory TCP connection (non-blocking, MicroPython/CPython socket subset)."""

    def __init__(self):
        self.inbox = bytearray()
        self.peer = None
        self.closed = False

    def setblocking(self, flag):
        pass

    def setsockopt(self, *a):
        pass

    def send(self, b):
        if self.closed or self.peer.closed:
            raise OSError(32)
        self.peer.inbox += bytes(b)
        return len(b)

    def recv_into(self, mv):
        if self.closed:
            raise OSError(9)
        if self.inbox:
            n = min(len(mv), len(self.inbox))
            mv[:n] = self.inbox[:n]
            del self.inbox[:n]
            return n
        if self.peer.closed:
            return 0
        raise OSError(links.EAGAIN)

    def take(self):
        d = bytes(self.inbox)
        self.inbox.clear()
        return d

    def close(self):
        self.closed = True


class Listener:
    def __init__(self, net):
        self.net = net

    def setsockopt(self, *a):
        pass

    def bind(self, addr):
        pass

    def listen(self, n):
        pass

    def setblocking(self, flag):
        pass

    def accept(self):
        if not self.net.backlog:
            raise OSError(links.EAGAIN)
        return self.net.backlog.pop(0), ("peer", 1)

    def close(self):
        pass


class Net:
    AF_INET = SOCK_STREAM = SOL_SOCKET = SO_REUSEADDR = IPPROTO_TCP = TCP_NODELAY = 1

    def __init__(self):
        self.backlog = []

    def getaddrinfo(self, host, port):
        return [(0, 0, 0, "", (host, port))]

    def socket(self, *a):
        return Listener(self)

    def connect(self):
        client, server = End(), End()
        client.peer, server.peer = server, client
        self.backlog.append(server)
        return client


class Rig:
    """A paired TcpLink on the in-memory network with a stand-in for the App's main loop."""

    def __init__(self, key=KEY, **kw):
        self.net = Net()
        self.clock = Clock()
        self.link = links.TcpLink(4242, socket_mod=self.net, tx_size=4096, **kw)
        self.auth = _auth_obj(key)
        self.link.attach(self.auth, self.clock)
        self.rx = bytearray()

    def loop(self, n=3, ms=10):
        buf = bytearray(256)
        for _ in range(n):
            self.clock.ms += ms
            k = self.link.read_into(memoryview(buf))
            self.rx += buf[:k]
            if self.link.connected():
                self.link.write(wire.encode(wire.T_DATA, 0, b"sample"))
            self.link.service()

    def owner(self, key=KEY):
        c = self.net.connect()
        self.loop(1, ms=links.ACCEPT_EVERY_MS)  # an owned link looks for newcomers every ACCEPT_EVERY_MS
        hello = c.take()
        c.send(_answer(hello, key))
        self.loop(1)
        return c


def test_unauthenticated_client_gets_nothing_and_its_bytes_are_never_read():
    r = Rig()
    c = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    assert c.take().startswith(b"PFAUTH1 board-7 ")
    cmd = wire.encode(wire.T_COMMAND, 0, b'{"id":1,"cmd":"stop"}')
    c.send(cmd)
    r.loop(5)
    assert not r.link.connected() and r.rx == b""  # no bytes reached the App, no frame went out
    assert c.take() == b""  # the handshake line ate the frame: no data, no reply
    r.loop(1, ms=r.link.auth_timeout_ms)  # then the short timeout
    assert c.take() in (b"", b"DENIED timeout\n") and c.peer.closed and r.auth.timeouts + r.auth.wrong_key == 1


def test_silent_squatter_is_closed_after_the_auth_timeout_and_never_blocks_the_owner():
    r = Rig()
    squat = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    c = r.owner()
    assert r.link.conn is c.peer and c.take().startswith(b"OK ")
    r.loop(1, ms=r.link.auth_timeout_ms + 1)
    assert squat.peer.closed and r.auth.timeouts == 1
    got = squat.take()
    assert got.startswith(b"PFAUTH1 board-7 ") and got.endswith(b"\nDENIED timeout\n") and b"sample" not in got
    c.send(b"keepalive")
    r.loop(2)
    assert r.link.conn is c.peer and b"sample" in c.take()


def test_wrong_key_and_replayed_response_are_refused_and_counted():
    r = Rig()
    bad = r.owner(key=bytes(32))
    assert bad.take().endswith(b"DENIED wrong key\n") and bad.peer.closed and r.link.conn is None
    c = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    recorded = _answer(c.take(), KEY)
    c.send(recorded)
    r.loop(1)
    assert c.take().startswith(b"OK ")
    c.close()
    r.loop(1)
    assert r.link.conn is None
    replay = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    replay.take()
    replay.send(recorded)
    r.loop(1)
    assert replay.take() == b"DENIED wrong key\n" and r.link.conn is None and r.auth.wrong_key == 2


def test_second_host_refused_while_owner_alive_and_waiting_connection_never_takes_over():
    r = Rig()
    c1 = r.owner()
    c1.take()
    # a second host with the key, while the owner talks: refused
    c2 = r.owner()
    assert c2.take().endswith(b"DENIED busy: another host owns this board\n") and r.auth.busy == 1
    assert r.link.conn is c1.peer
    # a connection waits (no key), then the owner drops: the waiter gets no data, ever
    waiter = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    hello = waiter.take()
    c1.close()
    r.loop(5)
    assert r.link.conn is None and waiter.take() == b"" and hello.startswith(b"PFAUTH1")
    r.loop(1, ms=r.link.auth_timeout_ms)
    assert waiter.peer.closed and b"sample" not in waiter.take()


def test_silent_owner_is_dropped_after_keepalive_timeout_and_the_next_host_gets_in():
    r = Rig()
    c1 = r.owner()
    r.loop(1, ms=r.link.keepalive_ms - 20)
    assert r.link.conn is c1.peer  # not yet
    r.loop(1, ms=30)
    assert r.link.conn is None and c1.peer.closed and r.auth.silent_drops == 1
    c2 = r.owner()
    assert c2.take().startswith(b"OK ") and r.link.conn is c2.peer


def test_unpaired_board_refuses_every_connection_and_handshake_slots_are_bounded():
    r = Rig(key=None)
    c = r.net.connect()
    r.loop(1, ms=links.ACCEPT_EVERY_MS)
    assert c.take() == b"PFAUTH1 board-7 UNPAIRED\n" and c.peer.closed and r.auth.unpaired == 1
    r2 = Rig()
    conns = [r2.net.connect() for _ in range(links.MAX_PENDING + 2)]
    r2.loop(len(conns))
    assert len(r2.link.pending) == links.MAX_PENDING and r2.auth.overflow == 2
    assert all(x.peer.closed for x in conns[links.MAX_PENDING :])


# -- the same code under MicroPython (WebAssembly) ---------------------------------------------------------------------
def test_auth_under_micropython():
    require_runtime()
    key = bytes((i * 5 + 1) & 0xFF for i in range(32))
    cases = [
        (bytes(k), bytes(m))
        for k, m in ((b"Jefe", b"what do ya want for nothing?"), (b"\xaa" * 131, b"x" * 70), (key, b"abc"))
    ]
    expect = [hmac.new(k, m, hashlib.sha256).hexdigest() for k, m in cases]
    script = """
import binascii, hashlib, hmac_cases
import auth, links
out = {"hmac": [], "hs": None}
for k, m in hmac_cases.CASES:
    out["hmac"].append(binascii.hexlify(auth.hmac_sha256(k, m)).decode())
a = auth.Auth(auth.MemStore(), "mp-board")
a.pair(binascii.hexlify(hmac_cases.KEY).decode())
hs = auth.Handshake(a)
hello = hs.hello()
nb = hello.strip().split(b" ")[2]
nh = b"1" * 32
mac = binascii.hexlify(auth.hmac_sha256(hmac_cases.KEY, auth.host_msg(b"mp-board", nb, nh)))
good = nh + b" " + mac + b"\\n"
hs2 = auth.Handshake(a)
out["hs"] = [hs.feed(good[:7]), hs.feed(good[7:]), hs2.feed(good), len(nb), hs.welcome().decode()[:3]]
out["nb"] = nb.decode()
out["links_ok"] = links.MAX_PENDING
print("RESULT " + __import__("json").dumps(out))
"""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as td:
        cf = Path(td) / "hmac_cases.py"
        cf.write_text("CASES = %r\nKEY = %r\n" % (cases, key))
        files = {
            "/lib/auth.py": FIRMWARE / "auth.py",
            "/lib/interlock.py": FIRMWARE / "interlock.py",
            "/lib/hmac_cases.py": cf,
        }
        code, out, err = run_micropython(script, files, timeout=300)
    assert code == 0, err
    line = [x for x in out.splitlines() if x.startswith("RESULT ")][-1]
    res = json.loads(line[7:])
    assert res["hmac"] == expect
    assert res["hs"] == [None, True, False, 32, "OK "]
    # the board's nonce really is fresh entropy: 16 bytes as hex
    binascii.unhexlify(res["nb"])


# -- Wi-Fi join at boot: backoff, never a raise to the REPL ------------------------------------------------------------
class FakeWlan:
    def __init__(self, fail_attempts):
        self.fail = fail_attempts
        self.attempts = 0
        self.up = False

    def active(self, on):
        pass

    def connect(self, ssid, pw):
        self.attempts += 1
        if self.attempts > self.fail:
            self.up = True

    def disconnect(self):
        pass

    def isconnected(self):
        return self.up

    def ifconfig(self):
        return ("192.168.1.50", "255.255.255.0", "192.168.1.1", "8.8.8.8")


class FakeNetwork:
    STA_IF = 0

    def __init__(self, fail):
        self.wlan = FakeWlan(fail)

    def WLAN(self, which):
        return self.wlan


class SleepClock(Clock):
    def __init__(self):
        Clock.__init__(self)
        self.sleeps = []

    def sleep_ms(self, ms):
        self.sleeps.append(ms)
        self.ms += ms


def test_wifi_join_retries_with_backoff_until_the_network_is_there():
    from perifacial.firmware import wifi

    net = FakeNetwork(fail=8)
    clk = SleepClock()
    logs = []
    ip = wifi.join(net, "lab", "pw", clk, attempt_ms=1000, log=logs.append)
    assert ip == "192.168.1.50" and net.wlan.attempts == 9
    backoffs = [s for s in clk.sleeps if s != 100]
    assert backoffs == [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]  # doubling, capped at 60 s
    assert len(logs) == 8 and "attempt 8" in logs[-1]
    with pytest.raises(OSError, match="after 2 attempts"):
        wifi.join(FakeNetwork(fail=5), "lab", "pw", SleepClock(), attempt_ms=300, max_attempts=2)


def test_a_busy_board_does_not_mistake_its_own_delay_for_a_silent_owner():
    """A long command (self-test: seconds in app.collect, no link polling) while the host kept sending keepalives:
    the keepalives are read first, the owner stays."""
    r = Rig()
    c = r.owner()
    c.send(b"ping-1")
    r.clock.ms += 3 * r.link.keepalive_ms  # the main loop was busy that long
    c.send(b"ping-2")
    r.loop(1)
    assert r.link.conn is c.peer and r.auth.silent_drops == 0 and r.rx.endswith(b"ping-1ping-2")
