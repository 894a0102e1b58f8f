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


class TcpLink(Staged):
    """Wi-Fi TCP server: one client at a time, non-blocking, accepts again after a disconnect."""

    def __init__(self, port=4242, socket_mod=None, tx_size=16384):
        Staged.__init__(self, tx_size)
        if socket_mod is None:
            import socket as socket_mod  # type: ignore[no-redef]
        self.socket = socket_mod
        s = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_STREAM)
        s.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR, 1)
        s.bind(socket_mod.getaddrinfo("0.0.0.0", port)[0][-1])
        s.listen(1)
        s.setblocking(False)
        self.srv = s
        self.port = port
        self.conn = None
        self.accepts = 0
        self.disconnects = 0

    def _accept(self):
        try:
            c, _ = self.srv.accept()
        except OSError:
            return
        c.setblocking(False)
        try:
            c.setsockopt(self.socket.IPPROTO_TCP, self.socket.TCP_NODELAY, 1)
        except (AttributeError, OSError):
            pass
        self.conn = c
        self.tx_n = 0
        self.accepts += 1

    def _drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None
        self.disconnects += 1
        self._discard()

    def connected(self):
        if self.conn is None:
            self._accept()
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
        if self.conn is None:
            self._accept()
            if self.conn is None:
                return 0
        c = self.conn
        try:
            if hasattr(c, "recv_into"):
                n = c.recv_into(mv)
            else:
                n = c.readinto(mv)
        except OSError as e:
            if e.args and e.args[0] in (EAGAIN, ETIMEDOUT, EINPROGRESS):
                return 0
            self._drop()
            return 0
        if n is None:  # MicroPython: no data on a non-blocking socket
            return 0
        if n == 0:  # orderly close by the peer
            self._drop()
            return 0
        return n

    def stats(self):
        d = Staged.stats(self)
        d["type"] = "tcp"
        d["port"] = self.port
        d["accepts"] = self.accepts
        d["disconnects"] = self.disconnects
        return d


# BLE: a UART-like GATT service. The host writes commands to RX; the board notifies frames on TX in MTU-sized
# chunks (the byte stream is the same as over USB; the host reassembles). Notification buffers that run out
# (NimBLE ENOMEM) make the link busy: nothing is dropped silently, the ring absorbs it or counts overruns.
BLE_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
BLE_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
BLE_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_FLAG_WRITE = const(0x0008)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_NOTIFY = const(0x0010)
_FLAG_READ = const(0x0002)


class BleLink(Staged):
    def __init__(self, name="perifacial", bluetooth_mod=None, tx_size=8192, notify_per_s=200, mtu=247):
        """``notify_per_s``: notifications the link can sustain (connection-interval bound; measured per board).

        The link's capacity estimate is (mtu - 3) x notify_per_s bytes/s; `can_carry` compares a stream's needs
        with it so the board refuses (or lowers) a rate BLE cannot carry instead of dropping samples.
        """
        Staged.__init__(self, tx_size)
        if bluetooth_mod is None:
            import bluetooth as bluetooth_mod  # type: ignore[no-redef]
        self.bt = bluetooth_mod
        self.ble = bluetooth_mod.BLE()
        self.ble.active(True)
        try:
            self.ble.config(mtu=mtu)
        except (ValueError, OSError):
            pass
        self.ble.irq(self._irq)
        uuid = bluetooth_mod.UUID
        svc = (uuid(BLE_SERVICE), (
            (uuid(BLE_TX), _FLAG_READ | _FLAG_NOTIFY),
            (uuid(BLE_RX), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE),
        ))
        ((self.h_tx, self.h_rx),) = self.ble.gatts_register_services((svc,))
        self.ble.gatts_set_buffer(self.h_rx, 512, True)
        self.rx = bytearray(1024)
        self.rx_n = 0
        self.conn = None
        self.mtu = 23
        self.notify_per_s = notify_per_s
        self.name = name
        self._advertise()

    def _advertise(self):
        nm = self.name.encode()
        adv = bytes((2, 0x01, 0x06, len(nm) + 1, 0x09)) + nm
        self.ble.gap_advertise(100000, adv)

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.conn = data[0]
            self.mtu = 23
            self.tx_n = 0
        elif event == _IRQ_CENTRAL_DISCONNECT:
            self.conn = None
            self._discard()
            self._advertise()
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_rx:
                v = self.ble.gatts_read(self.h_rx)
                n = len(v)
                if self.rx_n + n <= len(self.rx):
                    self.rx[self.rx_n : self.rx_n + n] = v
                    self.rx_n += n
        elif event == _IRQ_MTU_EXCHANGED:
            self.mtu = data[1]

    def connected(self):
        return self.conn is not None

    def capacity(self):
        """Estimated bytes/s the link carries at the negotiated MTU."""
        return (self.mtu - 3) * self.notify_per_s

    def can_carry(self, bytes_per_s):
        return self.conn is not None and bytes_per_s <= self.capacity()

    def service(self):
        if self.conn is None:
            return
        chunk = self.mtu - 3
        while self.tx_n:
            k = chunk if self.tx_n > chunk else self.tx_n
            try:
                # gatts_notify(conn_handle, value_handle, data) per the MicroPython docs; the 1.29 stubs omit
                # conn_handle
                self.ble.gatts_notify(self.conn, self.h_tx, self.txv[:k])  # pyright: ignore[reportCallIssue]
            except OSError:
                return  # out of notification buffers (ENOMEM): stays staged, retried next loop
            self._consume(k)

    def read_into(self, mv):
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
        return d
