"""Lab Streaming Layer outlet for live use beside other streams (video markers, stimuli).

Usage::

    from perifacial.host.lsl import LslOutlet
    outlet = LslOutlet.for_board(board)
    outlet.attach(board)        # every decoded block is pushed as it arrives
    ... board.pump() loop or board.record(...) ...
    outlet.close()

The stream: type "EMG", ``n`` float32 channels in microvolts, nominal rate from the board, channel labels, units and
types in ``desc/channels/channel`` (the XDF convention), the montage region of each channel, the acquisition
hardware in ``desc/acquisition``. Timestamps: the time of a block's last sample from a running lower-envelope fit
of sample index -> host arrival time (:class:`perifacial.host.clock.OnlineClock`), shifted into ``pylsl.local_clock``'s
domain, so the ADS1299's clock error (+-0.5 %) and the link's jitter do not end up in the stream; earlier samples of
the chunk are back-dated by LSL at the nominal rate.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from perifacial.host.clock import OnlineClock

log = logging.getLogger(__name__)

__all__ = ["LslOutlet", "lsl_available"]


def lsl_available() -> tuple[bool, str]:
    """``(True, version)`` if liblsl loads, else ``(False, reason)``."""
    try:
        import pylsl

        return True, str(pylsl.library_version())
    except Exception as exc:  # noqa: BLE001 - ImportError or RuntimeError when liblsl is missing
        return False, str(exc)


def _clock_offset(pylsl) -> float:
    """``local_clock() - time.monotonic()``, the smallest of a few bracketed reads."""
    best = None
    for _ in range(5):
        t0 = time.monotonic()
        lc = pylsl.local_clock()
        t1 = time.monotonic()
        off = lc - (t0 + t1) / 2
        width = t1 - t0
        if best is None or width < best[0]:
            best = (width, off)
    return best[1]


class LslOutlet:
    """An LSL outlet of float32 microvolt samples; see the module docstring."""

    def __init__(
        self,
        labels: list[str],
        fs: float,
        source_id: str = "perifacial",
        name: str = "perifacial EMG",
        regions: list[str] | None = None,
        manufacturer: str = "perifacial (ADS1299)",
        chunk_size: int = 0,
        max_buffered: int = 360,
    ):
        import pylsl

        self._pylsl = pylsl
        self.labels = list(labels)
        self.fs = float(fs)
        info = pylsl.StreamInfo(name, "EMG", len(labels), self.fs, "float32", source_id)
        desc = info.desc()
        desc.append_child_value("manufacturer", manufacturer)
        chans = desc.append_child("channels")
        for i, lab in enumerate(self.labels):
            ch = chans.append_child("channel")
            ch.append_child_value("label", lab)
            ch.append_child_value("unit", "microvolts")
            ch.append_child_value("type", "EMG")
            if regions is not None:
                ch.append_child_value("region", regions[i])
        acq = desc.append_child("acquisition")
        acq.append_child_value("adc", "ADS1299 24-bit")
        acq.append_child_value("timestamps", "fitted sample index -> host clock (lower envelope)")
        self.info = info
        self.outlet = pylsl.StreamOutlet(info, chunk_size, max_buffered)
        self.clock = OnlineClock(self.fs)
        self.offset = _clock_offset(pylsl)
        self.pushed = 0
        self._board = None

    @classmethod
    def for_board(cls, board, **kwargs) -> LslOutlet:
        regions = None
        try:
            from perifacial.dsp.montage import default_montage

            m = default_montage()
            if list(m.labels) == board.labels:
                regions = [m.region_of(i).name for i in range(m.n_channels)]
        except Exception:  # noqa: BLE001 - optional metadata
            regions = None
        sid = f"perifacial-{board.info.get('board', 'board')}-{board.url}"
        return cls(board.labels, board.fs, source_id=sid, regions=regions, **kwargs)

    def push_block(self, block) -> float:
        """Push one :class:`~perifacial.host.board.SampleBlock`; returns the LSL timestamp of its last sample."""
        last = block.stop_sample - 1
        self.clock.update(last, block.host_time)
        ts = float(self.clock.time_of(last)) + self.offset
        x = np.ascontiguousarray(block.data.T, dtype=np.float32)
        self.outlet.push_chunk(x, ts)
        self.pushed += block.n
        return ts

    def attach(self, board) -> LslOutlet:
        """Push every block the board decodes (works with ``board.record`` and ``board.read`` loops alike)."""
        self._board = board
        board.add_block_listener(self.push_block)
        return self

    def detach(self) -> None:
        if self._board is not None:
            self._board.remove_block_listener(self.push_block)
            self._board = None

    def have_consumers(self) -> bool:
        return bool(self.outlet.have_consumers())

    def close(self) -> None:
        self.detach()
        self.outlet = None
