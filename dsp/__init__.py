"""perifacial.dsp: signal processing for perifacial surface EMG.

Plain functions on arrays shaped ``[channels, samples]`` (or 1-D), in the style of :mod:`scipy.signal`: ``fs=`` in
Hz and ``axis=-1`` keywords, outputs float64. Stateful classes exist only where state is the point (streaming).
This package never imports :mod:`perifacial.host`.

The public names below are re-exported lazily (``from perifacial.dsp import linear_envelope`` imports
:mod:`perifacial.dsp.filters` on first use), so importing the package itself stays cheap:

- filters: ``remove_dc``, ``bandpass``, ``lowpass``, ``notch``, ``rectify``, ``linear_envelope``, ``EnvelopeStream``,
  ``design_bandpass``, ``design_lowpass``, ``design_notch``
- crosstalk: ``fastica``, ``amari_distance``, ``unmix_regions``, ``RegionUnmixer``
- intensity: ``MvcCalibration``, ``calibrate_mvc``, ``normalize_mvc``, ``iemg``, ``quantify``, ``summarize``
- spotting: ``Event``, ``spot``, ``SpotStream``, ``casmemg_envelope``, ``episodes``, ``Episode``; evidence:
  ``low_band``; mains: ``detect_mains``, ``remove_mains``, ``MainsCanceller``; metrics: ``iou``, ``overlap_ratio``,
  ``match_events``, ``spotting_scores``
- data: ``synthesize``, ``SynthStream``; montage: ``default_montage``, ``load_montage``, ``Montage``, ``Region``
"""

from __future__ import annotations

import importlib

#: the lazy export table: submodule -> the public names the package takes from it (``filters.__all__`` is built
#: from its entry, so each name is listed once)
EXPORTS = {
    "filters": (
        "remove_dc",
        "bandpass",
        "lowpass",
        "notch",
        "rectify",
        "linear_envelope",
        "EnvelopeStream",
        "design_bandpass",
        "design_lowpass",
        "design_notch",
    ),
    "ica": ("fastica", "amari_distance", "unmix_regions", "RegionUnmixer", "FastICAResult"),
    "mvc": ("MvcCalibration", "calibrate_mvc", "normalize_mvc", "iemg"),
    "quantification": ("quantify", "summarize"),
    "spotting": ("Event", "spot", "SpotStream", "casmemg_envelope"),
    "episode": ("Episode", "episodes"),
    "mains": ("detect_mains", "remove_mains", "MainsCanceller"),
    "evidence": ("low_band",),
    "metrics": ("iou", "overlap_ratio", "match_events", "spotting_scores"),
    "synth": ("synthesize", "SynthStream"),
    "montage": ("default_montage", "load_montage", "Montage", "Region"),
}
_WHERE = {name: mod for mod, names in EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'perifacial.dsp' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def __dir__():
    return sorted(list(globals()) + __all__)
