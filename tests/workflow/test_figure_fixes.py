"""Figure fixes (issue 16): µV in every label, text (legends included) >= 8 pt, the ME/MaE split labelled, a clear
message instead of empty axes when nothing was spotted, no negative envelope at t = 0, and monitor panel titles
that overlap nothing."""

from __future__ import annotations

import numpy as np
from eventrows import event_row
from matplotlib.figure import Figure

from perifacial.dsp.montage import default_montage
from perifacial.dsp.spotting import Event
from perifacial.host.workflow import figures as F
from perifacial.host.workflow.monitor import LiveState, MonitorView


def _texts(fig):
    fig.canvas.draw()
    out = list(fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize")))
    return [t for t in out if t.get_text().strip() and t.get_visible()]


def _check_units_and_sizes(fig):
    texts = _texts(fig)
    joined = " ".join(t.get_text() for t in texts)
    assert "uV" not in joined
    small = [(t.get_text()[:30], t.get_fontsize()) for t in texts if t.get_fontsize() < 8]
    assert not small, f"text below 8 pt: {small}"
    return joined


def test_preprocessing_envelope_not_negative_at_start_and_in_microvolts():
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 3.0, 6000)
    x[:200] += rng.normal(0.0, 80.0, 200)  # a burst right at t = 0 that stops: the raw low-pass undershoots
    fig = F.preprocessing_figure(x, 1000.0, "LM1")
    env_line = fig.axes[4].lines[0].get_ydata()
    assert env_line.min() >= 0.0 and env_line[:50].max() > 10.0
    assert "clipped at 0" in fig.axes[4].get_title(loc="left")
    joined = _check_units_and_sizes(fig)
    assert "µV" in joined


def test_regions_figure_legends_readable():
    m = default_montage()
    env = np.abs(np.random.default_rng(5).normal(0.0, 2.0, (24, 5000)))
    events = [Event(1000, 1300, 4, "left_middle", kind="ME"), Event(3000, 4200, 8, "left_lower", kind="MaE")]
    fig = F.regions_figure(env, 1000.0, events, m, m.labels)
    assert "µV" in _check_units_and_sizes(fig)


def test_mvc_duration_split_labelled_and_empty_case_says_so():
    fig = F.mvc_duration_figure(
        [event_row(0, 309, kind="ME"), event_row(0, 1199, kind="MaE", peak_mvc_pct=22.0)], calibrated=True
    )
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "ME/MaE split (0.5 s)" in labels and "ME (n=1)" in labels
    _check_units_and_sizes(fig)
    empty = F.mvc_duration_figure([], calibrated=False)
    ax = empty.axes[0]
    assert any(t.get_text() == "no expressions spotted" for t in ax.texts)
    assert ax.get_xlim() == (0.0, 2.0) and not ax.collections
    assert "µV" in ax.get_ylabel()
    _check_units_and_sizes(empty)


def test_monitor_titles_do_not_overlap():
    state = LiveState(1000.0, 24, list(default_montage().labels), window_s=5.0)
    view = MonitorView(state, figure=Figure(figsize=(12, 9)))
    view.update()
    fig = view.fig
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    axes = view.axes_regions
    for upper, lower in zip(axes[:-1], axes[1:]):
        title = lower.title.get_window_extent(r) if lower.title.get_text() else lower._left_title.get_window_extent(r)
        for lab in upper.get_xticklabels():
            if lab.get_text():
                assert not title.overlaps(lab.get_window_extent(r)), "a region title overlaps tick labels above it"
        assert not title.overlaps(upper.get_window_extent(r))
    sup = fig._suptitle.get_window_extent(r)
    for ax in [*axes, view.ax_quality]:
        t = ax._left_title if ax._left_title.get_text() else ax.title
        assert not sup.overlaps(t.get_window_extent(r))
    _check_units_and_sizes(fig)
