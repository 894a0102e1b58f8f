"""Synthetic perifacial EMG sessions with ground truth, deterministic by seed, generated at once or in chunks.

Model (all amplitudes in uV, ``[channels, samples]`` with the perifacial montage's 24 channels)::

    x[c, t] = sum_m mixing[c, m] * A[m] * a_m(t) * carrier_m(t)       muscle sources, crosstalk by `mixing`
              + g_c(t) * sigma_c * w_c(t)                             electrode noise (white), contact changes
              + mains_c(t) + wander_c(t) + dc_c(t)                    50 Hz + harmonics, baseline wander, offsets

* 14 sources: the two muscles of each of the six regions (``montage.regions[r].muscles``, source ``2r + k``) and
  the left/right masseter (jaw, sources 12/13), which no electrode sits on but every lower and middle electrode
  picks up. ``carrier_m`` is unit-RMS Gaussian noise band-limited to 20-300 Hz (EMG-like spectrum), ``A[m]`` the
  source's RMS at 100 % MVC and ``a_m(t)`` its activation (fraction of MVC).
* ``mixing`` [24, 14]: a muscle loads its region's 4 electrodes with a gradient (1.0, 0.75, 0.45, 0.25 for the
  first muscle, reversed for the second, each x U(0.85, 1.15)), the other regions of the same side with
  U(0.01, 0.04) (crosstalk), the regions of the other side with U(0, 0.01); a masseter loads its lower region
  U(0.7, 1.0), its middle region U(0.25, 0.45), the other side's lower/middle a tenth of that, the uppers U(0, 0.03).
* ``mvc_uv[c]``: the envelope (mean rectified amplitude, uV) of channel c at 100 % MVC of its primary muscle
  (the region muscle loading it most), crosstalk excluded: ``sqrt(2/pi) * mixing[c, m] * A[m]``. So the envelope
  divided by ``mvc_uv`` x 100 is % MVC (approximately: the band-pass removes a little of the carrier).
* Events (one timeline; they do not overlap, >= 0.8 s apart), kinds with probabilities ``kind_probs``:
  ``"ME"``: duration ~ N(0.317, 0.04) s clipped to [0.22, 0.45], intensity ~ N(8.1, 1.0) % MVC clipped to
  [5.5, 11] (centred on Li et al. 2024 [arXiv:2409.00017] Table 4's 95 % intervals: 0.307-0.327 s, 7.01-9.21 % MVC);
  ``"MaE"``:
  N(1.16, 0.2) s in [0.7, 2.0], N(23.1, 3.0) % MVC in [15, 35] (Table 4: 1.027-1.295 s, 19.63-26.56 %). An
  expression drives one muscle of a random region, bilaterally (mirror muscle, onset jitter <= 20 ms) with
  probability ``p_bilateral``; ground truth has one event per region. ``"blink"``: both orbicularis oculi
  (middle regions), 60-140 ms, 30-60 % MVC. ``"jaw"`` (clench/swallow): both masseters, 0.6-2.5 s, 25-60 %.
  The activation is a Tukey window (25 % cosine ramps) at the intensity; ground truth is its support
  ``[onset, offset]`` (samples, offset inclusive) with ``peak`` = intensity in % MVC.
* Noise: ``sigma_c`` is set so that an ME at 8 % MVC on the channel's primary muscle has RMS
  ``10^(snr_db/20) * sigma_c`` (``snr``: "high" = 20 dB, "medium" = 10 dB, "low" = 3 dB, or a number in dB).
  Electrode contact changes (rate ``contact_rate`` per channel per minute) multiply the noise by a new factor
  (log-uniform 0.6-1.7) and step the DC offset (+-300 uV). Mains: 50 Hz (``mains_hz``) 2-8 uV plus harmonics at
  1/3 and 1/5 of that. Wander: three sinusoids 0.05-0.5 Hz (frequencies shared by the channels), 20-80 uV.

Determinism: everything is drawn from generators seeded by ``(seed, stream, index)`` for fixed internal blocks
(1 s of samples) and event epochs (10 s), filter states are carried from block to block, and the blocks are always
produced in order, so ``SynthStream(seed, fs).read(n)`` returns the same samples however ``n`` is split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._api import keyword_only
from .defaults import max_edge

__all__ = ["SNR_LEVELS", "SynthSession", "SynthStream", "Variation", "synthesize"]

#: Named SNR levels in dB (ME at 8 % MVC vs electrode noise RMS).
SNR_LEVELS: dict[str, float] = {"high": 20.0, "medium": 10.0, "low": 3.0}

_EPOCH_S = 10.0
_N_SRC = 14
_ME_MVC = 8.0


def _snr_db(snr: str | float) -> float:
    if isinstance(snr, str):
        try:
            return SNR_LEVELS[snr]
        except KeyError:
            raise ValueError(f"snr must be one of {sorted(SNR_LEVELS)} or a number (dB), not {snr!r}") from None
    return float(snr)


def _tukey(u: np.ndarray, r: float = 0.25) -> np.ndarray:
    """Tukey window on u in [0, 1) (0 outside), cosine ramps of fraction r at each end."""
    w = np.zeros_like(u)
    inside = (u >= 0) & (u < 1)
    ui = u[inside]
    wi = np.ones_like(ui)
    a = ui < r
    wi[a] = 0.5 * (1 - np.cos(np.pi * ui[a] / r))
    b = ui > 1 - r
    wi[b] = 0.5 * (1 - np.cos(np.pi * (1 - ui[b]) / r))
    w[inside] = wi
    return w


@dataclass(frozen=True)
class Variation:
    """Extra variation for domain randomisation (:mod:`perifacial.dsp.families` draws these). The defaults leave
    the base model above unchanged, sample for sample.

    leak_scale : multiplies every cross-region mixing gain (subject mixing / leakage; masseter loads unchanged).
    carrier_band : (low, high) Hz of the muscle carrier (muscle spectrum; default 20-300 Hz).
    mains_scale : multiplies the mains amplitudes; mains_harmonics : relative amplitudes of h = 1, 3, 5 (default
    1, 1/3, 1/5); mains_drift : peak deviation of the line frequency (Hz, sinusoidal, period 40 s).
    pop_rate : electrode pops per channel per minute (a step of +-100..800 uV decaying with tau 20-200 ms).
    eog_uv : (min, max) peak EOG deflection of a blink (uV; upper regions +, middle regions -, 0.25-0.45 s smooth
    bump; 0 = none); p_eog : probability that a blink carries it. p_long_blink : probability that a blink lasts
    0.15-0.4 s (30-60 % MVC) instead of 60-140 ms.
    jaw_mix : probabilities of clench (sustained), chew (1-2 Hz rhythmic bursts) and swallow (0.4-0.9 s, weaker).
    p_lower : probability that an expression is in a lower region (None: uniform over the six).
    tonic_pct : (min, max) % MVC of a constant tonic activation of each muscle (0 = none).
    """

    leak_scale: float = 1.0
    carrier_band: tuple[float, float] = (20.0, 300.0)
    mains_scale: float = 1.0
    mains_harmonics: tuple[float, float, float] = (1.0, 1 / 3, 1 / 5)
    mains_drift: float = 0.0
    pop_rate: float = 0.0
    eog_uv: tuple[float, float] = (0.0, 0.0)
    p_eog: float = 0.0
    p_long_blink: float = 0.0
    jaw_mix: tuple[float, float, float] = (1.0, 0.0, 0.0)
    p_lower: float | None = None
    tonic_pct: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class _SynthEvent:
    t_on: float  # s
    dur: float  # s
    kind: str
    sources: tuple[int, ...]
    levels: tuple[float, ...]  # fraction of MVC per source
    lags: tuple[float, ...]  # s, per source
    shape: str = "tukey"  # "tukey" or "chew"
    rate: float = 0.0  # chewing rate (Hz)
    eog: float = 0.0  # blink EOG peak (uV)


@dataclass
class SynthSession:
    """A generated session.

    Attributes
    ----------
    data : float64 ``[24, samples]``, uV.
    fs : Hz.
    events : ground truth :class:`~perifacial.dsp.spotting.Event` list sorted by onset (``kind`` ``"ME"``,
        ``"MaE"``, ``"blink"``, ``"jaw"``; ``region``; ``channel`` = primary electrode; ``peak`` = % MVC).
    mixing : ``[24, 14]`` source-to-channel gains (dimensionless).
    source_names : 14 names ("left_upper/frontalis", ..., "left_masseter", "right_masseter").
    source_mvc_uv : ``[14]`` source RMS at 100 % MVC (uV).
    mvc_uv : ``[24]`` envelope level at 100 % MVC of each channel's primary muscle (uV).
    noise_uv : ``[24]`` electrode noise RMS (uV, before contact changes).
    snr_db, seed, labels.
    """

    data: np.ndarray
    fs: float
    events: list
    mixing: np.ndarray
    source_names: list[str]
    source_mvc_uv: np.ndarray
    mvc_uv: np.ndarray
    noise_uv: np.ndarray
    snr_db: float
    seed: int
    labels: tuple[str, ...] = ()
    artifacts: list = ()  # (start, stop, channel, kind) of pops and contact changes, see SynthStream.artifacts_until

    @property
    def expressions(self) -> list:
        """Ground-truth events of kinds ME and MaE."""
        return [e for e in self.events if e.kind in ("ME", "MaE")]


class SynthStream:
    """Chunked synthetic session: ``read(n)`` -> ``[24, n]`` float64 uV, endless unless ``duration`` is given.

    Parameters
    ----------
    seed : int
        Seeds everything; the same seed gives the same samples however ``read`` calls split them.
    fs : float
        Sampling rate, Hz: 500, 1000 or 2000 (any rate > 100 Hz works).
    snr : str or float
        ``"high"`` (20 dB), ``"medium"`` (10 dB), ``"low"`` (3 dB) or a number in dB (see the module docstring).
    duration : float, optional
        Total seconds (``read`` then returns fewer samples at the end); None for endless.
    event_gap : float
        Mean extra gap between events, s (exponential, on top of 0.8 s).
    kind_probs : tuple of 4 floats
        Probabilities of ME, MaE, blink and jaw events.
    p_bilateral : float
        Probability that an expression is bilateral.
    contact_rate : float
        Electrode contact changes per channel per minute.
    mains_hz : float
        50 or 60.
    montage : Montage, optional
        Defaults to the perifacial montage.

    Notes
    -----
    ``events_until(n)`` gives the ground truth of events starting before sample ``n``.

    Public attributes (stable; other modules build on them): ``montage``, ``fs``, ``seed``, ``snr_db``,
    ``mixing`` ``[24, 14]``, ``source_names``, ``source_mvc_uv`` ``[14]``, ``mvc_uv`` ``[24]``, ``noise_uv``
    ``[24]``, ``primary`` (primary source per channel), ``pos`` (samples returned so far).

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import SynthStream, synthesize
    >>> stream = SynthStream(seed=0, fs=1000.0, duration=2.0)
    >>> parts = [stream.read(700), stream.read(700), stream.read(700)]     # the last read returns the 600 left
    >>> [p.shape[1] for p in parts]
    [700, 700, 600]
    >>> bool(np.array_equal(np.hstack(parts), synthesize(seed=0, fs=1000.0, duration=2.0).data))
    True
    """

    @keyword_only("snr", "duration")
    def __init__(
        self,
        seed: int,
        fs: float = 1000.0,
        *,
        snr: str | float = "medium",
        duration: float | None = None,
        event_gap: float = 1.8,
        kind_probs: tuple[float, float, float, float] = (0.4, 0.3, 0.2, 0.1),
        p_bilateral: float = 0.4,
        contact_rate: float = 0.5,
        mains_hz: float = 50.0,
        montage: Any = None,
        variation: Variation | None = None,
    ):
        from scipy.signal import butter, sosfilt

        if montage is None:
            from .montage import default_montage

            montage = default_montage()
        if montage.n_channels != 24 or len(montage.regions) != 6:
            raise ValueError("the synthetic model needs the 24-channel, six-region perifacial montage")
        self.montage = montage
        self.seed = int(seed)
        self.fs = float(fs)
        self.snr_db = _snr_db(snr)
        self.n_total = None if duration is None else int(round(duration * fs))
        self.event_gap = float(event_gap)
        probs = np.asarray(kind_probs, dtype=float)
        self.kind_probs = probs / probs.sum()
        self.p_bilateral = float(p_bilateral)
        self.contact_rate = float(contact_rate)
        self.mains_hz = float(mains_hz)
        self.variation = var = variation if variation is not None else Variation()
        self.block = int(round(fs))  # internal block: 1 s
        self.epoch = int(round(_EPOCH_S * fs))
        C = 24
        rng = np.random.default_rng([self.seed, 0])
        # ---- sources and mixing
        names = []
        M = np.zeros((C, _N_SRC))
        grad = np.array([1.0, 0.75, 0.45, 0.25])
        reg_of = {r.name: r for r in montage.regions}
        for ri, r in enumerate(montage.regions):
            for k, mus in enumerate(r.muscles[:2]):
                names.append(f"{r.name}/{mus}")
                src = 2 * ri + k
                g = grad if k == 0 else grad[::-1]
                M[list(r.channels), src] = g * rng.uniform(0.85, 1.15, 4)
                for r2 in montage.regions:
                    if r2 is r:
                        continue
                    lo, hi = (0.01, 0.04) if r2.side == r.side else (0.0, 0.01)
                    M[list(r2.channels), src] = rng.uniform(lo, hi, 4) * var.leak_scale
        for side_i, side in enumerate(("left", "right")):
            names.append(f"{side}_masseter")
            src = 12 + side_i
            other = "right" if side == "left" else "left"
            M[list(reg_of[f"{side}_lower"].channels), src] = rng.uniform(0.7, 1.0, 4)
            M[list(reg_of[f"{side}_middle"].channels), src] = rng.uniform(0.25, 0.45, 4)
            M[list(reg_of[f"{other}_lower"].channels), src] = rng.uniform(0.07, 0.1, 4)
            M[list(reg_of[f"{other}_middle"].channels), src] = rng.uniform(0.025, 0.045, 4)
            for up in ("left_upper", "right_upper"):
                M[list(reg_of[up].channels), src] = rng.uniform(0.0, 0.03, 4)
        self.mixing = M
        self.source_names = names
        A = np.empty(_N_SRC)
        A[:12] = rng.uniform(60.0, 150.0, 12)
        A[12:] = rng.uniform(250.0, 400.0, 2)
        self.source_mvc_uv = A
        # primary muscle per channel (own region's muscles)
        prim = np.empty(C, dtype=int)
        for ri, r in enumerate(montage.regions):
            for ch in r.channels:
                cand = [2 * ri, 2 * ri + 1]
                prim[ch] = cand[int(np.argmax(M[ch, cand] * A[cand]))]
        self.primary = prim
        amp = M[np.arange(C), prim] * A[prim]
        self.mvc_uv = math.sqrt(2 / math.pi) * amp
        self.noise_uv = (_ME_MVC / 100.0) * amp / 10 ** (self.snr_db / 20)
        self.mains_amp = rng.uniform(2.0, 8.0, C) * var.mains_scale
        self.mains_phase = rng.uniform(0, 2 * np.pi, (C, 3))
        self.wander_f = rng.uniform(0.05, 0.5, 3)  # shared frequencies (breathing/movement), per-channel gain/phase
        self.wander_a = rng.uniform(20.0, 80.0, (C, 3))
        self.wander_p = rng.uniform(0, 2 * np.pi, (C, 3))
        G = np.empty((C, 12))
        for h, rel in enumerate(var.mains_harmonics):
            G[:, 2 * h] = self.mains_amp * rel * np.cos(self.mains_phase[:, h])
            G[:, 2 * h + 1] = self.mains_amp * rel * np.sin(self.mains_phase[:, h])
        for j in range(3):
            G[:, 6 + 2 * j] = self.wander_a[:, j] * np.cos(self.wander_p[:, j])
            G[:, 7 + 2 * j] = self.wander_a[:, j] * np.sin(self.wander_p[:, j])
        self._analytic_gain = G
        self.dc0 = rng.uniform(-500.0, 500.0, C)
        # ---- carrier filter (20-300 Hz, 300 clipped below Nyquist), unit RMS
        hi = max_edge(self.fs, var.carrier_band[1])
        self.sos = butter(2, [var.carrier_band[0], hi], btype="bandpass", fs=self.fs, output="sos")
        imp = np.zeros(int(self.fs) * 2)
        imp[0] = 1.0
        self.carrier_gain = 1.0 / math.sqrt(float(np.sum(sosfilt(self.sos, imp) ** 2)))
        self.zi = np.zeros((self.sos.shape[0], _N_SRC, 2))
        # ---- state
        self.pos = 0  # samples returned
        self._buf = np.zeros((C, 0))
        self._next_block = 0
        self._epochs: dict[int, list[_SynthEvent]] = {}
        self._contact_epoch = -1
        self._gain = np.ones(C)
        self._dc = self.dc0.copy()
        self._contacts: list[tuple[int, int, float, float]] = []  # (sample, channel, gain, dc)
        self._region_src = {r.name: (2 * ri, 2 * ri + 1) for ri, r in enumerate(montage.regions)}
        vr = np.random.default_rng([self.seed, 6])
        self.tonic = vr.uniform(var.tonic_pct[0], var.tonic_pct[1], _N_SRC) / 100.0
        self.tonic[12:] = 0.0
        # EOG gains: + on the upper regions' channels, - on the middle ones (the eye between them), 0 below
        self.eog_gain = np.zeros(C)
        for r in montage.regions:
            if r.level in ("upper", "middle"):
                self.eog_gain[list(r.channels)] = (1.0 if r.level == "upper" else -1.0) * vr.uniform(0.6, 1.0, 4)
        self._pops: list[tuple[int, int, float, float]] = []  # (sample, channel, amplitude uV, tau s)
        self._pop_epoch = -1

    # ---------------------------------------------------------------- events
    def _epoch_events(self, e: int) -> list[_SynthEvent]:
        if e in self._epochs:
            return self._epochs[e]
        rng = np.random.default_rng([self.seed, 1, e])
        t0, t_end = e * _EPOCH_S, (e + 1) * _EPOCH_S
        t = t0 + 0.4 + rng.exponential(self.event_gap)
        out: list[_SynthEvent] = []
        regions = self.montage.regions
        while True:
            kind = ["ME", "MaE", "blink", "jaw"][int(rng.choice(4, p=self.kind_probs))]
            if kind == "ME":
                dur = float(np.clip(rng.normal(0.317, 0.04), 0.22, 0.45))
                lvl = float(np.clip(rng.normal(8.1, 1.0), 5.5, 11.0)) / 100
            elif kind == "MaE":
                dur = float(np.clip(rng.normal(1.16, 0.2), 0.7, 2.0))
                lvl = float(np.clip(rng.normal(23.1, 3.0), 15.0, 35.0)) / 100
            elif kind == "blink":
                dur = float(rng.uniform(0.06, 0.14))
                lvl = float(rng.uniform(0.30, 0.60))
            else:
                dur = float(rng.uniform(0.6, 2.5))
                lvl = float(rng.uniform(0.25, 0.60))
            if t + dur + 0.4 > t_end:
                break
            xr = np.random.default_rng([self.seed, 4, e, len(out)])
            shape, rate, eog = "tukey", 0.0, 0.0
            var = self.variation
            if kind in ("ME", "MaE"):
                ri = int(rng.integers(6))
                if var.p_lower is not None:
                    lower = [j for j, r in enumerate(regions) if r.level == "lower"]
                    others = [j for j in range(6) if j not in lower]
                    ri = int(xr.choice(lower if xr.random() < var.p_lower else others))
                k = int(rng.integers(2))
                srcs = [2 * ri + k]
                levels = [lvl]
                lags = [0.0]
                if rng.random() < self.p_bilateral:
                    r = regions[ri]
                    mirror = next(j for j, r2 in enumerate(regions) if r2.level == r.level and r2.side != r.side)
                    srcs.append(2 * mirror + k)
                    levels.append(lvl * float(rng.uniform(0.8, 1.2)))
                    lags.append(float(rng.uniform(-0.02, 0.02)))
                else:
                    rng.random(), rng.random()  # keep the draw count fixed
            elif kind == "blink":
                lm = next(j for j, r in enumerate(regions) if r.name == "left_middle")
                rm = next(j for j, r in enumerate(regions) if r.name == "right_middle")
                oo = [j for j, r in ((lm, regions[lm]), (rm, regions[rm]))]
                srcs = [2 * oo[0], 2 * oo[1]]  # first muscle of a middle region: orbicularis oculi
                levels = [lvl, lvl * float(rng.uniform(0.85, 1.15))]
                lags = [0.0, float(rng.uniform(-0.01, 0.01))]
                if xr.random() < var.p_long_blink:
                    dur = float(xr.uniform(0.15, 0.4))
                if xr.random() < var.p_eog:
                    eog = float(xr.uniform(*var.eog_uv))
            else:
                srcs = [12, 13]
                levels = [lvl, lvl * float(rng.uniform(0.7, 1.3))]
                lags = [0.0, float(rng.uniform(-0.05, 0.05))]
                jm = np.asarray(var.jaw_mix, dtype=float)
                sub = int(xr.choice(3, p=jm / jm.sum()))
                if sub == 1:  # chewing: rhythmic bursts 1-2 Hz, 2-4 s
                    shape, rate = "chew", float(xr.uniform(1.0, 2.0))
                    dur = float(xr.uniform(2.0, 4.0))
                elif sub == 2:  # swallow: short and weaker
                    dur = float(xr.uniform(0.4, 0.9))
                    levels = [v * 0.5 for v in levels]
                if t + dur + 0.4 > t_end:
                    break
            out.append(_SynthEvent(t, dur, kind, tuple(srcs), tuple(levels), tuple(lags), shape, rate, eog))
            t += dur + 0.8 + rng.exponential(self.event_gap)
        self._epochs[e] = out
        return out

    def _truth(self, ev: _SynthEvent) -> list:
        from .spotting import Event

        regions = self.montage.regions
        out = []
        for src, lvl, lag in zip(ev.sources, ev.levels, ev.lags):
            if src < 12:
                reg = regions[src // 2]
            else:  # masseter: report it on its lower region
                side = "left" if src == 12 else "right"
                reg = next(r for r in regions if r.name == f"{side}_lower")
            chs = list(reg.channels)
            ch = chs[int(np.argmax(self.mixing[chs, src]))]
            on = int(round((ev.t_on + lag) * self.fs))
            off = int(round((ev.t_on + lag + ev.dur) * self.fs)) - 1
            out.append(Event(on, off, channel=ch, region=reg.name, peak=100.0 * lvl, kind=ev.kind))
        return out

    def events_until(self, n: int | None = None) -> list:
        """Ground-truth events (``Event``) that start before sample ``n`` (default: samples read so far)."""
        n = self.pos if n is None else int(n)
        out = []
        for e in range(0, n // self.epoch + 1):
            for ev in self._epoch_events(e):
                out += [t for t in self._truth(ev) if t.onset < n]
        out.sort()
        return out

    # ---------------------------------------------------------------- signal
    def _contact_changes(self, e: int) -> None:
        # drawn per epoch in order (the noise gain and DC carry over)
        while self._contact_epoch < e:
            self._contact_epoch += 1
            rng = np.random.default_rng([self.seed, 3, self._contact_epoch])
            lam = self.contact_rate * _EPOCH_S / 60.0
            for ch in range(24):
                k = int(rng.poisson(lam))
                times = np.sort(rng.uniform(0, _EPOCH_S, k))
                for tt in times:
                    g = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))
                    d = float(rng.uniform(-300, 300))
                    s = int(round((self._contact_epoch * _EPOCH_S + tt) * self.fs))
                    self._contacts.append((s, ch, g, d))

    def _make_block(self, b: int) -> np.ndarray:
        from scipy.signal import sosfilt

        fs, n, s0 = self.fs, self.block, b * self.block
        s1 = s0 + n
        if self.n_total is not None:
            s1 = min(s1, self.n_total)
            n = s1 - s0
        rng = np.random.default_rng([self.seed, 2, b])
        white = rng.standard_normal((_N_SRC + 24, self.block), dtype=np.float32)[:, :n].astype(np.float64)
        carrier, self.zi = sosfilt(self.sos, white[:_N_SRC], axis=-1, zi=self.zi)
        carrier *= self.carrier_gain
        t = (s0 + np.arange(n)) / fs
        act = np.zeros((_N_SRC, n))
        e_lo = max(0, int(s0 // self.epoch) - 1)
        e_hi = int((s1 - 1) // self.epoch)
        for e in range(e_lo, e_hi + 1):
            for ev in self._epoch_events(e):
                for src, lvl, lag in zip(ev.sources, ev.levels, ev.lags):
                    a = int(math.floor((ev.t_on + lag) * fs)) - s0
                    z = int(math.ceil((ev.t_on + lag + ev.dur) * fs)) + 1 - s0
                    a, z = max(a, 0), min(z, n)
                    if z > a:
                        u = (t[a:z] - ev.t_on - lag) / ev.dur
                        w = _tukey(u)
                        if ev.shape == "chew":
                            w = w * np.sin(np.pi * ev.rate * (t[a:z] - ev.t_on - lag)) ** 2
                        act[src, a:z] = np.maximum(act[src, a:z], lvl * w)
        if self.tonic.any():
            act = np.maximum(act, self.tonic[:, None])
        eog = np.zeros(n)
        for e in range(e_lo, e_hi + 1):
            for ev in self._epoch_events(e):
                if ev.eog:
                    d = 0.25 + 0.2 * (ev.eog % 1.0)  # 0.25-0.45 s, deterministic per event
                    a = max(int(math.floor(ev.t_on * fs)) - s0, 0)
                    z = min(int(math.ceil((ev.t_on + d) * fs)) + 1 - s0, n)
                    if z > a:
                        u = (t[a:z] - ev.t_on) / d
                        eog[a:z] += ev.eog * np.where((u >= 0) & (u < 1), np.sin(np.pi * np.clip(u, 0, 1)) ** 2, 0)
        src_sig = (self.source_mvc_uv[:, None] * act) * carrier
        x = self.mixing @ src_sig
        if eog.any():
            x += self.eog_gain[:, None] * eog[None, :]
        self._add_pops(x, s0, s1)
        # electrode noise with contact changes (gain and DC are piecewise constant)
        self._contact_changes(int((s1 - 1) // self.epoch))
        noise = white[_N_SRC:]
        noise *= (self.noise_uv * self._gain)[:, None]
        x += noise
        x += self._dc[:, None]
        keep = []
        for s, ch, g, d in self._contacts:
            if s < s1:
                j = max(0, s - s0)
                x[ch, j:] += (g / self._gain[ch] - 1.0) * noise[ch, j:] + d
                self._gain[ch] = g
                self._dc[ch] += d
            else:
                keep.append((s, ch, g, d))
        self._contacts = keep
        # mains and wander (analytic in absolute time): sin(w t + p) = sin(w t) cos(p) + cos(w t) sin(p)
        basis = np.empty((12, n))
        w = 2 * np.pi * self.mains_hz * t
        if self.variation.mains_drift:
            fd = 1 / 40.0
            w = w + self.variation.mains_drift / fd * np.sin(2 * np.pi * fd * t)
        for h in range(3):
            basis[2 * h] = np.sin((h + 1) * w)
            basis[2 * h + 1] = np.cos((h + 1) * w)
        for j in range(3):
            wt = 2 * np.pi * self.wander_f[j] * t
            basis[6 + 2 * j] = np.sin(wt)
            basis[7 + 2 * j] = np.cos(wt)
        x += self._analytic_gain @ basis
        return x

    def _pop_list(self, e: int) -> None:
        while self._pop_epoch < e:
            self._pop_epoch += 1
            rate = self.variation.pop_rate
            if rate <= 0:
                continue
            rng = np.random.default_rng([self.seed, 7, self._pop_epoch])
            for ch in range(24):
                for tt in np.sort(rng.uniform(0, _EPOCH_S, int(rng.poisson(rate * _EPOCH_S / 60.0)))):
                    amp = float(rng.uniform(100, 800)) * (1 if rng.random() < 0.5 else -1)
                    self._pops.append(
                        (
                            int(round((self._pop_epoch * _EPOCH_S + tt) * self.fs)),
                            ch,
                            amp,
                            float(rng.uniform(0.02, 0.2)),
                        )
                    )

    def _add_pops(self, x: np.ndarray, s0: int, s1: int) -> None:
        self._pop_list(int((s1 - 1) // self.epoch))
        for s, ch, amp, tau in self._pops:
            if s < s1 and s + 10 * tau * self.fs > s0:
                j = max(0, s - s0)
                tt = (np.arange(j, s1 - s0) + s0 - s) / self.fs
                x[ch, j:] += amp * np.exp(-tt / tau)

    def artifacts_until(self, n: int | None = None, min_step_uv: float = 0.0) -> list[tuple[int, int, int, str]]:
        """Ground truth of the non-muscle artefacts starting before sample ``n``: ``(start, stop, channel, kind)``
        with kind ``"pop"`` (stop = start + 5 tau) or ``"contact"`` (a DC step + noise change; stop = start + 1);
        contact changes whose DC step is below ``min_step_uv`` (uV) are left out."""
        n = self.pos if n is None else int(n)
        e = n // self.epoch
        self._pop_list(e)
        out = [(s, s + int(5 * tau * self.fs), ch, "pop") for s, ch, amp, tau in self._pops if s < n]
        # contact changes are regenerated from their own streams (the live list is consumed while reading)
        lam = self.contact_rate * _EPOCH_S / 60.0
        for ep in range(0, e + 1):
            rng = np.random.default_rng([self.seed, 3, ep])
            for ch in range(24):
                k = int(rng.poisson(lam))
                times = np.sort(rng.uniform(0, _EPOCH_S, k))
                for tt in times:
                    rng.uniform(np.log(0.6), np.log(1.7))
                    d = float(rng.uniform(-300, 300))
                    s = int(round((ep * _EPOCH_S + tt) * self.fs))
                    if s < n and abs(d) >= min_step_uv:
                        out.append((s, s + 1, ch, "contact"))
        out.sort()
        return out

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples ``[24, n]`` (uV); fewer (possibly 0) at the end of a finite session."""
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        if self.n_total is not None:
            n = min(n, self.n_total - self.pos)
        out = np.empty((24, n))
        k = min(n, self._buf.shape[1])
        out[:, :k] = self._buf[:, :k]
        self._buf = self._buf[:, k:]
        while k < n:
            blk = self._make_block(self._next_block)
            self._next_block += 1
            take = min(n - k, blk.shape[1])
            out[:, k : k + take] = blk[:, :take]
            self._buf = blk[:, take:]
            k += take
        self.pos += n
        return out


@keyword_only("duration", "snr")
def synthesize(
    seed: int, fs: float = 1000.0, *, duration: float = 300.0, snr: str | float = "medium", **kwargs: Any
) -> SynthSession:
    """Generate a whole session of ``duration`` s (see :class:`SynthStream` for the parameters).

    Parameters
    ----------
    seed : int
        Seeds everything (deterministic).
    fs : float
        Sampling rate, Hz.
    duration : float
        Length, s.
    snr : str or float
        ``"high"``, ``"medium"``, ``"low"`` or dB.
    **kwargs
        Further :class:`SynthStream` settings.

    Returns
    -------
    SynthSession
        ``data`` ``[24, samples]`` (uV), ``events`` (ground truth), ``mvc_uv``, ``mixing``...

    Examples
    --------
    >>> from perifacial.dsp import synthesize
    >>> session = synthesize(seed=0, fs=1000.0, duration=5.0)
    >>> session.data.shape, session.labels[:2]
    ((24, 5000), ('LU1', 'LU2'))
    >>> all(e.kind in ("ME", "MaE", "blink", "jaw") for e in session.events)
    True
    """
    st = SynthStream(seed, fs, snr=snr, duration=duration, **kwargs)
    data = st.read(st.n_total)
    n = data.shape[1]
    events = [e for e in st.events_until(n) if e.offset < n]
    return SynthSession(
        data=data,
        fs=st.fs,
        events=events,
        mixing=st.mixing.copy(),
        source_names=list(st.source_names),
        source_mvc_uv=st.source_mvc_uv.copy(),
        mvc_uv=st.mvc_uv.copy(),
        noise_uv=st.noise_uv.copy(),
        snr_db=st.snr_db,
        seed=st.seed,
        labels=st.montage.labels,
        artifacts=st.artifacts_until(n),
    )
