"""perifacial.dsp: signal processing for perifacial surface EMG.

Plain functions on arrays shaped ``[channels, samples]`` (or 1-D), in the style of :mod:`scipy.signal`: ``fs=`` in
Hz and ``axis=-1`` keywords, outputs float64. Stateful classes exist only where state is the point (streaming).
This package never imports :mod:`perifacial.host`.
"""
