"""Byte-stream transports behind one URL, in the spirit of pyserial's ``serial_for_url``.

``open_transport(url)`` understands:

- ``sim://?seed=1&rate=1000&realtime=0`` - the virtual board (:mod:`perifacial.host.sim.virtual_board`) in this
  process: the firmware's own code running on an ADS1299 model. Query options are passed to ``VirtualBoard``
  (``realtime=0`` generates as fast as the host reads).
- a serial port: ``/dev/ttyACM0``, ``COM3``, ``serial:///dev/ttyUSB0?baud=921600``, or any pyserial URL
  (``loop://``, ``socket://host:port``, ``rfc2217://…``, ``spy://…``, ``hwgrep://…``).
- ``tcp://host:port`` - the board's TCP link (Nagle off), authenticated with the pairing key of the board that
  answers (:mod:`perifacial.host.pairing`; ``?key=HEX`` or ``$PERIFACIAL_KEY`` override the key store). The
  transport sends a ``ping`` keepalive when it has written nothing for a second (the board drops a silent owner
  after 3 s).
- ``emu://?rate=2000`` - the firmware on MicroPython's real RP2040 build in the rp2040js emulator (node), against an
  emulated ADS1299 chain; time is emulated (:mod:`perifacial.host.emu.transport`).
- ``ble://name-or-address`` - a BLE board through bleak (Nordic UART style service: notifications carry the
  board's bytes, writes carry commands; see :mod:`perifacial.host.ble`).

Every transport has ``read(n, timeout) -> bytes`` (up to ``n`` bytes; waits at most ``timeout`` seconds for the
first one; ``b""`` on timeout), ``write(data)``, ``close()`` and ``reconnect(timeout)``. A lost link raises
:class:`LinkLost`; failing to open raises :class:`TransportOpenError`; both say what to try next.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import time
from abc import ABC, abstractmethod
from urllib.parse import parse_qsl, urlsplit

from perifacial.errors import InvalidArgument, PerifacialError

log = logging.getLogger(__name__)

__all__ = [
    "BadUrl",
    "LinkLost",
    "SerialTransport",
    "SimTransport",
    "TcpTransport",
    "Transport",
    "TransportError",
    "TransportOpenError",
    "open_transport",
    "parse_query",
    "sim_options",
]

#: pyserial URL schemes handed to ``serial.serial_for_url`` as they are.
PYSERIAL_SCHEMES = ("loop", "socket", "rfc2217", "spy", "hwgrep", "alt", "cp2110")
DEFAULT_BAUD = 921600  # ignored by USB CDC ports; the UART default of the board profiles


class TransportError(OSError, PerifacialError):
    """Base class of transport failures (an ``OSError``, so generic handlers keep working)."""


class TransportOpenError(TransportError):
    """The link could not be opened (no such port, refused connection, no such BLE device...)."""


class BadUrl(TransportOpenError, InvalidArgument):
    """The board URL itself is wrong (a port out of range, an unknown ``sim://`` option...): nothing was opened."""


class LinkLost(TransportError):
    """An open link went away (unplugged cable, closed socket, BLE disconnect)."""


def parse_query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


class Transport(ABC):
    """A bidirectional byte stream to one board."""

    url: str = ""
    kind: str = ""

    @abstractmethod
    def read(self, n: int, timeout: float) -> bytes:
        """Return up to ``n`` bytes, waiting at most ``timeout`` s for the first; ``b""`` on timeout."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    @abstractmethod
    def close(self) -> None:
        """Release the link; idempotent."""

    def reconnect(self, timeout: float = 10.0) -> None:
        """Reopen the link after :class:`LinkLost`, retrying for up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        last: Exception | None = None
        self.close()
        while True:
            try:
                self._open()
                log.info("reconnected %s", self.url)
                return
            except TransportError as exc:
                last = exc
            if time.monotonic() + delay > deadline:
                raise LinkLost(f"could not reconnect to {self.url} within {timeout:g} s: {last}") from last
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _open(self) -> None:  # pragma: no cover - overridden where reconnect makes sense
        raise TransportOpenError(f"{self.url}: this transport cannot reconnect")

    @property
    def is_open(self) -> bool:
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


class SimTransport(Transport):
    """The virtual board in this process. ``reconnect`` keeps the same board (it keeps running, like a real
    board whose host dropped the link)."""

    kind = "sim"

    def __init__(self, url: str, **options):
        from perifacial.host.sim.virtual_board import VirtualBoard  # lazy: the model imports numpy/dsp

        self.url = url
        self._board = VirtualBoard(**options)
        self._open_flag = True

    @property
    def board(self):
        """The ``VirtualBoard`` object (tests use it to inject faults)."""
        return self._board

    #: faster-than-real-time reads gather at least this much (virtual time is free; fewer, larger decoder feeds)
    BATCH = 1 << 16

    def read(self, n: int, timeout: float) -> bytes:
        if not self._open_flag:
            raise LinkLost(f"{self.url}: transport closed")
        data = self._board.read(n, timeout)
        if data and not self._board.realtime:
            parts = [data]
            got = len(data)
            want = min(n, self.BATCH)
            while got < want:
                more = self._board.read(n - got, max(timeout, 0.05))
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def write(self, data: bytes) -> None:
        if not self._open_flag:
            raise LinkLost(f"{self.url}: transport closed")
        self._board.write(bytes(data))

    def close(self) -> None:
        if self._open_flag:
            self._open_flag = False
            self._board.close()

    def reconnect(self, timeout: float = 10.0) -> None:
        if not self._open_flag:
            raise LinkLost(f"{self.url}: the virtual board was closed; open a new one")

    @property
    def is_open(self) -> bool:
        return self._open_flag


def sim_options(query: str) -> dict:
    """The virtual board's options (``seed``, ``rate``, ``realtime``, ...) from the query part of a ``sim://`` URL,
    validated; raises :class:`BadUrl` naming the bad part."""
    from perifacial.validate import check_board_url

    try:
        return check_board_url("sim://?" + query)
    except InvalidArgument as exc:
        raise BadUrl(str(exc)) from None


class SerialTransport(Transport):
    """A serial port or pyserial URL (``serial.serial_for_url``)."""

    kind = "serial"

    def __init__(self, url: str, port: str, baud: int = DEFAULT_BAUD, **kwargs):
        self.url = url
        self.port_name = port
        self.baud = baud
        self._kwargs = kwargs
        self._ser = None
        self._open()

    def _open(self) -> None:
        import serial

        try:
            self._ser = serial.serial_for_url(self.port_name, baudrate=self.baud, timeout=0.1, **self._kwargs)
        except serial.SerialException as exc:
            raise TransportOpenError(_explain_serial(self.port_name, exc)) from exc
        except (OSError, ValueError) as exc:
            raise TransportOpenError(_explain_serial(self.port_name, exc)) from exc
        try:
            self._ser.reset_input_buffer()
        except Exception:  # noqa: BLE001 - not every URL handler implements it
            pass

    def read(self, n: int, timeout: float) -> bytes:
        import serial

        ser = self._ser
        if ser is None:
            raise LinkLost(f"{self.url}: port closed")
        try:
            ser.timeout = max(0.0, timeout)
            waiting = ser.in_waiting
            return ser.read(max(1, min(n, waiting)))
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise LinkLost(
                f"{self.url}: the serial link failed ({exc}); is the board still plugged in? "
                "The host will try to reconnect."
            ) from exc

    def write(self, data: bytes) -> None:
        import serial

        if self._ser is None:
            raise LinkLost(f"{self.url}: port closed")
        try:
            self._ser.write(bytes(data))
            self._ser.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.url}: could not write to the serial port ({exc}); is the board unplugged?") from exc

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # noqa: BLE001
                pass

    @property
    def is_open(self) -> bool:
        return self._ser is not None and self._ser.is_open


def _explain_serial(port: str, exc: BaseException) -> str:
    text = str(exc)
    err = getattr(exc, "errno", None)
    if err == errno.ENOENT or "No such file" in text or "could not open port" in text and "FileNotFound" in text:
        return (
            f"serial port {port!r} does not exist: is the board plugged in? `perifacial devices` lists the ports; "
            "use sim:// for the virtual board"
        )
    if err == errno.EACCES or "Permission denied" in text or "PermissionError" in text:
        return (
            f"no permission to open {port!r}: on Linux add yourself to the 'dialout' group "
            "(sudo usermod -aG dialout $USER, then log in again)"
        )
    if err == errno.EBUSY or "busy" in text.lower():
        return f"serial port {port!r} is busy: close other programs using it (mpremote, Thonny, a serial monitor)"
    return f"could not open serial port {port!r}: {text}"


def _recv(sock, n: int, timeout: float, url: str, error: type[Exception], during: str = "", hint: str = "") -> bytes:
    """``sock.recv(n)`` waiting at most ``timeout`` s: b"" when nothing came; ``error`` when the connection failed
    (its message: ``url``, what happened, ``during``, ``hint``) or the board closed it."""
    try:
        sock.settimeout(timeout)
        data = sock.recv(n)
    except TimeoutError:
        return b""
    except OSError as exc:
        raise error(f"{url}: connection lost{during} ({exc}){hint}") from exc
    if not data:
        raise error(f"{url}: the board closed the connection{during}")
    return data


class TcpTransport(Transport):
    """The board's TCP link (``tcp://host:port``): challenge-response with the pairing key, then the byte stream.

    ``key``: the pairing key (bytes or hex); default ``$PERIFACIAL_KEY``, else the key stored for the board id the
    board announces. ``keepalive``: seconds without a write after which ``read`` sends a ``ping`` command.
    """

    kind = "tcp"

    #: seconds without a write after which a keepalive is sent (the board drops a silent owner after 3 s)
    KEEPALIVE_S = 1.0

    def __init__(
        self,
        url: str,
        host: str,
        port: int,
        connect_timeout: float = 5.0,
        key: bytes | str | None = None,
        keepalive: float | None = None,
    ):
        self.url = url
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        if isinstance(key, str):
            from perifacial.host.pairing import parse_key

            key = parse_key(key, f"{url}: key")
        self.key = key
        self.keepalive = self.KEEPALIVE_S if keepalive is None else float(keepalive)
        self.board_id: str | None = None
        self._sock: socket.socket | None = None
        self._last_tx = time.monotonic()
        self._open()

    def _open(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except ConnectionRefusedError as exc:
            raise TransportOpenError(
                f"connection to {self.host}:{self.port} refused: is the board's TCP server running and is the port "
                "right?"
            ) from exc
        except TimeoutError as exc:
            raise TransportOpenError(
                f"no answer from {self.host}:{self.port} within {self.connect_timeout:g} s: is the board on this "
                "network (same Wi-Fi), and the address right?"
            ) from exc
        except socket.gaierror as exc:
            raise TransportOpenError(f"unknown host {self.host!r}: check the address ({exc})") from exc
        except OSError as exc:
            raise TransportOpenError(f"could not connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        from perifacial.host.pairing import authenticate, read_line_from

        def recv1(n: int, timeout: float) -> bytes:
            return _recv(sock, 1, max(timeout, 1e-3), self.url, TransportOpenError, during=" during authentication")

        def read_line(deadline: float) -> bytes:
            return read_line_from(recv1, deadline, self.url)

        try:
            self.board_id = authenticate(read_line, sock.sendall, self.url, self.key, timeout=self.connect_timeout)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._last_tx = time.monotonic()

    def _keepalive(self) -> None:
        if self.keepalive > 0 and time.monotonic() - self._last_tx >= self.keepalive:
            from perifacial.firmware import wire

            self.write(wire.encode(wire.T_COMMAND, 0, b'{"id":0,"cmd":"ping"}'))

    def read(self, n: int, timeout: float) -> bytes:
        sock = self._sock
        if sock is None:
            raise LinkLost(f"{self.url}: socket closed")
        self._keepalive()
        return _recv(sock, n, max(timeout, 1e-6), self.url, LinkLost, hint="; the host will try to reconnect")

    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise LinkLost(f"{self.url}: socket closed")
        try:
            self._sock.settimeout(5.0)
            self._sock.sendall(bytes(data))
        except OSError as exc:
            raise LinkLost(f"{self.url}: could not send ({exc})") from exc
        self._last_tx = time.monotonic()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def is_open(self) -> bool:
        return self._sock is not None


_WIN_COM = re.compile(r"^COM\d+$", re.IGNORECASE)


def open_transport(url: str, **kwargs) -> Transport:
    """Open the link named by ``url`` (see the module docstring). Extra keyword arguments go to the transport.

    Parameters
    ----------
    url : str
        The link (see the module docstring).
    **kwargs
        Transport options.

    Returns
    -------
    Transport
        ``read(n, timeout)``, ``write(data)``, ``close()``, ``reconnect(timeout)``.

    Raises
    ------
    TransportOpenError
        The link cannot be opened; the message says what to try.

    Examples
    --------
    >>> from perifacial.host import open_transport
    >>> link = open_transport("sim://?seed=1")       # the virtual board; "/dev/ttyACM0", "tcp://host:port", "ble://name"
    >>> type(link).__name__
    'SimTransport'
    >>> link.close()
    """
    if not url:
        raise TransportOpenError(
            "empty board URL: give a port (/dev/ttyACM0, COM3), tcp://host:port, ble://name or sim://"
        )
    from perifacial.validate import check_board_url

    try:
        check_board_url(url)  # port ranges, baud, sim:// options
    except InvalidArgument as exc:
        raise BadUrl(str(exc)) from None
    if _WIN_COM.match(url) or url.startswith("/") or url.startswith("\\\\"):
        return SerialTransport(url, url, **kwargs)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sim":
        opts = sim_options(parts.query)
        opts.update(kwargs)
        return SimTransport(url, **opts)
    if scheme == "emu":
        from perifacial.host.emu.transport import EmuTransport, emu_options

        opts = emu_options(parts.query)
        opts.update(kwargs)
        return EmuTransport(url, **opts)
    if scheme == "serial":
        q = parse_query(parts.query)
        baud = int(q.pop("baud", DEFAULT_BAUD))
        port = (parts.netloc + parts.path) or q.pop("port", "")
        return SerialTransport(url, port, baud=baud, **kwargs)
    if scheme in PYSERIAL_SCHEMES:
        return SerialTransport(url, url, **kwargs)
    if scheme == "tcp":
        if not parts.hostname or not parts.port:
            raise TransportOpenError(f"{url!r}: a TCP URL needs a host and a port, e.g. tcp://192.168.4.1:8765")
        q = parse_query(parts.query)
        if "key" in q:
            kwargs.setdefault("key", q["key"])
        return TcpTransport(url, parts.hostname, parts.port, **kwargs)
    if scheme == "ble":
        from perifacial.host.ble import BleTransport

        target = parts.netloc + parts.path
        return BleTransport(url, target, **{**parse_query(parts.query), **kwargs})
    raise TransportOpenError(
        f"unknown board URL {url!r}: use a serial port (/dev/ttyACM0, COM3), tcp://host:port, ble://name-or-address, "
        "sim:// (virtual board) or emu:// (the firmware on an emulated RP2040)"
    )
