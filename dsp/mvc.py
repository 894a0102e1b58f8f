"""Maximum voluntary contraction (MVC) calibration, MVC normalisation and iEMG (Li et al. 2024 [arXiv:2409.00017],
sec. 3.1.4).

Protocol (Li et al. 2024, part A): each muscle's movement is performed 3 times at maximal intensity.
:func:`calibrate_mvc`
turns those recordings into an :class:`MvcCalibration` with this rule, per channel:

1. the linear envelope (uV; computed with :func:`perifacial.dsp.filters.linear_envelope` when raw data are given)
   is smoothed by a moving mean of ``window`` (default 0.5 s), taken over windows that lie entirely inside a
   repetition;
2. each repetition's peak is the largest of those window means;
3. the channel's MVC is the highest of its repetitions' peaks (``combine="max"``, the default), or their mean
   (``combine="mean"``).

Why the highest: MVC normalisation refers every later contraction to the *maximum* the participant can produce, and
a repetition below it is a submaximal effort, not a second measurement of the maximum; the usual practice is to take
the highest value of the repeated maximal trials (Konrad 2005, "The ABC of EMG", Noraxon, ch. "Amplitude
normalization"; Burden 2010, J Electromyogr Kinesiol 20:1023-1035; Halaki & Ginn 2012, "Normalization of EMG
signals: to normalize or not to normalize and what to normalize to?", InTech). The mean of the repetitions'
peaks is biased low by every submaximal repetition: with efforts spread over 85-100 % it puts later %MVC values
~8 % too high (measured on the virtual board: median |error| of peak %MVC 12.8 % with the mean, docs/spotting.md).
The 0.5 s moving mean keeps a short spike from making the MVC; repetitions whose peaks differ by more than a factor
``1 / spread_warn`` are logged as a warning (a submaximal effort or an artefact: inspect them or repeat).

Every repetition must show a contraction: its peak must exceed ``min_ratio`` (default 5) times the channel's noise
floor (the mean envelope over a rest segment, a value given by the caller, or by default the 5th percentile of the
windowed envelope over the whole calibration recording). Otherwise :func:`calibrate_mvc` raises a ValueError naming
the channel, instead of producing an MVC that would later divide by a tiny number.

``MVC % = envelope / MVC x 100`` (:func:`normalize_mvc`); ``iEMG = integral of |MVC %| dt`` over an event
(:func:`iemg`, trapezoidal rule, %MVC.s).
"""

from __future__ import annotations

import datetime as _dt
import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._api import renamed
from ._json import JsonFile

__all__ = ["MvcCalibration", "calibrate_mvc", "normalize_mvc", "iemg"]

log = logging.getLogger(__name__)

_FORMAT = "perifacial.mvc_calibration"
_VERSION = 1


@dataclass(frozen=True)
class MvcCalibration(JsonFile):
    """Per-channel MVC of one participant and session.

    Attributes
    ----------
    participant, date : str
        Who and when (ISO 8601 date).
    montage : str
        Montage name (``"perifacial-6x4"``...), "" if none.
    labels : tuple of str
        One label per channel (``"LU1"``...), in row order of the envelopes this calibration normalises.
    mvc_uv : tuple of float
        MVC per channel, uV of linear envelope (> 0).
    noise_uv : tuple of float
        Noise floor per channel, uV of linear envelope.
    fs : float
        Sampling rate of the calibration recording, Hz.
    chain : dict
        Settings of the envelope chain (band, cutoff, order, notch, zero_phase): envelopes to normalise must be
        made the same way.
    method : str
        The rule that produced ``mvc_uv``, in words.
    peaks_uv : tuple of tuple of float
        Per channel, the peak of each repetition (uV), for audit.

    Examples
    --------
    >>> from perifacial.dsp import MvcCalibration
    >>> cal = MvcCalibration(participant="p01", date="2026-01-15", montage="", labels=("ZYG", "COR"),
    ...                      mvc_uv=(120.0, 80.0), noise_uv=(1.5, 1.2), fs=1000.0)
    >>> cal.n_channels, cal.index("COR"), cal.mvc
    (2, 1, array([120.,  80.]))
    >>> MvcCalibration.from_dict(cal.to_dict()) == cal            # what save()/load() write and read (JSON)
    True
    """

    _JSON_WHAT = "MVC calibration"

    participant: str
    date: str
    montage: str
    labels: tuple[str, ...]
    mvc_uv: tuple[float, ...]
    noise_uv: tuple[float, ...]
    fs: float
    chain: dict = field(default_factory=dict)
    method: str = ""
    peaks_uv: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(str(s) for s in self.labels))
        object.__setattr__(self, "mvc_uv", tuple(float(v) for v in self.mvc_uv))
        object.__setattr__(self, "noise_uv", tuple(float(v) for v in self.noise_uv))
        object.__setattr__(self, "peaks_uv", tuple(tuple(float(v) for v in p) for p in self.peaks_uv))
        n = len(self.labels)
        if n == 0:
            raise ValueError("an MVC calibration needs at least one channel")
        if len(self.mvc_uv) != n or len(self.noise_uv) != n or (self.peaks_uv and len(self.peaks_uv) != n):
            raise ValueError(
                f"labels ({n}), mvc_uv ({len(self.mvc_uv)}), noise_uv ({len(self.noise_uv)}) and peaks_uv "
                f"({len(self.peaks_uv)}) must have one entry per channel"
            )
        for lab, v in zip(self.labels, self.mvc_uv):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"channel {lab}: MVC must be finite and > 0 uV, got {v}")
        if not (math.isfinite(float(self.fs)) and self.fs > 0):
            raise ValueError(f"fs must be > 0 Hz, got {self.fs}")

    @property
    def n_channels(self) -> int:
        return len(self.labels)

    @property
    def mvc(self) -> np.ndarray:
        """MVC per channel as a float64 array (uV)."""
        return np.asarray(self.mvc_uv, dtype=np.float64)

    def index(self, label: str) -> int:
        """Row of channel ``label``."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(f"no channel {label!r} in this calibration") from None

    def to_dict(self) -> dict:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "participant": self.participant,
            "date": self.date,
            "montage": self.montage,
            "fs": self.fs,
            "labels": list(self.labels),
            "mvc_uv": list(self.mvc_uv),
            "noise_uv": list(self.noise_uv),
            "peaks_uv": [list(p) for p in self.peaks_uv],
            "chain": self.chain,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> MvcCalibration:
        if not isinstance(d, Mapping):
            raise ValueError(f"not an MVC calibration (a JSON {type(d).__name__}, not an object)")
        if d.get("format") != _FORMAT:
            raise ValueError(f"not an MVC calibration (format={d.get('format')!r})")
        if d.get("version") != _VERSION:
            raise ValueError(f"unsupported MVC calibration version {d.get('version')!r}")
        try:
            # the sequences become tuples of str/float in __post_init__
            required = {k: d[k] for k in ("participant", "date", "montage", "labels", "mvc_uv", "noise_uv")}
            return cls(
                **required,
                fs=float(d["fs"]),
                chain=dict(d.get("chain", {})),
                method=d.get("method", ""),
                peaks_uv=d.get("peaks_uv", ()),
            )
        except KeyError as exc:
            raise ValueError(f"MVC calibration lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:  # e.g. "labels": null, "fs": "fast"
            raise ValueError(f"MVC calibration has a field of the wrong type ({exc})") from None


def as_2d_real(x, name: str) -> np.ndarray:
    """``x`` as float64 ``[channels, samples]`` (a 1-D ``x`` becomes one row); ValueError naming ``name`` for a
    non-numeric dtype or more than 2 dimensions."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numeric, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must be [channels, samples] (or 1-D), got shape {a.shape}")
    return np.asarray(a, dtype=np.float64)


def _as_2d_finite(x, name: str) -> np.ndarray:
    """:func:`as_2d_real`, and ValueError naming the first NaN/inf sample."""
    a = as_2d_real(x, name)
    if not np.isfinite(a).all():
        ch, s = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} contains NaN or infinite values (first at channel {ch}, sample {s})")
    return a


def _moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Means of all length-``w`` windows of ``x`` (last axis), ``[..., n - w + 1]``."""
    c = np.cumsum(x, axis=-1, dtype=np.float64)
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), c], axis=-1)
    return (c[..., w:] - c[..., :-w]) / w


def _segments(spec, n: int, what: str) -> list[tuple[int, int]]:
    out = []
    for seg in spec:
        try:
            a, b = (int(v) for v in seg)
        except (TypeError, ValueError):
            raise ValueError(
                f"{what}: each segment must be a (start, stop) pair of sample indices, got {seg!r}"
            ) from None
        if not 0 <= a < b <= n:
            raise ValueError(f"{what}: segment ({a}, {b}) is not inside 0..{n} with start < stop")
        out.append((a, b))
    if not out:
        raise ValueError(f"{what}: no repetitions given")
    return out


def _default_labels(n: int, montage) -> tuple[tuple[str, ...], str]:
    if montage is None and n == 24:
        from .montage import default_montage

        montage = default_montage()
    if montage is not None:
        labels = tuple(getattr(montage, "labels", ()))
        if len(labels) != n:
            raise ValueError(f"montage {getattr(montage, 'name', '')!r} has {len(labels)} channels, data have {n}")
        return labels, str(getattr(montage, "name", ""))
    return tuple(f"ch{i}" for i in range(n)), ""


@renamed(window_s="window")
def calibrate_mvc(
    data,
    fs: float,
    repetitions,
    *,
    kind: str = "envelope",
    rest: tuple[int, int] | None = None,
    noise_floor=None,
    labels: Sequence[str] | None = None,
    montage: Any = None,
    participant: str = "",
    date: str | None = None,
    window: float = 0.5,
    min_ratio: float = 5.0,
    combine: str = "max",
    spread_warn: float = 0.7,
    chain: Mapping | None = None,
    envelope_kwargs: Mapping | None = None,
) -> MvcCalibration:
    """Build an :class:`MvcCalibration` from maximal-contraction recordings (rule in the module docstring).

    Parameters
    ----------
    data : array_like ``[channels, samples]`` (or 1-D for one channel)
        Linear envelope in uV (``kind="envelope"``) or raw EMG in uV (``kind="raw"``: the envelope is computed with
        :func:`perifacial.dsp.filters.linear_envelope` and ``envelope_kwargs``, zero-phase by default).
    fs : float
        Sampling rate, Hz.
    repetitions : sequence of (start, stop), or mapping channel -> sequence of (start, stop)
        Sample ranges ``[start, stop)`` of the maximal repetitions (usually 3). A sequence applies to every channel;
        a mapping (keys: channel index or label) gives each channel the repetitions of its own muscle's movement
        and must cover every channel. Each range must hold at least one ``window`` window.
    rest : (start, stop), optional
        A rest (or inputs-shorted) range: the noise floor is the mean envelope over it.
    noise_floor : float or array_like ``[channels]``, optional
        Noise floor in uV of envelope, instead of ``rest``. Default (neither given): the 5th percentile of the
        ``window`` moving mean of the envelope over the whole recording.
    labels, montage
        Channel labels (default: the montage's; the default montage for 24 channels; else ``"ch0"``...).
    participant, date : str
        Stored in the calibration (``date`` default: today, ISO 8601).
    window : float
        Moving-mean window, s (default 0.5).
    min_ratio : float
        A repetition counts as a contraction if its peak exceeds ``min_ratio`` x the noise floor (default 5).
    combine : {"max", "mean"}
        The channel's MVC from its repetitions' peaks: the highest (default; see the module docstring) or the mean.
    spread_warn : float
        Log a warning naming the channel when its weakest repetition's peak is below ``spread_warn`` x its
        strongest (default 0.7).
    chain : mapping, optional
        How an envelope given with ``kind="envelope"`` was made (stored as is); with ``kind="raw"`` the settings
        actually used are stored.
    envelope_kwargs : mapping, optional
        Keyword arguments for ``linear_envelope`` (``band``, ``cutoff``, ``order``, ``notch``, ``zero_phase``).

    Raises
    ------
    ValueError
        A channel whose repetition shows no contraction above its noise floor (the message names the channel's
        label, the repetition, its peak and the floor); bad shapes, NaN/inf, segments outside the data or shorter
        than the window, a mapping missing a channel, bad parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import calibrate_mvc
    >>> fs = 1000.0
    >>> env = np.full((2, 12000), 2.0)                      # envelope, uV: 2 channels, 12 s, noise floor 2 uV
    >>> reps = [(1000, 3000), (5000, 7000), (9000, 11000)]  # three maximal contractions
    >>> for a, b in reps:
    ...     env[0, a:b] = 100.0
    ...     env[1, a:b] = 60.0
    >>> cal = calibrate_mvc(env, fs, reps, labels=["ZYG", "COR"], participant="p01", date="2026-01-15")
    >>> cal.mvc_uv, cal.noise_uv
    ((100.0, 60.0), (2.0, 2.0))
    """
    fs = float(fs)
    if not (math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be > 0 Hz, got {fs}")
    if kind not in ("envelope", "raw"):
        raise ValueError(f"kind must be 'envelope' or 'raw', got {kind!r}")
    if not window > 0:
        raise ValueError(f"window must be > 0 s, got {window}")
    if not min_ratio >= 1:
        raise ValueError(f"min_ratio must be >= 1, got {min_ratio}")
    if combine not in ("max", "mean"):
        raise ValueError(f"combine must be 'max' (the highest repetition) or 'mean', got {combine!r}")
    if not 0 <= spread_warn <= 1:
        raise ValueError(f"spread_warn must be in [0, 1], got {spread_warn}")
    x = _as_2d_finite(data, "data")
    n_ch, n = x.shape
    if kind == "raw":
        from .filters import linear_envelope  # noqa: PLC0415 (the DSP chain is imported only when needed)

        kw = dict(envelope_kwargs or {})
        env = np.asarray(linear_envelope(x, fs, **kw), dtype=np.float64)
        used = {
            k: p.default
            for k, p in inspect.signature(linear_envelope).parameters.items()
            if k not in ("x", "fs", "axis") and p.default is not inspect.Parameter.empty
        }
        used.update(kw)
        chain_d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in used.items()}
        chain_d["function"] = "perifacial.dsp.filters.linear_envelope"
    else:
        if envelope_kwargs:
            raise ValueError("envelope_kwargs apply to kind='raw' only")
        env = x
        chain_d = dict(chain or {})
    if labels is None:
        labs, montage_name = _default_labels(n_ch, montage)
    else:
        labs = tuple(str(s) for s in labels)
        if len(labs) != n_ch:
            raise ValueError(f"{len(labs)} labels for {n_ch} channels")
        montage_name = str(getattr(montage, "name", "")) if montage is not None else ""

    w = int(round(window * fs))
    if w < 1:
        raise ValueError(f"window={window} s is shorter than one sample at {fs} Hz")

    # repetitions per channel
    if isinstance(repetitions, Mapping):
        per_ch: list[list[tuple[int, int]] | None] = [None] * n_ch
        for key, segs in repetitions.items():
            if isinstance(key, str):
                if key not in labs:
                    raise ValueError(f"repetitions: unknown channel label {key!r}")
                ch = labs.index(key)
            else:
                ch = int(key)
                if not 0 <= ch < n_ch:
                    raise ValueError(f"repetitions: channel {ch} outside 0..{n_ch - 1}")
            per_ch[ch] = _segments(segs, n, f"repetitions of channel {labs[ch]}")
        missing = [labs[i] for i, s in enumerate(per_ch) if s is None]
        if missing:
            raise ValueError(f"repetitions: no maximal contractions given for channel(s) {', '.join(missing)}")
        segs_by_ch: list[list[tuple[int, int]]] = per_ch  # type: ignore[assignment]
    else:
        common = _segments(repetitions, n, "repetitions")
        segs_by_ch = [common] * n_ch
    for ch, segs in enumerate(segs_by_ch):
        for a, b in segs:
            if b - a < w:
                raise ValueError(
                    f"channel {labs[ch]}: repetition ({a}, {b}) is {b - a} samples, shorter than the {w}-sample "
                    f"({window} s) window"
                )

    # noise floor
    if noise_floor is not None:
        if rest is not None:
            raise ValueError("give either rest or noise_floor, not both")
        noise = np.broadcast_to(np.asarray(noise_floor, dtype=np.float64), (n_ch,)).copy()
        if not (np.isfinite(noise).all() and (noise >= 0).all()):
            raise ValueError("noise_floor must be finite and >= 0 uV")
        noise_rule = "noise floor given by the caller"
    elif rest is not None:
        ((a, b),) = _segments([rest], n, "rest")
        noise = env[:, a:b].mean(axis=1)
        noise_rule = f"noise floor = mean envelope over rest samples [{a}, {b})"
    else:
        if n < w:
            raise ValueError(f"recording of {n} samples is shorter than the {w}-sample window")
        noise = np.percentile(_moving_mean(env, w), 5.0, axis=1)
        noise_rule = f"noise floor = 5th percentile of the {window:g} s moving mean over the whole recording"
    noise = np.maximum(noise, 0.0)

    peaks: list[tuple[float, ...]] = []
    problems = []
    for ch in range(n_ch):
        p = tuple(float(_moving_mean(env[ch, a:b], w).max()) for a, b in segs_by_ch[ch])
        peaks.append(p)
        floor = min_ratio * noise[ch]
        weak = [i for i, v in enumerate(p) if not v > floor]
        if weak:
            problems.append(
                f"{labs[ch]} (repetition(s) {', '.join(str(i + 1) for i in weak)}: peak "
                f"{', '.join(f'{p[i]:.3g}' for i in weak)} uV <= {min_ratio:g} x noise floor {noise[ch]:.3g} uV)"
            )
    if problems:
        raise ValueError("no contraction above the noise floor on channel " + "; ".join(problems))
    uneven = [
        f"{labs[ch]} ({', '.join(f'{v:.3g}' for v in p)} uV)"
        for ch, p in enumerate(peaks)
        if min(p) < spread_warn * max(p)
    ]
    if uneven:
        log.warning(
            "repetitions differ by more than a factor %.3g on %s: a submaximal effort or an artefact; inspect the "
            "calibration recording or repeat the movement",
            1 / spread_warn if spread_warn > 0 else math.inf,
            "; ".join(uneven),
        )
    mvc = tuple(float(np.max(p) if combine == "max" else np.mean(p)) for p in peaks)
    rule = "highest" if combine == "max" else "mean"
    method = (
        f"per channel: peak of each repetition = max of the {window:g} s ({w}-sample) moving mean of the linear "
        f"envelope inside the repetition; MVC = {rule} of the {len(segs_by_ch[0])} repetitions' peaks"
        f"{' (per-channel repetitions)' if isinstance(repetitions, Mapping) else ''}; every peak > "
        f"{min_ratio:g} x noise floor; {noise_rule}"
    )
    log.info("MVC calibration of %s: %d channels", participant or "(anonymous)", n_ch)
    return MvcCalibration(
        participant=str(participant),
        date=date if date is not None else _dt.date.today().isoformat(),
        montage=montage_name,
        labels=labs,
        mvc_uv=mvc,
        noise_uv=tuple(float(v) for v in noise),
        fs=fs,
        chain=chain_d,
        method=method,
        peaks_uv=tuple(peaks),
    )


def normalize_mvc(envelope, calibration: MvcCalibration, channels=None) -> np.ndarray:
    """``envelope / MVC x 100``: linear envelope (uV) in percent of MVC, float64, same shape.

    ``envelope`` is ``[channels, samples]`` with one row per calibration channel, or, with ``channels`` (indices or
    labels, one per row; an int or label for a 1-D envelope), any subset of them.

    Parameters
    ----------
    envelope : array_like ``[channels, samples]`` or ``[samples]``
        Linear envelope, uV.
    calibration : MvcCalibration
        Per-channel MVC.
    channels : sequence of int or str, optional
        The calibration channels of the rows (indices or labels).

    Returns
    -------
    ndarray
        float64 % MVC, the shape of ``envelope``.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import MvcCalibration, normalize_mvc
    >>> cal = MvcCalibration(participant="p01", date="2026-01-15", montage="", labels=("ZYG", "COR"),
    ...                      mvc_uv=(120.0, 80.0), noise_uv=(1.5, 1.2), fs=1000.0)
    >>> normalize_mvc(np.array([[12.0, 60.0], [8.0, 4.0]]), cal)          # % MVC
    array([[10., 50.],
           [10.,  5.]])
    >>> normalize_mvc(np.array([40.0, 80.0]), cal, channels="COR")
    array([ 50., 100.])
    """
    e = np.asarray(envelope)
    if e.dtype.kind not in "biuf":
        raise ValueError(f"envelope must be real numeric, got dtype {e.dtype}")
    e = e.astype(np.float64, copy=False)
    mvc = calibration.mvc
    if channels is None:
        if e.ndim != 2 or e.shape[0] != calibration.n_channels:
            raise ValueError(
                f"envelope of shape {e.shape} does not have the calibration's {calibration.n_channels} channels as "
                "rows; pass channels= to select"
            )
        return e / mvc[:, None] * 100.0
    scalar = isinstance(channels, (str, int, np.integer))
    chs = [channels] if scalar else list(channels)
    rows = []
    for c in chs:
        if isinstance(c, str):
            rows.append(calibration.index(c))
        else:
            c = int(c)
            if not 0 <= c < calibration.n_channels:
                raise ValueError(f"channel {c} outside 0..{calibration.n_channels - 1}")
            rows.append(c)
    sel = mvc[rows]
    if scalar:
        if e.ndim != 1:
            raise ValueError(f"one channel given: envelope must be 1-D, got shape {e.shape}")
        return e / sel[0] * 100.0
    if e.ndim != 2 or e.shape[0] != len(rows):
        raise ValueError(f"envelope of shape {e.shape} does not have one row per channel of {chs}")
    return e / sel[:, None] * 100.0


def iemg(x_norm, fs: float, onset: int, offset: int, *, absolute: bool = True):
    """Integrated EMG (Li et al. 2024 eq. 7) of the normalised envelope over samples ``onset..offset`` (offset
    inclusive):
    the trapezoidal integral of ``|x_norm|`` (or of ``x_norm`` with ``absolute=False``) with step ``1/fs`` s, in
    %MVC.s for an MVC % input. ``x_norm`` is 1-D (returns a float) or ``[channels, samples]`` (returns
    ``[channels]``). Equal to ``scipy.integrate.trapezoid(|x[..., onset:offset+1]|, dx=1/fs)``; 0 when
    ``onset == offset``.

    Parameters
    ----------
    x_norm : array_like ``[samples]`` or ``[channels, samples]``
        Normalised envelope, % MVC.
    fs : float
        Sampling rate, Hz.
    onset, offset : int
        Sample indices, offset inclusive.
    absolute : bool
        Integrate ``|x_norm|`` (default) or ``x_norm``.

    Returns
    -------
    float or ndarray ``[channels]``
        % MVC . s.

    Examples
    --------
    >>> import numpy as np
    >>> from perifacial.dsp import iemg
    >>> x = np.full(1001, 10.0)                  # 10 % MVC for 1 s at 1 kHz
    >>> round(float(iemg(x, fs=1000.0, onset=0, offset=1000)), 6)     # % MVC . s
    10.0
    """
    x = np.asarray(x_norm)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"x_norm must be real numeric, got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise ValueError(f"x_norm must be 1-D or [channels, samples], got shape {x.shape}")
    fs = float(fs)
    if not (math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be > 0 Hz, got {fs}")
    n = x.shape[-1]
    onset, offset = int(onset), int(offset)
    if not 0 <= onset <= offset < n:
        raise ValueError(f"need 0 <= onset <= offset < {n} (offset inclusive), got onset={onset}, offset={offset}")
    seg = np.asarray(x[..., onset : offset + 1], dtype=np.float64)
    if absolute:
        seg = np.abs(seg)
    if not np.isfinite(seg).all():
        raise ValueError("x_norm contains NaN or infinite values inside [onset, offset]")
    dx = 1.0 / fs
    val = (dx * (seg[..., 1:] + seg[..., :-1]) / 2.0).sum(axis=-1)  # the trapezoidal rule as SciPy writes it
    return float(val) if x.ndim == 1 else val
