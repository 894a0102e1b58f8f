"""Filter-core benchmarks, each side by side with the SciPy code it competes with, in the same session.

* offline: ``linear_envelope`` (zero-phase) on 24 ch x 600 s at 1 kHz, float64, vs the SciPy chain (mean removal,
  ``sosfiltfilt`` band-pass 20-450 Hz, ``abs``, ``sosfiltfilt`` low-pass 6 Hz, clip at 0 as the envelope does); goal
  >= 5x.
* causal: ``linear_envelope(zero_phase=False)`` vs the ``sosfilt`` chain with steady-state ``zi``; goal >= 5x.
* streaming: ``EnvelopeStream.process`` on 24 ch x 50-sample chunks vs ``sosfilt`` with ``zi`` per chunk (band-pass,
  ``abs``, low-pass); goal >= 10x per chunk.
* first call: a fresh Python process that imports the package and computes one envelope (24 ch x 10 s), numba cache
  warm; goal < 1.5 s wall time including interpreter start.

Every benchmark checks its result against the reference (zero-phase within 1e-9 of the peak, causal bit-exact), so
the plain test run (``--benchmark-disable``, the project default) runs each body once as a correctness check.
With ``pytest bench/test_bench_filters.py --benchmark-enable`` pytest-benchmark times ours, then the
reference and ours are timed alternately (best of rounds each, so both see the same load) for the ratio; the ratio
table is printed and stored in ``bench/results.json``, and each benchmark asserts ratio > 1 (we must beat the
reference on any machine, however loaded); the issue's goals are asserted only with ``PERIFACIAL_BENCH_STRICT=1``,
because this machine is shared and wall-clock ratios swing with the load. The goal column shows them either way.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.signal as ss

from perifacial.dsp.filters import EnvelopeStream, linear_envelope

log = logging.getLogger(__name__)

FS = 1000.0
N_CH = 24
N = 600_000  # 600 s at 1 kHz
CHUNK = 50
N_CHUNKS = 400  # 20 s of streaming per round
ROUNDS = 5
STRICT = os.environ.get("PERIFACIAL_BENCH_STRICT") == "1"

BP = ss.butter(2, [20.0, 450.0], "bandpass", fs=FS, output="sos")
LP = ss.butter(2, 6.0, "lowpass", fs=FS, output="sos")


def scipy_offline(x):
    y = x - x.mean(axis=-1, keepdims=True)
    y = ss.sosfiltfilt(BP, y, axis=-1)
    env = ss.sosfiltfilt(LP, np.abs(y), axis=-1)
    return np.maximum(env, 0.0, out=env)  # the envelope's documented edge handling (clip at 0)


def scipy_causal(x):
    y = ss.sosfilt(BP, x, axis=-1, zi=ss.sosfilt_zi(BP)[:, None, :] * x[None, :, :1])[0]
    y = np.abs(y)
    env = ss.sosfilt(LP, y, axis=-1, zi=ss.sosfilt_zi(LP)[:, None, :] * y[None, :, :1])[0]
    return np.maximum(env, 0.0, out=env)


def scipy_stream(chunks):
    x0 = chunks[0][:, :1]
    zb = ss.sosfilt_zi(BP)[:, None, :] * x0[None]
    zl = None
    out = []
    for c in chunks:
        y, zb = ss.sosfilt(BP, c, axis=-1, zi=zb)
        y = np.abs(y)
        if zl is None:
            zl = ss.sosfilt_zi(LP)[:, None, :] * y[None, :, :1]
        e, zl = ss.sosfilt(LP, y, axis=-1, zi=zl)
        out.append(np.maximum(e, 0.0, out=e))
    return out


def perifacial_stream(stream, chunks):
    return [stream.process(c) for c in chunks]


@pytest.fixture(scope="module")
def recording():
    """24 ch x 600 s of bursty EMG-like noise around a 2000-count offset, float64 [channels, samples]."""
    rng = np.random.default_rng(2)
    t = np.arange(N) / FS
    env = 0.2 + np.abs(np.sin(2 * np.pi * 0.3 * t))
    x = rng.standard_normal((N_CH, N))
    x *= 30.0 * env
    x += 2000.0
    return x


@pytest.fixture(scope="module")
def chunks():
    rng = np.random.default_rng(3)
    x = 2000.0 + 30.0 * rng.standard_normal((N_CH, CHUNK * N_CHUNKS))
    return [np.ascontiguousarray(x[:, i : i + CHUNK]) for i in range(0, x.shape[1], CHUNK)]


def _interleaved(ref_fn, ours_fn, rounds):
    """Best-of-``rounds`` seconds of the reference and of ours, timed alternately so both see the same load."""
    best_ref = best_ours = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        ref_fn()
        t1 = time.perf_counter()
        ours_fn()
        t2 = time.perf_counter()
        best_ref = min(best_ref, t1 - t0)
        best_ours = min(best_ours, t2 - t1)
    return best_ref, best_ours


def _ratio_check(ratios, benchmark, name, reference_name, ref_fn, ours_fn, goal, per=1):
    """Ratio from alternating reference/ours runs (best of ROUNDS each); pytest-benchmark's own stats for ours are
    kept in its table. Asserts ratio > 1, and the goal with PERIFACIAL_BENCH_STRICT=1."""
    st = ratios.stats_of(benchmark)
    if st is None:
        return
    ref_s, ours_s = _interleaved(ref_fn, ours_fn, ROUNDS)
    ref_s /= per
    ours_s /= per
    ratio = ratios.add(name, reference_name, ref_s, ours_s, goal)
    benchmark.extra_info.update(reference_s=ref_s, ours_interleaved_s=ours_s, ratio=ratio)
    log.warning(
        "%s: %s %.4g s, perifacial %.4g s, ratio %.1fx (goal %gx)", name, reference_name, ref_s, ours_s, ratio, goal
    )
    assert ratio > 1.0, f"{name}: slower than {reference_name} ({ratio:.2f}x)"
    if STRICT:
        assert ratio >= goal, f"{name}: {ratio:.1f}x is below the goal {goal}x"


def test_bench_offline_envelope_24ch_600s(benchmark, recording, ratios):
    want = scipy_offline(recording)
    got = benchmark.pedantic(lambda: linear_envelope(recording, FS), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    err = np.max(np.abs(got - want)) / np.max(np.abs(want))
    assert err <= 1e-9, err
    del want
    _ratio_check(
        ratios,
        benchmark,
        "offline chain 24ch x 600s",
        "SciPy sosfiltfilt chain",
        lambda: scipy_offline(recording),
        lambda: linear_envelope(recording, FS),
        5.0,
    )


def test_bench_causal_envelope_24ch_600s(benchmark, recording, ratios):
    # the chain itself (notch=None): equal to SciPy's; the default adds the causal mains canceller (next benchmark)
    want = scipy_causal(recording)
    got = benchmark.pedantic(
        lambda: linear_envelope(recording, FS, zero_phase=False, notch=None),
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    np.testing.assert_array_equal(got, want)
    del want
    _ratio_check(
        ratios,
        benchmark,
        "causal chain 24ch x 600s",
        "SciPy sosfilt chain (zi)",
        lambda: scipy_causal(recording),
        lambda: linear_envelope(recording, FS, zero_phase=False, notch=None),
        5.0,
    )


def test_bench_causal_envelope_default_mains_canceller_24ch_600s(benchmark, recording, ratios):
    """The causal default (notch="auto": RLS mains canceller at 50 and 60 Hz harmonics, then the chain), against
    the plain SciPy chain: the ratio shows what default-on mains removal costs (it is expected below 1)."""
    from perifacial.dsp.mains import cancel_mains

    want = scipy_causal(cancel_mains(recording, FS, max_freq=450.0))
    got = benchmark.pedantic(
        lambda: linear_envelope(recording, FS, zero_phase=False), rounds=1, iterations=1, warmup_rounds=1
    )
    np.testing.assert_array_equal(got, want)
    del want
    if ratios.stats_of(benchmark) is None:
        return
    ref_s, ours_s = _interleaved(
        lambda: scipy_causal(recording), lambda: linear_envelope(recording, FS, zero_phase=False), 2
    )
    ratio = ratios.add(
        "causal default (mains canceller) 24ch x 600s",
        "SciPy sosfilt chain (zi), no mains",
        ref_s,
        ours_s,
        1.0,
        note="cost of default-on causal mains removal; no assertion",
    )
    log.warning("causal default with the mains canceller: ratio %.2fx against the plain SciPy chain", ratio)


def test_bench_streaming_24ch_50_sample_chunks(benchmark, chunks, ratios):
    want = np.concatenate(scipy_stream(chunks), axis=1)

    def setup():
        return (EnvelopeStream(FS, N_CH, notch=None), chunks), {}

    got = benchmark.pedantic(perifacial_stream, setup=setup, rounds=ROUNDS * 4, iterations=1, warmup_rounds=1)
    np.testing.assert_array_equal(np.concatenate(got, axis=1), want)
    _ratio_check(
        ratios,
        benchmark,
        "streaming 24ch x 50-sample chunk",
        "SciPy sosfilt+zi per chunk",
        lambda: scipy_stream(chunks),
        lambda: perifacial_stream(EnvelopeStream(FS, N_CH, notch=None), chunks),
        10.0,
        per=len(chunks),
    )


FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from perifacial.dsp.filters import linear_envelope
x = np.random.default_rng(0).standard_normal((24, 10_000)) + 2000.0
e = linear_envelope(x, 1000.0)
assert e.shape == (24, 10_000) and np.isfinite(e).all()
print(time.perf_counter() - t0)
"""


def _fresh_process():
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    return wall, float(r.stdout.strip().splitlines()[-1])


def test_bench_first_call_fresh_process(benchmark, ratios):
    """Import + one ``linear_envelope`` in a new interpreter, numba cache warm (goal < 1.5 s wall)."""
    _fresh_process()  # makes sure the on-disk cache is warm (compiles on a cold clone)
    benchmark.pedantic(_fresh_process, rounds=ROUNDS, iterations=1)
    st = ratios.stats_of(benchmark)
    if st is None:
        return
    ratios.add_absolute(
        "first call, fresh process (warm cache)",
        st["min"],
        1.5,
        note=f"median {st['median']:.2f} s, wall time incl. interpreter start",
    )
    log.warning("fresh process: best %.2f s, median %.2f s", st["min"], st["median"])
    if STRICT:
        assert st["min"] < 1.5, f"first call took {st['min']:.2f} s"
