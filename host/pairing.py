"""Pairing keys on the host and the host side of the wireless challenge-response.

>>> from perifacial.host.pairing import pair, load_key
>>> with open_board("/dev/ttyACM0") as b:        # USB: physical access is the proof
...     board_id, path = pair(b)                # the board stores a new random key; so does this host
>>> open_board("tcp://192.168.1.50:4242")        # the key is taken from the store by the board's id

Keys live in one file per board id (hex, mode 0600) under ``$PERIFACIAL_KEYS_DIR`` if set, else
``platformdirs.user_config_dir("perifacial")/keys``. ``tcp://...?key=HEX`` or ``$PERIFACIAL_KEY`` override the store
(rigs). The handshake messages are built by :mod:`perifacial.firmware.auth` (the board's own code); here they are
signed with :mod:`hmac`. See firmware/WIRE.md "Authentication".
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from perifacial.firmware import auth as fw_auth
from perifacial.host.transport import TransportOpenError

log = logging.getLogger(__name__)

__all__ = [
    "AuthError",
    "KEYS_DIR_ENV",
    "KEY_ENV",
    "authenticate",
    "ble_passkey",
    "keys_dir",
    "key_path",
    "load_key",
    "new_key",
    "pair",
    "read_line_from",
    "save_key",
]

KEYS_DIR_ENV = "PERIFACIAL_KEYS_DIR"
KEY_ENV = "PERIFACIAL_KEY"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class AuthError(TransportOpenError):
    """The board refused the session (or is not paired); the message says which board and how to pair."""


def keys_dir() -> Path:
    env = os.environ.get(KEYS_DIR_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("perifacial")) / "keys"


def key_path(board_id: str) -> Path:
    return keys_dir() / (_SAFE.sub("_", board_id) + ".key")


def new_key() -> bytes:
    return secrets.token_bytes(fw_auth.KEY_BYTES)


def save_key(board_id: str, key: bytes) -> Path:
    """Write ``key`` for ``board_id`` (hex, file mode 0600, folder 0700); returns the file."""
    path = key_path(board_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_key(board_id: str) -> bytes | None:
    path = key_path(board_id)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise AuthError(f"{path}: not a key (hex expected); pair the board again") from exc


def parse_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise AuthError(f"{where}: the key must be hex ({2 * fw_auth.KEY_BYTES} digits)") from exc
    if len(key) != fw_auth.KEY_BYTES:
        raise AuthError(f"{where}: the key must be {fw_auth.KEY_BYTES} bytes ({2 * fw_auth.KEY_BYTES} hex digits)")
    return key


def pair(board, remote_admin: bool = False) -> tuple[str, Path]:
    """Give the board (connected over USB, or the in-process ``sim://``) a new random key and store it here.

    ``remote_admin``: also allow ``repl``/``reboot`` over the wireless links (rigs without a participant).
    Returns ``(board_id, key_file)``.
    """
    key = new_key()
    r = board.command("pair", key=key.hex(), remote_admin=bool(remote_admin))
    board_id = str(r["board_id"])
    return board_id, save_key(board_id, key)


def _how_to_pair(board_id: str, url: str) -> str:
    return (
        f"pair it over USB first: `perifacial pair /dev/ttyACM0` (or COMx) with board {board_id} plugged in, "
        f"or give the key with {url.split('?')[0]}?key=HEX or ${KEY_ENV}"
    )


def read_line_from(read: Callable[[int, float], bytes], deadline: float, url: str) -> bytes:
    """One handshake line from a transport's ``read(n, timeout)`` (byte by byte: frames follow the line)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or len(line) > 200:
            raise TransportOpenError(f"{url}: no authentication line from the board in time (got {bytes(line)[:60]!r})")
        line += read(1, left)
    return bytes(line)


def authenticate(
    read_line: Callable[[float], bytes],
    write: Callable[[bytes], None],
    url: str,
    key: bytes | None = None,
    timeout: float = 5.0,
) -> str:
    """Answer the board's challenge (the first line it sends); return the board id.

    ``read_line(deadline)`` returns one line (with its ``\\n``) or raises; ``key`` overrides the store
    (``$PERIFACIAL_KEY`` too). Raises :class:`AuthError` saying which board refused and how to pair it.
    """
    deadline = time.monotonic() + timeout
    line = read_line(deadline)
    parts = line.strip().split(b" ")
    if len(parts) != 3 or parts[0] != fw_auth.PROTO:
        raise AuthError(
            f"{url}: not a perifacial board, or firmware older than the authenticated link "
            f"(first line {line[:60]!r}); flash the current firmware"
        )
    board_id = parts[1].decode("ascii", "replace")
    if parts[2] == b"UNPAIRED":
        raise AuthError(f"{url}: board {board_id} has no pairing key yet: {_how_to_pair(board_id, url)}")
    if key is None and os.environ.get(KEY_ENV):
        key = parse_key(os.environ[KEY_ENV], "$" + KEY_ENV)
    if key is None:
        key = load_key(board_id)
    if key is None:
        raise AuthError(f"{url}: no key for board {board_id} in {keys_dir()}: {_how_to_pair(board_id, url)}")
    nonce_b = parts[2]
    nonce_h = binascii.hexlify(secrets.token_bytes(fw_auth.NONCE_BYTES))
    bid = parts[1]
    mac = hmac.new(key, fw_auth.host_msg(bid, nonce_b, nonce_h), hashlib.sha256).hexdigest().encode()
    write(nonce_h + b" " + mac + b"\n")
    try:
        answer = read_line(deadline).strip()
    except OSError as exc:
        raise AuthError(f"{url}: board {board_id} closed the connection during authentication ({exc})") from exc
    if answer.startswith(b"DENIED"):
        why = answer[6:].strip().decode("ascii", "replace")
        if why.startswith("busy"):
            raise AuthError(
                f"{url}: board {board_id} refused the session: {why}. It accepts a new host once the "
                "current one has been silent for 3 s (or disconnects)"
            )
        raise AuthError(
            f"{url}: board {board_id} refused the key ({why}): the stored key is not the board's; "
            + _how_to_pair(board_id, url)
        )
    want = hmac.new(key, fw_auth.board_msg(bid, nonce_b, nonce_h), hashlib.sha256).hexdigest().encode()
    if not (answer.startswith(b"OK ") and hmac.compare_digest(answer[3:], want)):
        raise AuthError(
            f"{url}: board {board_id} did not prove it holds the key (answer {answer[:20]!r}): "
            "another device may be answering at this address"
        )
    log.info("%s: authenticated session with board %s", url, board_id)
    return board_id


def ble_passkey(key: bytes, board_id: str) -> int:
    """The 6-digit LE passkey the board uses when bonding (derived from the pairing key; enter it when the OS asks)."""
    d = hmac.new(key, b"perifacial-ble-passkey " + board_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(d[:4], "big") % 1000000
