"""The video-sync digit display: a counter in the camera's view, logged against EMG sample indices.

Two modes (Li et al. 2024 [arXiv:2409.00017], sec. 3.1.1 and DESIGN.md "Video sync"):

* ``host`` (the paper's rule): the host increments the counter every ``every_frames`` received DATA frames
  (default 2) and shows it on a ``screen``, ``serial:PORT`` or no backend. Each change is logged with the sample
  index just past the last *received* sample and the host time of reception: kind ``"received"``. It marks when
  the host received the data, not when the data were sampled (transport latency and its jitter are included).
* ``board``: the acquisition board drives its own TM1637 from its sample counter every ``every_samples`` samples
  (the firmware's ``display`` command) and reports each change in an EVENT frame (``EV_DISPLAY``); the host only
  logs it: kind ``"sampled"`` (sample-exact, no transport latency).

The displayed digits wrap at the display's capacity (10**4 for 4 digits, 10**8 for 8); the log keeps the
unwrapped counter (``value``) beside what was shown (``shown``), so a digit read from video can be unwrapped.

Recording: ``Board.record(path, display=open_display(...))`` calls :meth:`DigitDisplay.attach` (block and event
listeners; host-mode changes go to ``Recorder.sync``) and :meth:`DigitDisplay.detach`. The bare hooks are
:meth:`DigitDisplay.on_frame` (per received DATA frame) and :meth:`DigitDisplay.on_event` (per EVENT frame).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from perifacial.firmware.wire import EV_DISPLAY  # the one home of event codes

log = logging.getLogger(__name__)

KIND_RECEIVED = "received"  #: host-driven: marks when the host *received* the data (includes transport latency)
KIND_SAMPLED = "sampled"  #: board-driven: marks the sample at which the board latched the new value

MIN_FRAMES_PER_CHANGE = 3.0  #: below this many video frames per digit change the digits are hard to read

BACKENDS = ("screen", "serial", "board", "none")


class DisplayRateWarning(UserWarning):
    """The digit changes faster than every :data:`MIN_FRAMES_PER_CHANGE` video frames."""


@dataclass(frozen=True)
class SyncRow:
    """One display change.

    value: the unwrapped counter (never wraps). shown: what the display showed (``value % capacity``).
    sample: the EMG sample index the change marks (host mode: one past the last received sample; board mode:
    the sample at which the board latched it). host_time: host clock at the change, s. kind: ``"received"`` or
    ``"sampled"``. device_time_us: the board's ``ticks_us`` when known (board events), else None.
    """

    value: int
    sample: int
    host_time: float
    kind: str
    shown: int
    device_time_us: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DisplayEcho:
    """A serial display board's acknowledgement: the value it latched and its ``ticks_us`` at that moment.

    seq: the command's sequence number (u16). host_time: host clock when the echo was read, s. round_trip_s:
    from the command's write() to reading its echo, s (an upper bound of the display latency; echoes are polled
    at every DATA frame, so add up to one DATA frame interval of slack).
    """

    seq: int
    value: int
    device_time_us: int
    host_time: float
    round_trip_s: float
    digits: int
    bad_frames: int


@dataclass(frozen=True)
class DisplaySpec:
    """A parsed ``--display`` value: ``screen``, ``serial:PORT``, ``board`` or ``none``."""

    backend: str
    port: str | None = None

    def __str__(self) -> str:
        return f"serial:{self.port}" if self.backend == "serial" else self.backend


def parse_display_spec(text: str) -> DisplaySpec:
    """Parse ``screen|serial:PORT|board|none`` (PORT may itself contain colons, e.g. ``socket://h:1234``)."""
    text = (text or "").strip()
    name, sep, rest = text.partition(":")
    name = name.lower()
    if name == "serial":
        if not rest:
            raise ValueError("--display serial needs a port: serial:PORT (e.g. serial:/dev/ttyACM1 or serial:COM5)")
        return DisplaySpec("serial", rest)
    if name in ("screen", "board", "none") and not sep:
        return DisplaySpec(name)
    raise ValueError(f"unknown display {text!r}: expected screen, serial:PORT, board or none")


class DisplayBackend(Protocol):
    """What a host-driven backend provides."""

    capacity: int

    def show(self, shown: int) -> None:
        """Make the display show ``shown`` (already reduced mod ``capacity``), as fast as possible."""
        ...

    def poll(self) -> list[DisplayEcho]:
        """Return the acknowledgements received since the last call (never blocks)."""
        ...

    def close(self) -> None: ...


class NullBackend:
    """No physical display: the counter is only logged (useful for tests and dry runs)."""

    def __init__(self, digits: int = 4) -> None:
        self.capacity = 10**digits
        self.last: int | None = None

    def show(self, shown: int) -> None:
        self.last = shown

    def poll(self) -> list[DisplayEcho]:
        return []

    def close(self) -> None:
        pass


# Segment geometry of the screen backend, in units of the digit cell (width 1, height 2), y up.
_SEGMENTS = "abcdefg"
#: segments lit for 0..9 (6 with its top bar, 7 without f, 9 with its bottom bar; like the TM1637 font)
DIGIT_SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")


def _segment_polygons(x0: float, y0: float, w: float, h: float, t: float) -> dict[str, list[tuple[float, float]]]:
    """Hexagonal bars of a seven-segment digit in the box (x0, y0, w, h), bar thickness ``t``."""
    g = t * 0.15  # gap between bars

    def hbar(yc: float) -> list[tuple[float, float]]:
        xa, xb = x0 + g, x0 + w - g
        return [
            (xa, yc),
            (xa + t / 2, yc + t / 2),
            (xb - t / 2, yc + t / 2),
            (xb, yc),
            (xb - t / 2, yc - t / 2),
            (xa + t / 2, yc - t / 2),
        ]

    def vbar(xc: float, ya: float, yb: float) -> list[tuple[float, float]]:
        ya, yb = ya + g, yb - g
        return [
            (xc, ya),
            (xc + t / 2, ya + t / 2),
            (xc + t / 2, yb - t / 2),
            (xc, yb),
            (xc - t / 2, yb - t / 2),
            (xc - t / 2, ya + t / 2),
        ]

    xl, xr = x0 + t / 2, x0 + w - t / 2
    yt, ym, yb = y0 + h - t / 2, y0 + h / 2, y0 + t / 2
    return {
        "a": hbar(yt),
        "b": vbar(xr, ym, yt),
        "c": vbar(xr, yb, ym),
        "d": hbar(yb),
        "e": vbar(xl, yb, ym),
        "f": vbar(xl, ym, yt),
        "g": hbar(ym),
    }


class ScreenBackend:
    """A large seven-segment counter drawn with matplotlib.

    ``offscreen=True`` draws on an Agg canvas (no window, no pyplot state): :meth:`render` returns the image, which
    tests use as synthetic video. ``offscreen=False`` opens a pyplot window; :meth:`show` redraws it and processes
    GUI events, so call it from the thread that owns the GUI (the recorder's main loop). Latency: the draw (a few
    ms) plus up to one monitor refresh (~17 ms at 60 Hz) before the camera can see the new value. ``slant`` draws
    italic digits (top shifted right by ``slant`` x height), as many LED modules are.
    """

    def __init__(
        self,
        digits: int = 4,
        *,
        offscreen: bool = True,
        width_px: int = 240,
        height_px: int = 100,
        on_color: str = "#ff2a1a",
        off_color: str = "#2a0804",
        background: str = "black",
        slant: float = 0.0,
    ) -> None:
        self.digits = digits
        self.capacity = 10**digits
        self.offscreen = offscreen
        self.on_color, self.off_color = on_color, off_color
        dpi = 50
        if offscreen:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, facecolor=background)
            self.canvas: Any = FigureCanvasAgg(self.fig)
        else:
            import matplotlib.pyplot as plt

            self.fig = plt.figure(figsize=(width_px / dpi * 3, height_px / dpi * 3), dpi=dpi, facecolor=background)
            manager = self.fig.canvas.manager
            if manager is not None:
                manager.set_window_title("perifacial sync display")
            self.canvas = self.fig.canvas
            backend = str(plt.get_backend()).lower()
            if backend in ("agg", "pdf", "ps", "svg", "cairo", "pgf", "template"):
                log.warning(
                    "matplotlib backend %r cannot open a window: the screen display is not visible "
                    "(set MPLBACKEND=TkAgg or QtAgg, or use --display serial:PORT)",
                    backend,
                )
            plt.show(block=False)
        from matplotlib.patches import Polygon

        # cells: width 1, height 2 (aspect 1:2 like LED digits), pitch 1.35; margins 0.3
        pitch, cw, ch = 1.35 + abs(slant) * 2.0, 1.0, 2.0
        total_w = 0.6 + (digits - 1) * pitch + cw + abs(slant) * ch
        ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_xlim(0, total_w)
        ax.set_ylim(0, ch + 0.6)
        ax.set_aspect("auto")
        ax.axis("off")
        ax.set_facecolor(background)
        self._patches: list[dict[str, Any]] = []
        for i in range(digits):
            polys = _segment_polygons(0.3 + i * pitch, 0.3, cw, ch, 0.2)
            if slant:  # italic digits (like many LED modules): shear about the cell's bottom
                polys = {k: [(x + slant * (y - 0.3), y) for x, y in v] for k, v in polys.items()}
            cell = {}
            for s in _SEGMENTS:
                p = Polygon(polys[s], closed=True, facecolor=off_color, edgecolor="none", antialiased=True)
                ax.add_patch(p)
                cell[s] = p
            self._patches.append(cell)
        self.value: int | None = None
        self._apply(0)

    def _apply(self, shown: int) -> None:
        text = str(shown % self.capacity).zfill(self.digits)
        for cell, ch in zip(self._patches, text):
            lit = DIGIT_SEGMENTS[int(ch)]
            for s, p in cell.items():
                p.set_facecolor(self.on_color if s in lit else self.off_color)
        self.value = shown
        self.canvas.draw()
        if not self.offscreen:
            self.canvas.flush_events()

    def show(self, shown: int) -> None:
        self._apply(shown)

    def render(self) -> Any:
        """The current image as an (H, W, 3) uint8 array (RGB)."""
        import numpy as np

        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def poll(self) -> list[DisplayEcho]:
        return []

    def close(self) -> None:
        if not self.offscreen:
            import matplotlib.pyplot as plt

            plt.close(self.fig)


class SerialBackend:
    """A small MicroPython board with a TM1637 (4 digits) or MAX7219 (8 digits); firmware in
    ``firmware/syncdisplay``. Each change is one 14-byte write; the board echoes 20 bytes with its ``ticks_us``
    right after latching the digits. :meth:`poll` collects echoes without blocking.

    ``port`` is a pyserial port name or URL, or an already open serial-like object (``write``, ``read``,
    ``in_waiting``). On open a HELLO is sent (again every 0.5 s: opening the port may reset the board) and its
    echo awaited up to ``timeout`` s, to learn the digit count.
    """

    def __init__(
        self, port: Any, *, baudrate: int = 115200, timeout: float = 3.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        from perifacial.firmware.syncdisplay import proto

        self._proto = proto
        if isinstance(port, str):
            import serial

            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0)
            self._own = True
        else:
            self._ser, self._own = port, False
        self._clock = clock
        self._reader = proto.FrameReader(proto.ECHO_MAGIC, proto.ECHO_SIZE)
        self._seq = 0
        self._sent: dict[int, float] = {}
        self.digits = 0
        hellos: set[int] = set()
        deadline = clock() + timeout
        next_hello = clock()
        while clock() < deadline and not self.digits:
            if clock() >= next_hello:
                hellos.add(self._send(proto.OP_HELLO, 0))
                next_hello = clock() + 0.5
            for echo in self._read():
                if echo.seq in hellos:
                    self.digits = echo.digits
            if not self.digits:
                time.sleep(0.002)
        if not self.digits:
            self.close()
            raise TimeoutError(f"no answer from the sync display on {port!r} within {timeout} s")
        self.capacity = 10**self.digits
        log.info("sync display on %r: %d digits", port, self.digits)

    def _send(self, op: int, value: int) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        frame = self._proto.pack_command(op, value, seq)
        self._sent[seq] = self._clock()
        self._ser.write(frame)
        return seq

    def _read(self) -> list[DisplayEcho]:
        n = getattr(self._ser, "in_waiting", 0)
        data = self._ser.read(n) if n else b""
        out = []
        for frame in self._reader.feed(data) if data else ():
            op, status, digits, bad, value, seq, ticks = self._proto.unpack_echo(frame)
            now = self._clock()
            t0 = self._sent.pop(seq, now)
            if status != self._proto.ST_OK:
                log.warning("sync display rejected op %d (status %d)", op, status)
            out.append(DisplayEcho(seq, value, ticks, now, now - t0, digits, bad))
        return out

    def show(self, shown: int) -> None:
        self._send(self._proto.OP_SHOW, shown)

    def poll(self) -> list[DisplayEcho]:
        return self._read()

    def close(self) -> None:
        if self._own:
            self._ser.close()


class DigitDisplay:
    """The sync counter, its backend and its log.

    Parameters
    ----------
    backend: a host-driven backend (:class:`ScreenBackend`, :class:`SerialBackend`, :class:`NullBackend`), or
        None in board mode.
    mode: ``"host"`` (increment every ``every_frames`` received DATA frames) or ``"board"`` (the board
        increments every ``every_samples`` samples and sends EVENT frames).
    start: the counter's first value.
    capacity: 10**digits of the display (default: the backend's; 10**4 in board mode, the on-board TM1637).
    camera_fps: when given, :meth:`attach` checks the change rate against it (a :class:`DisplayRateWarning` below
        3 video frames per change) once the board's rate and DATA frame size are known.
    """

    #: the attributes :meth:`describe` keeps in the recording (with the backend's class name)
    SETTINGS = ("mode", "kind", "capacity", "every_frames", "every_samples", "start")

    def __init__(
        self,
        backend: DisplayBackend | None = None,
        *,
        mode: str = "host",
        every_frames: int = 2,
        every_samples: int = 100,
        start: int = 0,
        capacity: int | None = None,
        camera_fps: float | None = None,
    ) -> None:
        if mode not in ("host", "board"):
            raise ValueError(f"mode must be 'host' or 'board', not {mode!r}")
        if mode == "host" and backend is None:
            raise ValueError("host mode needs a backend (screen, serial or NullBackend)")
        if every_frames < 1 or every_samples < 1:
            raise ValueError("every_frames and every_samples must be >= 1")
        self.backend = backend
        self.mode = mode
        self.every_frames = int(every_frames)
        self.every_samples = int(every_samples)
        self.capacity = int(capacity or (backend.capacity if backend is not None else 10**4))
        self.start = int(start)
        self.value: int | None = None  # unwrapped counter, None until the first change
        self._frames = 0
        self._last_wire: int | None = None
        self._rows: list[SyncRow] = []
        self.echoes: list[DisplayEcho] = []
        self._board: Any = None
        self._recorder: Any = None
        self.camera_fps = camera_fps
        self._checked = False
        self._spf = 0

    @property
    def kind(self) -> str:
        return KIND_RECEIVED if self.mode == "host" else KIND_SAMPLED

    @property
    def rows(self) -> list[SyncRow]:
        """The log so far (a copy), one row per change, in order."""
        return list(self._rows)

    def _log(
        self, value: int, sample: int, host_time: float, device_time_us: int | None = None, shown: int | None = None
    ) -> SyncRow:
        shown = value % self.capacity if shown is None else shown
        row = SyncRow(value, int(sample), float(host_time), self.kind, shown, device_time_us)
        self._rows.append(row)
        self.value = value
        return row

    # -- recorder hooks -------------------------------------------------------------------------------------
    def on_frame(self, first_sample: int, n_samples: int, host_time: float) -> SyncRow | None:
        """Called for every received DATA frame (samples ``first_sample .. first_sample + n_samples - 1``;
        ``host_time`` in s). Host mode: the first frame shows ``start`` and every ``every_frames``-th frame after it
        increments the counter; returns the logged row when the display changed, else None. Board mode: no-op.
        """
        return self._advance(first_sample, n_samples, host_time, draw=True)

    def on_frames(self, frames: Any, host_time: float) -> list[SyncRow]:
        """Several DATA frames ``[(first_sample, n_samples), ...]`` that arrived together (one read of the link):
        counted one by one, but only the last value is drawn (the others would be visible for no time). Their
        rows are all logged, with the same host time."""
        rows = []
        for first, n in frames:
            row = self._advance(int(first), int(n), host_time, draw=False)
            if row is not None:
                rows.append(row)
        if rows and self.backend is not None:
            self.backend.show(rows[-1].shown)
        return rows

    def _advance(self, first_sample: int, n_samples: int, host_time: float, draw: bool) -> SyncRow | None:
        if self.mode != "host":
            return None
        assert self.backend is not None
        echoes = self.backend.poll()  # serial echoes: collected every DATA frame, so round trips are timed well
        if echoes:
            self.echoes.extend(echoes)
        mark = first_sample + n_samples  # one past the last received sample
        if self.value is None:
            value = self.start
        else:
            self._frames += 1
            if self._frames < self.every_frames:
                return None
            self._frames = 0
            value = self.value + 1
        if draw:
            self.backend.show(value % self.capacity)
        return self._log(value, mark, host_time)

    def on_event(self, kind: int, value: int, sample: int, device_time_us: int, host_time: float) -> SyncRow | None:
        """Called for every EVENT frame (``wire.unpack_event`` fields plus the host time of reception, s). In board
        mode an ``EV_DISPLAY`` event is logged (its u32 ``value`` unwrapped); other events and modes: None."""
        if self.mode != "board" or kind != EV_DISPLAY:
            return None
        value &= 0xFFFFFFFF
        if self._last_wire is None:
            unwrapped = value
        else:
            assert self.value is not None
            delta = (value - self._last_wire) & 0xFFFFFFFF
            if delta >= 1 << 31:  # went backwards: the board reports the shown (wrapped) value
                delta = (value - self._last_wire) % self.capacity
            unwrapped = self.value + delta
        self._last_wire = value
        # the board shows its own (u32) value modulo the capacity
        return self._log(unwrapped, sample, host_time, device_time_us, value % self.capacity)

    def board_command(self) -> dict[str, Any]:
        """Arguments of the board's ``display`` command for board mode (``Board.display(**args)``)."""
        return {"mode": "board", "every": self.every_samples, "value": self.start}

    # -- recorder integration (perifacial.host.recording: ``display.attach(board, recorder)`` / ``detach()``) ----
    def describe(self) -> dict[str, Any]:
        """Settings worth keeping in the recording (capacity is needed to unwrap digits read from video)."""
        settings = {name: getattr(self, name) for name in self.SETTINGS}
        settings["backend"] = type(self.backend).__name__ if self.backend is not None else "board"
        return settings

    def attach(self, board: Any, recorder: Any = None) -> DigitDisplay:
        """Hook into a :class:`perifacial.host.board.Board` (and a ``Recorder``).

        Host mode: a block listener calls :meth:`on_frame` for every received block (one per DATA frame) and logs
        each change with ``recorder.sync(value, sample, kind="received", host_time=..., shown=..., capacity=...)``.
        Board mode: sends ``board.display(mode="board", every=M, value=start)`` and listens to EVENT frames for the
        live log (:attr:`rows`); the recording gets the board's EV_DISPLAY events from the raw stream itself.
        """
        self._board, self._recorder = board, recorder
        cfg = getattr(board, "config", None)
        spf = cfg.get("samples_per_frame") if isinstance(cfg, dict) else None
        self._spf = int(spf) if spf else 0  # DATA frame size, to count frames inside merged blocks
        if recorder is not None and hasattr(recorder, "note"):
            recorder.note(sync_display=self.describe())
        if self.mode == "host":
            board.add_block_listener(self._on_block)
        else:
            board.add_event_listener(self._on_device_event)
            board.display(**self.board_command())
            if self.camera_fps:
                self._checked = True
                self.check_readable(self.camera_fps, float(board.fs))
        return self

    def detach(self) -> None:
        board = getattr(self, "_board", None)
        if board is not None:
            try:
                if self.mode == "host":
                    board.remove_block_listener(self._on_block)
                else:
                    board.remove_event_listener(self._on_device_event)
            except ValueError:
                pass
        self._board = self._recorder = None
        self.close()

    def _on_block(self, blk: Any) -> None:
        board = self._board
        if self.camera_fps and not self._checked and board is not None:
            self._checked = True
            self.check_readable(self.camera_fps, float(board.fs), self._samples_per_frame(blk))
        rows = self.on_frames(self._frames_of(blk), blk.host_time)
        rec = self._recorder
        if rec is not None:
            for row in rows:
                rec.sync(
                    row.value,
                    row.sample,
                    kind=row.kind,
                    host_time=row.host_time,
                    shown=row.shown,
                    capacity=self.capacity,
                )

    def _samples_per_frame(self, blk: Any) -> int:
        return self._spf or int(blk.n)

    def _frames_of(self, blk: Any) -> list[tuple[int, int]]:
        """The DATA frames inside a board block: its per-frame arrays when it has them (``frame_first``,
        ``frame_n``), else cut at the board's ``samples_per_frame``."""
        ff, fn = getattr(blk, "frame_first", None), getattr(blk, "frame_n", None)
        if ff is not None and fn is not None:
            return [(int(a), int(b)) for a, b in zip(ff, fn)]
        spf = max(self._samples_per_frame(blk), 1)
        stop = blk.first_sample + blk.n
        return [(s, min(spf, stop - s)) for s in range(blk.first_sample, stop, spf)]

    def _on_device_event(self, ev: Any) -> None:
        t = ev.host_time if getattr(ev, "host_time", None) is not None else time.monotonic()
        self.on_event(ev.kind, ev.value, ev.sample, ev.device_time_us, t)

    # -- checks -----------------------------------------------------------------------------------------------
    def change_interval_s(self, rate: float, samples_per_frame: int | None = None) -> float:
        """Nominal time between changes, s: ``every_samples / rate`` (board) or
        ``every_frames * samples_per_frame / rate`` (host; ``samples_per_frame`` of the DATA frames)."""
        if self.mode == "board":
            return self.every_samples / rate
        if not samples_per_frame:
            raise ValueError("host mode needs samples_per_frame")
        return self.every_frames * samples_per_frame / rate

    def check_readable(self, fps: float, rate: float, samples_per_frame: int | None = None) -> float:
        """Video frames per digit change at ``fps``; warns (:class:`DisplayRateWarning`) below 3."""
        return check_readable(self.change_interval_s(rate, samples_per_frame), fps)

    def poll(self) -> list[DisplayEcho]:
        """Collect pending serial echoes (also done on every change)."""
        if self.backend is None:
            return []
        echoes = self.backend.poll()
        self.echoes.extend(echoes)
        return echoes

    def close(self) -> None:
        if self.backend is not None:
            self.poll()
            self.backend.close()


def check_readable(change_interval_s: float, fps: float) -> float:
    """Return the video frames per display change; warn when below :data:`MIN_FRAMES_PER_CHANGE`."""
    frames = change_interval_s * fps
    if frames < MIN_FRAMES_PER_CHANGE:
        msg = (
            f"the display changes every {change_interval_s * 1e3:.0f} ms = {frames:.2f} frames at {fps:g} fps; "
            f"keep it >= {MIN_FRAMES_PER_CHANGE:g} frames (>= {MIN_FRAMES_PER_CHANGE / fps * 1e3:.0f} ms) so "
            "every value is seen in full in at least one frame"
        )
        warnings.warn(msg, DisplayRateWarning, stacklevel=2)
        log.warning(msg)
    return frames


def open_display(
    spec: str | DisplaySpec,
    *,
    every_frames: int = 2,
    every_samples: int = 100,
    start: int = 0,
    digits: int = 4,
    offscreen: bool = False,
    camera_fps: float | None = None,
    **backend_kw: Any,
) -> DigitDisplay | None:
    """Build the display for a ``--display`` value; ``none`` gives None (the recorder then skips the hooks).

    ``digits`` applies to ``screen`` (and to ``board``'s on-board TM1637: 4); ``serial`` learns it from the
    board. ``offscreen`` draws ``screen`` without a window (tests). ``camera_fps``: warn at the start of a
    recording when the digits would change faster than every 3 video frames.
    """
    if isinstance(spec, str):
        spec = parse_display_spec(spec)
    if spec.backend == "none":
        return None
    if spec.backend == "board":
        return DigitDisplay(
            None, mode="board", every_samples=every_samples, start=start, capacity=10**digits, camera_fps=camera_fps
        )
    backend: DisplayBackend
    if spec.backend == "screen":
        backend = ScreenBackend(digits, offscreen=offscreen, **backend_kw)
    else:
        backend = SerialBackend(spec.port, **backend_kw)
    return DigitDisplay(backend, mode="host", every_frames=every_frames, start=start, camera_fps=camera_fps)
