"""``perifacial monitor URL``: live view of envelopes, signal quality, spotted events and the sync counter."""

from __future__ import annotations

import argparse

from ..errors import CliError
from ..validate import check_board_url
from .options import add_board_url, add_notch_option, positive_float_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "monitor",
        help="live view: six regions' envelopes (raw on 'r'), signal quality, events as spotted, sync counter",
        description=(
            "Opens a window with the six regions' linear envelopes (causal chain; press r for raw traces), the "
            "noise RMS of every channel (red: lead-off), the mains level, events as the online spotter finalises "
            "them (about 5 s after they end) and the board-driven sync counter. Close the window or Ctrl-C to stop. "
            "On sim:// the virtual board runs in real time unless the URL says realtime=0. Without a display (no "
            "DISPLAY/WAYLAND_DISPLAY, e.g. over ssh) it stops with a message; --headless PNG draws the same view "
            "into an image instead."
        ),
    )
    add_board_url(p, "board: /dev/ttyACM0, tcp://HOST:PORT, ble://NAME or sim://")
    p.add_argument("--raw", action="store_true", help="start with raw traces instead of envelopes")
    p.add_argument("--window", type=positive_float_arg, default=10.0, help="seconds shown (10)")
    add_notch_option(p, "mains removal in the envelope chain (default off; auto detects 50/60 Hz)", default=None)
    p.add_argument(
        "--headless",
        metavar="PNG",
        help="no window: draw the view into PNG (written when the monitor stops; works without a display)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        help="stop after N updates (about 20 per second; default: until the window closes or Ctrl-C)",
    )
    p.set_defaults(func=run)
    return p


NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def _gui_backend() -> str | None:
    """The interactive matplotlib backend pyplot will use, or None when there is none (no display)."""
    import matplotlib

    name = str(matplotlib.get_backend()).lower()
    if name in NON_INTERACTIVE or name.startswith("module://matplotlib_inline"):
        return None
    return name


def run(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from perifacial.host.board import BoardError, BoardTimeout, open_board
    from perifacial.host.transport import TransportError
    from perifacial.host.workflow.monitor import run_monitor

    if args.window <= 1:
        raise CliError("--window must be > 1 s")
    check_board_url(args.url)
    if args.headless is None:
        backend = _gui_backend()
        if backend is None:
            raise CliError(
                "no display to open a window on (matplotlib fell back to a non-interactive "
                "backend: no DISPLAY/WAYLAND_DISPLAY?). Run it where a desktop is available, or use "
                "--headless view.png [--iterations N] to draw the view into an image"
            )
    extra = {}
    parts = urlsplit(args.url)
    if parts.scheme.lower() == "sim" and "realtime" not in parts.query and args.headless is None:
        extra["realtime"] = True
    try:
        board = open_board(args.url, **extra)
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(str(exc)) from exc
    try:
        fig = None
        if args.headless is not None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(12, 9))
        state, view = run_monitor(
            board,
            figure=fig,
            show_raw=args.raw,
            iterations=args.iterations,
            window_s=args.window,
            notch=args.notch,
            interactive=args.headless is None,
        )
        if args.headless:
            view.fig.savefig(args.headless, dpi=80)
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(str(exc)) from exc
    finally:
        board.close()
    print(f"monitor: {state.n_seen / state.fs:.1f} s shown, {len(state.events)} events, {state.gaps} gaps")
    return 0
