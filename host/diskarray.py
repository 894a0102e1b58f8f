"""A ``[rows, columns]`` integer array kept on disk, for recordings longer than memory (issue 18).

:class:`DiskColumns` stores the array sample-major (``[columns, rows]``: one column, i.e. one sample of every
channel, is contiguous) in an unlinked temporary file, so that a column window ``[:, a:b]`` is one contiguous
read. Reads and writes go through ``os.pread``/``os.pwrite``: no mapping, so nothing stays resident in the
process (the page cache is the kernel's, not counted in the process's memory). Columns never written read as 0
(a sparse file). The file disappears when the array is closed or garbage collected, or the process ends, even on
error.

Indexing is limited to what :func:`perifacial.host.recording.load` and the blocked chain
(:func:`perifacial.host.workflow.blocked.source_of`) need: ``x[rows, a:b]`` (one column slice of step 1) reads an
``np.ndarray``; ``x[:, a:b] = values`` writes; :meth:`DiskColumns.window` is a view of some columns.
"""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

__all__ = ["DiskColumns"]

#: positional reads and writes (no shared file offset: safe from several threads); else seek + read under a lock
_POSITIONAL = hasattr(os, "preadv") and hasattr(os, "pwrite")


class _File:
    """The shared temporary file of one array and its views."""

    def __init__(self, rows: int, dtype, directory=None):
        self.rows, self.dtype = int(rows), np.dtype(dtype)
        self.f = tempfile.TemporaryFile(dir=directory, prefix="perifacial-")
        self.fd = self.f.fileno()
        self.row_bytes = self.rows * self.dtype.itemsize
        self.lock = threading.Lock()

    def read(self, a: int, b: int) -> np.ndarray:
        """Columns ``[a, b)`` as ``[b - a, rows]``."""
        nbytes = (b - a) * self.row_bytes
        buf = bytearray(nbytes)
        view, got = memoryview(buf), 0
        with self.lock:
            if not _POSITIONAL:
                self.f.seek(a * self.row_bytes)
            while got < nbytes:
                if _POSITIONAL:
                    k = os.preadv(self.fd, [view[got:]], a * self.row_bytes + got)
                else:
                    k = self.f.readinto(view[got:])
                if not k:  # past the end of a sparse file: zeros
                    break
                got += k
        return np.frombuffer(buf, dtype=self.dtype).reshape(b - a, self.rows)

    def write(self, a: int, values: np.ndarray) -> None:
        """``values`` ``[rows, m]`` into columns ``[a, a + m)``."""
        data = memoryview(np.ascontiguousarray(np.asarray(values, dtype=self.dtype).T)).cast("B")
        with self.lock:
            if not _POSITIONAL:
                self.f.seek(a * self.row_bytes)
                self.f.write(data)
                self.f.flush()
                return
            done = 0
            while done < len(data):
                done += os.pwrite(self.fd, data[done:], a * self.row_bytes + done)


class DiskColumns:
    """An integer array ``[rows, n]`` on disk (see the module docstring).

    Parameters
    ----------
    rows : int
        Rows (channels).
    n : int
        Columns (samples); :meth:`append` grows it.
    dtype : numpy dtype
        ``int32`` for ADC codes, ``uint32`` for status words.
    directory : path-like, optional
        Folder of the temporary file (default: the system's temporary folder).

    Examples
    --------
    >>> import numpy as np
    >>> x = DiskColumns(2, 5, np.int32)
    >>> x[:, 1:3] = np.array([[1, 2], [3, 4]])
    >>> x[:, 0:4]
    array([[0, 1, 2, 0],
           [0, 3, 4, 0]], dtype=int32)
    >>> x.window(1, 3)[1, :]
    array([3, 4], dtype=int32)
    >>> x.close()
    """

    ndim = 2

    def __init__(self, rows: int, n: int = 0, dtype=np.int32, directory=None, _file: _File | None = None, _start=0):
        self._file = _file if _file is not None else _File(rows, dtype, directory)
        self._start = int(_start)
        self._n = int(n)

    @property
    def shape(self) -> tuple[int, int]:
        return (self._file.rows, self._n)

    @property
    def offset(self) -> int:
        """Column of the whole file where this view starts."""
        return self._start

    @property
    def dtype(self) -> np.dtype:
        return self._file.dtype

    @property
    def size(self) -> int:
        return self._file.rows * self._n

    def __len__(self) -> int:
        return self._file.rows

    def _cols(self, key) -> tuple[object, int, int]:
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if not isinstance(cols, slice) or cols.step not in (None, 1):
            raise IndexError("DiskColumns takes one column slice of step 1")
        a, b, _ = cols.indices(self._n)
        return rows, a, max(a, b)

    def __getitem__(self, key) -> np.ndarray:
        rows, a, b = self._cols(key)
        x = self._file.read(self._start + a, self._start + b).T
        # C order, as the in-memory arrays' windows (reductions downstream then sum in the same order)
        return np.ascontiguousarray(x if isinstance(rows, slice) and rows == slice(None) else x[rows])

    def __setitem__(self, key, values) -> None:
        rows, a, b = self._cols(key)
        if not (isinstance(rows, slice) and rows == slice(None)):
            raise IndexError("DiskColumns writes whole columns ([:, a:b])")
        values = np.broadcast_to(np.asarray(values), (self._file.rows, b - a))
        self._file.write(self._start + a, values)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        x = self[:, :]
        return x if dtype is None else x.astype(dtype)

    def append(self, values: np.ndarray) -> DiskColumns:
        """Write ``values`` ``[rows, m]`` after the last column; returns the view of those columns."""
        m = int(np.shape(values)[1])
        self._file.write(self._start + self._n, values)
        self._n += m
        return self.window(self._n - m, self._n)

    def window(self, a: int, b: int) -> DiskColumns:
        """Columns ``[a, b)`` as a view (column 0 = ``a``), sharing the file."""
        return DiskColumns(self._file.rows, b - a, _file=self._file, _start=self._start + a)

    def close(self) -> None:
        """Delete the file (every view of it stops working)."""
        self._file.f.close()

    def __repr__(self) -> str:
        return f"<DiskColumns {self.shape[0]} x {self.shape[1]} {self.dtype}>"
