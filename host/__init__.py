"""perifacial.host: talk to boards (or the virtual board ``sim://``), decode, record, export, sync video.

Main entry points (imported lazily, so ``import perifacial.host`` stays cheap):

- :func:`open_board` (``perifacial.host.board``): one URL -> a :class:`Board`;
- :func:`load` (``perifacial.host.readers``): any recording file (.pfr, EDF/BDF, BIOPAC .acq and text exports, XDF,
  OpenBCI, CSV/NPZ) -> a :class:`Recording`;
- :func:`write_bids` (``perifacial.host.bids``): recordings -> a BIDS EMG dataset;
- :class:`Decoder` (``perifacial.host.decoder``): the vectorised wire-stream decoder.
"""

from __future__ import annotations

_LAZY = {
    "open_board": "perifacial.host.board",
    "Board": "perifacial.host.board",
    "SampleBlock": "perifacial.host.board",
    "load": "perifacial.host.readers",
    "from_array": "perifacial.host.readers",
    "write_bids": "perifacial.host.bids",
    "Recording": "perifacial.host.recording",
    "Recorder": "perifacial.host.recording",
    "Decoder": "perifacial.host.decoder",
    "DecoderStats": "perifacial.host.decoder",
    "open_transport": "perifacial.host.transport",
}


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'perifacial.host' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
