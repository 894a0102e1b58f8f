"""``perifacial export FILE --to bdf|csv|npz``: convert a recording."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import CliError
from ..validate import check_input_file, check_output_file

FORMATS = ("bdf", "csv", "npz")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="convert a recording to BDF+ (24-bit, lossless), CSV or NPZ",
        description=(
            "BDF+: the ADC codes exactly, in uV, with channel labels, prefilter text and annotations for markers, "
            "display changes and gaps (samples inside gaps are 0 there and listed as annotations). CSV: one row per "
            "sample (sample, time_s, channels in uV; nan inside gaps), plus FILE.markers.csv with gaps, markers and "
            "display changes (never FILE.events.csv, which is `perifacial process`'s). NPZ: data (uV, NaN in gaps), codes, "
            "fs, labels, gaps, markers, sync."
        ),
    )
    p.add_argument("file", type=Path, metavar="FILE", help="recording made by `perifacial record`")
    p.add_argument("--to", required=True, choices=FORMATS, help="output format")
    p.add_argument("-o", "--output", type=Path, default=None, help="output file (default: FILE with the new suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from perifacial.host import export
    from perifacial.host.recording import load

    if not args.file.exists():
        raise CliError(f"{args.file} does not exist")
    check_input_file(args.file, what="FILE")
    out = check_output_file(args.output or args.file.with_suffix("." + args.to), overwrite=args.overwrite,
                            what="-o")
    if args.to == "csv":
        check_output_file(export.csv_sidecar(out), overwrite=args.overwrite, what="-o (its markers table)")
    try:
        rec = load(args.file)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    try:
        fn = {"bdf": export.to_bdf, "csv": export.to_csv, "npz": export.to_npz}[args.to]
        fn(rec, out)
    except ImportError as exc:
        raise CliError(str(exc) if "pip install" in str(exc) else
                       f"{args.to} export needs an optional package ({exc}): pip install 'perifacial[{args.to}]'") from None
    print(f"{out}: {rec.n_channels} channels x {rec.n_samples} samples ({rec.duration_s:.1f} s), "
          f"{len(rec.gaps)} gaps, {len(rec.markers)} markers")
    return 0
