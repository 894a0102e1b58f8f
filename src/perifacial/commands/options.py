"""The command line's ``argparse`` side: ``type=`` converters built on :mod:`perifacial.validate`'s checks (they
raise ``argparse.ArgumentTypeError`` so argparse prints ``argument --seconds: ...``), the option vocabulary shared by
the commands, and the top-level parser (:func:`build_parser`). Nothing outside ``perifacial.commands`` imports
argparse."""

from __future__ import annotations

import argparse
import importlib
import logging

from perifacial import __version__
from perifacial.errors import InvalidArgument
from perifacial.validate import integer, number

__all__ = [
    "positive_float_arg",
    "nonneg_float_arg",
    "positive_int_arg",
    "nonneg_int_arg",
    "fraction_arg",
    "mains_arg",
    "add_option",
    "add_output_option",
    "add_notch_option",
    "add_board_url",
    "add_remote_admin_option",
    "options_of",
    "build_parser",
    "one_line",
]

_log = logging.getLogger("perifacial.cli")


def _argtype(fn, **kw):
    def conv(text: str):
        try:
            return fn(text, "value", **kw)
        except InvalidArgument as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("value: ", "", 1)) from None

    conv.__name__ = fn.__name__
    return conv


positive_float_arg = _argtype(number, lo=0.0, lo_open=True)
nonneg_float_arg = _argtype(number, lo=0.0)
positive_int_arg = _argtype(integer, lo=1)
nonneg_int_arg = _argtype(integer, lo=0)
fraction_arg = _argtype(number, lo=0.0, hi=1.0, lo_open=True)


def mains_arg(text: str):
    """``--notch``: ``auto`` -> "auto" (find 50 or 60 Hz in the data), ``off``/``none`` -> None, 50 or 60 -> Hz."""
    t = str(text).strip().lower()
    if t == "auto":
        return "auto"
    if t in ("off", "none", "no"):
        return None
    try:
        v = float(t)
    except ValueError:
        v = float("nan")
    if v not in (50.0, 60.0):
        raise argparse.ArgumentTypeError(f"{text!r}: use auto, off, or the mains frequency 50 or 60 (Hz)")
    return v


def add_option(parser, *flags: str, deprecated: tuple[str, ...] = (), **kwargs):
    """``parser.add_argument(*flags, **kwargs)`` that also accepts the old spellings ``deprecated`` (e.g.
    ``--out`` for ``--output``): they work as before, are named in the help and log a warning when used.

    The CLI vocabulary (one name per thing, old names kept this way): ``-o/--output`` for what a command writes,
    ``--json`` a switch (JSON on stdout), ``--fs`` the sample rate of the data in Hz, ``--rate`` the board's
    data-rate setting in SPS (500/1000/2000, as ``sim://?rate=`` and the firmware's ``rate``), ``--seconds`` a
    duration."""
    if not deprecated:
        return parser.add_argument(*flags, **kwargs)
    new = next((f for f in flags if f.startswith("--")), flags[0])
    if "action" in kwargs:
        raise TypeError("add_option with deprecated spellings takes options with a value (no action=)")

    class _Deprecating(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            if option_string in deprecated:
                _log.warning("%s is deprecated: use %s", option_string, new)
            setattr(namespace, self.dest, values)

    help_text = kwargs.get("help")
    if help_text and help_text is not argparse.SUPPRESS:
        kwargs["help"] = f"{help_text} ({', '.join(deprecated)}: old spelling, deprecated)"
    kwargs.setdefault("dest", new.lstrip("-").replace("-", "_"))
    return parser.add_argument(*flags, *deprecated, action=_Deprecating, **kwargs)


def add_output_option(parser, help: str, *, deprecated: tuple[str, ...] = (), **kwargs):
    """``-o/--output``: what the command writes (a file or a folder, ``kwargs`` as for ``add_argument``), with its
    old spellings ``deprecated`` (see :func:`add_option`)."""
    return add_option(parser, "-o", "--output", deprecated=deprecated, help=help, **kwargs)


def add_notch_option(parser, help: str, default="auto"):
    """``--notch auto|off|HZ`` (:func:`mains_arg`): mains removal, as every command that makes envelopes has it."""
    return parser.add_argument("--notch", type=mains_arg, default=default, metavar="auto|off|HZ", help=help)


def add_board_url(parser, help: str):
    """The ``URL`` positional of a command that opens a board (``/dev/ttyACM0``, ``tcp://``, ``ble://``, ``sim://``;
    :func:`check_board_url` checks it)."""
    return parser.add_argument("url", metavar="URL", help=help)


def add_remote_admin_option(parser, help: str):
    """``--remote-admin``: the board also takes repl and reboot over its wireless links (off by default)."""
    return parser.add_argument("--remote-admin", action="store_true", help=help)


def options_of(args: argparse.Namespace, *names: str) -> dict:
    """The parsed options ``names`` as keyword arguments of the library call a command hands them to unchanged."""
    return {name: getattr(args, name) for name in names}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``perifacial CMD: error: MESSAGE (see perifacial CMD --help)``."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text) -> str:
    return " ".join(str(text).split())


def build_parser(command_modules) -> argparse.ArgumentParser:
    """The ``perifacial`` parser with the subcommands of ``command_modules`` (module names, in ``--help`` order)."""
    parser = _Parser(
        prog="perifacial",
        description=(
            "Record and analyse perifacial surface EMG (ADS1299 boards or the built-in virtual board sim://)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"perifacial {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules:
        importlib.import_module(name).register(sub)
    return parser
