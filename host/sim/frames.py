"""Synthetic board byte streams built straight from the wire format (no firmware run): fast enough to make an hour
of DATA frames in seconds, for file-format fuzzing and load benchmarks.

The codes are pseudo-random 24-bit values (not EMG); every frame is a valid ``wire`` DATA frame with consecutive
sequence numbers and sample indices, so a decoder must give back exactly :attr:`SynthStream.codes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perifacial.firmware import wire

__all__ = ["SynthFrames", "synth_frames"]


@dataclass
class SynthFrames:
    """``frames`` (bytes per DATA frame, in order); ``codes`` int32 ``[8 * n_chips, n]`` the samples they carry;
    ``first_sample`` device index of column 0; ``per_frame`` samples per frame."""

    frames: list[bytes]
    codes: np.ndarray
    first_sample: int
    per_frame: int

    def stream(self) -> bytes:
        return b"".join(self.frames)


def synth_frames(
    n_samples: int,
    fs: float = 1000.0,
    n_chips: int = 3,
    per_frame: int = 10,
    seed: int = 0,
    first_sample: int = 0,
    seq0: int = 0,
    codes: np.ndarray | None = None,
) -> SynthFrames:
    """DATA frames holding ``n_samples`` samples (a multiple of ``per_frame`` is used: rounded up); pseudo-random
    codes, or ``codes`` int32 ``[8 * n_chips, n_samples]`` (``n_samples`` a multiple of ``per_frame``) if given."""
    n_frames = -(-int(n_samples) // per_frame)
    n = n_frames * per_frame
    nch = 8 * n_chips
    if codes is None:
        codes = np.random.default_rng(seed).integers(-(1 << 23), 1 << 23, size=(nch, n), dtype=np.int32)
    elif codes.shape != (nch, n):
        raise ValueError(f"codes must be [{nch}, {n}] (channels, a multiple of {per_frame} samples)")
    # payload sample bytes: per sample, per chip: 3 status bytes (0xC00000) + 8 x 24-bit big-endian codes
    words = np.empty((n, n_chips, 9), dtype=np.uint32)
    words[:, :, 0] = 0xC00000
    words[:, :, 1:] = (codes.T.reshape(n, n_chips, 8).astype(np.int64) & 0xFFFFFF).astype(np.uint32)
    b = np.empty((n, n_chips, 9, 3), dtype=np.uint8)
    b[..., 0] = (words >> 16) & 0xFF
    b[..., 1] = (words >> 8) & 0xFF
    b[..., 2] = words & 0xFF
    body = b.reshape(n_frames, per_frame * n_chips * wire.CHIP_BYTES)
    frames = []
    hdr = bytearray(wire.DATA_HDR_SIZE)
    us_per = 1e6 / fs
    for k in range(n_frames):
        s0 = first_sample + k * per_frame
        wire.pack_data_header(hdr, 0, s0, int(s0 * us_per), per_frame, n_chips, 0)
        frames.append(wire.encode(wire.T_DATA, seq0 + k, bytes(hdr) + body[k].tobytes()))
    return SynthFrames(frames, codes, first_sample, per_frame)
