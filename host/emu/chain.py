"""What the emulated ADS1299 chain (``js/ads1299_chain.mjs``) shifts out, computed independently on the host.

With every channel on its normal input (MUX 000) and powered up, conversion ``j`` after START gives, per chip
(chip 0 first), the status word ``C0 00 00`` (1100 + LOFF_STATP 0 + LOFF_STATN 0 + GPIO 0) and eight 24-bit codes
``pattern_code(j, chip * 8 + input)``, MSB first (ADS1299 datasheet frame layout; WIRE.md DATA payload).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pattern_code", "expected_frame", "expected_codes", "STATUS_WORD"]

STATUS_WORD = 0xC00000  #: 1100 + LOFF_STATP 0 + LOFF_STATN 0 + GPIO[7:4] 0


def pattern_code(j, ch):
    """24-bit code (0 .. 2**24 - 1, unsigned bit pattern) of chain channel ``ch`` at conversion ``j``: a 32-bit
    multiplicative hash of ``j * 24 + ch`` (Knuth's 0x9E3779B1), bits 8..31. Works on ints and numpy arrays."""
    x = (np.asarray(j, dtype=np.uint64) * 24 + np.asarray(ch, dtype=np.uint64)) * np.uint64(0x9E3779B1)
    return ((x & np.uint64(0xFFFFFFFF)) >> np.uint64(8)).astype(np.int64) & 0xFFFFFF


def expected_frame(j: int, n_chips: int = 3) -> bytes:
    """The ``n_chips`` x 27 bytes the chain shifts out for conversion ``j``."""
    out = bytearray()
    for c in range(n_chips):
        out += STATUS_WORD.to_bytes(3, "big")
        for i in range(8):
            out += int(pattern_code(j, c * 8 + i)).to_bytes(3, "big")
    return bytes(out)


def expected_codes(first: int, n: int, n_chips: int = 3) -> np.ndarray:
    """Signed codes ``[n_chips * 8, n]`` (int32, as the host decoder gives them) of conversions first..first+n-1."""
    j = np.arange(first, first + n, dtype=np.int64)[None, :]
    ch = np.arange(n_chips * 8, dtype=np.int64)[:, None]
    u = pattern_code(j, ch)
    return np.where(u & 0x800000, u - 0x1000000, u).astype(np.int32)
