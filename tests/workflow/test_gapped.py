"""Spotting on data with gaps (issue 14, point 8): per gap-free stretch, no event spans a gap; `spot` reads .pfr.

The reference is the plain chain (``linear_envelope`` + ``spot``) run by hand on each stretch cut out of the
array; the synthetic session (seed 41, 60 s, "medium" SNR) is not one the spotter was tuned on.
"""

from __future__ import annotations

import numpy as np
import pytest

from perifacial import cli
from perifacial.dsp.filters import linear_envelope
from perifacial.dsp.spotting import spot
from perifacial.dsp.synth import synthesize
from perifacial.host.workflow.gapped import finite_runs, spot_gapped

FS = 1000.0


@pytest.fixture(scope="module")
def session():
    return synthesize(41, fs=FS, duration=60.0, snr="medium")


def _by_hand(x, a, b):
    env = linear_envelope(x[:, a:b], FS, band=(20.0, 450.0))
    return [(e.onset + a, e.offset + a, e.kind, e.channel) for e in spot(env, FS)]


def test_gaps_split_the_chain_and_no_event_spans_them(session):
    x = session.data.copy()
    gaps = [(14_000, 14_500), (31_000, 33_000), (50_000, 50_001)]
    for a, b in gaps:
        x[:, a:b] = np.nan
    res = spot_gapped(x, FS)
    stretches = finite_runs(x)
    assert stretches == [(0, 14_000), (14_500, 31_000), (33_000, 50_000), (50_001, 60_000)] == res.segments
    got = [(e.onset, e.offset, e.kind, e.channel) for e in res.events]
    want = sorted(sum((_by_hand(x, a, b) for a, b in stretches), []))
    assert sorted(got) == want and got
    for e in res.events:
        assert np.isfinite(x[:, e.onset : e.offset + 1]).all()  # never across a gap
    assert np.isnan(res.envelope[:, 31_000:33_000]).all() and np.isfinite(res.envelope[:, :14_000]).all()


def test_without_gaps_it_is_the_plain_chain(session):
    x = session.data[:, :20_000]
    res = spot_gapped(x, FS)
    assert [(e.onset, e.offset, e.kind) for e in res.events] == [
        (e.onset, e.offset, e.kind) for e in spot(linear_envelope(x, FS), FS)
    ]


def test_short_stretches_are_skipped_and_reported(session):
    x = session.data[:, :10_000].copy()
    x[:, 1_000:1_010] = np.nan
    res = spot_gapped(x, FS, min_segment_s=2.0)
    assert res.skipped == [(0, 1_000)] and res.segments == [(1_010, 10_000)]


def test_spot_cli_reads_a_pfr_with_a_gap(tmp_path, capsys):
    path = tmp_path / "g.pfr"
    assert (
        cli.main(["record", "sim://?seed=7&mute_at=3&mute_s=1.5", "-o", str(path), "--seconds", "8", "--quiet"]) == 1
    )  # 1: samples were lost (the muted link), which is the point here
    capsys.readouterr()
    assert cli.main(["spot", str(path), "--all"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {path}: 24 channels") and "gaps (stretches spotted separately)" in out
