"""Test helper: super-Gaussian, sEMG-like sources for the ICA tests and benchmarks (our own generator)."""

from __future__ import annotations

import numpy as np


def semg_sources(rng, n_sources: int, n: int, fs: float = 1000.0, laplace: bool = True) -> np.ndarray:
    """float64 ``[n_sources, n]``: Gaussian carriers amplitude-modulated by random Hann-shaped bursts (0.2-1.5 s,
    one per 3 s on average) over a low floor; the last source Laplacian if ``laplace``."""
    out = np.empty((n_sources, n))
    for s in range(n_sources):
        if laplace and s == n_sources - 1:
            out[s] = rng.laplace(size=n)
            continue
        env = np.full(n, 0.1)
        for _ in range(max(1, int(n / fs / 3))):
            w = int(rng.uniform(0.2, 1.5) * fs) // 2 * 2
            c = int(rng.integers(0, n))
            lo, hi = max(0, c - w // 2), min(n, c + w // 2)
            env[lo:hi] += rng.uniform(0.5, 3.0) * np.hanning(w)[lo - (c - w // 2) : hi - (c - w // 2)]
        out[s] = env * rng.standard_normal(n)
    return out
