"""Test helper: a minimal wire-protocol device (identify/get_config/set_config/start/stop/marker/status) that streams
pre-built DATA frames, for fault-injection tests the virtual board does not cover (dropping a TCP link mid-stream).

It speaks the protocol through ``wire.encode``/``wire.check`` only; the codes it sends are known, so tests compare
what the host decoded against them exactly.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
from _hostframes import data_frame

from perifacial.firmware import wire


class FakeDevice:
    def __init__(self, n_samples=5000, per_frame=10, seed=0, n_chips=3):
        rng = np.random.default_rng(seed)
        self.codes = rng.integers(-(1 << 23), 1 << 23, size=(8 * n_chips, n_samples), dtype=np.int64)
        self.status = np.full((n_chips, n_samples), 0xC00000, dtype=np.int64)
        self.per_frame = per_frame
        self.n_chips = n_chips
        self.seq = 0
        self.pos = 0  # next sample to send
        self.running = False
        self.rx = b""
        self.config = {"rate": 1000, "gain": [24] * (8 * n_chips), "samples_per_frame": per_frame}

    def _frame(self, ftype, payload):
        f = wire.encode(ftype, self.seq, payload)
        self.seq += 1
        return f

    def handle(self, data: bytes) -> bytes:
        """Process host bytes; return the reply bytes."""
        self.rx += data
        out = b""
        while len(self.rx) >= wire.HEADER_SIZE:
            size = wire.check(self.rx, 0)
            if size == -1:
                break
            if size == 0:
                self.rx = self.rx[1:]
                continue
            ftype, length, _seq = wire.parse_header(self.rx, 0)
            payload = self.rx[wire.HEADER_SIZE : wire.HEADER_SIZE + length]
            self.rx = self.rx[size:]
            msg = json.loads(payload)
            out += self._frame(wire.T_RESPONSE, json.dumps(self.reply(msg)).encode())
        return out

    def reply(self, msg):
        cid, cmd = msg.get("id"), msg.get("cmd")
        if cmd == "identify":
            return {
                "id": cid,
                "ok": True,
                "name": "perifacial",
                "firmware": "fake",
                "chips": self.n_chips,
                "channels": 8 * self.n_chips,
            }
        if cmd == "get_config":
            return {"id": cid, "ok": True, "config": self.config}
        if cmd == "start":
            self.running = True
            return {"id": cid, "ok": True}
        if cmd == "stop":
            self.running = False
            return {"id": cid, "ok": True}
        if cmd == "marker":
            return {"id": cid, "ok": True, "sample": self.pos}
        return {"id": cid, "ok": False, "error": f"unknown command {cmd!r}"}

    def produce(self, n_frames: int) -> bytes:
        out = []
        total = self.codes.shape[1]
        for _ in range(n_frames):
            if not self.running or self.pos >= total:
                break
            s1 = min(total, self.pos + self.per_frame)
            out.append(
                data_frame(
                    self.seq,
                    self.pos,
                    self.codes[:, self.pos : s1],
                    self.status[:, self.pos : s1],
                    device_time_us=self.pos * 1000,
                )
            )
            self.seq += 1
            self.pos = s1
        return b"".join(out)

    def skip(self, n: int) -> None:
        """Lose ``n`` samples (as if the link was down while the board kept sampling)."""
        self.pos += n


class FakeTcpServer:
    """Serve a FakeDevice on localhost; ``drop()`` closes the current connection (the device keeps sampling:
    ``lost_on_drop`` samples are skipped), the next connection resumes the stream."""

    def __init__(
        self, device: FakeDevice, frames_per_tick=5, tick_s=0.002, lost_on_drop=100, drop_at_sample: int | None = None
    ):
        self.dev = device
        self.drop_at_sample = drop_at_sample  # drop once when this many samples were sent (scheduling-independent)
        self.frames_per_tick = frames_per_tick
        self.tick_s = tick_s
        self.lost_on_drop = lost_on_drop
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self._stop = threading.Event()
        self._drop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.srv.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if not self._authenticate(conn):
                conn.close()
                continue
            conn.settimeout(0.001)
            try:
                while not self._stop.is_set():
                    if self._drop.is_set():
                        self._drop.clear()
                        self.dev.skip(self.lost_on_drop)
                        break
                    try:
                        data = conn.recv(65536)
                        if not data:
                            break
                        conn.sendall(self.dev.handle(data))
                    except TimeoutError:
                        pass
                    chunk = self.dev.produce(self.frames_per_tick)
                    if chunk:
                        conn.sendall(chunk)
                    if self.drop_at_sample is not None and self.dev.pos >= self.drop_at_sample:
                        self.drop_at_sample = None
                        self._drop.set()
                    time.sleep(self.tick_s)
            except OSError:
                pass
            finally:
                conn.close()

    KEY = bytes(range(32))  #: the pairing key this fake board accepts (``url`` carries it as ?key=)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}?key={self.KEY.hex()}"

    def _authenticate(self, conn) -> bool:
        """The board side of the challenge-response, with the firmware's own code (auth.Handshake)."""
        from perifacial.firmware import auth

        a = auth.Auth(auth.MemStore({"key": self.KEY.hex()}), "fake-board")
        hs = auth.Handshake(a)
        conn.settimeout(5.0)
        try:
            conn.sendall(hs.hello())
            verdict = None
            while verdict is None:
                b = conn.recv(1)
                if not b:
                    return False
                verdict = hs.feed(b)
            if not verdict:
                conn.sendall(b"DENIED wrong key\n")
                return False
            conn.sendall(hs.welcome())
        except OSError:
            return False
        return True

    def drop(self):
        self._drop.set()

    def close(self):
        self._stop.set()
        self.thread.join(2)
        self.srv.close()
