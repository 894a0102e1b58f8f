"""Byte-exact golden frames, produced by the firmware's own code path (Acquirer IRQ handler -> ring -> Framer ->
wire.seal / wire.encode), deterministic. The host decoder's tests use the same files.

    python tests/firmware/golden.py     # (re)writes tests/data/golden_frames.bin and golden_frames.json

The JSON lists every frame: offset, size, type, seq and its decoded fields (DATA: header, per-sample status words and
the 24 signed channel codes). The board's sequence number starts at 2**32 - 2 so the stream shows the u32 wrap.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

from perifacial.firmware import wire
from perifacial.firmware.acquire import Acquirer
from perifacial.firmware.framer import Framer

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "tests" / "data" / "golden_frames.bin"
DESC = ROOT / "tests" / "data" / "golden_frames.json"
N_CHIPS = 3
PERIOD_US = 1000


class FakeTime:
    MASK = 0x3FFFFFFF

    def __init__(self, t0):
        self.t = t0

    def ticks_us(self):
        return self.t & self.MASK

    def ticks_diff(self, a, b):
        return ((a - b + 0x20000000) & self.MASK) - 0x20000000

    def ticks_add(self, a, d):
        return (a + d) & self.MASK


class Link:
    def __init__(self):
        self.out = bytearray()

    def connected(self):
        return True

    def write(self, frame):
        self.out.extend(frame)
        return len(frame)


def code_for(conv, ch):
    """A deterministic code per conversion and channel, covering both signs and both full-scale ends."""
    if ch == 7:
        return 0x7FFFFF if conv % 2 == 0 else -0x800000
    return ((conv * 7919 + ch * 104729) % 0x1000000) - 0x800000


def record(conv, status_fault=False, leadoff=False):
    out = bytearray()
    for chip in range(N_CHIPS):
        st = 0xC00000
        if leadoff and chip == 2:
            st |= 0x01 << 12  # LOFF_STATP: IN1P of chip 2 (channel 17) off
        if status_fault and chip == 1:
            st = 0x000000  # a misaligned read: no 0xC nibble
        out += struct.pack(">I", st)[1:]
        for ch in range(8):
            out += struct.pack(">I", code_for(conv, chip * 8 + ch) & 0xFFFFFF)[1:]
    return bytes(out)


def build() -> tuple[bytes, list]:
    t = FakeTime(0x3FFFF000)  # ticks wrap (2**30) inside the stream too
    conv = [0]
    faults = {23: "status", 24: "leadoff"}

    def reader(mv):
        k = conv[0]
        mv[:] = record(k, status_fault=faults.get(k) == "status", leadoff=faults.get(k) == "leadoff")

    acq = Acquirer(reader, N_CHIPS, t, rate=1000, slots=32)
    link = Link()
    fr = Framer(acq, link, N_CHIPS, samples_per_frame=10)
    fr.seq = 0xFFFFFFFE

    def drdy(n):
        for _ in range(n):
            acq.handler(None)
            conv[0] += 1
            t.t += PERIOD_US

    drdy(10)  # samples 0..9
    fr.poll()
    # samples 10..14 are overwritten before a (late) read: the read at 15 labels its data 15, 5 counted lost
    t.t += 5 * PERIOD_US
    conv[0] += 5
    drdy(10)  # samples 15..24 (23: a chip's status lacks 0xC; 24: lead-off bit)
    fr.poll()
    drdy(4)  # 25..28: a partial frame, flushed at stop
    fr.poll()
    fr.flush()
    fr.status((123456, 29, 5, 3, 0, 1, 2, 3, 1))
    fr.event(wire.EV_DISPLAY, 3, 1500, 0x12345)
    fr.event(wire.EV_MARKER, 42, 2000, 0x3FFFFFFF)
    fr.log(wire.LOG_INFO, "perifacial 0.1.0 ready")
    fr.response({"id": 1, "ok": True, "first_sample": 0, "rate": 1000})
    fr.response({"id": None, "ok": False, "error": "bad frame: CRC mismatch"})
    board = bytes(link.out)
    host = wire.encode(wire.T_COMMAND, 0, json.dumps({"id": 1, "cmd": "start"}).encode())
    stream = board + host
    return stream, describe(stream)


def describe(stream: bytes) -> list:
    out = []
    off = 0
    while off < len(stream):
        size = wire.check(stream, off)
        assert size > 0
        ftype, length, seq = wire.parse_header(stream, off)
        p = stream[off + wire.HEADER_SIZE : off + wire.HEADER_SIZE + length]
        d = {
            "offset": off,
            "size": size,
            "type": wire.TYPE_NAMES[ftype],
            "seq": seq,
            "length": length,
            "crc": struct.unpack_from("<I", stream, off + wire.HEADER_SIZE + length)[0],
        }
        if ftype == wire.T_DATA:
            fs, tus, ns, nc, fl = wire.unpack_data_header(p)
            d.update(first_sample=fs, device_time_us=tus, n_samples=ns, n_chips=nc, flags=fl)
            status = []
            codes = []
            for s in range(ns):
                base = wire.DATA_HDR_SIZE + s * nc * wire.CHIP_BYTES
                st = []
                row = []
                for c in range(nc):
                    o = base + c * wire.CHIP_BYTES
                    st.append("%06X" % int.from_bytes(p[o : o + 3], "big"))
                    for ch in range(8):
                        v = int.from_bytes(p[o + 3 + 3 * ch : o + 6 + 3 * ch], "big")
                        row.append(v - 0x1000000 if v & 0x800000 else v)
                status.append(st)
                codes.append(row)
            d["status"] = status
            d["codes"] = codes
        elif ftype == wire.T_STATUS:
            d["status"] = wire.unpack_status(p)
        elif ftype == wire.T_EVENT:
            k, v, s, tus = wire.unpack_event(p)
            d.update(kind=k, value=v, sample=s, device_time_us=tus)
        elif ftype == wire.T_LOG:
            d.update(level=p[0], text=p[1:].decode())
        else:
            d["json"] = json.loads(p)
        out.append(d)
        off += size
    return out


def main() -> int:
    stream, desc = build()
    BIN.parent.mkdir(parents=True, exist_ok=True)
    BIN.write_bytes(stream)
    DESC.write_text(json.dumps({"about": __doc__.strip().splitlines()[0], "frames": desc}, indent=1) + "\n")
    print("wrote %d bytes, %d frames" % (len(stream), len(desc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
