import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perifacial.dsp.metrics import (
    boundary_errors,
    iou,
    match_events,
    overlap_ratio,
    prf,
    spotting_scores,
)
from perifacial.dsp.spotting import Event


def test_iou_and_overlap_ratio_by_hand():
    # (0, 9) has 10 samples, (5, 24) has 20; common 5..9 = 5 samples; union 25
    assert iou((0, 9), (5, 24)) == pytest.approx(5 / 25)
    assert overlap_ratio((0, 9), (5, 24)) == pytest.approx(5 / 10)
    # containment: overlap ratio is 1 (CASMEMG's "IoU"), true IoU is the length ratio
    assert overlap_ratio((0, 99), (10, 19)) == 1.0
    assert iou((0, 99), (10, 19)) == pytest.approx(0.1)
    assert iou((0, 9), (10, 19)) == 0.0 and overlap_ratio((0, 9), (10, 19)) == 0.0
    assert iou(Event(3, 3), Event(3, 3)) == 1.0


def test_overlap_ratio_matches_casmemg_formula_in_seconds():
    # interval_overlap_ratio.m on times: max(0, min(e1,e2) - max(s1,s2)) / min(len1, len2), with e = offset+1
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = sorted(rng.integers(0, 1000, 2))
        b = sorted(rng.integers(0, 1000, 2))
        s1, e1 = a[0], a[1] + 1
        s2, e2 = b[0], b[1] + 1
        ref = max(0, min(e1, e2) - max(s1, s2)) / min(e1 - s1, e2 - s2)
        assert overlap_ratio(a, b) == pytest.approx(ref)


def test_boundary_errors_by_hand():
    pred = [(100, 200), (300, 420)]
    truth = [(110, 190), (300, 400)]
    be = boundary_errors(pred, truth, fs=100.0)
    on = np.array([-0.1, 0.0])
    off = np.array([0.1, 0.2])
    assert be.onset_mae == pytest.approx(0.05)
    assert be.onset_rmse == pytest.approx(math.sqrt(np.mean(on**2)))
    assert be.onset_se == pytest.approx(np.std(np.abs(on), ddof=1) / math.sqrt(2))
    assert be.offset_mae == pytest.approx(0.15)
    assert be.offset_rmse == pytest.approx(math.sqrt(np.mean(off**2)))


def test_optimal_beats_greedy_on_a_crafted_case():
    # greedy takes the best pair (p0, t0) then p1 has nothing left; optimal pairs p0-t1 and p1-t0
    truth = [(0, 99), (30, 129)]
    pred = [(10, 109), (0, 59)]
    assert iou(pred[0], truth[0]) > 0.5 and iou(pred[0], truth[1]) > 0.5
    assert iou(pred[1], truth[0]) > 0.5 and iou(pred[1], truth[1]) < 0.5
    g = match_events(pred, truth, method="greedy")
    o = match_events(pred, truth, method="optimal")
    assert o.tp == 2 and o.fp == 0 and o.fn == 0
    assert g.tp == 1


def test_match_respects_threshold_and_region():
    truth = [Event(0, 99, region="a"), Event(500, 599, region="b")]
    pred = [Event(0, 99, region="b"), Event(500, 560, region="b"), Event(540, 700, region="b")]
    m = match_events(pred, truth, by="region")
    assert [(i, j) for i, j, _ in m.pairs] == [(1, 1)]
    assert m.unmatched_pred == (0, 2) and m.unmatched_truth == (0,)
    m2 = match_events(pred, truth)  # without regions pred 0 matches truth 0
    assert m2.tp == 2


def _brute_max_hits(pred, truth, thr=0.5):
    P, T = len(pred), len(truth)

    # simple exhaustive search over assignments of each pred to a truth or none
    def rec(i, used):
        if i == P:
            return 0
        r = rec(i + 1, used)
        for j in range(T):
            if j not in used and iou(pred[i], truth[j]) >= thr:
                r = max(r, 1 + rec(i + 1, used | {j}))
        return r

    return rec(0, frozenset())


intervals = st.lists(
    st.tuples(st.integers(0, 300), st.integers(1, 120)).map(lambda t: (t[0], t[0] + t[1])), min_size=0, max_size=6
)


@settings(max_examples=150, deadline=None)
@given(intervals, intervals)
def test_optimal_matching_maximises_hits(pred, truth):
    o = match_events(pred, truth)
    g = match_events(pred, truth, method="greedy")
    assert o.tp == _brute_max_hits(pred, truth)
    assert g.tp <= o.tp
    for m in (o, g):
        assert len({i for i, _, _ in m.pairs}) == m.tp == len({j for _, j, _ in m.pairs})
        assert all(v >= 0.5 for _, _, v in m.pairs)
        assert m.tp + m.fp == len(pred) and m.tp + m.fn == len(truth)


def test_spotting_scores_sum_counts_over_recordings():
    r1 = ([(0, 99), (1000, 1099)], [(0, 99)])  # 1 TP, 1 FP
    r2 = ([], [(0, 99), (500, 599)])  # 2 FN
    s = spotting_scores([r1, r2], fs=1000.0)
    assert (s.tp, s.fp, s.fn) == (1, 1, 2)
    p, r, f = prf(1, 1, 2)
    assert (s.precision, s.recall, s.f1) == (pytest.approx(0.5), pytest.approx(1 / 3), pytest.approx(f))
    assert f == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert prf(0, 0, 0) == (0.0, 0.0, 0.0)
