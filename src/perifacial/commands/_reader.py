"""Shared options of the commands that read a recording: every such command reads every format through
:func:`perifacial.host.readers.load` (no heavy imports here: numpy and friends load inside the functions)."""

from __future__ import annotations

import argparse

from .options import positive_float_arg

FORMATS_HELP = (
    ".pfr, EDF/EDF+/BDF/BDF+, BIOPAC .acq or AcqKnowledge text, XDF, OpenBCI GUI .txt, BrainFlow "
    "(--board), CSV/TSV, NPZ"
)


def add_reader_arguments(p: argparse.ArgumentParser, fs_help: str | None = None) -> None:
    """``--fs --units --labels --channel-map --stream --board --format``."""
    g = p.add_argument_group("reading foreign recordings (" + FORMATS_HELP + ")")
    g.add_argument(
        "--fs",
        type=positive_float_arg,
        help=fs_help or "sampling rate in Hz, where the file has none (CSV without a time column)",
    )
    g.add_argument(
        "--units",
        metavar="UNIT[,UNIT...]",
        help="unit of the values where the file does not say (uV, mV, V; one, or one per channel)",
    )
    g.add_argument("--labels", metavar="A,B,...", help="channel names, comma separated")
    g.add_argument(
        "--channel-map",
        metavar="FILE",
        help="JSON/TOML file mapping channel labels to facial regions (region-aware spotting)",
    )
    g.add_argument("--stream", metavar="NAME", help="XDF: the stream to read (name or type)")
    g.add_argument(
        "--board",
        metavar="BOARD",
        help="BrainFlow board (id or name, e.g. CYTON_BOARD) of a file written by BrainFlow's write_file",
    )
    g.add_argument(
        "--format",
        dest="in_format",
        choices=("pfr", "edf", "bdf", "acq", "acq-text", "xdf", "openbci", "brainflow", "csv", "npz"),
        help="force the input format instead of detecting it",
    )


def reader_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`perifacial.host.readers.load` from parsed options (picklable)."""
    from perifacial.errors import CliError

    units = getattr(args, "units", None)
    if units is not None and "," in units:
        units = [u.strip() for u in units.split(",")]
    labels = getattr(args, "labels", None)
    if labels is not None:
        labels = [v.strip() for v in labels.split(",")]
    fs = getattr(args, "fs", None)
    if fs is not None and not fs > 0:
        raise CliError(f"--fs must be a positive rate in Hz, not {fs:g}")
    return {
        "fs": fs,
        "units": units,
        "labels": labels,
        "channel_map": getattr(args, "channel_map", None),
        "stream": getattr(args, "stream", None),
        "format": getattr(args, "in_format", None),
        "board": getattr(args, "board", None),
    }


def load_recording(path, args: argparse.Namespace | None = None, **kwargs):
    """:func:`perifacial.host.readers.load_file` with the command's options; every reading problem becomes a
    :class:`~perifacial.errors.CliError` that names the file."""
    from perifacial.errors import CliError, InvalidArgument
    from perifacial.host.readers import load_file

    opts = reader_options(args) if args is not None else {}
    opts.update(kwargs)
    try:
        return load_file(path, **opts)
    except InvalidArgument as exc:
        raise CliError(str(exc)) from None
