"""A minimal XDF writer for tests (pyxdf reads XDF but has no writer), following the XDF 1.0 specification
(github.com/sccn/xdf wiki "Specifications"): the magic ``XDF:``, then chunks ``[NumLengthBytes u8][Length]
[Tag u16][Content]`` with Length counting tag + content; tags 1 FileHeader, 2 StreamHeader, 3 Samples,
4 ClockOffset, 6 StreamFooter. Samples: ``[NumSamples as varlen]`` then per sample ``[TimeStampBytes u8 = 8]
[f64 timestamp][values]``; string values are varlen length + UTF-8 bytes."""

from __future__ import annotations

import struct
from xml.sax.saxutils import escape

import numpy as np

_FMT = {"float32": "<f4", "double64": "<f8", "int32": "<i4", "int16": "<i2"}


def _varlen(n: int) -> bytes:
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _stream_xml(name, type_, n_ch, srate, fmt, channels) -> bytes:
    chans = "".join(
        "<channel>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in ch.items()) + "</channel>" for ch in channels
    )
    return (
        f'<?xml version="1.0"?><info><name>{escape(name)}</name><type>{escape(type_)}</type>'
        f"<channel_count>{n_ch}</channel_count><nominal_srate>{srate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><source_id>{escape(name)}-test</source_id>"
        f"<created_at>0</created_at><desc><manufacturer>test</manufacturer><channels>{chans}</channels></desc>"
        "</info>"
    ).encode()


def write_xdf(path, streams: list[dict]) -> None:
    """``streams``: dicts with ``name``, ``type``, ``srate`` (0 for irregular), ``format`` ("float32", "double64",
    "string", ...), ``timestamps`` [n], ``data`` ([n, channels] numeric, or a list of strings), ``channels`` (list
    of dicts of ``desc/channels/channel`` children)."""
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, start=1):
        n_ch = 1 if s["format"] == "string" else np.asarray(s["data"]).shape[1]
        out += _chunk(
            2,
            struct.pack("<I", sid)
            + _stream_xml(s["name"], s["type"], n_ch, s["srate"], s["format"], s.get("channels", [])),
        )
    for sid, s in enumerate(streams, start=1):
        ts = np.asarray(s["timestamps"], dtype=np.float64)
        for a in range(0, len(ts), 500):  # several Samples chunks, as LabRecorder writes
            b = min(len(ts), a + 500)
            body = bytearray(struct.pack("<I", sid)) + _varlen(b - a)
            for i in range(a, b):
                body += b"\x08" + struct.pack("<d", ts[i])
                if s["format"] == "string":
                    v = str(s["data"][i]).encode()
                    body += _varlen(len(v)) + v
                else:
                    body += np.asarray(s["data"][i], dtype=_FMT[s["format"]]).tobytes()
            out += _chunk(3, bytes(body))
        out += _chunk(4, struct.pack("<Idd", sid, float(ts[-1]) if len(ts) else 0.0, 0.0))
    for sid, s in enumerate(streams, start=1):
        ts = np.asarray(s["timestamps"], dtype=np.float64)
        xml = (
            f'<?xml version="1.0"?><info><first_timestamp>{ts[0] if len(ts) else 0}</first_timestamp>'
            f"<last_timestamp>{ts[-1] if len(ts) else 0}</last_timestamp><sample_count>{len(ts)}</sample_count>"
            "</info>"
        ).encode()
        out += _chunk(6, struct.pack("<I", sid) + xml)
    with open(path, "wb") as f:
        f.write(bytes(out))
