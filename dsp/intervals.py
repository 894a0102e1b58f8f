"""Runs of a boolean mask as half-open ``[start, stop)`` sample ranges (gaps, gap-free stretches, lead-off spans).

The one implementation used by the recording reader (gaps), the quality report and the gapped workflows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["runs", "finite_runs"]


def runs(mask) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of the runs of True in the 1-D bool array ``mask`` ``[n]``, in order.

    >>> runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    [(1, 3), (4, 5)]
    >>> runs(np.zeros(3, dtype=bool))
    []
    """
    m = np.asarray(mask, dtype=bool).ravel()
    if m.size == 0 or not m.any():
        return []
    d = np.diff(np.concatenate([[0], m.view(np.int8), [0]]))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def finite_runs(data) -> list[tuple[int, int]]:
    """``[start, stop)`` column ranges where every channel of ``data`` ``[channels, samples]`` (or ``[samples]``) is
    finite (not NaN/inf), i.e. the gap-free stretches of a recording with NaN in its gaps.

    >>> finite_runs(np.array([[1.0, np.nan, 2.0, 3.0], [1.0, 1.0, 2.0, np.nan]]))
    [(0, 1), (2, 3)]
    """
    return runs(np.isfinite(np.atleast_2d(data)).all(axis=0))
