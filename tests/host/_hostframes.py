"""Test helper: a board-like wire stream built frame by frame with ``wire.encode`` (the firmware's encoder).

Independent of the decoder under test: codes are random 24-bit values from a seeded generator and packed with
``int.to_bytes``; the expected codes are returned beside the bytes.
"""

from __future__ import annotations

import json

import numpy as np

from perifacial.firmware import wire


def chip_frames(codes: np.ndarray, status: np.ndarray) -> bytes:
    """codes [n_chips*8, n] ints, status [n_chips, n] 24-bit words -> the raw daisy-chain bytes, sample-major."""
    nc = status.shape[0]
    out = bytearray()
    for j in range(codes.shape[1]):
        for c in range(nc):
            out += int(status[c, j]).to_bytes(3, "big")
            for k in range(8):
                out += int(codes[8 * c + k, j]).to_bytes(3, "big", signed=True)
    return bytes(out)


def data_frame(seq, first, codes, status, device_time_us=0, flags=0) -> bytes:
    nc = status.shape[0]
    n = codes.shape[1]
    payload = bytearray(wire.DATA_HDR_SIZE)
    wire.pack_data_header(payload, 0, first, device_time_us, n, nc, flags)
    payload += chip_frames(codes, status)
    return wire.encode(wire.T_DATA, seq, bytes(payload))


class Stream:
    """Build a stream: ``frames`` (list of bytes, one per frame), ``codes`` [24, N] int64 expected."""

    def __init__(
        self, n_samples=1000, per_frame=10, n_chips=3, seed=0, first_sample=0, seq0=0, extras=True, leadoff_every=0
    ):
        rng = np.random.default_rng(seed)
        ch = 8 * n_chips
        self.codes = rng.integers(-(1 << 23), 1 << 23, size=(ch, n_samples), dtype=np.int64)
        self.status = np.full((n_chips, n_samples), 0xC00000, dtype=np.int64)
        if leadoff_every:
            self.status[:, ::leadoff_every] |= rng.integers(0, 256, size=(n_chips, 1)) << 12
        self.frames: list[bytes] = []
        self.kinds: list[int] = []
        self.first_sample = first_sample
        seq = seq0
        for i, s0 in enumerate(range(0, n_samples, per_frame)):
            s1 = min(n_samples, s0 + per_frame)
            self.frames.append(
                data_frame(
                    seq, first_sample + s0, self.codes[:, s0:s1], self.status[:, s0:s1], device_time_us=s0 * 1000
                )
            )
            self.kinds.append(wire.T_DATA)
            seq += 1
            if extras and i % 50 == 7:
                self.frames.append(wire.encode(wire.T_STATUS, seq, wire.pack_status([i, s1, 0, i, 0, 0, 0, 0, 1])))
                self.kinds.append(wire.T_STATUS)
                seq += 1
                self.frames.append(
                    wire.encode(wire.T_EVENT, seq, wire.pack_event(wire.EV_MARKER, i, first_sample + s0, 5))
                )
                self.kinds.append(wire.T_EVENT)
                seq += 1
                self.frames.append(wire.encode(wire.T_LOG, seq, bytes([wire.LOG_INFO]) + b"hello"))
                self.kinds.append(wire.T_LOG)
                seq += 1
                self.frames.append(wire.encode(wire.T_RESPONSE, seq, json.dumps({"id": i, "ok": True}).encode()))
                self.kinds.append(wire.T_RESPONSE)
                seq += 1
        self.seq_end = seq

    @property
    def data(self) -> bytes:
        return b"".join(self.frames)


def collect(blocks, n_channels=24):
    """Place decoded blocks by sample index: returns dict first_sample -> codes and the concatenation if
    contiguous."""
    if not blocks:
        return np.empty((n_channels, 0), dtype=np.int64)
    return np.concatenate([b.codes for b in blocks], axis=1)
