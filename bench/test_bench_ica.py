"""FastICA benchmarks against scikit-learn, measured in the same run.

* 4 channels x 600 s at 1 kHz (one region), logcosh, unit-variance: ``perifacial.dsp.ica.fastica`` vs
  ``sklearn.decomposition.FastICA`` on the same data and seed (goal: >= 4x faster at equal quality), on slowly
  converging sEMG-like bursts and on quickly converging Laplacian sources (where fixed costs weigh most).
* 24 channels x 600 s, six regions, end to end (ICA per region + sources): ``unmix_regions`` vs a loop of
  scikit-learn ``FastICA`` over the regions.
* online: applying a calibrated 24-channel unmixer to 40-sample chunks vs the NumPy expression.

With ``--benchmark-disable`` (the default) each benchmark runs once as a correctness check (Amari parity) and the
scikit-learn timings are skipped; ``pytest bench/test_bench_ica.py --benchmark-enable`` measures and stores
``ratio_vs_sklearn`` (reference time / our time, best of rounds) in each benchmark's ``extra_info``, asserting a
ratio > 1 (the 4x goal only with ``PERIFACIAL_BENCH_STRICT=1``, on a quiet machine).
"""

import logging
import os
import time

import numpy as np
import pytest
from semg import semg_sources

from perifacial.dsp.ica import amari_distance, fastica, unmix_regions

FastICA = pytest.importorskip("sklearn.decomposition").FastICA

log = logging.getLogger(__name__)

FS = 1000.0
N = 600_000  # 600 s at 1 kHz
ROUNDS = 5
STRICT = os.environ.get("PERIFACIAL_BENCH_STRICT") == "1"  # assert the 4x goal (a quiet machine), else ratio > 1
GOAL = 4.0


@pytest.fixture(scope="module")
def one_region():
    rng = np.random.default_rng(2026)
    A = rng.normal(size=(4, 4))
    return A @ semg_sources(rng, 4, N, FS, laplace=False) + 20.0, A


@pytest.fixture(scope="module")
def one_region_fast():
    """Laplacian sources under a random mixing: FastICA converges in a handful of iterations, so fixed costs
    (checks, moments, whitening, the sources pass) weigh most here."""
    rng = np.random.default_rng(31)
    A = rng.normal(size=(4, 4))
    return A @ rng.laplace(size=(4, N)) + 5.0, A


@pytest.fixture(scope="module")
def six_regions():
    rng = np.random.default_rng(7)
    X = np.empty((24, N))
    mixings = []
    for r in range(6):
        A = rng.normal(size=(4, 4))
        X[4 * r : 4 * r + 4] = A @ semg_sources(rng, 4, N, FS, laplace=False) + rng.normal(size=(4, 1)) * 10
        mixings.append(A)
    return X, mixings


def _best_of(fn, rounds):
    best = np.inf
    out = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _report(benchmark, name, t_ref, goal=GOAL):
    ours = benchmark.stats.stats.min
    ratio = t_ref / ours
    benchmark.extra_info["reference_s"] = t_ref
    benchmark.extra_info["ratio_vs_sklearn"] = ratio
    log.warning("%s: reference %.4f s, perifacial %.4f s, ratio %.2fx", name, t_ref, ours, ratio)
    assert ratio > 1.0, f"{name}: slower than scikit-learn ({ratio:.2f}x)"
    if STRICT and goal:
        assert ratio >= goal, f"{name}: {ratio:.2f}x < goal {goal}x"
    return ratio


@pytest.mark.parametrize("data", ["one_region", "one_region_fast"])
def test_fastica_4ch_600s_vs_sklearn(benchmark, data, request):
    X, A = request.getfixturevalue(data)
    fastica(X[:, :5000], random_state=0)  # JIT / cache load outside the timing
    res = benchmark.pedantic(lambda: fastica(X, random_state=0), rounds=ROUNDS, iterations=1, warmup_rounds=0)
    sk = FastICA(random_state=0, whiten="unit-variance")
    if benchmark.disabled:
        S_sk = sk.fit_transform(X.T)
    else:
        t_sk, S_sk = _best_of(lambda: sk.fit_transform(X.T), ROUNDS)
        _report(benchmark, f"fastica 4 ch x 600 s ({data})", t_sk)
    d_ours, d_sk = amari_distance(res.unmixing, A), amari_distance(sk.components_, A)
    benchmark.extra_info.update(amari=d_ours, amari_sklearn=d_sk, n_iter=res.n_iter)
    assert res.converged and res.n_iter == sk.n_iter_
    assert d_ours <= d_sk + 0.005
    np.testing.assert_allclose(res.sources, S_sk.T, rtol=1e-6, atol=1e-8)


def test_unmix_regions_24ch_600s_end_to_end(benchmark, six_regions):
    X, mixings = six_regions
    res = benchmark.pedantic(lambda: unmix_regions(X, random_state=0), rounds=3, iterations=1, warmup_rounds=0)
    assert res.converged and res.sources.shape == (24, N)
    d_ours = [amari_distance(r.result.unmixing, A) for r, A in zip(res.regions, mixings)]
    benchmark.extra_info["amari"] = d_ours
    assert max(d_ours) < 0.02
    if not benchmark.disabled:

        def sklearn_regions():
            out = []
            for r in res.regions:
                sk = FastICA(random_state=0, whiten="unit-variance")
                sk.fit_transform(X[list(r.channels)].T)
                out.append(sk)
            return out

        t_sk, sks = _best_of(sklearn_regions, 3)
        _report(benchmark, "unmix_regions 24 ch x 600 s", t_sk)
        for d, sk, A in zip(d_ours, sks, mixings):
            assert d <= amari_distance(sk.components_, A) + 0.005


def test_region_unmixer_online_chunks(benchmark, six_regions):
    X, _ = six_regions
    res = unmix_regions(X[:, :60_000], random_state=0)
    u = res.unmixer
    chunk = 40
    pieces = [X[:, a : a + chunk] for a in range(0, 40_000, chunk)]
    out = np.empty((24, chunk))

    def ours():
        for p in pieces:
            u.apply(p, out=out)

    regions = [
        (list(ch), mu[:, None], um, u.row_slice(nm))
        for nm, ch, mu, um in zip(u.names, u.channels, u.means, u.unmixings)
    ]

    def numpy_ref():
        for p in pieces:
            for ch, mu, um, rows in regions:
                out[rows] = um @ (p[ch] - mu)

    benchmark.pedantic(ours, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    np.testing.assert_allclose(u.apply(X[:, :chunk]), res.sources[:, :chunk], atol=1e-10)
    if not benchmark.disabled:
        t_ref, _ = _best_of(numpy_ref, ROUNDS)
        _report(
            benchmark, "RegionUnmixer.apply, 1000 chunks of 40 samples x 24 ch (reference: NumPy)", t_ref, goal=None
        )
