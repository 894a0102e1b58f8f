"""The ``perifacial`` command line.

Each subcommand lives in the module that implements it and exposes ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
Modules are imported lazily by name so that ``perifacial --help`` stays fast; a module must not import numba
or other heavy dependencies at import time, only inside its handler.
"""

from __future__ import annotations

import logging
import sys

from .commands.options import one_line as _one_line
from .errors import CliError, PerifacialError

__all__ = ["COMMAND_MODULES", "CliError", "build_parser", "main"]  # CliError: kept here for old imports

#: Modules that provide subcommands, in the order they appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "perifacial.commands.demo",
    "perifacial.commands.record",
    "perifacial.commands.export",
    "perifacial.commands.mvc",
    "perifacial.commands.process",
    "perifacial.commands.study",
    "perifacial.commands.coding",
    "perifacial.commands.monitor",
    "perifacial.commands.devices",
    "perifacial.commands.spot",
    "perifacial.commands.evaluate",
    "perifacial.commands.sync",
    "perifacial.commands.selftest",
    "perifacial.commands.flash",
    "perifacial.commands.pair",
    "perifacial.commands.serve",
    "perifacial.commands.emulate",
    "perifacial.commands.montage",
)


def build_parser():
    """The ``perifacial`` argparse parser with every command of :data:`COMMAND_MODULES`."""
    from .commands.options import build_parser as _build

    return _build(COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # configured before parsing so that a deprecated option spelling is logged in the usual format
    ours = not logging.getLogger().handlers  # as logging.basicConfig: leave a configured logging alone
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error, already printed on one line: its exit code (--help still exits)
        if not exc.code:
            raise
        return exc.code if isinstance(exc.code, int) else 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if ours:
        logging.getLogger().setLevel(level)
    # --quiet: no log line per gap (every command still reports the gap totals)
    logging.getLogger("perifacial.gaps").setLevel(logging.ERROR if getattr(args, "quiet", False) else logging.NOTSET)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except (PerifacialError, OSError) as exc:  # expected: bad input, missing file, link or disk trouble
        if args.debug:
            raise
        print(f"perifacial {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"perifacial {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback with --debug
        if args.debug:
            raise
        print(
            f"perifacial {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with "
            "--debug for the traceback and please report it)",
            file=sys.stderr,
        )
        return 3


def _describe(exc: BaseException) -> str:
    """One line: the library's message, or for a bare OSError its reason and file."""
    if isinstance(exc, OSError) and not isinstance(exc, PerifacialError):
        name = exc.filename
        text = exc.strerror or str(exc)
        return _one_line(f"{name}: {text}" if name else text)
    return _one_line(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
