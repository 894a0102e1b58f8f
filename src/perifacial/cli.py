"""The ``perifacial`` command line.

Each subcommand lives in the module that implements it and exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Modules are imported lazily by name so that ``perifacial --help`` stays fast; a module must not import numba
or other heavy dependencies at import time, only inside its handler.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ._version import __version__

#: Modules that provide subcommands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "perifacial.commands.demo",
    "perifacial.commands.record",
    "perifacial.commands.export",
    "perifacial.commands.mvc",
    "perifacial.commands.process",
    "perifacial.commands.coding",
    "perifacial.commands.monitor",
    "perifacial.commands.devices",
    "perifacial.commands.spot",
    "perifacial.commands.evaluate",
    "perifacial.commands.sync",
    "perifacial.commands.selftest",
    "perifacial.commands.flash",
    "perifacial.commands.emulate",
)


class CliError(Exception):
    """An error whose message is shown to the user as is (no traceback), with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perifacial",
        description=(
            "Record and analyse perifacial surface EMG (ADS1299 boards or the built-in virtual board sim://)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"perifacial {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except CliError as exc:
        print(f"perifacial {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"perifacial {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
