"""A deliberately simple, pure-Python, frame-by-frame decoder of the wire stream.

It is the independent reference the vectorised :mod:`perifacial.host.decoder` is tested and benchmarked against:
it walks the bytes one position at a time with :func:`perifacial.firmware.wire.check` (the firmware's own
validation) and decodes each 24-bit code with ``int.from_bytes``. Slow by design; never used for acquisition.
"""

from __future__ import annotations

from dataclasses import dataclass

from perifacial.firmware import wire


@dataclass
class RefFrame:
    """One valid frame: ``offset`` in the stream, ``ftype``, ``seq`` (u32 as sent), ``payload`` bytes."""

    offset: int
    ftype: int
    seq: int
    payload: bytes


def iter_frames(stream: bytes):
    """Yield every frame with a valid CRC, scanning byte by byte after anything that is not one."""
    i = 0
    n = len(stream)
    while i + wire.HEADER_SIZE <= n:
        if stream[i] != wire.MAGIC0 or stream[i + 1] != wire.MAGIC1:
            i += 1
            continue
        size = wire.check(stream, i)
        if size > 0:
            ftype, _length, seq = wire.parse_header(stream, i)
            yield RefFrame(i, ftype, seq, bytes(stream[i + wire.HEADER_SIZE : i + size - wire.CRC_SIZE]))
            i += size
        else:
            i += 1


def decode_data(payload: bytes):
    """Decode a DATA payload: returns ``(first_sample, device_time_us, flags, samples)`` where ``samples`` is a
    list (one per sample) of ``(status_words, codes)``: a list of 24-bit status words (one per chip) and a list of
    int codes (8 per chip, chip 0 first)."""
    first, dtime, n, nc, flags = wire.unpack_data_header(payload)
    off = wire.DATA_HDR_SIZE
    samples = []
    for _ in range(n):
        words = []
        codes = []
        for _c in range(nc):
            words.append(int.from_bytes(payload[off : off + 3], "big"))
            off += 3
            for _k in range(wire.CHANNELS_PER_CHIP):
                codes.append(int.from_bytes(payload[off : off + 3], "big", signed=True))
                off += 3
        samples.append((words, codes))
    return first, dtime, flags, samples


def decode_stream(stream: bytes):
    """Decode everything: returns ``(frames, samples)`` where ``samples`` maps sample index (u32 as sent) to the
    list of codes of that sample (the last frame carrying it wins)."""
    frames = list(iter_frames(stream))
    samples: dict[int, list[int]] = {}
    for f in frames:
        if f.ftype == wire.T_DATA:
            first, _dt, _flags, ss = decode_data(f.payload)
            for k, (_w, codes) in enumerate(ss):
                samples[(first + k) & 0xFFFFFFFF] = codes
    return frames, samples
