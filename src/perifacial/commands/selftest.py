"""``perifacial selftest URL``: the one-minute bring-up check of a board (see :mod:`perifacial.host.selftest`)."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import CliError
from ..validate import check_board_url
from .options import add_board_url, positive_float_arg


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "selftest",
        help="check a board in under a minute: chip IDs, registers, test signal, noise, stream continuity, rate",
        description=(
            "Run the firmware's self-test (chip IDs, register read-back, internal test signal, noise with inputs "
            "shorted, lead-off state) and host-side checks on short streams (test signal through the link, zero "
            "sequence/sample gaps, sample rate within +-0.5 % of nominal by the board's clock), then print a "
            "pass/fail table. Exit code 0 if every check passed, 1 if one failed, 2 if the board could not be "
            "reached. The board's configuration is restored afterwards."
        ),
    )
    add_board_url(
        p, "board: a serial port (/dev/ttyACM0, COM3), tcp://host:port, ble://name or sim:// (the virtual board)"
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON instead of the table")
    p.add_argument(
        "--seconds",
        type=positive_float_arg,
        default=3.0,
        help="length of the continuity/rate stream in seconds (default 3)",
    )
    p.add_argument(
        "--no-board-selftest",
        action="store_true",
        help="skip the firmware's own self-test command (host-side checks only)",
    )
    p.add_argument(
        "--timeout", type=positive_float_arg, default=5.0, help="seconds to wait for a command's answer (default 5)"
    )
    p.set_defaults(func=run)
    return p


def _table(result) -> str:
    rows = [("CHECK", "RESULT", "MEASURED", "CRITERION (SOURCE)")]
    for c in result.checks:
        rows.append((c.name, c.status.upper(), c.measured, f"{c.criterion} ({c.source})"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
        if r is not rows[0]:
            lines.append(f"{'':<{w0}}  {'':<{w1}}    criterion: {r[3]}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from perifacial.host.board import BoardError, BoardTimeout
    from perifacial.host.selftest import run_selftest
    from perifacial.host.transport import TransportError

    check_board_url(args.url)
    progress = None if args.json else (lambda msg: print(f"... {msg}", file=sys.stderr, flush=True))
    try:
        result = run_selftest(
            args.url,
            stream_seconds=args.seconds,
            board_selftest=not args.no_board_selftest,
            progress=progress,
            command_timeout=args.timeout,
        )
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        info = result.info
        print(
            f"perifacial selftest {result.url}: firmware {info.get('firmware')}, board {info.get('board')}, "
            f"{info.get('chips')} chips, {info.get('channels')} channels, link {info.get('link')}"
        )
        print(_table(result))
        n_fail = len(result.failed)
        judged = [c for c in result.checks if c.status in ("pass", "fail")]
        verdict = "PASS" if result.ok else f"FAIL ({n_fail} check{'s' if n_fail != 1 else ''} failed)"
        print(f"{verdict}: {len(judged) - n_fail}/{len(judged)} checks passed in {result.duration_s:.1f} s")
    return 0 if result.ok else 1
