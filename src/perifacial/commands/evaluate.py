"""``perifacial evaluate-spotting``: the spotting metrics table on synthetic sessions (docs/spotting.md)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate-spotting",
        help="compare spotting methods on synthetic sessions (event-level F1, IoU, onset/offset errors)",
        description=(
            "Generate synthetic 24-channel sessions at several SNR levels, spot expressions with each method and "
            "print precision/recall/F1 (MEGC: one-to-one matches at IoU >= 0.5, per region), mean IoU, CASMEMG's "
            "overlap ratio and onset/offset MAE. Defaults reproduce the table of docs/spotting.md."
        ),
    )
    # same options as `python -m perifacial.dsp.evaluate` (perifacial.dsp.evaluate.add_arguments), repeated here
    # so that building the parser does not import NumPy
    p.add_argument("--sessions", type=int, default=10, help="sessions per SNR level (default 10)")
    p.add_argument("--duration", type=float, default=300.0, help="session length in s (default 300)")
    p.add_argument("--snr", default="high,medium,low", help="comma-separated levels (high, medium, low) or dB")
    p.add_argument("--fs", type=float, default=1000.0, help="sampling rate in Hz (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--methods", default="adaptive,casmemg-clip,casmemg-session",
                   help="comma-separated methods (default: all three)")
    p.add_argument("--oracle", action="store_true", help="also run CASMEMG's published GT +- 0.5 s clip protocol")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar (it is only shown on a terminal anyway)")
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    from perifacial.errors import CliError
    from perifacial.dsp import evaluate

    try:
        return evaluate.run(args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
