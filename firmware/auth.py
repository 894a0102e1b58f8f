# Pairing key and challenge-response authentication for the wireless links (TCP; see WIRE.md "Authentication").
#
# HMAC-SHA256 (RFC 2104) written out over hashlib.sha256, which every MicroPython port and the WebAssembly runtime
# have; the host uses CPython's hmac module on the same messages (built here, once). Nonces: os.urandom where the
# port has it (rp2: ring-oscillator entropy; esp32: hardware RNG), else random.getrandbits (WebAssembly build).
#
# Handshake (one line each way, ASCII, before any frame):
#   board -> host   b"PFAUTH1 <board_id> <nonce_b: 32 hex>\n"        (b"PFAUTH1 <board_id> UNPAIRED\n" then close)
#   host  -> board  b"<nonce_h: 32 hex> <HMAC(key, host_msg): 64 hex>\n"
#   board -> host   b"OK <HMAC(key, board_msg): 64 hex>\n" then frames, or b"DENIED <reason>\n" then close
# nonce_b is fresh for every connection, so a recorded response never answers another challenge (replay).
import binascii
import hashlib
import json

PROTO = b"PFAUTH1"
NONCE_BYTES = 16
KEY_BYTES = 32
LINE_MAX = 160  # longest handshake line accepted from a peer

try:
    import os as _os

    _urandom = _os.urandom  # type: ignore[attr-defined]
except (ImportError, AttributeError):
    _urandom = None


def random_bytes(n):
    if _urandom is not None:
        return _urandom(n)
    import random

    b = bytearray(n)
    for i in range(n):
        b[i] = random.getrandbits(8)
    return bytes(b)


def hmac_pads(key):
    """The two padded keys of HMAC-SHA256 (RFC 2104, block 64): computed once per key, they make each HMAC two
    SHA-256 runs and nothing else (the XOR loops cost ~1 ms per HMAC on an RP2040)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = bytearray(64)
    k[: len(key)] = key
    ipad = bytearray(64)
    opad = bytearray(64)
    for i in range(64):
        ipad[i] = k[i] ^ 0x36
        opad[i] = k[i] ^ 0x5C
    return bytes(ipad), bytes(opad)


def hmac_with_pads(pads, msg):
    h = hashlib.sha256(pads[0])
    h.update(msg)
    inner = h.digest()
    h = hashlib.sha256(pads[1])
    h.update(inner)
    return h.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256 of ``msg`` under ``key`` (both bytes), 32 bytes (RFC 2104, block size 64)."""
    return hmac_with_pads(hmac_pads(key), msg)


def equal(a, b):
    """Compare two byte strings in time independent of where they differ."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


def host_msg(board_id, nonce_b, nonce_h):
    """What the host signs (bytes; ids and nonces as sent, hex)."""
    return b"perifacial-auth1 host " + board_id + b" " + nonce_b + b" " + nonce_h


def board_msg(board_id, nonce_b, nonce_h):
    """What the board signs in its OK line (proves to the host that the board holds the key too)."""
    return b"perifacial-auth1 board " + board_id + b" " + nonce_b + b" " + nonce_h


def hexstr(b):
    return binascii.hexlify(b)


class MemStore:
    """Pairing record kept in memory (the virtual board's state)."""

    def __init__(self, record=None):
        self.record = record

    def load(self):
        return self.record

    def save(self, record):
        self.record = record


class FileStore:
    """Pairing record in a JSON file on the board's filesystem (``/auth.json``)."""

    def __init__(self, path="/auth.json"):
        self.path = path

    def load(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def save(self, record):
        with open(self.path, "w") as f:
            json.dump(record, f)


class Auth:
    """The board's pairing state and counters, shared by the App (commands) and the wireless link."""

    def __init__(self, store, board_id):
        self.store = store
        self.board_id = board_id.encode() if isinstance(board_id, str) else bytes(board_id)
        self.key = None
        self.pads = None  # hmac_pads(key), made once per key
        self.remote_admin = False
        self.accepted = 0
        self.wrong_key = 0  # bad or replayed responses
        self.timeouts = 0  # no complete response within the timeout
        self.busy = 0  # authenticated, refused: another host owns the board
        self.unpaired = 0  # connections refused because the board has no key yet
        self.overflow = 0  # connections closed at once: every handshake slot was taken
        self.silent_drops = 0  # owners dropped after the keepalive timeout
        rec = store.load()
        if isinstance(rec, dict) and isinstance(rec.get("key"), str):
            try:
                self._set_key(binascii.unhexlify(rec["key"]))
            except ValueError:
                self.key = None
            self.remote_admin = bool(rec.get("remote_admin", False))

    def pair(self, key_hex, remote_admin=False):
        """Store a new key (hex, 32 bytes); every later wireless session must prove it."""
        if not isinstance(key_hex, str):
            raise ValueError("key: expected %d bytes as hex" % KEY_BYTES)
        try:
            key = binascii.unhexlify(key_hex)
        except ValueError:
            raise ValueError("key: not hex")
        if len(key) != KEY_BYTES:
            raise ValueError("key: expected %d bytes (%d hex digits), got %d" % (KEY_BYTES, 2 * KEY_BYTES, len(key)))
        self.store.save({"key": key_hex, "remote_admin": bool(remote_admin)})
        self._set_key(key)
        self.remote_admin = bool(remote_admin)

    def _set_key(self, key):
        self.key = key
        self.pads = hmac_pads(key)

    def stats(self):
        return {
            "paired": self.key is not None,
            "accepted": self.accepted,
            "wrong_key": self.wrong_key,
            "timeouts": self.timeouts,
            "busy": self.busy,
            "unpaired": self.unpaired,
            "overflow": self.overflow,
            "silent_drops": self.silent_drops,
        }


class Handshake:
    """One connection's challenge-response, fed with whatever bytes arrive."""

    def __init__(self, auth):
        self.auth = auth
        self.key = auth.key
        self.nonce_b = hexstr(random_bytes(NONCE_BYTES))
        self.nonce_h = b""
        self.buf = bytearray(LINE_MAX)
        self.n = 0

    def hello(self):
        if self.key is None:
            return PROTO + b" " + self.auth.board_id + b" UNPAIRED\n"
        return PROTO + b" " + self.auth.board_id + b" " + self.nonce_b + b"\n"

    def feed(self, data):
        """Take received bytes; return None (line not complete), True (response valid) or False (refuse)."""
        data = bytes(data)
        i = data.find(b"\n")
        part = data if i < 0 else data[:i]
        n = self.n
        if n + len(part) > LINE_MAX:
            return False
        self.buf[n : n + len(part)] = part
        self.n = n + len(part)
        if i < 0:
            return None
        return self._check(bytes(self.buf[: self.n]))

    def _check(self, line):
        if self.key is None:
            return False
        parts = line.strip().split(b" ")
        if len(parts) != 2 or len(parts[0]) != 2 * NONCE_BYTES or len(parts[1]) != 64:
            return False
        self.nonce_h = parts[0]
        try:
            got = binascii.unhexlify(parts[1])
        except ValueError:
            return False
        return equal(hmac_with_pads(self.auth.pads, host_msg(self.auth.board_id, self.nonce_b, self.nonce_h)), got)

    def welcome(self):
        return (
            b"OK "
            + hexstr(hmac_with_pads(self.auth.pads, board_msg(self.auth.board_id, self.nonce_b, self.nonce_h)))
            + b"\n"
        )
