import time

import numpy as np
import pytest

from perifacial.dsp.montage import default_montage
from perifacial.dsp.synth import SNR_LEVELS, SynthStream, synthesize


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_chunked_equals_at_once(fs):
    whole = synthesize(7, fs, duration=25.0, snr="low")
    st = SynthStream(7, fs, snr="low", duration=25.0)
    rng = np.random.default_rng(int(fs))
    parts = []
    while st.pos < whole.data.shape[1]:
        parts.append(st.read(int(rng.integers(0, int(1.7 * fs)))))
    assert st.read(100).shape == (24, 0)  # finite session: nothing after the end
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole.data)
    n = whole.data.shape[1]
    assert [e for e in st.events_until(n) if e.offset < n] == whole.events


def test_endless_stream_and_seed_determinism():
    a = SynthStream(3, 1000.0)
    b = SynthStream(3, 1000.0)
    c = SynthStream(4, 1000.0)
    xa = np.concatenate([a.read(333) for _ in range(40)], axis=1)
    xb = b.read(13320)
    np.testing.assert_array_equal(xa, xb)
    assert not np.allclose(xa, c.read(13320))
    assert xa.shape == (24, 13320) and xa.dtype == np.float64


def test_ground_truth_follows_seed_003_table_4():
    st = SynthStream(11, 1000.0)
    ev = st.events_until(3600 * 1000)  # one hour of schedule (no samples needed)
    me = [e for e in ev if e.kind == "ME"]
    mae = [e for e in ev if e.kind == "MaE"]
    assert len(me) > 300 and len(mae) > 200
    d_me = np.array([e.n_samples / 1000 for e in me])
    d_mae = np.array([e.n_samples / 1000 for e in mae])
    i_me = np.array([e.peak for e in me])
    i_mae = np.array([e.peak for e in mae])
    # means inside Table 4's 95 % intervals (ME 0.307-0.327 s, 7.01-9.21 %; MaE 1.027-1.295 s, 19.63-26.56 %)
    assert 0.307 <= d_me.mean() <= 0.327 and 7.01 <= i_me.mean() <= 9.21
    assert 1.027 <= d_mae.mean() <= 1.295 and 19.63 <= i_mae.mean() <= 26.56
    assert d_me.max() <= 0.451 and d_mae.min() >= 0.699
    # regions: blinks on both middle regions, jaw on both lower, expressions anywhere
    regs = {k: {e.region for e in ev if e.kind == k} for k in ("blink", "jaw", "ME")}
    assert regs["blink"] == {"left_middle", "right_middle"}
    assert regs["jaw"] == {"left_lower", "right_lower"}
    assert len(regs["ME"]) == 6
    # events of one region never overlap
    for r in default_montage().regions:
        rr = sorted((e.onset, e.offset) for e in ev if e.region == r.name)
        assert all(b[0] > a[1] for a, b in zip(rr, rr[1:]))


def test_mixing_mvc_and_snr_levels():
    m = default_montage()
    s = synthesize(2, 1000.0, duration=30.0, snr="high")
    assert s.data.shape == (24, 30000) and s.mixing.shape == (24, 14) and len(s.source_names) == 14
    for ri, r in enumerate(m.regions):
        for k in range(2):
            col = s.mixing[:, 2 * ri + k]
            own = col[list(r.channels)]
            others = np.delete(col, list(r.channels))
            assert own.min() > 5 * others.max()  # crosstalk is small
    assert s.labels == m.labels
    lo = synthesize(2, 1000.0, duration=30.0, snr="low")
    np.testing.assert_allclose(lo.noise_uv / s.noise_uv, 10 ** ((SNR_LEVELS["high"] - SNR_LEVELS["low"]) / 20))
    np.testing.assert_array_equal(s.mvc_uv, lo.mvc_uv)
    num = synthesize(2, 1000.0, duration=30.0, snr=10.0)
    np.testing.assert_allclose(num.noise_uv, synthesize(2, 1000.0, duration=30.0, snr="medium").noise_uv)


def test_envelope_over_mvc_gives_the_ground_truth_intensity():
    from perifacial.dsp.filters import linear_envelope

    s = synthesize(5, 1000.0, duration=120.0, snr="high")
    env = linear_envelope(s.data, s.fs)
    mae = [e for e in s.events if e.kind == "MaE"]
    assert len(mae) >= 4
    for e in mae:
        a = e.onset + e.n_samples // 3
        b = e.offset - e.n_samples // 3  # plateau of the Tukey activation
        pct = env[e.channel, a:b].mean() / s.mvc_uv[e.channel] * 100
        assert pct == pytest.approx(e.peak, rel=0.2)


def test_generation_is_fast():
    synthesize(0, 1000.0, duration=2.0)
    t = time.perf_counter()
    synthesize(1, 1000.0, duration=60.0)
    assert time.perf_counter() - t < 2.0  # 24 ch x 5 min takes ~1 s on the 2-core machine


def test_bad_arguments():
    with pytest.raises(ValueError):
        SynthStream(0, 1000.0, snr="loud")
    with pytest.raises(ValueError):
        SynthStream(0).read(-1)
