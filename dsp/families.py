"""Domain randomisation: families of synthetic sessions, and the held-out evaluation of the default chain.

A *family* is a set of parameter ranges of :mod:`perifacial.dsp.synth` (subject mixing/leakage, muscle spectrum,
mains frequency/amplitude/harmonics/drift, electrode pops and contact steps, blinks with and without EOG, long
blinks, jaw clench/chewing/swallowing, lower-face and bilateral expressions, tonic activity). ``"tune"`` is the only
family the detector's parameters may be chosen on; ``"heldout"`` has ranges that do not overlap it (60 Hz instead
of 50, stronger leakage, narrower/shifted muscle spectra, more pops, stronger EOG, more chewing, more lower-face and
bilateral expressions, tonic activity). Both are our own generator: held-out *ranges*, not an independent model.

:func:`evaluate` runs the default chain exactly as ``process`` does without flags (``linear_envelope`` with mains
auto-detection -> ``spot`` -> :func:`perifacial.dsp.episode.episodes`) and scores expression episodes against the
ground-truth episodes (IoU >= 0.5, one-to-one), per condition, SNR and mains setting, with the confusion of the
per-region kinds. ``perifacial evaluate-spotting --families`` prints the table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .defaults import emg_band
from .synth import SynthSession, Variation, synthesize

__all__ = ["FAMILIES", "CONDITIONS", "draw_session", "score_session", "evaluate", "FamilyRow", "format_rows"]

log = logging.getLogger(__name__)

# parameter: (its range in "tune", its range in "heldout"); ranges are (min, max), tuples of choices where noted,
# side by side so that the held-out ranges can be read against the tuned ones
_RANGES: dict[str, tuple] = {
    "mains_hz": ((50.0,), (60.0, 50.0)),  # choices
    "mains_scale": ((0.5, 2.0), (2.0, 6.0)),
    "mains_drift": ((0.0, 0.05), (0.05, 0.2)),
    "mains_harmonics": ((1.0, 1 / 3, 1 / 5), (1.0, 0.5, 0.3)),  # relative amplitudes of h = 1, 3, 5
    "leak_scale": ((0.8, 1.2), (1.2, 1.6)),
    "carrier_low": ((18.0, 22.0), (25.0, 35.0)),
    "carrier_high": ((280.0, 320.0), (200.0, 260.0)),
    "pop_rate": ((0.1, 0.5), (0.5, 1.5)),
    "contact_rate": ((0.3, 0.7), (0.7, 1.5)),
    "eog_uv": ((30.0, 100.0), (100.0, 300.0)),
    "p_eog": (0.8, 0.5),
    "p_long_blink": (0.1, 0.3),
    "jaw_mix": ((1.0, 0.5, 0.5), (1.0, 1.0, 1.0)),
    "p_lower": (None, 0.5),
    "tonic_pct": ((0.0, 0.5), (0.5, 1.5)),
    "p_bilateral": ((0.3, 0.5), (0.5, 0.8)),
}

#: parameter ranges (min, max) per family; tuples of choices where noted
FAMILIES: dict[str, dict] = {
    family: {name: ranges[k] for name, ranges in _RANGES.items()} for k, family in enumerate(("tune", "heldout"))
}

#: condition -> (kind_probs ME, MaE, blink, jaw; artefacts on?)
CONDITIONS: dict[str, tuple[tuple[float, float, float, float], bool]] = {
    "none": ((0.55, 0.45, 0.0, 0.0), False),
    "blink": ((0.35, 0.3, 0.35, 0.0), False),
    "jaw": ((0.35, 0.3, 0.0, 0.35), False),
    "motion": ((0.55, 0.45, 0.0, 0.0), True),
    "all": ((0.3, 0.25, 0.25, 0.2), True),
}


def draw_session(
    family: str,
    seed: int,
    condition: str = "all",
    snr="medium",
    duration: float = 180.0,
    fs: float = 1000.0,
    mains_hz: float | None = None,
) -> SynthSession:
    """One session of ``family`` (``"tune"``/``"heldout"``) under ``condition`` (see :data:`CONDITIONS`), its
    parameters drawn from the family's ranges with ``seed``; ``mains_hz`` overrides the family's line frequency."""
    fam = FAMILIES[family]
    probs, artefacts = CONDITIONS[condition]
    rng = np.random.default_rng([seed, 99, list(FAMILIES).index(family)])
    u = lambda k: float(rng.uniform(*fam[k]))  # noqa: E731
    var = Variation(
        leak_scale=u("leak_scale"),
        carrier_band=(u("carrier_low"), u("carrier_high")),
        mains_scale=u("mains_scale"),
        mains_harmonics=tuple(fam["mains_harmonics"]),
        mains_drift=u("mains_drift"),
        pop_rate=u("pop_rate") if artefacts else 0.0,
        eog_uv=tuple(fam["eog_uv"]),
        p_eog=fam["p_eog"],
        p_long_blink=fam["p_long_blink"],
        jaw_mix=tuple(fam["jaw_mix"]),
        p_lower=fam["p_lower"],
        tonic_pct=tuple(fam["tonic_pct"]),
    )
    f_line = float(mains_hz) if mains_hz is not None else float(rng.choice(fam["mains_hz"]))
    return synthesize(
        seed,
        fs,
        duration=duration,
        snr=snr,
        kind_probs=probs,
        p_bilateral=u("p_bilateral"),
        contact_rate=u("contact_rate") if artefacts else 0.0,
        mains_hz=f_line,
        variation=var,
    )


KINDS = ("expression", "blink", "jaw", "artifact")


def _kind_class(kind: str) -> str:
    if kind in ("ME", "MaE", "expression"):
        return "expression"
    if kind in ("blink", "jaw"):
        return kind
    if kind in ("artifact", "pop", "contact"):
        return "artifact"
    return "other"  # crosstalk


@dataclass
class FamilyRow:
    family: str
    condition: str
    snr: str
    mains_hz: float
    tp: int = 0
    fp: int = 0
    fn: int = 0
    confusion: dict = field(default_factory=dict)  # (truth class, predicted class or "missed") -> count

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 1.0


def score_session(s: SynthSession, row: FamilyRow, envelope: np.ndarray | None = None) -> list:
    """Run the default chain on ``s`` and add its episode counts and kind confusion to ``row``; returns the
    spotted region events."""
    from .episode import episodes
    from .evidence import low_band
    from .filters import linear_envelope
    from .metrics import match_events
    from .montage import default_montage
    from .spotting import spot

    fs = s.fs
    env = linear_envelope(s.data, fs, band=emg_band(fs)) if envelope is None else envelope
    events = spot(env, fs, lowband=low_band(s.data, fs))
    pred = episodes(events, fs)
    truth = episodes(s.expressions, fs, gap=0.0)
    m = match_events(pred, truth, threshold=0.5)
    row.tp += m.tp
    row.fp += m.fp
    row.fn += m.fn
    # confusion of per-region kinds: every truth region event (and artefact) -> the kind of the predicted event
    # of the same region that overlaps it most (or "missed")
    mont = default_montage()
    items = [(e.onset, e.offset, e.region, _kind_class(e.kind)) for e in s.events]
    for a, b, ch, kind in s.artifacts:
        if kind == "pop":
            items.append(
                (a, b, mont.region_of(ch).name if hasattr(mont, "region_of") else _region_of(mont, ch), "artifact")
            )
    for a, b, reg, tk in items:
        best, ov = "missed", 0
        for e in events:
            if e.region == reg and e.onset <= b and e.offset >= a:
                o = min(b, e.offset) - max(a, e.onset)
                if o > ov:
                    best, ov = _kind_class(e.kind), o
        row.confusion[(tk, best)] = row.confusion.get((tk, best), 0) + 1
    return events


def _region_of(montage, ch: int) -> str:
    return next(r.name for r in montage.regions if ch in r.channels)


def evaluate(
    family: str = "heldout",
    conditions: Iterable[str] = tuple(CONDITIONS),
    snrs=("high", "medium", "low"),
    mains: Iterable[float | None] = (None,),
    seeds: Iterable[int] = (1, 2),
    duration: float = 180.0,
    progress=None,
) -> list[FamilyRow]:
    """Score the default chain on ``family`` sessions: one :class:`FamilyRow` per (condition, SNR, mains)."""
    rows = []
    for cond in conditions:
        for snr in snrs:
            for mh in mains:
                row = FamilyRow(family, cond, str(snr), float("nan") if mh is None else float(mh))
                for seed in seeds:
                    s = draw_session(family, seed, cond, snr, duration, mains_hz=mh)
                    score_session(s, row)
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def format_rows(rows: list[FamilyRow]) -> str:
    """Markdown table of episode F1 (tp/fp/fn) per condition x SNR x mains, then the kind confusion (summed)."""
    out = ["| family | distractors | SNR | mains | episode F1 | TP | FP | FN |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mh = "family" if r.mains_hz != r.mains_hz else f"{r.mains_hz:g} Hz"
        out.append(f"| {r.family} | {r.condition} | {r.snr} | {mh} | {r.f1:.3f} | {r.tp} | {r.fp} | {r.fn} |")
    conf: dict = {}
    for r in rows:
        for k, v in r.confusion.items():
            conf[k] = conf.get(k, 0) + v
    cols = list(KINDS) + ["other", "missed"]
    out += ["", "| truth \\ spotted as | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for tk in KINDS:
        out.append(f"| {tk} | " + " | ".join(str(conf.get((tk, c), 0)) for c in cols) + " |")
    return "\n".join(out)
