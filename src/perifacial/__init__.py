"""perifacial: perifacial surface-EMG acquisition (ADS1299 + MicroPython) and analysis.

Subpackages:

- :mod:`perifacial.dsp` -- numba-accelerated signal processing (filters, envelope, ICA, MVC, spotting).
- :mod:`perifacial.host` -- transports, decoder, recording, export, video sync, CLI back-ends.
- :mod:`perifacial.firmware` -- the MicroPython firmware sources; the host imports the wire format from here.
- :mod:`perifacial.hardware` -- board profiles and the electrode montage (data files).
"""

from ._version import __version__

__all__ = ["__version__"]
