"""Render the montage figure: ``python hardware/make_montage_figure.py [--out-dir DIR]``.

Writes ``montage.svg`` and ``montage.png`` next to this script (or into ``--out-dir``) from ``hardware/montage.json``
with :func:`perifacial.host.montage_figure.plot_montage`, the same function the host uses.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--montage", type=Path, default=None, help="a montage JSON file (default: the packaged one)")
    ap.add_argument("--dpi", type=int, default=150)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # text stays text in the SVG (searchable, editable); fixed ids so the file only changes with the drawing
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "perifacial-montage"

    from perifacial.dsp.montage import default_montage, load_montage
    from perifacial.host.montage_figure import plot_montage

    montage = load_montage(args.montage) if args.montage else default_montage()
    fig = plot_montage(montage)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # svg without a date so the file only changes when the drawing does
    fig.savefig(args.out_dir / "montage.svg", bbox_inches="tight", metadata={"Date": None})
    fig.savefig(args.out_dir / "montage.png", dpi=args.dpi, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {args.out_dir / 'montage.svg'} and {args.out_dir / 'montage.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
