# Serial protocol of the sync digit display board (host <-> small MicroPython board with a TM1637 or MAX7219).
#
# Fixed-size frames, little-endian, so the board reads a constant number of bytes per command and the latency
# from the host's write() to the latched digits stays constant.
#
# Command, host -> board, CMD_SIZE = 14 bytes:
#   offset size field
#   0      2    magic   CMD_MAGIC (0x7E 0x5D)
#   2      1    op      OP_SHOW, OP_HELLO, OP_BRIGHTNESS, OP_BLANK
#   3      1    arg     OP_BRIGHTNESS: level 0..7 (TM1637) / 0..15 (MAX7219); else 0
#   4      4    value   OP_SHOW: the counter (u32); the board shows value mod 10**digits, zero-padded
#   8      2    seq     u16 chosen by the host, echoed back
#   10     4    crc     CRC-32 (binascii/zlib) of bytes 0..9
#
# Echo, board -> host, ECHO_SIZE = 20 bytes, sent right after the digits were written:
#   0      2    magic   ECHO_MAGIC (0x7E 0xE5)
#   2      1    op      the command's op
#   3      1    status  ST_OK, ST_BAD_OP
#   4      1    digits  4 (TM1637) or 8 (MAX7219): the display's capacity is 10**digits
#   5      1    bad     count of frames with a bad CRC since boot (wraps at 256)
#   6      4    value   the value now shown (already reduced mod 10**digits)
#   10     2    seq     the command's seq
#   12     4    ticks   time.ticks_us() when the last digit was latched (wraps at 2**30 on most ports)
#   16     4    crc     CRC-32 of bytes 0..15
#
# Importable by MicroPython and CPython alike (no f-strings with format specs, no typing at runtime).
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32  # type: ignore[no-redef]

CMD_MAGIC = b"\x7e\x5d"
ECHO_MAGIC = b"\x7e\xe5"
CMD_FMT = "<2sBBIH"
CMD_SIZE = 14
ECHO_FMT = "<2sBBBBIHI"
ECHO_SIZE = 20

OP_SHOW = 1
OP_HELLO = 2
OP_BRIGHTNESS = 3
OP_BLANK = 4
OPS = (OP_SHOW, OP_HELLO, OP_BRIGHTNESS, OP_BLANK)

ST_OK = 0
ST_BAD_OP = 1


def _seal(body):
    return body + struct.pack("<I", crc32(body) & 0xFFFFFFFF)


def pack_command(op, value=0, seq=0, arg=0):
    """Return the 14-byte command frame."""
    return _seal(struct.pack(CMD_FMT, CMD_MAGIC, op, arg & 0xFF, value & 0xFFFFFFFF, seq & 0xFFFF))


def unpack_command(frame):
    """Return ``(op, arg, value, seq)`` of a complete, CRC-checked command frame."""
    _, op, arg, value, seq = struct.unpack_from(CMD_FMT, frame, 0)
    return op, arg, value, seq


def pack_echo(op, status, digits, bad, value, seq, ticks):
    """Return the 20-byte echo frame."""
    return _seal(
        struct.pack(
            ECHO_FMT, ECHO_MAGIC, op, status, digits, bad & 0xFF, value & 0xFFFFFFFF, seq & 0xFFFF, ticks & 0xFFFFFFFF
        )
    )


def unpack_echo(frame):
    """Return ``(op, status, digits, bad, value, seq, ticks)`` of a complete, CRC-checked echo frame."""
    return struct.unpack_from(ECHO_FMT, frame, 0)[1:]


class FrameReader:
    """Reassemble fixed-size frames that start with a 2-byte ``magic`` and end with a CRC-32 of the rest.

    ``feed(data)`` returns the list of complete valid frames (bytes); garbage and frames with a bad CRC are
    skipped byte by byte (resynchronisation), and counted in ``bad``. Uses only ``bytes`` operations that
    MicroPython has (``find``, slicing, concatenation).
    """

    def __init__(self, magic, size):
        self.magic = bytes(magic)
        self.size = size
        self.buf = b""
        self.bad = 0

    def feed(self, data):
        buf = self.buf + bytes(data)
        out = []
        size = self.size
        while True:
            i = buf.find(self.magic)
            if i < 0:
                # keep a trailing first magic byte: it may start the next frame
                buf = buf[-1:] if len(buf) and buf[-1] == self.magic[0] else b""
                break
            if i:
                buf = buf[i:]
            if len(buf) < size:
                break
            frame = buf[:size]
            (crc,) = struct.unpack_from("<I", frame, size - 4)
            if crc32(frame[: size - 4]) & 0xFFFFFFFF == crc:
                out.append(frame)
                buf = buf[size:]
            else:
                self.bad += 1
                buf = buf[1:]
        self.buf = buf
        return out
