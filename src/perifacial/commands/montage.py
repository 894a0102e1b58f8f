"""``perifacial montage``: draw the electrode montage (the figure in hardware/montage.svg)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..validate import check_input_file, check_output_dir
from .options import add_output_option, positive_int_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "montage",
        help="draw the electrode montage as montage.svg and montage.png",
        description=(
            "Draws the six facial regions, their four recording electrodes, references and bias on a face outline "
            "(perifacial.host.montage_figure.plot_montage) into DIR/montage.svg and DIR/montage.png; the SVG only "
            "changes when the drawing does."
        ),
    )
    add_output_option(
        p,
        "output folder (default: the current folder)",
        deprecated=("--out-dir",),
        type=Path,
        default=Path("."),
        metavar="DIR",
    )
    p.add_argument("--montage", type=Path, default=None, help="a montage JSON file (default: the packaged one)")
    p.add_argument("--dpi", type=positive_int_arg, default=150, help="resolution of the PNG (150)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from perifacial.dsp.montage import load_montage
    from perifacial.host.montage_figure import save_montage_figure

    montage = load_montage(check_input_file(args.montage, what="--montage")) if args.montage else None
    svg, png = save_montage_figure(check_output_dir(args.output, what="-o"), montage, dpi=args.dpi)
    print(f"wrote {svg} and {png}")
    return 0
