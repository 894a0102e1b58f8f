"""``perifacial emulate``: the firmware's real-time budget on the emulated RP2040 (see :mod:`perifacial.host.emu`)."""

from __future__ import annotations

import argparse
import json

from ..errors import CliError


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "emulate",
        help="run the firmware on an emulated RP2040 + ADS1299 chain and print its CPU/latency/loss budget",
        description=(
            "Boot MicroPython's RPI_PICO build in the rp2040js emulator (node) with the firmware as `perifacial "
            "flash --board picow` would install it, stream from an emulated 3 x ADS1299 chain and print the "
            "budget: emulated CPU busy fraction (cycles outside WFI/WFE), DRDY-to-read latency, ring high-water "
            "mark, samples lost, USB bytes/s. Emulated time is deterministic and a lower bound for silicon. "
            "Exit code 0 if no sample was lost, 1 if samples were lost, 2 if the emulator cannot run."
        ),
    )
    p.add_argument(
        "--uf2",
        metavar="PATH",
        default=None,
        help="MicroPython RPI_PICO .uf2 (default: firmware.uf2 of PERIFACIAL_RP2EMU or ../shared/rp2emu)",
    )
    p.add_argument(
        "--rate", type=int, choices=(500, 1000, 2000), default=1000, help="the board's data-rate setting, SPS (1000)"
    )
    p.add_argument("--seconds", type=float, default=5.0, help="emulated seconds to stream (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0:
        raise CliError(f"--seconds must be positive, got {args.seconds:g}")
    from perifacial.host.emu.runner import EmulatorUnavailable, find_paths

    try:
        find_paths(args.uf2)
    except EmulatorUnavailable as exc:
        raise CliError(str(exc)) from None
    import logging

    from perifacial.host.emu.budget import measure
    from perifacial.host.transport import TransportOpenError

    if args.verbose < 2:  # the budget counts every gap: no warning line per gap (thousands at an unmet budget)
        logging.getLogger("perifacial.host.board").setLevel(logging.ERROR)

    try:
        b = measure(rate=args.rate, seconds=args.seconds, uf2=args.uf2)
    except (TransportOpenError, EmulatorUnavailable) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(b.as_dict()))
    else:
        print(b.table())
    return 0 if b.samples_lost == 0 else 1
