"""BLE transport (bleak) and BLE board discovery.

bleak is asyncio-only; :class:`BleTransport` runs its own event loop in a background thread and turns GATT
notifications into a byte queue, so the rest of the host sees the same blocking ``read``/``write`` stream as for
serial or TCP. The board exposes a Nordic-UART-style service: the host subscribes to notifications on ``tx`` (board
-> host) and writes commands to ``rx`` (host -> board). Override the UUIDs with URL query options
(``ble://perifacial-1?service=…&tx=…&rx=…``) if a firmware uses others.

MTU note: each notification carries at most ``MTU - 3`` bytes (20 with the default 23-byte ATT MTU; 244 or more
after the MTU exchange most stacks perform). The stream is reassembled from notifications in order, so frame
boundaries need not match notifications, but throughput depends on the negotiated MTU and connection interval:
24 channels at 1000 SPS (~81 kB/s) needs a large MTU and a short interval; check the measured rate and the gap
count in the progress line. Host commands larger than ``MTU - 3`` are split into several writes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from perifacial.firmware.links import BLE_RX as NUS_RX  # host writes here
from perifacial.firmware.links import BLE_SERVICE as NUS_SERVICE
from perifacial.firmware.links import BLE_TX as NUS_TX  # board notifies here
from perifacial.host.transport import LinkLost, Transport, TransportOpenError

log = logging.getLogger(__name__)

NAME_PREFIX = "perifacial"  #: advertised names of boards start with this


def _bleak():
    try:
        import bleak
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise TransportOpenError("BLE needs bleak: pip install 'perifacial[ble]'") from exc
    return bleak


def _looks_like_address(s: str) -> bool:
    return len(s) in (17, 36) and (s.count(":") == 5 or s.count("-") == 4)


class BleTransport(Transport):
    """``ble://name-or-address``: notifications -> byte queue, writes without response."""

    kind = "ble"

    def __init__(
        self,
        url: str,
        target: str,
        service: str = NUS_SERVICE,
        tx: str = NUS_TX,
        rx: str = NUS_RX,
        scan_timeout: float = 10.0,
        key: bytes | str | None = None,
    ):
        self.url = url
        self.target = target
        self.service, self.tx, self.rx = service, tx, rx
        self.scan_timeout = float(scan_timeout)
        self._q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._buf = b""
        self._lost = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="perifacial-ble", daemon=True)
        self._thread.start()
        self._client = None
        self.mtu = 23
        if isinstance(key, str):
            from perifacial.host.pairing import parse_key

            key = parse_key(key, f"{url}: key")
        self.key = key
        self.board_id: str | None = None
        self._open()

    def _run(self, coro, timeout: float):
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    async def _connect(self):
        bleak = _bleak()
        if _looks_like_address(self.target):
            dev = await bleak.BleakScanner.find_device_by_address(self.target, timeout=self.scan_timeout)
        else:
            dev = await bleak.BleakScanner.find_device_by_name(self.target, timeout=self.scan_timeout)
        if dev is None:
            raise TransportOpenError(
                f"no BLE device {self.target!r} found in {self.scan_timeout:g} s: is the board powered and "
                "advertising, and Bluetooth on? `perifacial devices` lists nearby boards"
            )

        def on_disconnect(_client):
            self._lost.set()
            self._q.put(None)

        client = bleak.BleakClient(dev, disconnected_callback=on_disconnect)
        await client.connect()
        self.mtu = int(getattr(client, "mtu_size", 23) or 23)

        def on_notify(_char, data: bytearray):
            self._q.put(bytes(data))

        await client.start_notify(self.tx, on_notify)
        return client

    def _open(self) -> None:
        self._lost.clear()
        try:
            self._client = self._run(self._connect(), self.scan_timeout + 20.0)
        except TransportOpenError:
            raise
        except Exception as exc:  # noqa: BLE001 - bleak raises many backend-specific types
            raise TransportOpenError(f"BLE connection to {self.target!r} failed: {exc}") from exc
        log.info("BLE %s connected, MTU %d (notifications carry <= %d bytes)", self.target, self.mtu, self.mtu - 3)
        # the same challenge-response as TCP (firmware/auth.py): the board sends nothing else before it succeeds
        from perifacial.host.pairing import authenticate, read_line_from

        try:
            self.board_id = authenticate(
                lambda deadline: read_line_from(self.read, deadline, self.url),
                self.write,
                self.url,
                self.key,
                timeout=self.scan_timeout,
            )
        except BaseException:
            self.close()
            raise

    def read(self, n: int, timeout: float) -> bytes:
        if not self._buf:
            try:
                item = self._q.get(timeout=max(timeout, 0.0)) if timeout > 0 else self._q.get_nowait()
            except queue.Empty:
                return b""
            if item is None:
                raise LinkLost(f"{self.url}: BLE disconnected (out of range or board reset); reconnecting may help")
            self._buf = item
            while len(self._buf) < n:  # gather what is already queued
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._q.put(None)
                    break
                self._buf += more
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def write(self, data: bytes) -> None:
        if self._client is None or self._lost.is_set():
            raise LinkLost(f"{self.url}: BLE link is down")
        chunk = max(20, self.mtu - 3)
        try:
            for i in range(0, len(data), chunk):
                self._run(self._client.write_gatt_char(self.rx, bytes(data[i : i + chunk]), response=False), 10.0)
        except Exception as exc:  # noqa: BLE001
            raise LinkLost(f"{self.url}: BLE write failed ({exc})") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                self._run(client.disconnect(), 5.0)
            except Exception:  # noqa: BLE001
                pass

    def __del__(self):  # pragma: no cover
        try:
            self._loop.call_soon_threadsafe(self._loop.stop)
        except Exception:  # noqa: BLE001
            pass

    @property
    def is_open(self) -> bool:
        return self._client is not None and not self._lost.is_set()


def scan(timeout: float = 5.0, name_prefix: str = NAME_PREFIX) -> list[dict]:
    """Nearby BLE devices whose name starts with ``name_prefix`` or that advertise the board service.

    Returns ``[{"name", "address", "rssi", "url"}]``. Raises ``RuntimeError`` when BLE is unavailable (no adapter,
    no BlueZ/D-Bus, bleak missing)."""
    bleak = _bleak()

    async def _scan():
        return await bleak.BleakScanner.discover(timeout=timeout, return_adv=True)

    try:
        found = asyncio.run(_scan())
    except Exception as exc:  # noqa: BLE001
        raise RuntimeError(f"BLE scan unavailable: {exc}") from exc
    out = []
    for _addr, (dev, adv) in found.items():
        name = dev.name or adv.local_name or ""
        uuids = [u.lower() for u in (adv.service_uuids or [])]
        if name.lower().startswith(name_prefix) or NUS_SERVICE in uuids:
            out.append({"name": name, "address": dev.address, "rssi": adv.rssi, "url": f"ble://{dev.address}"})
    return sorted(out, key=lambda d: -(d["rssi"] or -999))
