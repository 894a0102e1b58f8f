"""Watching a started board while recording: silence (no samples for a while) and reboots.

A board that resets mid-recording (power glitch, watchdog, brown-out) comes back stopped: it sends its boot log
("perifacial ... ready") and STATUS heartbeats saying it is not running, and no samples. :class:`AcquisitionWatch`
notices either that or plain silence (no samples for ``silence_s`` while started) so that
:func:`perifacial.host.recording.record` can report it, re-arm acquisition and count the silent time as a gap.

Times come from :func:`board_clock`: the host's monotonic clock, or the virtual board's own clock when the
virtual board runs faster than real time (its seconds are the ones that matter there, and they are
deterministic).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["AcquisitionWatch", "WatchEvent", "board_clock"]


def board_clock(board) -> Callable[[], float]:
    """Seconds on the board's time base: the fast virtual board's virtual clock, else ``time.monotonic``."""
    vb = getattr(getattr(board, "transport", None), "board", None)
    if vb is not None and hasattr(vb, "now_s") and not getattr(vb, "realtime", True):
        return lambda: float(vb.now_s)
    return time.monotonic


@dataclass
class WatchEvent:
    """``kind`` "reboot" (the board said it booted or stopped on its own) or "silent" (no samples for
    ``silent_s``); ``clock`` when it was noticed (s, :func:`board_clock`)."""

    kind: str
    clock: float
    silent_s: float
    detail: str = ""

    def to_dict(self) -> dict:
        return {"event": self.kind, "clock": self.clock, "silent_s": self.silent_s, "detail": self.detail}


class AcquisitionWatch:
    """Call :meth:`check` after every pump with the number of samples that arrived; it returns a
    :class:`WatchEvent` when the started board rebooted or went silent (at most one per ``silence_s`` while the
    condition lasts), else None."""

    def __init__(self, board, silence_s: float = 2.0, clock: Callable[[], float] | None = None):
        self.board = board
        self.silence_s = float(silence_s)
        self.clock = clock or board_clock(board)
        now = self.clock()
        self.last_data = self._t0 = now
        self._last_event = -float("inf")
        self._n_logs = len(board.device_logs)
        self._n_status = len(board.statuses)

    def data_seen(self) -> None:
        self.last_data = self.clock()

    def check(self, new_samples: int) -> WatchEvent | None:
        now = self.clock()
        if new_samples:
            self.last_data = now
        b = self.board
        detail = ""
        logs = b.device_logs[self._n_logs :]
        self._n_logs = len(b.device_logs)
        for lg in logs:
            if " ready" in getattr(lg, "text", "") or "fault" in getattr(lg, "text", ""):
                detail = f"board log: {lg.text}"
        statuses = b.statuses[self._n_status :]
        self._n_status = len(b.statuses)
        silent = now - self.last_data
        settled = now - self._t0 >= self.silence_s  # a heartbeat sent just before our start is stale, not a reboot
        if (
            not detail
            and settled
            and statuses
            and not new_samples
            and silent >= min(0.5, self.silence_s)
            and statuses[-1].values.get("running", 1) == 0
        ):
            detail = "the board reports it is not acquiring"
        if detail:
            self._last_event = now
            return WatchEvent("reboot", now, silent, detail)
        if silent >= self.silence_s and now - self._last_event >= self.silence_s:
            self._last_event = now
            return WatchEvent("silent", now, silent, f"no samples for {silent:.1f} s")
        return None
