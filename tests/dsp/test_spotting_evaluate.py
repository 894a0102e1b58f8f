import numpy as np

from perifacial.dsp.evaluate import casmemg_long, casmemg_oracle, evaluate_spotting, format_table
from perifacial.dsp.synth import synthesize


def test_adaptive_beats_casmemg_on_a_short_session():
    rows = evaluate_spotting(n_sessions=1, duration=60.0, snr_levels=("high", "low"), seed0=20)
    by = {(r.snr, r.method): r.scores for r in rows}
    for snr in ("high", "low"):
        a = by[(snr, "adaptive")]
        n_truth = next(r.n_truth for r in rows if r.snr == snr)
        assert a.tp + a.fn == n_truth
        assert a.f1 > by[(snr, "casmemg-clip")].f1 and a.f1 > by[(snr, "casmemg-session")].f1
        assert a.f1 > 0.7
    table = format_table(rows)
    assert table.count("\n") == 2 + len(rows) - 1 and "| high | adaptive |" in table


def test_casmemg_long_finds_an_isolated_burst_in_clip_and_session_modes():
    rng = np.random.default_rng(0)
    env = 1 + 0.02 * rng.standard_normal((1, 20000))
    t = np.arange(600)
    env[0, 9000:9600] += 3 * np.sin(np.pi * t / 600) ** 2
    for mode in ("clip", "session"):
        ev = casmemg_long(env, 1000.0, mode=mode)
        hits = [e for e in ev if e.onset <= 9300 <= e.offset]
        assert len(hits) == 1 and hits[0].region is None
        # intervals of one channel never overlap after uniting
        iv = sorted((e.onset, e.offset) for e in ev)
        assert all(b[0] > a[1] for a, b in zip(iv, iv[1:]))


def test_oracle_protocol_on_gt_clips():
    s = synthesize(1, 1000.0, duration=60.0, snr="high")
    r = casmemg_oracle([s], "high")
    assert r.n_clips == len(s.expressions) and r.n_clips > 5
    assert 0 <= r.n_missed < r.n_clips
    assert 0.5 < r.mean_overlap_ratio <= 1.0 and r.mean_iou <= r.mean_overlap_ratio
