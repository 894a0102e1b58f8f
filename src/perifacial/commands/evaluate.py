"""``perifacial evaluate-spotting``: the spotting metrics table on synthetic sessions (docs/spotting.md).

The options are parsed here only; :func:`perifacial.dsp.evaluate.run_evaluation` does the work.
"""

from __future__ import annotations

import argparse

from .options import add_option, nonneg_int_arg, options_of, positive_float_arg, positive_int_arg

#: perifacial.dsp.evaluate.METHODS, repeated so that building the parser does not import NumPy (a test checks)
METHODS = ("adaptive", "casmemg-clip", "casmemg-session")


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
    p.add_argument("--sessions", type=positive_int_arg, default=10, help="sessions per SNR level (default 10)")
    add_option(
        p,
        "--seconds",
        deprecated=("--duration",),
        type=positive_float_arg,
        default=300.0,
        help="session length in s (default 300)",
    )
    p.add_argument("--snr", default="high,medium,low", help="comma-separated levels (high, medium, low) or dB")
    p.add_argument("--fs", type=positive_float_arg, default=1000.0, help="sampling rate in Hz (default 1000)")
    p.add_argument("--seed", type=nonneg_int_arg, default=0, help="first seed (default 0)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)} (all)")
    p.add_argument("--oracle", action="store_true", help="also run CASMEMG's published GT +- 0.5 s clip protocol")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar (it is only shown on a terminal anyway)")
    p.add_argument(
        "--families",
        metavar="FAMILY",
        default=None,
        help="instead: expression-episode F1 of the default chain on a family of dsp.families "
        "(tune or heldout) per distractor condition, SNR and mains frequency (50, 60), with the "
        "kind confusion; uses --sessions (seeds from --seed) and --seconds",
    )
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    from perifacial.dsp.evaluate import run_evaluation
    from perifacial.errors import CliError

    try:
        same = options_of(args, "sessions", "snr", "fs", "seed", "methods", "oracle", "markdown", "families")
        text = run_evaluation(duration=args.seconds, progress=not args.quiet, **same)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(text)
    return 0
