"""The host's BLE transport against the firmware's BleLink, end to end without a radio: a fake ``bleak`` on the host
side and a fake ``bluetooth`` module on the board side, wired back to back (no Bluetooth hardware on this machine).
What is tested is the session protocol (challenge-response, key from the store, refusal messages), not the radio."""

from __future__ import annotations

import threading
import time

import pytest
from fakebluetooth import BluetoothModule

from perifacial.firmware import auth, links, wire
from perifacial.host import ble as host_ble
from perifacial.host.pairing import AuthError, save_key

KEY = bytes(range(7, 39))
BOARD_ID = "ble-board-1"


class WallTicks:
    def ticks_ms(self):
        return int(time.monotonic() * 1000)

    def ticks_diff(self, a, b):
        return a - b


class BoardBLE:
    """The board's ``bluetooth.BLE()``: notifications go to the connected fake central."""

    def __init__(self):
        self.lock = threading.RLock()
        self.central = None
        self.values = {}

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
        pass

    def gatts_read(self, h):
        return self.values.pop(h, b"")

    def gatts_notify(self, conn, h, data):
        if self.central is not None:
            self.central.notify(bytes(data))

    def gap_disconnect(self, conn):
        c = self.central
        if c is not None:
            c.board_disconnected()
        self.h(2, (conn, 0, b""))
        return True


class Board:
    """A BleLink (the firmware's) with a paired key, its main loop in a thread."""

    def __init__(self, key):
        self.bt = BluetoothModule(BoardBLE())
        self.link = links.BleLink("perifacial", bluetooth_mod=self.bt, auth_timeout_ms=1000)
        self.auth = auth.Auth(auth.MemStore(), BOARD_ID)
        self.auth.pair(key.hex())
        self.link.attach(self.auth, WallTicks())
        self.rx = bytearray()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        buf = bytearray(256)
        while not self.stop.is_set():
            with self.bt.ble.lock:
                n = self.link.read_into(memoryview(buf))
                self.rx += buf[:n]
                if self.link.connected():
                    self.link.write(wire.encode(wire.T_LOG, 0, b"\x14streaming"))
                self.link.service()
            time.sleep(0.002)


def fake_bleak(board: Board):
    class Client:
        def __init__(self, dev, disconnected_callback=None):
            self.on_disc = disconnected_callback
            self.mtu_size = 185
            self.cb = None

        async def connect(self):
            with board.bt.ble.lock:
                board.bt.ble.central = self
                board.link._irq(1, (7, 0, b""))
                board.link._irq(21, (7, 185))

        async def start_notify(self, uuid, cb):
            self.cb = cb

        def notify(self, data):
            if self.cb is not None:
                self.cb(None, bytearray(data))

        def board_disconnected(self):
            board.bt.ble.central = None
            if self.on_disc is not None:
                self.on_disc(self)

        async def write_gatt_char(self, uuid, data, response=False):
            with board.bt.ble.lock:
                board.bt.ble.values[board.link.h_rx] = bytes(data)
                board.link._irq(3, (7, board.link.h_rx))

        async def disconnect(self):
            with board.bt.ble.lock:
                board.bt.ble.central = None
                board.link._irq(2, (7, 0, b""))

    class Scanner:
        @staticmethod
        async def find_device_by_name(name, timeout=10.0):
            return object()

    class Bleak:
        BleakClient = Client
        BleakScanner = Scanner

    return Bleak


@pytest.fixture()
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("PERIFACIAL_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("PERIFACIAL_KEY", raising=False)
    return tmp_path / "keys"


def _board(monkeypatch, key=KEY):
    b = Board(key)
    monkeypatch.setattr(host_ble, "_bleak", lambda: fake_bleak(b))
    return b


def test_ble_session_authenticates_with_the_stored_key_then_streams(keys, monkeypatch):
    b = _board(monkeypatch)
    save_key(BOARD_ID, KEY)
    t = host_ble.BleTransport("ble://perifacial", "perifacial", scan_timeout=5.0)
    try:
        assert t.board_id == BOARD_ID and b.auth.accepted == 1
        got = b""
        deadline = time.monotonic() + 30
        while b"streaming" not in got and time.monotonic() < deadline:
            got += t.read(4096, 0.1)
        assert b"streaming" in got and wire.check(got, got.index(b"\xa5\x5a")) > 0
        frame = wire.encode(wire.T_COMMAND, 1, b'{"id":1,"cmd":"identify"}')
        t.write(frame)
        deadline = time.monotonic() + 30
        while bytes(b.rx) != frame and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bytes(b.rx) == frame  # after the handshake, the central's bytes reach the App unchanged
    finally:
        t.close()
        b.stop.set()


def test_ble_wrong_key_is_refused_naming_the_board(keys, monkeypatch):
    b = _board(monkeypatch)
    save_key(BOARD_ID, bytes(32))
    try:
        with pytest.raises(AuthError, match="board ble-board-1 refused the key.*perifacial pair"):
            host_ble.BleTransport("ble://perifacial", "perifacial", scan_timeout=5.0)
        assert b.auth.wrong_key == 1 and b.rx == bytearray()
    finally:
        b.stop.set()


def test_ble_no_key_on_this_host_says_how_to_pair(keys, monkeypatch):
    b = _board(monkeypatch)
    try:
        with pytest.raises(AuthError, match="no key for board ble-board-1"):
            host_ble.BleTransport("ble://perifacial", "perifacial", scan_timeout=5.0)
    finally:
        b.stop.set()
