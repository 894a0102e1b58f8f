# Byte links between the board and the host. Every link has the same small interface:
#
#   connected() -> bool     a peer is there to receive (frames are dropped and counted while it is not)
#   write(frame) -> int     take the whole frame (return its length) or nothing (return 0: busy, try later)
#   read_into(mv) -> int    non-blocking: copy received bytes into the memoryview, return how many (0: none)
#   service()               push staged bytes out (called once per main-loop iteration)
#   stats() -> dict         link counters for the `status` reply
#
# Whole frames or nothing: a frame is never half-written by the firmware, so a short write cannot shift the stream
# (a link that dies mid-frame leaves a truncated frame, which the host detects by CRC and sequence number).
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


try:
    from .auth import LINE_MAX, Handshake, hmac_sha256
except ImportError:
    from auth import LINE_MAX, Handshake, hmac_sha256  # type: ignore[no-redef]

EAGAIN = const(11)
ETIMEDOUT = const(110)
EINPROGRESS = const(115)
ENOMEM = const(12)


class Staged:
    """A fixed transmit buffer that whole frames go into and a subclass drains (TCP, BLE)."""

    def __init__(self, tx_size):
        self.tx = bytearray(tx_size)
        self.txv = memoryview(self.tx)
        self.tx_n = 0
        self.busy = 0  # write() calls refused because the buffer was full (backpressure)
        self.lost_bytes = 0  # staged bytes discarded because the peer went away

    def write(self, frame):
        n = len(frame)
        if self.tx_n + n > len(self.tx):
            self.service()
            if self.tx_n + n > len(self.tx):
                self.busy += 1
                return 0
        self.tx[self.tx_n : self.tx_n + n] = frame
        self.tx_n += n
        self.service()
        return n

    def _consume(self, k):
        n = self.tx_n
        if k >= n:
            self.tx_n = 0
        elif k > 0:
            self.tx[: n - k] = self.txv[k:n]
            self.tx_n = n - k

    def _discard(self):
        self.lost_bytes += self.tx_n
        self.tx_n = 0

    def service(self):
        pass

    def stats(self):
        return {"busy": self.busy, "lost_bytes": self.lost_bytes, "staged": self.tx_n}


class Guarded(Staged):
    """A staged link whose peer must answer the pairing challenge first (TCP, BLE): the pairing state and the clock
    the timeouts use come from the App (``attach``); an unanswered challenge ends after ``auth_timeout_ms``."""

    def __init__(self, tx_size, auth_timeout_ms):
        Staged.__init__(self, tx_size)
        self.auth = None
        self.time = None
        self.auth_timeout_ms = auth_timeout_ms

    def attach(self, auth, time_mod):
        """Called by the App: the pairing state and the clock (ticks_ms) the timeouts use."""
        self.auth = auth
        self.time = time_mod


class UsbLink:
    """USB CDC as raw bytes: sys.stdout.buffer / sys.stdin.buffer, Ctrl-C disabled so 0x03 is data.

    MicroPython gives no DTR state to Python code, so the link counts as always connected. With a host attached a
    write blocks until taken (up to the port's CDC timeout, 500 ms on rp2/esp32); without one the CDC FIFO overwrites
    old bytes, so a host that opens the port mid-stream sees a sequence and sample-index gap, never a silent splice.
    """

    def __init__(self, sys_mod=None, select_mod=None, micropython_mod=None, capacity=None, limit=None):
        """``capacity``: bytes/s the port can carry, when something slower than USB sits in the path (profile
        ``link.usb_bytes_per_s``; e.g. the ESP32-S3 generic build mirrors USB output to UART0 at 115200 baud);
        ``limit``: why, for the refusal message. None: USB full speed, no limit checked."""
        self.cap = capacity
        self.limit = limit
        if sys_mod is None:
            import sys as sys_mod  # type: ignore[no-redef]
        if select_mod is None:
            import select as select_mod  # type: ignore[no-redef]
        if micropython_mod is None:
            import micropython as micropython_mod  # type: ignore[no-redef]
        micropython_mod.kbd_intr(-1)
        self.micropython = micropython_mod
        self.out = sys_mod.stdout.buffer
        self.inp = sys_mod.stdin.buffer
        self.poller = select_mod.poll()
        self.poller.register(sys_mod.stdin, select_mod.POLLIN)
        self._one = bytearray(1)
        self.short_writes = 0
        self.busy = 0

    def connected(self):
        return True

    def write(self, frame):
        n = len(frame)
        done = self.out.write(frame)
        if done is None:
            return n
        if done == 0:
            self.busy += 1
            return 0
        if done < n:
            # the CDC timeout hit mid-frame: finish it (the host would otherwise see a torn frame)
            mv = memoryview(frame)
            tries = 0
            while done < n and tries < 20:
                k = self.out.write(mv[done:])
                done += k or 0
                tries += 1
            if done < n:
                self.short_writes += 1
        return n

    def capacity(self):
        return self.cap

    def can_carry(self, bytes_per_s):
        return self.cap is None or bytes_per_s <= self.cap

    def release(self):
        """Give the port back to the REPL: Ctrl-C interrupts again."""
        self.micropython.kbd_intr(3)

    def read_into(self, mv):
        i = 0
        one = self._one
        while i < len(mv) and self.poller.poll(0):
            if not self.inp.readinto(one):
                break
            mv[i] = one[0]
            i += 1
        return i

    def service(self):
        pass

    def stats(self):
        return {"type": "usb", "busy": self.busy, "short_writes": self.short_writes}


AUTH_TIMEOUT_MS = const(2000)  # an unauthenticated connection is closed after this long
KEEPALIVE_MS = const(3000)  # the owner is dropped after this long without a byte from it (host keepalive: 1 s)
MAX_PENDING = const(2)  # connections authenticating at once; more are closed on accept (counted)
ACCEPT_EVERY_MS = const(50)  # how often an owned link looks for new connections


class TcpLink(Guarded):
    """Wi-Fi TCP server with one authenticated owner (see auth.py and WIRE.md "Authentication").

    Every connection first gets a challenge; until it answers with the pairing key's HMAC it gets nothing else and
    what it sends is never parsed as commands. Unanswered challenges are closed after ``auth_timeout_ms``. A second
    host that authenticates while an owner is connected is refused, unless the owner has sent nothing for
    ``keepalive_ms`` (the owner is dropped after that time anyway). ``auth`` and ``time_mod`` are set by the App
    (``attach``); without a pairing key every connection is told UNPAIRED and closed.
    """

    def __init__(
        self,
        port=4242,
        socket_mod=None,
        tx_size=16384,
        host="0.0.0.0",
        auth_timeout_ms=AUTH_TIMEOUT_MS,
        keepalive_ms=KEEPALIVE_MS,
    ):
        Guarded.__init__(self, tx_size, auth_timeout_ms)
        if socket_mod is None:
            import socket as socket_mod  # type: ignore[no-redef]
        self.socket = socket_mod
        s = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_STREAM)
        s.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR, 1)
        s.bind(socket_mod.getaddrinfo(host, port)[0][-1])
        s.listen(2)
        s.setblocking(False)
        self.srv = s
        self.port = port
        self.conn = None
        self.accepts = 0
        self.disconnects = 0
        self.keepalive_ms = keepalive_ms
        self.pending = []  # [socket, Handshake, t_accept_ms]
        self.t_rx = 0
        self.t_accept = 0
        self._hbuf = bytearray(LINE_MAX)

    def _close(self, c, line=None):
        if line is not None:
            try:
                c.send(line)
            except OSError:
                pass
        try:
            c.close()
        except OSError:
            pass

    def _poll(self):
        """Accept, run the handshakes, apply the timeouts. Cheap when nothing happens (one failing accept)."""
        auth = self.auth
        t = self.time
        if auth is None or t is None:
            return
        now = t.ticks_ms()
        c = None
        if self.conn is None or t.ticks_diff(now, self.t_accept) >= ACCEPT_EVERY_MS:
            # with an owner, look for newcomers only every ACCEPT_EVERY_MS: a failing non-blocking accept allocates
            # an OSError on MicroPython, which the streaming loop should not pay every pass
            self.t_accept = now
            try:
                c, _ = self.srv.accept()
            except OSError:
                c = None
        if c is not None:
            self.accepts += 1
            if len(self.pending) >= MAX_PENDING:
                auth.overflow += 1
                self._close(c)
            else:
                c.setblocking(False)
                hs = Handshake(auth)
                if hs.key is None:
                    auth.unpaired += 1
                    self._close(c, hs.hello())
                else:
                    try:
                        c.send(hs.hello())
                        self.pending.append([c, hs, now])
                    except OSError:
                        self._close(c)
        if not self.pending:
            return
        keep = []
        for p in self.pending:
            c, hs, t0 = p
            verdict = None
            try:
                n = c.recv_into(self._hbuf) if hasattr(c, "recv_into") else c.readinto(self._hbuf)
                if n == 0:
                    self._close(c)
                    continue
                if n:
                    verdict = hs.feed(memoryview(self._hbuf)[:n])
            except OSError as e:
                if not (e.args and e.args[0] in (EAGAIN, ETIMEDOUT, EINPROGRESS)):
                    self._close(c)
                    continue
            if verdict is None:
                if t.ticks_diff(now, t0) > self.auth_timeout_ms:
                    auth.timeouts += 1
                    self._close(c, b"DENIED timeout\n")
                else:
                    keep.append(p)
            elif not verdict:
                auth.wrong_key += 1
                self._close(c, b"DENIED wrong key\n")
            elif self.conn is not None:
                # the owner is alive (it would have been dropped above otherwise): never displaced
                auth.busy += 1
                self._close(c, b"DENIED busy: another host owns this board\n")
            else:
                try:
                    c.send(hs.welcome())
                except OSError:
                    self._close(c)
                    continue
                try:
                    c.setsockopt(self.socket.IPPROTO_TCP, self.socket.TCP_NODELAY, 1)
                except (AttributeError, OSError):
                    pass
                auth.accepted += 1
                self.conn = c
                self.tx_n = 0
                self.t_rx = now
        self.pending = keep

    def _drop(self):
        if self.conn is not None:
            self._close(self.conn)
        self.conn = None
        self.disconnects += 1
        self._discard()

    def connected(self):
        self._poll()
        return self.conn is not None

    def service(self):
        c = self.conn
        if c is None or not self.tx_n:
            return
        try:
            k = c.send(self.txv[: self.tx_n])
        except OSError as e:
            if e.args and e.args[0] in (EAGAIN, ETIMEDOUT, EINPROGRESS):
                return
            self._drop()
            return
        self._consume(k or 0)

    def read_into(self, mv):
        self._poll()
        c = self.conn
        if c is None:
            return 0
        try:
            if hasattr(c, "recv_into"):
                n = c.recv_into(mv)
            else:
                n = c.readinto(mv)
        except OSError as e:
            if e.args and e.args[0] in (EAGAIN, ETIMEDOUT, EINPROGRESS):
                return self._silent()
            self._drop()
            return 0
        if n is None:  # MicroPython: no data on a non-blocking socket
            return self._silent()
        if n == 0:  # orderly close by the peer
            self._drop()
            return 0
        t = self.time
        if t is not None:
            self.t_rx = t.ticks_ms()
        return n

    def _silent(self):
        """Nothing to read: drop the owner once it has been silent for keepalive_ms. Checked only after a read
        found the socket empty, so a main loop that was busy (a long self-test) never mistakes its own delay for
        the host's silence: the keepalives sent meanwhile are read first."""
        t = self.time
        if t is not None and self.auth is not None and t.ticks_diff(t.ticks_ms(), self.t_rx) > self.keepalive_ms:
            self.auth.silent_drops += 1
            self._drop()
        return 0

    def stats(self):
        d = Staged.stats(self)
        d["type"] = "tcp"
        d["port"] = self.port
        d["accepts"] = self.accepts
        d["disconnects"] = self.disconnects
        d["pending"] = len(self.pending)
        if self.auth is not None:
            d["auth"] = self.auth.stats()
        return d


# BLE: a UART-like GATT service. The host writes commands to RX; the board notifies frames on TX in MTU-sized
# chunks (the byte stream is the same as over USB; the host reassembles). The session starts with the same
# challenge-response as TCP (auth.py), because LE pairing/bonding is not available on every port (MicroPython
# documents it for NimBLE on STM32/Unix; see firmware/README.md "BLE security"): where the port accepts
# config(bond=..., le_secure=..., mitm=..., io=...) the characteristics also require an encrypted, authenticated link
# (LE Secure Connections, passkey derived from the pairing key, so the USB-paired host knows it).
# Notifications are paced by a token bucket (notify_per_s, burst NOTIFY_BURST): the stack never holds more than a
# burst of pending notifications (BTstack copies each one to the heap), whatever the central does; the rest waits in
# the fixed staging buffer, and a central slower than the stream ends as counted ring overruns (STATUS `overruns`).
BLE_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
BLE_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
BLE_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_PASSKEY_ACTION = const(31)
_PASSKEY_ACTION_DISPLAY = const(3)
_IO_DISPLAY_ONLY = const(0)
_FLAG_WRITE = const(0x0008)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_NOTIFY = const(0x0010)
_FLAG_READ = const(0x0002)
_FLAG_READ_ENCRYPTED = const(0x0200)
_FLAG_READ_AUTHENTICATED = const(0x0400)
_FLAG_WRITE_ENCRYPTED = const(0x1000)
_FLAG_WRITE_AUTHENTICATED = const(0x2000)
NOTIFY_BURST = const(8)


def ble_passkey(key, board_id):
    """The 6-digit LE passkey both sides derive from the pairing key (no display needed on the board)."""
    d = hmac_sha256(key, b"perifacial-ble-passkey " + board_id)
    return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) % 1000000


class BleLink(Guarded):
    def __init__(
        self,
        name="perifacial",
        bluetooth_mod=None,
        tx_size=8192,
        notify_per_s=200,
        mtu=247,
        auth_timeout_ms=AUTH_TIMEOUT_MS,
    ):
        """``notify_per_s``: notifications the link can sustain (connection-interval bound; measured per board).

        The link's capacity estimate is (mtu - 3) x notify_per_s bytes/s; `can_carry` compares a stream's needs
        with it so the board refuses (or lowers) a rate BLE cannot carry instead of dropping samples.
        """
        Guarded.__init__(self, tx_size, auth_timeout_ms)
        if bluetooth_mod is None:
            import bluetooth as bluetooth_mod  # type: ignore[no-redef]
        self.bt = bluetooth_mod
        self.ble = bluetooth_mod.BLE()
        self.ble.active(True)
        try:
            self.ble.config(mtu=mtu)
        except (ValueError, OSError):
            pass
        # LE Secure Connections bonding where the port has it; else the challenge-response alone guards the link
        self.le_security = hasattr(self.ble, "gap_passkey")
        if self.le_security:
            try:
                self.ble.config(bond=True, le_secure=True, mitm=True, io=_IO_DISPLAY_ONLY)
            except (ValueError, OSError, TypeError):
                self.le_security = False
        self.ble.irq(self._irq)
        uuid = bluetooth_mod.UUID
        rx_flags = _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE
        tx_flags = _FLAG_READ | _FLAG_NOTIFY
        if self.le_security:
            rx_flags |= _FLAG_WRITE_ENCRYPTED | _FLAG_WRITE_AUTHENTICATED
            tx_flags |= _FLAG_READ_ENCRYPTED | _FLAG_READ_AUTHENTICATED
        self.rx_flags = rx_flags
        svc = (
            uuid(BLE_SERVICE),
            (
                (uuid(BLE_TX), tx_flags),
                (uuid(BLE_RX), rx_flags),
            ),
        )
        ((self.h_tx, self.h_rx),) = self.ble.gatts_register_services((svc,))
        self.ble.gatts_set_buffer(self.h_rx, 512, True)
        self.rx = bytearray(1024)
        self.rx_overflow = 0  # bytes written by the central that did not fit (counted, never grown)
        self.notify_per_s = notify_per_s
        self.name = name
        self._new_connection(None)
        self.tokens = NOTIFY_BURST
        self.t_tokens = 0
        self.throttled = 0  # service() passes that stopped for want of notification tokens
        self.enomem = 0  # notifications the stack refused (out of buffers)
        self._advertise()

    def attach(self, auth, time_mod):
        Guarded.attach(self, auth, time_mod)
        self.t_tokens = time_mod.ticks_ms()

    def _new_connection(self, conn):
        """What a connection starts with (``conn`` None: none yet): the default ATT MTU, nothing staged or received,
        not authenticated. Runs in the BLE IRQ: allocates nothing (the Handshake is made in read_into)."""
        self.conn = conn
        self.mtu = 23
        self.tx_n = 0
        self.rx_n = 0
        self.authed = False
        self.encrypted = False
        self.hs = None  # the connection's Handshake until it succeeds
        self.t_conn = 0

    def _advertise(self):
        nm = self.name.encode()
        adv = bytes((2, 0x01, 0x06, len(nm) + 1, 0x09)) + nm
        self.ble.gap_advertise(100000, adv)

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self._new_connection(data[0])
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conn = None
            self.authed = False
            self.hs = None
            self._discard()
            self._advertise()
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_rx:
                v = self.ble.gatts_read(self.h_rx)
                n = len(v)
                if self.rx_n + n <= len(self.rx):
                    self.rx[self.rx_n : self.rx_n + n] = v
                    self.rx_n += n
                else:
                    self.rx_overflow += n
        elif event == _IRQ_MTU_EXCHANGED:
            self.mtu = data[1]
        elif event == _IRQ_ENCRYPTION_UPDATE:
            self.encrypted = bool(data[1]) and bool(data[2])
        elif event == _IRQ_PASSKEY_ACTION:
            a = self.auth
            answer = getattr(self.ble, "gap_passkey", None)  # absent where the port has no LE pairing (rp2 stubs)
            if answer is None:
                return
            if data[1] == _PASSKEY_ACTION_DISPLAY and a is not None and a.key is not None:
                answer(data[0], data[1], ble_passkey(a.key, a.board_id))
            else:
                answer(data[0], data[1], 0)  # no key: pairing fails

    def _kick(self, line):
        Staged.write(self, line)
        try:
            self.service()
            self.ble.gap_disconnect(self.conn)  # pyright: ignore[reportArgumentType]
        except (OSError, TypeError):
            pass

    def _handshake(self):
        """Run the challenge-response on what the central wrote; True once the session is authenticated."""
        a = self.auth
        t = self.time
        if self.conn is None or a is None or t is None:
            return False
        if self.authed:
            return True
        if self.hs is None:
            self.hs = Handshake(a)
            self.t_conn = t.ticks_ms()
            if self.hs.key is None:
                a.unpaired += 1
                self._kick(self.hs.hello())
                return False
            Staged.write(self, self.hs.hello())
        verdict = None
        if self.rx_n:
            k = self.rx_n
            verdict = self.hs.feed(memoryview(self.rx)[:k])
            self.rx_n = 0  # handshake bytes never reach the App
        if verdict is None:
            if t.ticks_diff(t.ticks_ms(), self.t_conn) > self.auth_timeout_ms:
                a.timeouts += 1
                self._kick(b"DENIED timeout\n")
            return False
        if not verdict:
            a.wrong_key += 1
            self._kick(b"DENIED wrong key\n")
            return False
        Staged.write(self, self.hs.welcome())
        a.accepted += 1
        self.authed = True
        self.hs = None
        return True

    def connected(self):
        return self._handshake()

    def capacity(self):
        """Estimated bytes/s the link carries at the negotiated MTU."""
        return (self.mtu - 3) * self.notify_per_s

    def can_carry(self, bytes_per_s):
        return self.conn is not None and bytes_per_s <= self.capacity()

    def service(self):
        if self.conn is None:
            return
        t = self.time
        if t is not None:
            now = t.ticks_ms()
            dt = t.ticks_diff(now, self.t_tokens)
            if dt > 0:
                add = dt * self.notify_per_s // 1000
                if add:
                    self.tokens = self.tokens + add if self.tokens + add < NOTIFY_BURST else NOTIFY_BURST
                    self.t_tokens = now
        chunk = self.mtu - 3
        while self.tx_n:
            if t is not None and self.tokens <= 0:
                self.throttled += 1
                return
            k = chunk if self.tx_n > chunk else self.tx_n
            try:
                # gatts_notify(conn_handle, value_handle, data) per the MicroPython docs; the 1.29 stubs omit
                # conn_handle
                self.ble.gatts_notify(self.conn, self.h_tx, self.txv[:k])  # pyright: ignore[reportCallIssue]
            except OSError:
                self.enomem += 1
                return  # out of notification buffers (ENOMEM): stays staged, retried next loop
            self.tokens -= 1
            self._consume(k)

    def read_into(self, mv):
        if not self._handshake():
            return 0
        n = self.rx_n
        if not n:
            return 0
        k = n if n < len(mv) else len(mv)
        mv[:k] = self.rx[:k]
        self.rx[: n - k] = self.rx[k:n]
        self.rx_n = n - k
        return k

    def stats(self):
        d = Staged.stats(self)
        d["type"] = "ble"
        d["mtu"] = self.mtu
        d["capacity_bytes_per_s"] = self.capacity()
        d["le_security"] = self.le_security
        d["encrypted"] = self.encrypted
        d["throttled"] = self.throttled
        d["enomem"] = self.enomem
        d["rx_overflow"] = self.rx_overflow
        if self.auth is not None:
            d["auth"] = self.auth.stats()
        return d
