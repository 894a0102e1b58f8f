# perifacial wire format: the one definition shared by the board (MicroPython) and the host (CPython).
#
# Every frame, in either direction (little-endian):
#
#   offset size field
#   0      2    magic       0xA5 0x5A
#   2      1    version     VERSION
#   3      1    type        T_DATA, T_RESPONSE, T_STATUS, T_LOG, T_COMMAND, T_EVENT
#   4      2    length      payload bytes (0..MAX_PAYLOAD)
#   6      4    seq         u32 frame counter of the sender, +1 per frame of any type, wraps at 2**32
#   10     n    payload
#   10+n   4    crc         CRC-32 (zlib/binascii, ZIP polynomial) of bytes 0..10+n-1
#
# See firmware/WIRE.md for the payloads. This module must stay importable by MicroPython (no f-strings with
# format specs beyond MicroPython's, no dataclasses, no typing at runtime) and by CPython without shims.
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - every supported runtime has binascii.crc32
    from zlib import crc32  # type: ignore[no-redef]

MAGIC0 = const(0xA5)
MAGIC1 = const(0x5A)
MAGIC = b"\xa5\x5a"
VERSION = const(1)

HEADER_FMT = "<BBBBHI"
HEADER_SIZE = const(10)
CRC_SIZE = const(4)
OVERHEAD = const(14)  # HEADER_SIZE + CRC_SIZE
MAX_PAYLOAD = const(8192)  # a header announcing more is corrupt: the reader resynchronises

T_DATA = const(1)
T_RESPONSE = const(2)
T_STATUS = const(3)
T_LOG = const(4)
T_COMMAND = const(5)
T_EVENT = const(6)
TYPE_NAMES = {1: "DATA", 2: "RESPONSE", 3: "STATUS", 4: "LOG", 5: "COMMAND", 6: "EVENT"}

# DATA payload: this header, then n_samples x n_chips x CHIP_BYTES raw bytes exactly as shifted out of the
# daisy chain for each DRDY (chip 0 = the chip nearest DOUT first).
DATA_HDR_FMT = "<IIHBB"  # first_sample, device_time_us, n_samples, n_chips, flags
DATA_HDR_SIZE = const(12)
CHIP_BYTES = const(27)  # 3 status bytes + 8 channels x 3 bytes (24-bit two's complement, MSB first)
CHANNELS_PER_CHIP = const(8)
FLAG_OVERRUN = const(1)  # samples were lost on the device just before this frame's first sample
FLAG_STATUS_ERROR = const(2)  # a chip status word in this frame lacked its 0xC nibble (SPI misalignment)
TICKS_PERIOD = const(0x40000000)  # device_time_us wraps modulo 2**30 (MicroPython ticks_us period)

# STATUS payload: fixed struct of counters (heartbeat, sent about once a second and on request).
STATUS_FMT = "<IIIIIIIIB"
STATUS_FIELDS = (
    "uptime_ms",  # device uptime, ms (wraps at 2**32)
    "samples",  # DRDY events seen since start (acquired + lost)
    "overruns",  # samples lost on the device (ring full or a late read)
    "frames_sent",  # frames handed to the link
    "frames_dropped",  # frames the link could not take (their samples are counted in overruns too)
    "status_errors",  # chip status words without the 0xC nibble
    "bad_commands",  # malformed or unknown commands received
    "display",  # current value of the board-driven digit display
    "running",  # flags: bit 0 (STATUS_RUNNING) acquiring, bit 1 (STATUS_BENCH) bench mode (lead-off interlock off)
)
STATUS_SIZE = const(33)
STATUS_RUNNING = const(1)
STATUS_BENCH = const(2)

# EVENT payload: something that happened at a known sample (display change, marker).
EVENT_FMT = "<BIII"  # kind, value, sample, device_time_us
EVENT_SIZE = const(13)
EV_DISPLAY = const(1)  # board-driven display now shows `value`, latched at sample `sample`
EV_MARKER = const(2)  # a marker requested by the host, latched at `sample`

# LOG payload: one level byte then UTF-8 text.
LOG_DEBUG = const(10)
LOG_INFO = const(20)
LOG_WARNING = const(30)
LOG_ERROR = const(40)

# COMMAND and RESPONSE payloads are UTF-8 JSON objects:
#   command:  {"id": <int>, "cmd": "<name>", ...arguments}
#   response: {"id": <same int>, "ok": true, ...results}  or  {"id": <int or null>, "ok": false, "error": "<text>"}


def frame_size(payload_len):
    """Bytes on the wire for a payload of ``payload_len`` bytes."""
    return payload_len + OVERHEAD


def pack_header(buf, ftype, seq, length):
    """Write the 10-byte header at the start of ``buf`` (a bytearray or writable memoryview)."""
    struct.pack_into(HEADER_FMT, buf, 0, MAGIC0, MAGIC1, VERSION, ftype, length, seq & 0xFFFFFFFF)


def seal(buf, ftype, seq, length):
    """Finish a frame whose payload is already in ``buf[HEADER_SIZE:HEADER_SIZE + length]``.

    Writes the header and the CRC in place and returns the frame's total size. ``buf`` must hold at least
    ``frame_size(length)`` bytes. Allocation-free apart from the CRC's integer result.
    """
    pack_header(buf, ftype, seq, length)
    end = HEADER_SIZE + length
    mv = memoryview(buf)
    struct.pack_into("<I", buf, end, crc32(mv[:end]) & 0xFFFFFFFF)
    return end + CRC_SIZE


def encode(ftype, seq, payload):
    """Return a complete frame (bytes) for ``payload``; allocates, for replies and for the host."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too long")
    buf = bytearray(n + OVERHEAD)
    buf[HEADER_SIZE : HEADER_SIZE + n] = payload
    seal(buf, ftype, seq, n)
    return bytes(buf)


def parse_header(buf, off=0):
    """Return ``(ftype, length, seq)`` for a plausible header at ``buf[off:]``, else None.

    Plausible: magic and version match, the type is known and the length is at most MAX_PAYLOAD. The CRC is not
    checked here (see :func:`check`).
    """
    if len(buf) - off < HEADER_SIZE:
        return None
    m0, m1, ver, ftype, length, seq = struct.unpack_from(HEADER_FMT, buf, off)
    if m0 != MAGIC0 or m1 != MAGIC1 or ver != VERSION:
        return None
    if ftype not in TYPE_NAMES or length > MAX_PAYLOAD:
        return None
    return ftype, length, seq


def check(buf, off=0):
    """Validate the frame starting at ``buf[off]``.

    Returns its total size if the header is plausible and the CRC matches, 0 if it is not a valid frame, and -1
    if the header is plausible but ``buf`` ends before the frame does (need more bytes).
    """
    hdr = parse_header(buf, off)
    if hdr is None:
        if len(buf) - off < HEADER_SIZE:
            return -1
        return 0
    end = off + HEADER_SIZE + hdr[1]
    if len(buf) < end + CRC_SIZE:
        return -1
    mv = memoryview(buf)
    (crc,) = struct.unpack_from("<I", buf, end)
    if crc32(mv[off:end]) & 0xFFFFFFFF != crc:
        return 0
    return end + CRC_SIZE - off


def data_payload_size(n_samples, n_chips):
    return DATA_HDR_SIZE + n_samples * n_chips * CHIP_BYTES


def pack_data_header(buf, off, first_sample, device_time_us, n_samples, n_chips, flags):
    struct.pack_into(
        DATA_HDR_FMT,
        buf,
        off,
        first_sample & 0xFFFFFFFF,
        device_time_us & (TICKS_PERIOD - 1),
        n_samples,
        n_chips,
        flags,
    )


DATA_FRAME_FMT = "<BBBBHIIIHBB"  # HEADER_FMT + DATA_HDR_FMT: a DATA frame's first 22 bytes in one pack


def seal_data(buf, seq, first_sample, device_time_us, n_samples, n_chips, flags):
    """Finish a DATA frame whose samples are already in ``buf[HEADER_SIZE + DATA_HDR_SIZE:]``: write both headers
    with one ``pack_into`` and the CRC; return the frame's size. Bytes equal :func:`pack_data_header` + :func:`seal`
    (one call instead of two matters on the board: the framer seals 100-200 frames a second)."""
    length = DATA_HDR_SIZE + n_samples * n_chips * CHIP_BYTES
    struct.pack_into(
        DATA_FRAME_FMT,
        buf,
        0,
        MAGIC0,
        MAGIC1,
        VERSION,
        T_DATA,
        length,
        seq,
        first_sample,
        device_time_us & (TICKS_PERIOD - 1),
        n_samples,
        n_chips,
        flags,
    )
    end = HEADER_SIZE + length
    struct.pack_into("<I", buf, end, crc32(memoryview(buf)[:end]))
    return end + CRC_SIZE


def unpack_data_header(buf, off=0):
    """Return ``(first_sample, device_time_us, n_samples, n_chips, flags)``."""
    return struct.unpack_from(DATA_HDR_FMT, buf, off)


def pack_status(values):
    """``values``: a sequence in STATUS_FIELDS order. Returns the STATUS payload."""
    return struct.pack(STATUS_FMT, *values)


def unpack_status(payload):
    """Return a dict keyed by STATUS_FIELDS."""
    vals = struct.unpack_from(STATUS_FMT, payload, 0)
    out = {}
    for i in range(len(STATUS_FIELDS)):
        out[STATUS_FIELDS[i]] = vals[i]
    return out


def pack_event(kind, value, sample, device_time_us):
    return struct.pack(EVENT_FMT, kind, value & 0xFFFFFFFF, sample & 0xFFFFFFFF, device_time_us & (TICKS_PERIOD - 1))


def unpack_event(payload):
    """Return ``(kind, value, sample, device_time_us)``."""
    return struct.unpack_from(EVENT_FMT, payload, 0)
