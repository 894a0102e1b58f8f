"""Numba kernels of the filter core (private; the public API is :mod:`perifacial.dsp.filters`).

Layout and speed notes
----------------------
An IIR recurrence is latency-bound within one channel, so channels are processed in groups of ``LANES`` (8) in
lockstep: the section kernels (``_pair_rows``/``_single_rows``, lane-unrolled code) keep the state of all lanes in
registers and LLVM's SLP vectoriser packs the lanes into AVX2 vectors (two independent 4-wide chains per section,
two sections in flight per sweep). A pass sweeps the group's rows in place, straight from the source rows to the
``out`` rows, so ``out`` doubles as the buffer between passes and no full-length scratch is allocated; fusions:
mean removal happens while the first pass reads ``x``, rectification while the stage's backward pass stores, the
last backward pass writes the final values. Only the ``pad`` odd-extension samples at each end go through a tiny
lane-interleaved block (``_pair``/``_single``). A cascade of more than two sections takes one sweep per pair.
Worker threads (``prange``) take channel groups round-robin; the causal chain does the same without extensions.

The four section kernels are written out lane by lane (machine-generated once, then kept as plain source so numba
can cache them): any change to the recurrence must be made identically for every lane.

The arithmetic of every section is SciPy's ``sosfilt`` (direct form II transposed, same operation order, no
fast-math), so causal results equal SciPy's bit for bit and zero-phase results equal ``sosfiltfilt`` up to the
rounding of the channel mean.

Every kernel is compiled for exactly one signature (float64 C-contiguous arrays, int64 index arrays) and cached on
disk, so a fresh process loads it instead of compiling.

Shapes: ``x``/``out`` are ``[channels, samples]``; ``sos`` is ``[total_sections, 6]`` holding the stages' cascades
one after the other, ``zi`` is ``[total_sections, 2]`` (``sosfilt_zi`` per stage), ``bounds`` (``[n_stages + 1]``)
gives each stage's first section, ``pads`` (``[n_stages]``) its odd-extension length, ``rect`` (``[n_stages]``)
whether its output is full-wave rectified.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np
from numba import njit, prange
from numba.core import config as numba_config

LANES = 8

_OPTS = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@njit(inline="always", **_OPTS)
def _pair(blk, nb, sos, z, s):
    """Sections ``s`` and ``s + 1`` over ``blk[:nb]`` in place, one sweep, state in registers."""
    b00 = sos[s + 0, 0]
    b10 = sos[s + 0, 1]
    b20 = sos[s + 0, 2]
    a10 = sos[s + 0, 4]
    a20 = sos[s + 0, 5]
    b01 = sos[s + 1, 0]
    b11 = sos[s + 1, 1]
    b21 = sos[s + 1, 2]
    a11 = sos[s + 1, 4]
    a21 = sos[s + 1, 5]
    p00 = z[s + 0, 0, 0]
    p01 = z[s + 0, 0, 1]
    p02 = z[s + 0, 0, 2]
    p03 = z[s + 0, 0, 3]
    p04 = z[s + 0, 0, 4]
    p05 = z[s + 0, 0, 5]
    p06 = z[s + 0, 0, 6]
    p07 = z[s + 0, 0, 7]
    q00 = z[s + 0, 1, 0]
    q01 = z[s + 0, 1, 1]
    q02 = z[s + 0, 1, 2]
    q03 = z[s + 0, 1, 3]
    q04 = z[s + 0, 1, 4]
    q05 = z[s + 0, 1, 5]
    q06 = z[s + 0, 1, 6]
    q07 = z[s + 0, 1, 7]
    p10 = z[s + 1, 0, 0]
    p11 = z[s + 1, 0, 1]
    p12 = z[s + 1, 0, 2]
    p13 = z[s + 1, 0, 3]
    p14 = z[s + 1, 0, 4]
    p15 = z[s + 1, 0, 5]
    p16 = z[s + 1, 0, 6]
    p17 = z[s + 1, 0, 7]
    q10 = z[s + 1, 1, 0]
    q11 = z[s + 1, 1, 1]
    q12 = z[s + 1, 1, 2]
    q13 = z[s + 1, 1, 3]
    q14 = z[s + 1, 1, 4]
    q15 = z[s + 1, 1, 5]
    q16 = z[s + 1, 1, 6]
    q17 = z[s + 1, 1, 7]
    for i in range(nb):
        x0 = blk[i, 0]
        x1 = blk[i, 1]
        x2 = blk[i, 2]
        x3 = blk[i, 3]
        x4 = blk[i, 4]
        x5 = blk[i, 5]
        x6 = blk[i, 6]
        x7 = blk[i, 7]
        y0 = b00 * x0 + p00
        y1 = b00 * x1 + p01
        y2 = b00 * x2 + p02
        y3 = b00 * x3 + p03
        y4 = b00 * x4 + p04
        y5 = b00 * x5 + p05
        y6 = b00 * x6 + p06
        y7 = b00 * x7 + p07
        p00 = b10 * x0 - a10 * y0 + q00
        p01 = b10 * x1 - a10 * y1 + q01
        p02 = b10 * x2 - a10 * y2 + q02
        p03 = b10 * x3 - a10 * y3 + q03
        p04 = b10 * x4 - a10 * y4 + q04
        p05 = b10 * x5 - a10 * y5 + q05
        p06 = b10 * x6 - a10 * y6 + q06
        p07 = b10 * x7 - a10 * y7 + q07
        q00 = b20 * x0 - a20 * y0
        q01 = b20 * x1 - a20 * y1
        q02 = b20 * x2 - a20 * y2
        q03 = b20 * x3 - a20 * y3
        q04 = b20 * x4 - a20 * y4
        q05 = b20 * x5 - a20 * y5
        q06 = b20 * x6 - a20 * y6
        q07 = b20 * x7 - a20 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        y0 = b01 * x0 + p10
        y1 = b01 * x1 + p11
        y2 = b01 * x2 + p12
        y3 = b01 * x3 + p13
        y4 = b01 * x4 + p14
        y5 = b01 * x5 + p15
        y6 = b01 * x6 + p16
        y7 = b01 * x7 + p17
        p10 = b11 * x0 - a11 * y0 + q10
        p11 = b11 * x1 - a11 * y1 + q11
        p12 = b11 * x2 - a11 * y2 + q12
        p13 = b11 * x3 - a11 * y3 + q13
        p14 = b11 * x4 - a11 * y4 + q14
        p15 = b11 * x5 - a11 * y5 + q15
        p16 = b11 * x6 - a11 * y6 + q16
        p17 = b11 * x7 - a11 * y7 + q17
        q10 = b21 * x0 - a21 * y0
        q11 = b21 * x1 - a21 * y1
        q12 = b21 * x2 - a21 * y2
        q13 = b21 * x3 - a21 * y3
        q14 = b21 * x4 - a21 * y4
        q15 = b21 * x5 - a21 * y5
        q16 = b21 * x6 - a21 * y6
        q17 = b21 * x7 - a21 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        blk[i, 0] = x0
        blk[i, 1] = x1
        blk[i, 2] = x2
        blk[i, 3] = x3
        blk[i, 4] = x4
        blk[i, 5] = x5
        blk[i, 6] = x6
        blk[i, 7] = x7
    z[s + 0, 0, 0] = p00
    z[s + 0, 0, 1] = p01
    z[s + 0, 0, 2] = p02
    z[s + 0, 0, 3] = p03
    z[s + 0, 0, 4] = p04
    z[s + 0, 0, 5] = p05
    z[s + 0, 0, 6] = p06
    z[s + 0, 0, 7] = p07
    z[s + 0, 1, 0] = q00
    z[s + 0, 1, 1] = q01
    z[s + 0, 1, 2] = q02
    z[s + 0, 1, 3] = q03
    z[s + 0, 1, 4] = q04
    z[s + 0, 1, 5] = q05
    z[s + 0, 1, 6] = q06
    z[s + 0, 1, 7] = q07
    z[s + 1, 0, 0] = p10
    z[s + 1, 0, 1] = p11
    z[s + 1, 0, 2] = p12
    z[s + 1, 0, 3] = p13
    z[s + 1, 0, 4] = p14
    z[s + 1, 0, 5] = p15
    z[s + 1, 0, 6] = p16
    z[s + 1, 0, 7] = p17
    z[s + 1, 1, 0] = q10
    z[s + 1, 1, 1] = q11
    z[s + 1, 1, 2] = q12
    z[s + 1, 1, 3] = q13
    z[s + 1, 1, 4] = q14
    z[s + 1, 1, 5] = q15
    z[s + 1, 1, 6] = q16
    z[s + 1, 1, 7] = q17


@njit(inline="always", **_OPTS)
def _single(blk, nb, sos, z, s):
    """Section ``s`` over ``blk[:nb]`` in place, state in registers."""
    b00 = sos[s + 0, 0]
    b10 = sos[s + 0, 1]
    b20 = sos[s + 0, 2]
    a10 = sos[s + 0, 4]
    a20 = sos[s + 0, 5]
    p00 = z[s + 0, 0, 0]
    p01 = z[s + 0, 0, 1]
    p02 = z[s + 0, 0, 2]
    p03 = z[s + 0, 0, 3]
    p04 = z[s + 0, 0, 4]
    p05 = z[s + 0, 0, 5]
    p06 = z[s + 0, 0, 6]
    p07 = z[s + 0, 0, 7]
    q00 = z[s + 0, 1, 0]
    q01 = z[s + 0, 1, 1]
    q02 = z[s + 0, 1, 2]
    q03 = z[s + 0, 1, 3]
    q04 = z[s + 0, 1, 4]
    q05 = z[s + 0, 1, 5]
    q06 = z[s + 0, 1, 6]
    q07 = z[s + 0, 1, 7]
    for i in range(nb):
        x0 = blk[i, 0]
        x1 = blk[i, 1]
        x2 = blk[i, 2]
        x3 = blk[i, 3]
        x4 = blk[i, 4]
        x5 = blk[i, 5]
        x6 = blk[i, 6]
        x7 = blk[i, 7]
        y0 = b00 * x0 + p00
        y1 = b00 * x1 + p01
        y2 = b00 * x2 + p02
        y3 = b00 * x3 + p03
        y4 = b00 * x4 + p04
        y5 = b00 * x5 + p05
        y6 = b00 * x6 + p06
        y7 = b00 * x7 + p07
        p00 = b10 * x0 - a10 * y0 + q00
        p01 = b10 * x1 - a10 * y1 + q01
        p02 = b10 * x2 - a10 * y2 + q02
        p03 = b10 * x3 - a10 * y3 + q03
        p04 = b10 * x4 - a10 * y4 + q04
        p05 = b10 * x5 - a10 * y5 + q05
        p06 = b10 * x6 - a10 * y6 + q06
        p07 = b10 * x7 - a10 * y7 + q07
        q00 = b20 * x0 - a20 * y0
        q01 = b20 * x1 - a20 * y1
        q02 = b20 * x2 - a20 * y2
        q03 = b20 * x3 - a20 * y3
        q04 = b20 * x4 - a20 * y4
        q05 = b20 * x5 - a20 * y5
        q06 = b20 * x6 - a20 * y6
        q07 = b20 * x7 - a20 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        blk[i, 0] = x0
        blk[i, 1] = x1
        blk[i, 2] = x2
        blk[i, 3] = x3
        blk[i, 4] = x4
        blk[i, 5] = x5
        blk[i, 6] = x6
        blk[i, 7] = x7
    z[s + 0, 0, 0] = p00
    z[s + 0, 0, 1] = p01
    z[s + 0, 0, 2] = p02
    z[s + 0, 0, 3] = p03
    z[s + 0, 0, 4] = p04
    z[s + 0, 0, 5] = p05
    z[s + 0, 0, 6] = p06
    z[s + 0, 0, 7] = p07
    z[s + 0, 1, 0] = q00
    z[s + 0, 1, 1] = q01
    z[s + 0, 1, 2] = q02
    z[s + 0, 1, 3] = q03
    z[s + 0, 1, 4] = q04
    z[s + 0, 1, 5] = q05
    z[s + 0, 1, 6] = q06
    z[s + 0, 1, 7] = q07


@njit(**_OPTS)
def _pair_rows(
    s0, s1, s2, s3, s4, s5, s6, s7, d0, d1, d2, d3, d4, d5, d6, d7, off, t_first, step, cnt, sos, z, s, rect
):
    """Sections ``s``, ``s + 1`` over samples ``t_first + step * i`` (``i < cnt``) of the rows ``s0..s7`` minus ``off``,
    into the rows ``d0..d7`` (may be the same rows), ``abs`` applied to the stored value if ``rect``."""
    b00 = sos[s + 0, 0]
    b10 = sos[s + 0, 1]
    b20 = sos[s + 0, 2]
    a10 = sos[s + 0, 4]
    a20 = sos[s + 0, 5]
    b01 = sos[s + 1, 0]
    b11 = sos[s + 1, 1]
    b21 = sos[s + 1, 2]
    a11 = sos[s + 1, 4]
    a21 = sos[s + 1, 5]
    o0 = off[0]
    o1 = off[1]
    o2 = off[2]
    o3 = off[3]
    o4 = off[4]
    o5 = off[5]
    o6 = off[6]
    o7 = off[7]
    p00 = z[s + 0, 0, 0]
    p01 = z[s + 0, 0, 1]
    p02 = z[s + 0, 0, 2]
    p03 = z[s + 0, 0, 3]
    p04 = z[s + 0, 0, 4]
    p05 = z[s + 0, 0, 5]
    p06 = z[s + 0, 0, 6]
    p07 = z[s + 0, 0, 7]
    q00 = z[s + 0, 1, 0]
    q01 = z[s + 0, 1, 1]
    q02 = z[s + 0, 1, 2]
    q03 = z[s + 0, 1, 3]
    q04 = z[s + 0, 1, 4]
    q05 = z[s + 0, 1, 5]
    q06 = z[s + 0, 1, 6]
    q07 = z[s + 0, 1, 7]
    p10 = z[s + 1, 0, 0]
    p11 = z[s + 1, 0, 1]
    p12 = z[s + 1, 0, 2]
    p13 = z[s + 1, 0, 3]
    p14 = z[s + 1, 0, 4]
    p15 = z[s + 1, 0, 5]
    p16 = z[s + 1, 0, 6]
    p17 = z[s + 1, 0, 7]
    q10 = z[s + 1, 1, 0]
    q11 = z[s + 1, 1, 1]
    q12 = z[s + 1, 1, 2]
    q13 = z[s + 1, 1, 3]
    q14 = z[s + 1, 1, 4]
    q15 = z[s + 1, 1, 5]
    q16 = z[s + 1, 1, 6]
    q17 = z[s + 1, 1, 7]
    for i in range(cnt):
        t = t_first + step * i
        x0 = s0[t] - o0
        x1 = s1[t] - o1
        x2 = s2[t] - o2
        x3 = s3[t] - o3
        x4 = s4[t] - o4
        x5 = s5[t] - o5
        x6 = s6[t] - o6
        x7 = s7[t] - o7
        y0 = b00 * x0 + p00
        y1 = b00 * x1 + p01
        y2 = b00 * x2 + p02
        y3 = b00 * x3 + p03
        y4 = b00 * x4 + p04
        y5 = b00 * x5 + p05
        y6 = b00 * x6 + p06
        y7 = b00 * x7 + p07
        p00 = b10 * x0 - a10 * y0 + q00
        p01 = b10 * x1 - a10 * y1 + q01
        p02 = b10 * x2 - a10 * y2 + q02
        p03 = b10 * x3 - a10 * y3 + q03
        p04 = b10 * x4 - a10 * y4 + q04
        p05 = b10 * x5 - a10 * y5 + q05
        p06 = b10 * x6 - a10 * y6 + q06
        p07 = b10 * x7 - a10 * y7 + q07
        q00 = b20 * x0 - a20 * y0
        q01 = b20 * x1 - a20 * y1
        q02 = b20 * x2 - a20 * y2
        q03 = b20 * x3 - a20 * y3
        q04 = b20 * x4 - a20 * y4
        q05 = b20 * x5 - a20 * y5
        q06 = b20 * x6 - a20 * y6
        q07 = b20 * x7 - a20 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        y0 = b01 * x0 + p10
        y1 = b01 * x1 + p11
        y2 = b01 * x2 + p12
        y3 = b01 * x3 + p13
        y4 = b01 * x4 + p14
        y5 = b01 * x5 + p15
        y6 = b01 * x6 + p16
        y7 = b01 * x7 + p17
        p10 = b11 * x0 - a11 * y0 + q10
        p11 = b11 * x1 - a11 * y1 + q11
        p12 = b11 * x2 - a11 * y2 + q12
        p13 = b11 * x3 - a11 * y3 + q13
        p14 = b11 * x4 - a11 * y4 + q14
        p15 = b11 * x5 - a11 * y5 + q15
        p16 = b11 * x6 - a11 * y6 + q16
        p17 = b11 * x7 - a11 * y7 + q17
        q10 = b21 * x0 - a21 * y0
        q11 = b21 * x1 - a21 * y1
        q12 = b21 * x2 - a21 * y2
        q13 = b21 * x3 - a21 * y3
        q14 = b21 * x4 - a21 * y4
        q15 = b21 * x5 - a21 * y5
        q16 = b21 * x6 - a21 * y6
        q17 = b21 * x7 - a21 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        if rect:
            x0 = abs(x0)
            x1 = abs(x1)
            x2 = abs(x2)
            x3 = abs(x3)
            x4 = abs(x4)
            x5 = abs(x5)
            x6 = abs(x6)
            x7 = abs(x7)
        d0[t] = x0
        d1[t] = x1
        d2[t] = x2
        d3[t] = x3
        d4[t] = x4
        d5[t] = x5
        d6[t] = x6
        d7[t] = x7
    z[s + 0, 0, 0] = p00
    z[s + 0, 0, 1] = p01
    z[s + 0, 0, 2] = p02
    z[s + 0, 0, 3] = p03
    z[s + 0, 0, 4] = p04
    z[s + 0, 0, 5] = p05
    z[s + 0, 0, 6] = p06
    z[s + 0, 0, 7] = p07
    z[s + 0, 1, 0] = q00
    z[s + 0, 1, 1] = q01
    z[s + 0, 1, 2] = q02
    z[s + 0, 1, 3] = q03
    z[s + 0, 1, 4] = q04
    z[s + 0, 1, 5] = q05
    z[s + 0, 1, 6] = q06
    z[s + 0, 1, 7] = q07
    z[s + 1, 0, 0] = p10
    z[s + 1, 0, 1] = p11
    z[s + 1, 0, 2] = p12
    z[s + 1, 0, 3] = p13
    z[s + 1, 0, 4] = p14
    z[s + 1, 0, 5] = p15
    z[s + 1, 0, 6] = p16
    z[s + 1, 0, 7] = p17
    z[s + 1, 1, 0] = q10
    z[s + 1, 1, 1] = q11
    z[s + 1, 1, 2] = q12
    z[s + 1, 1, 3] = q13
    z[s + 1, 1, 4] = q14
    z[s + 1, 1, 5] = q15
    z[s + 1, 1, 6] = q16
    z[s + 1, 1, 7] = q17


@njit(**_OPTS)
def _single_rows(
    s0, s1, s2, s3, s4, s5, s6, s7, d0, d1, d2, d3, d4, d5, d6, d7, off, t_first, step, cnt, sos, z, s, rect
):
    """Section ``s`` over samples ``t_first + step * i`` (``i < cnt``) of the rows ``s0..s7`` minus ``off``,
    into the rows ``d0..d7`` (may be the same rows), ``abs`` applied to the stored value if ``rect``."""
    b00 = sos[s + 0, 0]
    b10 = sos[s + 0, 1]
    b20 = sos[s + 0, 2]
    a10 = sos[s + 0, 4]
    a20 = sos[s + 0, 5]
    o0 = off[0]
    o1 = off[1]
    o2 = off[2]
    o3 = off[3]
    o4 = off[4]
    o5 = off[5]
    o6 = off[6]
    o7 = off[7]
    p00 = z[s + 0, 0, 0]
    p01 = z[s + 0, 0, 1]
    p02 = z[s + 0, 0, 2]
    p03 = z[s + 0, 0, 3]
    p04 = z[s + 0, 0, 4]
    p05 = z[s + 0, 0, 5]
    p06 = z[s + 0, 0, 6]
    p07 = z[s + 0, 0, 7]
    q00 = z[s + 0, 1, 0]
    q01 = z[s + 0, 1, 1]
    q02 = z[s + 0, 1, 2]
    q03 = z[s + 0, 1, 3]
    q04 = z[s + 0, 1, 4]
    q05 = z[s + 0, 1, 5]
    q06 = z[s + 0, 1, 6]
    q07 = z[s + 0, 1, 7]
    for i in range(cnt):
        t = t_first + step * i
        x0 = s0[t] - o0
        x1 = s1[t] - o1
        x2 = s2[t] - o2
        x3 = s3[t] - o3
        x4 = s4[t] - o4
        x5 = s5[t] - o5
        x6 = s6[t] - o6
        x7 = s7[t] - o7
        y0 = b00 * x0 + p00
        y1 = b00 * x1 + p01
        y2 = b00 * x2 + p02
        y3 = b00 * x3 + p03
        y4 = b00 * x4 + p04
        y5 = b00 * x5 + p05
        y6 = b00 * x6 + p06
        y7 = b00 * x7 + p07
        p00 = b10 * x0 - a10 * y0 + q00
        p01 = b10 * x1 - a10 * y1 + q01
        p02 = b10 * x2 - a10 * y2 + q02
        p03 = b10 * x3 - a10 * y3 + q03
        p04 = b10 * x4 - a10 * y4 + q04
        p05 = b10 * x5 - a10 * y5 + q05
        p06 = b10 * x6 - a10 * y6 + q06
        p07 = b10 * x7 - a10 * y7 + q07
        q00 = b20 * x0 - a20 * y0
        q01 = b20 * x1 - a20 * y1
        q02 = b20 * x2 - a20 * y2
        q03 = b20 * x3 - a20 * y3
        q04 = b20 * x4 - a20 * y4
        q05 = b20 * x5 - a20 * y5
        q06 = b20 * x6 - a20 * y6
        q07 = b20 * x7 - a20 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        if rect:
            x0 = abs(x0)
            x1 = abs(x1)
            x2 = abs(x2)
            x3 = abs(x3)
            x4 = abs(x4)
            x5 = abs(x5)
            x6 = abs(x6)
            x7 = abs(x7)
        d0[t] = x0
        d1[t] = x1
        d2[t] = x2
        d3[t] = x3
        d4[t] = x4
        d5[t] = x5
        d6[t] = x6
        d7[t] = x7
    z[s + 0, 0, 0] = p00
    z[s + 0, 0, 1] = p01
    z[s + 0, 0, 2] = p02
    z[s + 0, 0, 3] = p03
    z[s + 0, 0, 4] = p04
    z[s + 0, 0, 5] = p05
    z[s + 0, 0, 6] = p06
    z[s + 0, 0, 7] = p07
    z[s + 0, 1, 0] = q00
    z[s + 0, 1, 1] = q01
    z[s + 0, 1, 2] = q02
    z[s + 0, 1, 3] = q03
    z[s + 0, 1, 4] = q04
    z[s + 0, 1, 5] = q05
    z[s + 0, 1, 6] = q06
    z[s + 0, 1, 7] = q07


@njit(**_OPTS)
def _pair_single_rows(
    s0, s1, s2, s3, s4, s5, s6, s7, d0, d1, d2, d3, d4, d5, d6, d7, t_first, step, cnt, sos, z, s, rect_mid, rect
):
    """Sections ``s``, ``s + 1`` then (after ``abs`` if ``rect_mid``) section ``s + 2`` in one sweep over samples
    ``t_first + step * i`` (``i < cnt``) of the rows ``s0..s7`` into ``d0..d7``; ``abs`` on the stored value if
    ``rect``. This is the default causal envelope (band-pass order 2, rectification, low-pass order 2) in one pass."""
    b00 = sos[s + 0, 0]
    b10 = sos[s + 0, 1]
    b20 = sos[s + 0, 2]
    a10 = sos[s + 0, 4]
    a20 = sos[s + 0, 5]
    b01 = sos[s + 1, 0]
    b11 = sos[s + 1, 1]
    b21 = sos[s + 1, 2]
    a11 = sos[s + 1, 4]
    a21 = sos[s + 1, 5]
    b02 = sos[s + 2, 0]
    b12 = sos[s + 2, 1]
    b22 = sos[s + 2, 2]
    a12 = sos[s + 2, 4]
    a22 = sos[s + 2, 5]
    p00 = z[s + 0, 0, 0]
    p01 = z[s + 0, 0, 1]
    p02 = z[s + 0, 0, 2]
    p03 = z[s + 0, 0, 3]
    p04 = z[s + 0, 0, 4]
    p05 = z[s + 0, 0, 5]
    p06 = z[s + 0, 0, 6]
    p07 = z[s + 0, 0, 7]
    q00 = z[s + 0, 1, 0]
    q01 = z[s + 0, 1, 1]
    q02 = z[s + 0, 1, 2]
    q03 = z[s + 0, 1, 3]
    q04 = z[s + 0, 1, 4]
    q05 = z[s + 0, 1, 5]
    q06 = z[s + 0, 1, 6]
    q07 = z[s + 0, 1, 7]
    p10 = z[s + 1, 0, 0]
    p11 = z[s + 1, 0, 1]
    p12 = z[s + 1, 0, 2]
    p13 = z[s + 1, 0, 3]
    p14 = z[s + 1, 0, 4]
    p15 = z[s + 1, 0, 5]
    p16 = z[s + 1, 0, 6]
    p17 = z[s + 1, 0, 7]
    q10 = z[s + 1, 1, 0]
    q11 = z[s + 1, 1, 1]
    q12 = z[s + 1, 1, 2]
    q13 = z[s + 1, 1, 3]
    q14 = z[s + 1, 1, 4]
    q15 = z[s + 1, 1, 5]
    q16 = z[s + 1, 1, 6]
    q17 = z[s + 1, 1, 7]
    p20 = z[s + 2, 0, 0]
    p21 = z[s + 2, 0, 1]
    p22 = z[s + 2, 0, 2]
    p23 = z[s + 2, 0, 3]
    p24 = z[s + 2, 0, 4]
    p25 = z[s + 2, 0, 5]
    p26 = z[s + 2, 0, 6]
    p27 = z[s + 2, 0, 7]
    q20 = z[s + 2, 1, 0]
    q21 = z[s + 2, 1, 1]
    q22 = z[s + 2, 1, 2]
    q23 = z[s + 2, 1, 3]
    q24 = z[s + 2, 1, 4]
    q25 = z[s + 2, 1, 5]
    q26 = z[s + 2, 1, 6]
    q27 = z[s + 2, 1, 7]
    for i in range(cnt):
        t = t_first + step * i
        x0 = s0[t]
        x1 = s1[t]
        x2 = s2[t]
        x3 = s3[t]
        x4 = s4[t]
        x5 = s5[t]
        x6 = s6[t]
        x7 = s7[t]
        y0 = b00 * x0 + p00
        y1 = b00 * x1 + p01
        y2 = b00 * x2 + p02
        y3 = b00 * x3 + p03
        y4 = b00 * x4 + p04
        y5 = b00 * x5 + p05
        y6 = b00 * x6 + p06
        y7 = b00 * x7 + p07
        p00 = b10 * x0 - a10 * y0 + q00
        p01 = b10 * x1 - a10 * y1 + q01
        p02 = b10 * x2 - a10 * y2 + q02
        p03 = b10 * x3 - a10 * y3 + q03
        p04 = b10 * x4 - a10 * y4 + q04
        p05 = b10 * x5 - a10 * y5 + q05
        p06 = b10 * x6 - a10 * y6 + q06
        p07 = b10 * x7 - a10 * y7 + q07
        q00 = b20 * x0 - a20 * y0
        q01 = b20 * x1 - a20 * y1
        q02 = b20 * x2 - a20 * y2
        q03 = b20 * x3 - a20 * y3
        q04 = b20 * x4 - a20 * y4
        q05 = b20 * x5 - a20 * y5
        q06 = b20 * x6 - a20 * y6
        q07 = b20 * x7 - a20 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        y0 = b01 * x0 + p10
        y1 = b01 * x1 + p11
        y2 = b01 * x2 + p12
        y3 = b01 * x3 + p13
        y4 = b01 * x4 + p14
        y5 = b01 * x5 + p15
        y6 = b01 * x6 + p16
        y7 = b01 * x7 + p17
        p10 = b11 * x0 - a11 * y0 + q10
        p11 = b11 * x1 - a11 * y1 + q11
        p12 = b11 * x2 - a11 * y2 + q12
        p13 = b11 * x3 - a11 * y3 + q13
        p14 = b11 * x4 - a11 * y4 + q14
        p15 = b11 * x5 - a11 * y5 + q15
        p16 = b11 * x6 - a11 * y6 + q16
        p17 = b11 * x7 - a11 * y7 + q17
        q10 = b21 * x0 - a21 * y0
        q11 = b21 * x1 - a21 * y1
        q12 = b21 * x2 - a21 * y2
        q13 = b21 * x3 - a21 * y3
        q14 = b21 * x4 - a21 * y4
        q15 = b21 * x5 - a21 * y5
        q16 = b21 * x6 - a21 * y6
        q17 = b21 * x7 - a21 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        if rect_mid:
            x0 = abs(x0)
            x1 = abs(x1)
            x2 = abs(x2)
            x3 = abs(x3)
            x4 = abs(x4)
            x5 = abs(x5)
            x6 = abs(x6)
            x7 = abs(x7)
        y0 = b02 * x0 + p20
        y1 = b02 * x1 + p21
        y2 = b02 * x2 + p22
        y3 = b02 * x3 + p23
        y4 = b02 * x4 + p24
        y5 = b02 * x5 + p25
        y6 = b02 * x6 + p26
        y7 = b02 * x7 + p27
        p20 = b12 * x0 - a12 * y0 + q20
        p21 = b12 * x1 - a12 * y1 + q21
        p22 = b12 * x2 - a12 * y2 + q22
        p23 = b12 * x3 - a12 * y3 + q23
        p24 = b12 * x4 - a12 * y4 + q24
        p25 = b12 * x5 - a12 * y5 + q25
        p26 = b12 * x6 - a12 * y6 + q26
        p27 = b12 * x7 - a12 * y7 + q27
        q20 = b22 * x0 - a22 * y0
        q21 = b22 * x1 - a22 * y1
        q22 = b22 * x2 - a22 * y2
        q23 = b22 * x3 - a22 * y3
        q24 = b22 * x4 - a22 * y4
        q25 = b22 * x5 - a22 * y5
        q26 = b22 * x6 - a22 * y6
        q27 = b22 * x7 - a22 * y7
        x0 = y0
        x1 = y1
        x2 = y2
        x3 = y3
        x4 = y4
        x5 = y5
        x6 = y6
        x7 = y7
        if rect:
            x0 = abs(x0)
            x1 = abs(x1)
            x2 = abs(x2)
            x3 = abs(x3)
            x4 = abs(x4)
            x5 = abs(x5)
            x6 = abs(x6)
            x7 = abs(x7)
        d0[t] = x0
        d1[t] = x1
        d2[t] = x2
        d3[t] = x3
        d4[t] = x4
        d5[t] = x5
        d6[t] = x6
        d7[t] = x7
    z[s + 0, 0, 0] = p00
    z[s + 0, 0, 1] = p01
    z[s + 0, 0, 2] = p02
    z[s + 0, 0, 3] = p03
    z[s + 0, 0, 4] = p04
    z[s + 0, 0, 5] = p05
    z[s + 0, 0, 6] = p06
    z[s + 0, 0, 7] = p07
    z[s + 0, 1, 0] = q00
    z[s + 0, 1, 1] = q01
    z[s + 0, 1, 2] = q02
    z[s + 0, 1, 3] = q03
    z[s + 0, 1, 4] = q04
    z[s + 0, 1, 5] = q05
    z[s + 0, 1, 6] = q06
    z[s + 0, 1, 7] = q07
    z[s + 1, 0, 0] = p10
    z[s + 1, 0, 1] = p11
    z[s + 1, 0, 2] = p12
    z[s + 1, 0, 3] = p13
    z[s + 1, 0, 4] = p14
    z[s + 1, 0, 5] = p15
    z[s + 1, 0, 6] = p16
    z[s + 1, 0, 7] = p17
    z[s + 1, 1, 0] = q10
    z[s + 1, 1, 1] = q11
    z[s + 1, 1, 2] = q12
    z[s + 1, 1, 3] = q13
    z[s + 1, 1, 4] = q14
    z[s + 1, 1, 5] = q15
    z[s + 1, 1, 6] = q16
    z[s + 1, 1, 7] = q17
    z[s + 2, 0, 0] = p20
    z[s + 2, 0, 1] = p21
    z[s + 2, 0, 2] = p22
    z[s + 2, 0, 3] = p23
    z[s + 2, 0, 4] = p24
    z[s + 2, 0, 5] = p25
    z[s + 2, 0, 6] = p26
    z[s + 2, 0, 7] = p27
    z[s + 2, 1, 0] = q20
    z[s + 2, 1, 1] = q21
    z[s + 2, 1, 2] = q22
    z[s + 2, 1, 3] = q23
    z[s + 2, 1, 4] = q24
    z[s + 2, 1, 5] = q25
    z[s + 2, 1, 6] = q26
    z[s + 2, 1, 7] = q27


@njit(**_OPTS)
def _sweep_rows(sr, dr, off, zoff, t_first, step, cnt, sos, z, s0, s1, rect):
    """Sections ``s0 .. s1-1`` over samples ``t_first + step * i`` (``i < cnt``): the first sweep reads the row tuple
    ``sr`` minus ``off`` and writes ``dr``; further sweeps (more than 2 sections) work in place on ``dr``. ``abs`` is
    applied by the last sweep if ``rect``."""
    s = s0
    while s < s1:
        last = s + 2 >= s1
        if s == s0:
            src = sr
            o = off
        else:
            src = dr
            o = zoff
        if s + 1 < s1:
            _pair_rows(src[0], src[1], src[2], src[3], src[4], src[5], src[6], src[7],
                       dr[0], dr[1], dr[2], dr[3], dr[4], dr[5], dr[6], dr[7],
                       o, t_first, step, cnt, sos, z, s, rect and last)
            s += 2
        else:
            _single_rows(src[0], src[1], src[2], src[3], src[4], src[5], src[6], src[7],
                         dr[0], dr[1], dr[2], dr[3], dr[4], dr[5], dr[6], dr[7],
                         o, t_first, step, cnt, sos, z, s, rect)
            s += 1


@njit(**_OPTS)
def _cascade(blk, nb, sos, z, s0, s1):
    """Sections ``s0 .. s1-1`` over ``blk[:nb]``: pairs in one sweep each, an odd last one alone."""
    s = s0
    while s + 1 < s1:
        _pair(blk, nb, sos, z, s)
        s += 2
    if s < s1:
        _single(blk, nb, sos, z, s)


@njit(inline="always", **_OPTS)
def _init_state(z, zi, s0, s1, blk):
    """Steady state of sections ``s0 .. s1-1`` for a constant input equal to ``blk[0, lane]`` (SciPy: zi * x0)."""
    for s in range(s0, s1):
        for j in range(2):
            for ln in range(LANES):
                z[s, j, ln] = zi[s, j] * blk[0, ln]


@njit(parallel=True, **_OPTS)
def row_sums(x):
    """Sum of each row of ``x`` ``[channels, samples]``; non-finite iff the row holds NaN/inf (or overflows)."""
    nch, n = x.shape
    out = np.empty(nch)
    for c in prange(nch):
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        n4 = n - n % 4
        for t in range(0, n4, 4):
            a0 += x[c, t]
            a1 += x[c, t + 1]
            a2 += x[c, t + 2]
            a3 += x[c, t + 3]
        for t in range(n4, n):
            a0 += x[c, t]
        out[c] = (a0 + a1) + (a2 + a3)
    return out


@njit(**_OPTS)
def first_nonfinite(x):
    """``(channel, sample)`` of the first NaN/inf (smallest sample index, then channel), or ``(-1, -1)``."""
    nch, n = x.shape
    best_t = n
    best_c = -1
    for c in range(nch):
        for t in range(min(n, best_t + 1)):
            v = x[c, t]
            if not np.isfinite(v):
                if t < best_t:
                    best_t = t
                    best_c = c
                break
    if best_c < 0:
        return (-1, -1)
    return (best_c, best_t)


@njit(parallel=True, **_OPTS)
def filtfilt_chain(x, demean, sos, zi, bounds, pads, rect, out, sums, n_threads):
    """Zero-phase chain: stage k is SciPy's ``sosfiltfilt`` (odd extension of ``pads[k]`` samples, steady-state
    initial conditions) with sections ``bounds[k] .. bounds[k+1]-1``, output rectified if ``rect[k]``.

    ``x``, ``out``: ``[channels, samples]``, ``samples > max(pads)``. ``sums[c]`` receives the sum of ``x[c]``
    (non-finite iff the row holds NaN/inf: the caller checks it); if ``demean`` the first stage filters
    ``x[c] - sums[c] / samples``. Each pass sweeps the rows of a group of ``LANES`` channels in lockstep straight
    from source rows to ``out`` rows (``out`` doubles as the buffer between passes); only the ``pad`` extension
    samples at each end go through a small lane-interleaved scratch block. In a partial last group the spare lanes
    repeat the last channel and write the same values to its row. ``n_threads`` (>= 1) workers take groups
    round-robin.
    """
    nch, n = x.shape
    n_stages = pads.shape[0]
    n_sec = sos.shape[0]
    big_p = 1
    for k in range(n_stages):
        big_p = max(big_p, pads[k])
    n_groups = (nch + LANES - 1) // LANES
    n_workers = max(1, min(n_groups, n_threads))
    for w in prange(n_workers):
        blk = np.empty((big_p, LANES))
        z = np.empty((n_sec, 2, LANES))
        hi = np.empty((big_p, LANES))
        head = np.empty((big_p + 1, LANES))
        tail = np.empty((big_p + 1, LANES))
        ch = np.empty(LANES, dtype=np.int64)
        off = np.zeros(LANES)
        zoff = np.zeros(LANES)
        for g in range(w, n_groups, n_workers):
            for ln in range(LANES):
                ch[ln] = min(g * LANES + ln, nch - 1)
            # ---------------- channel sums (finiteness check + mean), 4 partial sums per row
            for ln in range(LANES):
                c = ch[ln]
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                n4 = n - n % 4
                for t in range(0, n4, 4):
                    a0 += x[c, t]
                    a1 += x[c, t + 1]
                    a2 += x[c, t + 2]
                    a3 += x[c, t + 3]
                for t in range(n4, n):
                    a0 += x[c, t]
                tot = (a0 + a1) + (a2 + a3)
                sums[c] = tot
                off[ln] = tot / n if demean != 0 else 0.0
            xr = (x[ch[0]], x[ch[1]], x[ch[2]], x[ch[3]], x[ch[4]], x[ch[5]], x[ch[6]], x[ch[7]])
            orows = (out[ch[0]], out[ch[1]], out[ch[2]], out[ch[3]], out[ch[4]], out[ch[5]], out[ch[6]], out[ch[7]])
            for k in range(n_stages):
                p = pads[k]
                s0 = bounds[k]
                s1 = bounds[k + 1]
                # ---- forward pass. The odd extension needs the first and last p + 1 input samples; keep copies
                # (stages after the first overwrite their input in place).
                for j in range(p + 1):
                    for ln in range(LANES):
                        if k == 0:
                            head[j, ln] = x[ch[ln], j] - off[ln]
                            tail[j, ln] = x[ch[ln], n - 1 - j] - off[ln]
                        else:
                            head[j, ln] = out[ch[ln], j]
                            tail[j, ln] = out[ch[ln], n - 1 - j]
                for i in range(p):  # left extension: u = i, t = i - p
                    for ln in range(LANES):
                        blk[i, ln] = 2.0 * head[0, ln] - head[p - i, ln]
                _init_state(z, zi, s0, s1, blk)
                _cascade(blk, p, sos, z, s0, s1)
                if k == 0:
                    _sweep_rows(xr, orows, off, zoff, 0, 1, n, sos, z, s0, s1, False)
                else:
                    _sweep_rows(orows, orows, zoff, zoff, 0, 1, n, sos, z, s0, s1, False)
                for i in range(p):  # right extension: t = n + i
                    for ln in range(LANES):
                        blk[i, ln] = 2.0 * tail[0, ln] - tail[i + 1, ln]
                _cascade(blk, p, sos, z, s0, s1)
                for i in range(p):
                    for ln in range(LANES):
                        hi[i, ln] = blk[i, ln]
                # ---- backward pass from the end of the right extension; only the interior is kept
                for i in range(p):
                    for ln in range(LANES):
                        blk[i, ln] = hi[p - 1 - i, ln]
                _init_state(z, zi, s0, s1, blk)
                _cascade(blk, p, sos, z, s0, s1)
                _sweep_rows(orows, orows, zoff, zoff, n - 1, -1, n, sos, z, s0, s1, rect[k] != 0)


@njit(**_OPTS)
def _causal_group(x, sos, zi, bounds, rect, z, init, out, g):
    """Causal chain for channel group ``g``: stage by stage, each a lockstep sweep over the group's rows (the first
    from ``x`` into ``out``, the rest in place in ``out``); spare lanes of a partial group repeat the last channel.
    The default envelope (2-section stage, then a 1-section stage) runs as one fused sweep."""
    nch, n = x.shape
    n_stages = rect.shape[0]
    ch = np.empty(LANES, dtype=np.int64)
    for ln in range(LANES):
        ch[ln] = min(g * LANES + ln, nch - 1)
    zoff = np.zeros(LANES)
    first = np.empty((1, LANES))
    xr = (x[ch[0]], x[ch[1]], x[ch[2]], x[ch[3]], x[ch[4]], x[ch[5]], x[ch[6]], x[ch[7]])
    orows = (out[ch[0]], out[ch[1]], out[ch[2]], out[ch[3]], out[ch[4]], out[ch[5]], out[ch[6]], out[ch[7]])
    if n_stages == 2 and bounds[1] == 2 and bounds[2] == 3:
        if init != 0:
            for ln in range(LANES):
                first[0, ln] = x[ch[ln], 0]
            _init_state(z, zi, 0, 2, first)
            ztmp = z.copy()  # stage 1 starts from stage 0's first output: compute it without advancing the state
            _cascade(first, 1, sos, ztmp, 0, 2)
            if rect[0] != 0:
                for ln in range(LANES):
                    first[0, ln] = abs(first[0, ln])
            _init_state(z, zi, 2, 3, first)
        _pair_single_rows(xr[0], xr[1], xr[2], xr[3], xr[4], xr[5], xr[6], xr[7],
                          orows[0], orows[1], orows[2], orows[3], orows[4], orows[5], orows[6], orows[7],
                          0, 1, n, sos, z, 0, rect[0] != 0, rect[1] != 0)
        return
    for k in range(n_stages):
        if init != 0:
            for ln in range(LANES):
                first[0, ln] = x[ch[ln], 0] if k == 0 else out[ch[ln], 0]
            _init_state(z, zi, bounds[k], bounds[k + 1], first)
        if k == 0:
            _sweep_rows(xr, orows, zoff, zoff, 0, 1, n, sos, z, bounds[k], bounds[k + 1], rect[k] != 0)
        else:
            _sweep_rows(orows, orows, zoff, zoff, 0, 1, n, sos, z, bounds[k], bounds[k + 1], rect[k] != 0)


@njit(inline="always", **_OPTS)
def _all_finite(a):
    for v in a.ravel():
        if not np.isfinite(v):
            return False
    return True


@njit(parallel=True, **_OPTS)
def causal_chain(x, sos, zi, bounds, rect, state, init, out):
    """Causal chain (SciPy ``sosfilt`` per stage, rectified after stage k if ``rect[k]``) over ``x``
    ``[channels, samples]`` into ``out``, channel groups in parallel. ``state`` ``[groups, total_sections, 2, LANES]``
    carries the sections' state in and out; if ``init`` it is first set to the steady state at each stage's first
    input sample. Returns False if the final state is not finite (NaN/inf in the input)."""
    n_groups = state.shape[0]
    for g in prange(n_groups):
        _causal_group(x, sos, zi, bounds, rect, state[g], init, out, g)
    return _all_finite(state)


@njit(**_OPTS)
def causal_chunk(x, sos, zi, bounds, rect, state, backup, init, out):
    """Serial twin of :func:`causal_chain` for small streaming chunks (no thread start-up); copies ``state`` into
    ``backup`` first so the caller can roll back after a non-finite chunk (returns False then)."""
    backup[...] = state
    for g in range(state.shape[0]):
        _causal_group(x, sos, zi, bounds, rect, state[g], init, out, g)
    return _all_finite(state)


# ------------------------------------------------------------------------------------- one compiled version each
# Numba leaves LLVM's SLP vectoriser off by default (``numba.core.config.SLP_VECTORIZE``); the lane-unrolled section
# kernels above need it to become 4-wide AVX2 code (about 3x faster, bit-identical results: SLP packs identical
# scalar operations, it does not reorder arithmetic). It is switched on only while a kernel is compiled (or loaded
# from numba's on-disk cache), then restored. Each kernel has exactly one signature and is compiled/loaded on its
# first call, so importing this module costs nothing and a process that only needs the zero-phase chain loads only
# that kernel; further specialisations are disabled (callers convert inputs to float64 C-contiguous first).
_F2 = "float64[:, ::1]"
_STATE = "float64[:, :, :, ::1]"


@contextlib.contextmanager
def _slp_vectorize():
    old = numba_config.SLP_VECTORIZE
    numba_config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba_config.SLP_VECTORIZE = old


class _Kernel:
    """A numba dispatcher with one signature, compiled (or loaded from cache) with SLP on at its first use."""

    def __init__(self, dispatcher, signature: str) -> None:
        self._dispatcher = dispatcher
        self._signature = signature
        self._lock = threading.Lock()
        self._ready = False
        self.__doc__ = dispatcher.__doc__

    def get(self):
        """The compiled dispatcher (call it directly in hot loops to skip this wrapper)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    with _slp_vectorize():
                        self._dispatcher.compile(self._signature)
                    self._dispatcher.disable_compile()
                    self._ready = True
        return self._dispatcher

    def __call__(self, *args):
        return self.get()(*args)


row_sums = _Kernel(row_sums, f"float64[::1]({_F2})")
first_nonfinite = _Kernel(first_nonfinite, f"UniTuple(int64, 2)({_F2})")
filtfilt_chain = _Kernel(
    filtfilt_chain, f"void({_F2}, int64, {_F2}, {_F2}, int64[::1], int64[::1], int64[::1], {_F2}, float64[::1], int64)"
)
causal_chain = _Kernel(causal_chain, f"boolean({_F2}, {_F2}, {_F2}, int64[::1], int64[::1], {_STATE}, int64, {_F2})")
causal_chunk = _Kernel(
    causal_chunk, f"boolean({_F2}, {_F2}, {_F2}, int64[::1], int64[::1], {_STATE}, {_STATE}, int64, {_F2})"
)
KERNELS = (row_sums, first_nonfinite, filtfilt_chain, causal_chain, causal_chunk)
