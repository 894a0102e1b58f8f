"""``perifacial spot FILE``: spot expression intervals in a recording and print them as a table.

FILE is any recording perifacial reads (.pfr, EDF/BDF, BIOPAC .acq and AcqKnowledge text, XDF, OpenBCI,
CSV/TSV/NPZ; see ``perifacial.host.readers``). A CSV without a time column needs ``--fs``; a file without units
is read as microvolts unless ``--units`` says otherwise. Non-EMG channels (skin conductance, force, stimulus
waves) are left out. Without region context (a perifacial recording, 24 unlabelled channels, or ``--channel-map``)
every channel is spotted on its own and the table says so.
Gaps (NaN columns, e.g. samples a recording lost) are allowed: every gap-free stretch is enveloped and spotted
on its own, and no event spans a gap.
"""

from __future__ import annotations

import argparse
import sys

from ..validate import check_output_file
from ._reader import add_reader_arguments
from .options import add_notch_option, add_output_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spot",
        help="spot expression intervals (ME/MaE, blinks, jaw artefacts) in a recording",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("file", help="recording (any supported format; e.g. .pfr, .bdf, .acq, .xdf, .csv with --fs)")
    p.add_argument(
        "--method",
        choices=("adaptive", "casmemg"),
        default="adaptive",
        help="adaptive (default, long recordings) or casmemg (the lab's baseline, one clip)",
    )
    p.add_argument(
        "--envelope",
        action="store_true",
        help="the file already holds envelopes (skip the band-pass/rectify/low-pass chain)",
    )
    add_notch_option(p, "mains removal before the envelope: auto (default), off, or the frequency to force")
    p.add_argument("--all", action="store_true", help="also list blinks, jaw and other artefacts")
    add_output_option(p, "also write the events to this CSV file", deprecated=("--csv",), metavar="OUT.csv")
    add_reader_arguments(p, "sampling rate in Hz (required for a CSV without a time column; overrides an .npz's)")
    p.set_defaults(func=_handler)


def _load(path: str, args):
    """(data [channels, samples] of the EMG channels, fs, labels, montage or None, note about regions)."""
    import numpy as np

    from perifacial.errors import CliError

    from ._reader import load_recording

    rec = load_recording(path, args)
    emg = rec.pick_emg()
    if emg.n_channels == 0:
        raise CliError(
            f"{path}: no EMG channel (channel types: {', '.join(rec.types)}); give --units for a file "
            "whose voltage unit is not stated"
        )
    data = emg.data
    if data.ndim != 2 or data.shape[1] == 0:
        raise CliError(f"{path}: expected [channels, samples] data, got shape {data.shape}")
    if np.isinf(data).any():
        raise CliError(f"{path}: data contain inf (NaN marks gaps; inf is not a sample)")
    if not np.isfinite(data).any():
        raise CliError(f"{path}: no finite samples")
    montage, note = emg.montage, ""
    default_labels = [f"CH{i + 1}" for i in range(emg.n_channels)]
    if montage is None and emg.n_channels == 24 and list(emg.labels) == default_labels:
        from perifacial.dsp.montage import default_montage

        montage = default_montage()
        note = "24 unlabelled channels: assuming the perifacial 24-channel montage"
    elif montage is None:
        note = (
            "no region context (no channel map): every channel is spotted on its own; ME/MaE are typed by "
            "duration only, not told from blinks or jaw artefacts (give --channel-map)"
        )
    labels = list(montage.labels) if montage is not None and note.startswith("24") else list(emg.labels)
    return data, float(emg.fs), labels, montage, note


def _handler(args: argparse.Namespace) -> int:
    import csv

    from perifacial.dsp.spotting import events_to_table
    from perifacial.errors import CliError
    from perifacial.host.workflow.gapped import spot_gapped

    if args.output:
        check_output_file(args.output, overwrite=True, what="--output")
    data, fs, labels, montage, note = _load(args.file, args)
    kw = {"montage": montage} if montage is not None and data.shape[0] > 1 else {}
    try:  # the Li et al. 2024 [arXiv:2409.00017] band (its top lowered below Nyquist at 500 Hz), per gap-free stretch
        res = spot_gapped(data, fs, method=args.method, is_envelope=args.envelope, notch=args.notch, **kw)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    events = res.events
    if not args.all:
        events = [e for e in events if e.is_expression]
    rows = events_to_table(events, fs, labels)
    cols = ["onset_s", "offset_s", "duration_s", "kind", "region", "channel", "peak", "score", "onset", "offset"]
    out = sys.stdout
    gaps = (
        f", {len(res.segments) - 1 + len(res.skipped)} gaps (stretches spotted separately)"
        if (len(res.segments) + len(res.skipped) > 1)
        else ""
    )
    out.write(
        f"# {args.file}: {data.shape[0]} channels, {data.shape[1]} samples at {fs:g} Hz, method {args.method}, "
        f"{len(rows)} events{gaps}\n"
    )
    if note:
        out.write(f"# {note}\n")
    fmt = "{:>9} {:>9} {:>8}  {:<10} {:<13} {:>7} {:>10} {:>7}\n"
    out.write(fmt.format("onset_s", "offset_s", "dur_s", "kind", "region", "channel", "peak", "score"))
    for r in rows:
        score = "" if r["score"] != r["score"] else f"{r['score']:.1f}"
        out.write(
            fmt.format(
                f"{r['onset_s']:.3f}",
                f"{r['offset_s']:.3f}",
                f"{r['duration_s']:.3f}",
                r["kind"],
                r["region"] or "-",
                str(r["channel"]),
                f"{r['peak']:.3g}",
                score,
            )
        )
    if args.output:
        try:
            with open(args.output, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return 0
