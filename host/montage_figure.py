"""A schematic figure of the electrode montage: a face outline, the regions, their electrodes and references.

Usage::

    from perifacial.host.montage_figure import plot_montage
    fig = plot_montage()                      # the default six-region montage (hardware/montage.json)
    fig.savefig("montage.png", dpi=150)

The face is drawn as the camera sees it: the participant's **left** side is on the **right** of the figure (the
labels say so). Electrode positions are schematic (where on the face periphery each group sits, after the
placement texts of ``hardware/montage.json``), not measured coordinates: use the placement texts to place them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from perifacial.dsp.montage import Montage, Region

__all__ = ["plot_montage", "save_montage_figure", "electrode_positions", "REGION_COLORS"]

# Schematic positions in "participant-left" coordinates: x > 0 is the participant's left (drawn on the right of the
# figure), y up; the face outline is an ellipse of half-width 1.0 and half-height 1.35 centred on (0, 0).
# Per region: 4 recording electrodes, then the reference.
_LAYOUT: dict[str, tuple[list[tuple[float, float]], tuple[float, float]]] = {
    # above the lateral half of the eyebrow, arcing out to the temple hairline; reference at the hairline above the
    # brow's lateral end
    "left_upper": ([(0.46, 0.78), (0.60, 0.71), (0.71, 0.60), (0.81, 0.47)], (0.64, 0.96)),
    # lateral to the outer canthus and over the zygomatic arch toward the ear; reference in front of the tragus
    "left_middle": ([(0.64, 0.24), (0.78, 0.22), (0.64, 0.08), (0.78, 0.06)], (0.95, 0.10)),
    # along the lower border of the mandible, lateral to the mouth corner; reference at the mandibular angle
    "left_lower": ([(0.34, -1.13), (0.50, -1.05), (0.64, -0.94), (0.76, -0.81)], (0.88, -0.60)),
    # chin and below the lateral half of the lower lip, then along the mandible; reference at the mandibular angle
    "right_lower": ([(0.10, -0.97), (0.24, -0.92), (0.36, -1.10), (0.52, -1.03)], (0.88, -0.60)),
}
# fallbacks by level for montages whose region names are not in _LAYOUT (mirrored by side)
_LEVEL_FALLBACK = {"upper": "left_upper", "middle": "left_middle", "lower": "left_lower"}

REGION_COLORS = {
    "upper": "#1f77b4",
    "middle": "#2ca02c",
    "lower": "#d62728",
}
_OTHER_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _side_sign(region: Region) -> float:
    """+1 for the participant's left (drawn on the figure's right), -1 for the right."""
    return -1.0 if region.side.lower().startswith("r") else 1.0


def electrode_positions(region: Region, index: int = 0) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """Figure coordinates of ``region``'s recording electrodes (one per channel) and of its reference.

    Known regions use the schematic layout above (mirrored for the right side, except where the right side has its
    own entry); unknown ones fall back to their level, or to a spot on the outline picked by ``index``.
    """
    key = region.name
    if key not in _LAYOUT:
        mirrored = "left_" + key.split("_", 1)[1] if key.startswith("right_") else None
        if mirrored in _LAYOUT:
            key = mirrored
        elif region.level in _LEVEL_FALLBACK:
            key = _LEVEL_FALLBACK[region.level]
        else:
            key = ""
    n = len(region.channels)
    if key:
        pts, ref = _LAYOUT[key]
        pts = list(pts)
    else:  # spread around the outline
        ang = math.radians(60 - 40 * (index % 5))
        pts = [(0.85 * math.cos(ang - 0.08 * k), 1.2 * math.sin(ang - 0.08 * k)) for k in range(max(n, 1))]
        ref = (1.0 * math.cos(ang + 0.1), 1.3 * math.sin(ang + 0.1))
    if n > len(pts):  # more channels than the schematic spots: extend along the last step
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        for _ in range(n - len(pts)):
            x0, y0, x1, y1 = x1, y1, 2 * x1 - x0, 2 * y1 - y0
            pts.append((x1, y1))
    pts = pts[:n]
    s = _side_sign(region)
    return [(s * x, y) for x, y in pts], (s * ref[0], ref[1])


def _draw_face(ax: Axes) -> None:
    from matplotlib.patches import Arc, Ellipse

    kw = dict(fill=False, lw=1.6, color="0.35")
    ax.add_patch(Ellipse((0, 0), 2.0, 2.7, **kw))  # outline
    for s in (-1, 1):
        ax.add_patch(Ellipse((s * 1.04, 0.12), 0.16, 0.46, **kw))  # ears
        ax.add_patch(Ellipse((s * 0.36, 0.26), 0.30, 0.13, lw=1.2, fill=False, color="0.45"))  # eyes
        ax.add_patch(Arc((s * 0.36, 0.40), 0.40, 0.18, theta1=20, theta2=160, lw=2.0, color="0.45"))  # brows
    ax.plot([0.0, -0.07, 0.07, 0.0], [0.20, -0.28, -0.28, -0.24], color="0.45", lw=1.2)  # nose
    ax.add_patch(Arc((0, -0.58), 0.56, 0.22, theta1=200, theta2=340, lw=1.5, color="0.45"))  # mouth
    ax.plot([-0.28, 0.28], [-0.58, -0.58], color="0.45", lw=1.0)
    # the central face the camera must see (Li et al. 2025 [ChinaXiv:202506.00079] sec. 3.2: electrodes stay on the
    # periphery)
    ax.add_patch(Ellipse((0, -0.12), 0.95, 1.45, fill=True, color="0.92", zorder=0, lw=0))
    ax.text(
        0,
        0.555,
        "central face kept clear\nfor the camera",
        ha="center",
        va="center",
        fontsize=6.5,
        color="0.5",
        style="italic",
    )


#: Where the drawing puts the bias (driven-right-leg) electrode: on the left mastoid, behind the ear (see
#: hardware/wiring.md; the seeds do not specify it).
BIAS_POSITION = (1.16, -0.22)


def plot_montage(
    montage: Montage | None = None,
    ax: Axes | None = None,
    *,
    show_text: bool = True,
    show_bias: bool = True,
    title: str | None = None,
) -> Figure:
    """Draw ``montage`` (default: :func:`perifacial.dsp.montage.default_montage`) on ``ax`` (default: a new
    figure) and return the figure.

    Every recording electrode is a filled dot labelled with its channel label (``LU1`` .. ``RL4``); every region's
    reference is a hollow square labelled ``<code> ref``; with ``show_text`` each region's muscles and action units
    are listed beside the face. ``show_bias`` adds the bias electrode (a triangle behind the left ear).
    """
    import matplotlib.pyplot as plt

    if montage is None:
        from perifacial.dsp.montage import default_montage

        montage = default_montage()
    if ax is None:
        fig, ax = plt.subplots(figsize=(11.0, 8.2) if show_text else (6.0, 7.0))
    else:
        fig = ax.figure
    _draw_face(ax)

    def tag(text, xy, dy, **kw):  # a label centred dy points above (> 0) or below (< 0) the point xy
        va = "bottom" if dy > 0 else "top"
        ax.annotate(text, xy, xytext=(0, dy), textcoords="offset points", ha="center", va=va, zorder=4, **kw)

    other = iter(_OTHER_COLORS)
    text_slots = {-1: [], 1: []}
    for ri, region in enumerate(montage.regions):
        color = REGION_COLORS.get(region.level) or next(other, "k")
        pts, ref = electrode_positions(region, ri)
        xs, ys = zip(*pts)
        ax.scatter(xs, ys, s=70, color=color, edgecolor="k", lw=0.6, zorder=3)
        for ch, (x, y) in zip(region.channels, pts):
            tag(montage.labels[ch], (x, y), 7, fontsize=7.5, color=color, fontweight="bold")
        ax.scatter([ref[0]], [ref[1]], s=70, marker="s", facecolor="white", edgecolor=color, lw=1.8, zorder=3)
        box = dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8)
        tag(f"{region.code} ref", ref, -8, fontsize=7, color=color, bbox=box)
        ax.plot([p[0] for p in pts] + [ref[0]], [p[1] for p in pts] + [ref[1]], color=color, lw=0.6, ls=":", zorder=2)
        text_slots[1 if _side_sign(region) > 0 else -1].append((region, color))
    if show_bias:
        ax.scatter([BIAS_POSITION[0]], [BIAS_POSITION[1]], s=80, marker="^", color="orange", edgecolor="k", zorder=3)
        tag("BIAS", BIAS_POSITION, -9, fontsize=7)
    if show_text:
        for side, items in text_slots.items():
            order = {"upper": 0, "middle": 1, "lower": 2}
            items.sort(key=lambda it: order.get(it[0].level, 3))
            x = 1.22 if side > 0 else -1.22
            for k, (region, color) in enumerate(items):
                y = 1.05 - k * (2.3 / max(len(items), 1))
                chans = ", ".join(montage.labels[c] for c in region.channels)
                body = (
                    f"{region.code}  {region.name.replace('_', ' ')}\n"
                    f"muscles: {', '.join(region.muscles) or '-'}\n"
                    f"AUs: {', '.join(region.aus) or '-'}\n"
                    f"ch: {chans} + ref"
                )
                ax.text(
                    x,
                    y,
                    body,
                    ha="left" if side > 0 else "right",
                    va="top",
                    fontsize=7.5,
                    color="0.1",
                    bbox=dict(boxstyle="round,pad=0.35", fc="white", ec=color, lw=1.2),
                    zorder=5,
                )
    ax.text(1.0, -1.5, "participant's LEFT", ha="center", fontsize=8, color="0.3")
    ax.text(-1.0, -1.5, "participant's RIGHT", ha="center", fontsize=8, color="0.3")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", ls="", color="0.5", markeredgecolor="k", label="recording electrode"),
        Line2D(
            [],
            [],
            marker="s",
            ls="",
            markerfacecolor="white",
            markeredgecolor="0.3",
            label="region reference (INxN of its 4 channels)",
        ),
    ]
    if show_bias:
        handles.append(
            Line2D([], [], marker="^", ls="", color="orange", markeredgecolor="k", label="bias drive (chip 0 BIASOUT)")
        )
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.02), ncol=len(handles), fontsize=8, frameon=False
    )
    xr = 2.55 if show_text else 1.3
    ax.set_xlim(-xr, xr)
    ax.set_ylim(-1.65, 1.55)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        title
        if title is not None
        else f"{montage.name}: {len(montage.regions)} regions, {montage.n_channels} channels (front view, schematic)",
        fontsize=10,
    )
    return fig


def save_montage_figure(out_dir, montage: Montage | None = None, dpi: int = 150):
    """Draw ``montage`` (default: the packaged 24-channel montage) with :func:`plot_montage` into
    ``out_dir/montage.svg`` and ``out_dir/montage.png`` (``dpi``); returns the two paths.

    The SVG keeps its text as text and carries no date or random ids, so the file only changes when the drawing
    does (``hardware/montage.svg`` is committed).

    Examples
    --------
    >>> import tempfile
    >>> from perifacial.host.montage_figure import save_montage_figure
    >>> svg, png = save_montage_figure(tempfile.mkdtemp(), dpi=40)
    >>> svg.name, png.name
    ('montage.svg', 'montage.png')
    """
    from pathlib import Path

    import matplotlib
    import matplotlib.pyplot as plt

    from perifacial.dsp.montage import default_montage

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "perifacial-montage"}):
        fig = plot_montage(montage if montage is not None else default_montage())
        svg, png = out / "montage.svg", out / "montage.png"
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
        fig.savefig(png, dpi=int(dpi), bbox_inches="tight")
    plt.close(fig)
    return svg, png
