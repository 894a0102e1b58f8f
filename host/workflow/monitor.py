"""Live monitor: the six regions' envelopes (or raw traces), per-channel signal quality, events as they are spotted
and the sync counter, in one matplotlib figure.

:class:`LiveState` is the data side (no matplotlib): it takes :class:`~perifacial.host.board.SampleBlock` objects,
keeps the last ``window_s`` seconds of raw data and causal envelope (``EnvelopeStream``) in ring buffers
``[channels, window]`` (uV), runs :class:`~perifacial.dsp.spotting.SpotStream` on the envelope, tracks lead-off, and
computes per-channel quality over the last ``quality_s`` seconds. :class:`MonitorView` draws a ``LiveState`` on a
Figure; :func:`run_monitor` is the loop (``step`` = pump the board, feed the state, redraw). Tests drive ``step``
headless with the Agg backend.

Gaps in the live stream: the envelope filter cannot take NaN, so over a gap the envelope holds its last value (at
most ``window_s``) and the filters restart after it; the gap is counted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from perifacial.dsp.defaults import emg_band

from .quality import mains_amplitude

log = logging.getLogger(__name__)

__all__ = ["LiveState", "MonitorView", "LiveEvent", "run_monitor"]


@dataclass(frozen=True)
class LiveEvent:
    """A spotted event in stream time.

    ``onset_s``/``offset_s`` in s since the monitor started; ``region`` and ``kind`` as in
    :class:`~perifacial.dsp.spotting.Event`; ``peak`` the envelope's peak (uV).
    """

    onset_s: float
    offset_s: float
    region: str
    kind: str
    peak: float


@dataclass
class LiveState:
    """Ring buffers and online processing of a live stream (see the module docstring)."""

    fs: float
    n_channels: int
    labels: list[str]
    window_s: float = 10.0
    quality_s: float = 2.0
    mains_hz: float = 50.0
    notch: float | None = None
    raw: np.ndarray = field(init=False)
    env: np.ndarray = field(init=False)
    leadoff: np.ndarray = field(init=False)
    events: list[LiveEvent] = field(default_factory=list)
    n_seen: int = 0
    gaps: int = 0
    sync_value: int | None = None

    def __post_init__(self) -> None:
        from perifacial.dsp.filters import EnvelopeStream
        from perifacial.dsp.spotting import SpotStream

        self.w = int(round(self.window_s * self.fs))
        self.raw = np.full((self.n_channels, self.w), np.nan)
        self.env = np.full((self.n_channels, self.w), np.nan)
        self.leadoff = np.zeros(self.n_channels, dtype=bool)
        self._env_stream = EnvelopeStream(self.fs, self.n_channels, band=emg_band(self.fs), notch=self.notch)
        self._spot = SpotStream(self.fs, self.n_channels) if self.n_channels == 24 else None
        self._last_env = np.zeros(self.n_channels)

    @staticmethod
    def _push(buf: np.ndarray, x: np.ndarray) -> None:
        n = x.shape[1]
        if n >= buf.shape[1]:
            buf[:] = x[:, -buf.shape[1] :]
        else:
            buf[:, :-n] = buf[:, n:]
            buf[:, -n:] = x

    def _spot_feed(self, env: np.ndarray) -> None:
        if self._spot is None:
            return
        for e in self._spot.process(env):
            self.events.append(
                LiveEvent(e.onset / self.fs, (e.offset + 1) / self.fs, e.region or "", e.kind, float(e.peak))
            )
            log.info("event %s %s %.2f-%.2f s", e.kind, e.region, e.onset / self.fs, (e.offset + 1) / self.fs)

    def feed(self, block) -> None:
        """Add one SampleBlock (``data`` uV ``[channels, n]``, ``leadoff`` bool, ``gap_before`` samples)."""
        x = block.data
        gap = int(getattr(block, "gap_before", 0) or 0)
        if gap > 0 and self.n_seen > 0:
            self.gaps += 1
            g = min(gap, self.w)
            hold = np.repeat(self._last_env[:, None], g, axis=1)
            self._push(self.raw, np.full((self.n_channels, g), np.nan))
            self._push(self.env, hold)
            self._spot_feed(np.repeat(self._last_env[:, None], gap, axis=1))
            self._env_stream.reset()
            self.n_seen += gap
        env = self._env_stream.process(x)
        self._push(self.raw, x)
        self._push(self.env, env)
        if env.shape[1]:
            self._last_env = env[:, -1].copy()
        self._spot_feed(env)
        lo = getattr(block, "leadoff", None)
        if lo is not None and lo.size:
            self.leadoff = lo.any(axis=1)
        self.n_seen += x.shape[1]

    def on_device_event(self, ev) -> None:
        """Board event listener: keeps the board-driven display's counter."""
        from perifacial.firmware import wire

        if ev.kind == wire.EV_DISPLAY:
            self.sync_value = int(ev.value)

    def quality(self) -> tuple[np.ndarray, np.ndarray]:
        """(noise RMS uV, mains amplitude uV) per channel over the last ``quality_s`` s: the RMS of the raw signal
        minus its envelope-scale trend is dominated by EMG/noise; here the 20-450 Hz RMS of the quietest 0.25 s
        sub-window, and the mains sine amplitude."""
        from perifacial.dsp.filters import bandpass

        q = min(self.w, int(round(self.quality_s * self.fs)), self.n_seen)
        if q < int(0.5 * self.fs):
            nan = np.full(self.n_channels, math.nan)
            return nan, nan
        x = self.raw[:, -q:]
        if not np.isfinite(x).all():
            x = np.nan_to_num(x - np.nanmean(x, axis=1, keepdims=True))
        mains = mains_amplitude(x, self.fs, self.mains_hz)
        lo, hi = emg_band(self.fs)
        bp = bandpass(x - x.mean(axis=1, keepdims=True), self.fs, low=lo, high=hi)
        k = max(1, int(0.25 * self.fs))
        m = q // k
        sub = bp[:, : m * k].reshape(self.n_channels, m, k)
        noise = np.sqrt((sub * sub).mean(axis=2)).min(axis=1)
        return noise, mains


class MonitorView:
    """The figure: one axes per region (its channels' envelopes, or raw traces with ``show_raw``), a quality bar
    chart (noise RMS per channel, red = lead-off), and a text panel (sync counter, recent events).

    ``axes_regions``, ``ax_quality``, ``ax_text``, ``lines`` (list per region), ``bars``, ``text`` are public for
    tests."""

    def __init__(self, state: LiveState, montage=None, figure=None, show_raw: bool = False, max_points: int = 2000):
        from matplotlib.figure import Figure

        if montage is None and state.n_channels == 24:
            from perifacial.dsp.montage import default_montage

            montage = default_montage()
        self.state = state
        self.montage = montage
        self.show_raw = show_raw
        self.fig = figure if figure is not None else Figure(figsize=(12, 9))
        self.fig.set_layout_engine("constrained")  # panel titles, tick labels and legends never overlap
        regions = list(montage.regions) if montage is not None else []
        n_reg = max(1, len(regions))
        gs = self.fig.add_gridspec(n_reg, 2, width_ratios=(3, 1))
        self.axes_regions = [self.fig.add_subplot(gs[i, 0]) for i in range(n_reg)]
        self.ax_quality = self.fig.add_subplot(gs[: max(1, n_reg // 2), 1])
        self.ax_text = self.fig.add_subplot(gs[max(1, n_reg // 2) :, 1])
        self.ax_text.axis("off")
        self.step_pts = max(1, state.w // max_points)
        t = -np.arange(state.w)[::-1][:: self.step_pts] / state.fs
        self.t = t
        self.groups = [list(r.channels) for r in regions] or [list(range(state.n_channels))]
        self.lines = []
        for ax, chans, r in zip(self.axes_regions, self.groups, regions or [None]):
            ls = [ax.plot(t, np.zeros_like(t), lw=0.7, label=state.labels[c])[0] for c in chans]
            ax.set_title(r.name if r is not None else "channels", fontsize=8, loc="left")
            ax.set_xlim(t[0], 0)
            ax.legend(fontsize=8, loc="upper left", ncol=4)
            self.lines.append(ls)
        self.axes_regions[-1].set_xlabel("time (s)")
        self.bars = self.ax_quality.barh(range(state.n_channels), np.zeros(state.n_channels), color="tab:green")
        self.ax_quality.set_yticks(range(state.n_channels), state.labels, fontsize=8)
        self.ax_quality.invert_yaxis()
        self.ax_quality.set_title("noise RMS (µV); red: lead-off", fontsize=8)
        self.text = self.ax_text.text(
            0, 1, "", va="top", family="monospace", fontsize=8, transform=self.ax_text.transAxes
        )
        self.spans: list = []
        self.fig.suptitle("perifacial monitor")

    def toggle_raw(self) -> None:
        self.show_raw = not self.show_raw

    def update(self) -> None:
        """Redraw the artists from the state (no canvas draw)."""
        s = self.state
        src = s.raw if self.show_raw else s.env
        for ax, chans, ls in zip(self.axes_regions, self.groups, self.lines):
            ys = []
            for c, ln in zip(chans, ls):
                y = src[c, :: self.step_pts]
                ln.set_data(self.t, y)
                ys.append(y)
            yy = np.concatenate(ys)
            yy = yy[np.isfinite(yy)]
            if yy.size:
                lo, hi = (float(yy.min()), float(yy.max())) if self.show_raw else (0.0, float(yy.max()))
                ax.set_ylim(lo, hi + 1e-9 + 0.05 * (hi - lo))
            ax.set_ylabel("raw µV" if self.show_raw else "env µV", fontsize=8)
        for sp in self.spans:
            sp.remove()
        self.spans = []
        now = s.n_seen / s.fs
        regions = [r.name for r in self.montage.regions] if self.montage is not None else []
        for e in s.events:
            if e.offset_s < now - s.window_s or e.region not in regions:
                continue
            ax = self.axes_regions[regions.index(e.region)]
            self.spans.append(
                ax.axvspan(
                    e.onset_s - now,
                    e.offset_s - now,
                    alpha=0.25,
                    color="tab:red" if e.kind == "ME" else "tab:blue" if e.kind == "MaE" else "tab:gray",
                )
            )
        noise, mains = s.quality()
        for c, b in enumerate(self.bars):
            b.set_width(0.0 if not math.isfinite(noise[c]) else float(noise[c]))
            b.set_color("tab:red" if s.leadoff[c] else "tab:green")
        fin = noise[np.isfinite(noise)]
        if fin.size:
            self.ax_quality.set_xlim(0, float(fin.max()) * 1.2 + 1e-9)
        worst = int(np.nanargmax(mains)) if np.isfinite(mains).any() else None
        lines = [
            f"t = {now:7.1f} s   gaps: {s.gaps}",
            f"sync counter: {s.sync_value if s.sync_value is not None else '-'}",
            f"mains {s.mains_hz:g} Hz: max {mains[worst]:.1f} µV ({s.labels[worst]})"
            if worst is not None
            else "mains: -",
            f"lead-off: {', '.join(lab for lab, o in zip(s.labels, s.leadoff) if o) or 'none'}",
            f"events: {len(s.events)} ({sum(e.kind in ('ME', 'MaE') for e in s.events)} expressions)",
        ]
        lines += [f"{e.onset_s:7.1f}s {e.kind:<9}{e.region}" for e in s.events[-8:]]
        self.text.set_text("\n".join(lines))


def step(board, state: LiveState, view: MonitorView | None = None, pump_s: float = 0.05) -> int:
    """One iteration: pump the board, feed every new block to ``state``, update ``view``. Returns samples fed."""
    board.pump(pump_s)
    n = 0
    for b in board.drain():
        state.feed(b)
        n += b.n
    if view is not None:
        view.update()
    return n


def run_monitor(
    board,
    figure=None,
    show_raw: bool = False,
    iterations: int | None = None,
    window_s: float = 10.0,
    notch: float | None = None,
    interactive: bool = True,
) -> tuple[LiveState, MonitorView]:
    """Start the board and run the monitor loop (``iterations`` steps, or until the window is closed / Ctrl-C).
    ``interactive``: use pyplot windows (key ``r`` toggles raw traces); otherwise draw on ``figure`` (Agg)."""
    state = LiveState(board.fs, board.n_channels, list(board.labels), window_s=window_s, notch=notch)
    board.add_event_listener(state.on_device_event)
    plt = None
    if interactive:
        import matplotlib.pyplot as plt  # noqa: PLC0415 - the GUI is only loaded for the live window

        figure = plt.figure(figsize=(12, 9))
    view = MonitorView(state, figure=figure, show_raw=show_raw)
    if plt is not None:
        view.fig.canvas.mpl_connect("key_press_event", lambda ev: view.toggle_raw() if ev.key == "r" else None)
        plt.show(block=False)
    if not board.running:
        board.start()
    i = 0
    try:
        while iterations is None or i < iterations:
            step(board, state, view)
            if plt is not None:
                if not plt.fignum_exists(view.fig.number):
                    break
                view.fig.canvas.draw_idle()
                plt.pause(0.05)
            else:
                view.fig.canvas.draw() if hasattr(view.fig.canvas, "draw") else None
            i += 1
    except KeyboardInterrupt:
        log.info("monitor stopped by the user")
    finally:
        board.remove_event_listener(state.on_device_event)
    return state, view
