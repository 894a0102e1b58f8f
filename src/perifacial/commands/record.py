"""``perifacial record URL -o FILE [--seconds N]``: record a board (or the virtual board ``sim://``) losslessly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CliError
from ..validate import check_board_url, check_output_file
from .options import add_board_url, add_output_option, positive_float_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "record",
        help="record a board to a crash-safe raw file (sim:// is the virtual board)",
        description=(
            "Record every byte the board sends to an append-only raw log (fsynced about once a second, so a crash "
            "loses at most the last second), with the board's info and configuration, the montage labels, host "
            "arrival times, markers and display/sync events. A live line on stderr shows elapsed time, samples, "
            "measured rate, gaps, CRC errors and the link state. Convert with `perifacial export`. Exit status 1 when "
            "samples were lost (gaps), 2 on errors."
        ),
    )
    add_board_url(p, "board: /dev/ttyACM0, COM3, tcp://HOST:PORT, ble://NAME, or sim://?seed=1&realtime=0")
    add_output_option(p, "recording file to create (.pfr)", required=True, type=Path)
    p.add_argument(
        "--seconds",
        type=positive_float_arg,
        default=None,
        help="length of the recording, in seconds "
        "at the nominal rate, gaps and silences included (default: until Ctrl-C)",
    )
    p.add_argument(
        "--silence",
        type=positive_float_arg,
        default=2.0,
        metavar="S",
        help="a started board that sends nothing for S seconds (or says it rebooted) is reported and "
        "re-armed; the silence is a gap (2)",
    )
    p.add_argument(
        "--max-silence",
        type=positive_float_arg,
        default=None,
        metavar="S",
        help="fail (exit 2, file kept) instead when the board is silent for S seconds",
    )
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.add_argument(
        "--rate",
        type=int,
        choices=(500, 1000, 2000),
        default=None,
        help="set the board's data-rate setting first, SPS (the recording's fs)",
    )
    p.add_argument(
        "--gain", type=int, choices=(1, 2, 4, 6, 8, 12, 24), default=None, help="set every channel's gain first"
    )
    p.add_argument(
        "--display",
        default="none",
        metavar="KIND",
        help="video-sync digit display: none (default), board, screen, serial:PORT",
    )
    p.add_argument("--lsl", action="store_true", help="also stream the samples to a Lab Streaming Layer outlet")
    p.add_argument(
        "--quiet", action="store_true", help="no progress line and no log line per gap (the totals are still printed)"
    )
    p.set_defaults(func=run)
    return p


def _open_display(spec: str):
    if spec in ("", "none"):
        return None
    try:
        from perifacial.host.sync import open_display
    except ImportError as exc:
        raise CliError(f"--display {spec}: display support is not available in this installation ({exc})") from exc
    try:
        return open_display(spec)
    except (ValueError, OSError) as exc:
        raise CliError(f"--display {spec}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from perifacial.host.board import BoardError, BoardTimeout, open_board
    from perifacial.host.transport import TransportError

    out: Path = check_output_file(args.output, overwrite=args.overwrite, what="-o")
    check_board_url(args.url)
    if args.seconds is not None and args.seconds * 500 < 1:
        raise CliError(f"--seconds {args.seconds:g} is shorter than one sample")
    display = _open_display(args.display)
    outlet = None
    try:
        board = open_board(args.url)
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(str(exc)) from exc
    try:
        settings = {}
        if args.rate is not None:
            settings["rate"] = args.rate
        if args.gain is not None:
            settings["gain"] = args.gain
        if settings:
            board.configure(**settings)
        outlet = None
        if args.lsl:
            try:
                from perifacial.host.lsl import LslOutlet

                outlet = LslOutlet.for_board(board).attach(board)
            except Exception as exc:  # noqa: BLE001 - liblsl missing or no network
                raise CliError(f"--lsl: cannot start an LSL outlet ({exc}); pip install 'perifacial[lsl]'") from exc
        if board.info.get("bench"):
            print(
                f"WARNING: board {board.info.get('board_id', args.url)} is in BENCH mode: its lead-off safety "
                "interlock is off (DC lead-off above 10 uA per electrode is allowed). No participant may be "
                "connected; switch it off over USB (`bench` command) before recording people. The recording's "
                "header says bench: true.",
                file=sys.stderr,
                flush=True,
            )
        summary = board.record(
            out,
            duration_s=args.seconds,
            display=display,
            progress=not args.quiet,
            overwrite=args.overwrite,
            silence_s=args.silence,
            max_silence_s=args.max_silence,
        )
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(f"{exc} (what was received so far is in {out})") from exc
    finally:
        if args.lsl and outlet is not None:
            outlet.close()
        board.close()
    lost = sum(b - a for a, b in summary.gaps)
    st = summary.stats
    print(
        f"{out}: {summary.samples} samples ({summary.samples / board.fs:.1f} s at {board.fs:g} Hz), "
        f"{len(summary.gaps)} gaps ({lost} samples lost), {st['crc_errors']} CRC errors, "
        f"{summary.reconnects} reconnects"
    )
    for ev in summary.events:
        what = "board rebooted; acquisition re-armed" if ev["event"] == "reboot" else "board silent; start sent"
        print(f"{out}: {what} at {ev['clock']:.1f} s ({ev['detail']}); the silence is a gap")
    if summary.segments > 1:
        print(
            f"{out}: {summary.segments} acquisition segments, {summary.silent_samples} samples of silence between "
            "them (load() returns them all; Recording.segments)"
        )
    return 0 if not summary.gaps and not summary.events else 1
