"""``perifacial spot FILE``: spot expression intervals in a recording and print them as a table.

Input formats (for now; the host's recording loader will add its own): ``.npz`` with ``data`` ``[channels,
samples]`` (raw EMG, e.g. uV) and ``fs`` (Hz), or ``.csv`` with one row per sample and one column per channel
(an optional non-numeric header row is skipped; ``--fs`` is then required).
"""
from __future__ import annotations

import argparse
import sys

from perifacial.cli import mains_arg


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spot",
        help="spot expression intervals (ME/MaE, blinks, jaw artefacts) in a recording",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("file", help="recording: .npz (keys data, fs) or .csv (rows = samples, columns = channels)")
    p.add_argument("--fs", type=float, help="sampling rate in Hz (required for .csv; overrides the .npz value)")
    p.add_argument("--method", choices=("adaptive", "casmemg"), default="adaptive",
                   help="adaptive (default, long recordings) or casmemg (the lab's baseline, one clip)")
    p.add_argument("--envelope", action="store_true",
                   help="the file already holds envelopes (skip the band-pass/rectify/low-pass chain)")
    p.add_argument("--notch", type=mains_arg, default="auto", metavar="auto|off|HZ",
                   help="mains removal before the envelope: auto (default), off, or the frequency to force")
    p.add_argument("--all", action="store_true", help="also list blinks, jaw and other artefacts")
    p.add_argument("--csv", metavar="OUT", help="also write the events to this CSV file")
    p.set_defaults(func=_handler)


def _load(path: str, fs: float | None):
    import numpy as np

    from perifacial.cli import CliError

    low = path.lower()
    try:
        if low.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if "data" not in z:
                    raise CliError(f"{path}: no array 'data' in the .npz (keys: {', '.join(z.files)})")
                data = np.asarray(z["data"], dtype=np.float64)
                if fs is None:
                    if "fs" not in z:
                        raise CliError(f"{path}: no 'fs' in the .npz; give --fs")
                    fs = float(np.asarray(z["fs"]).reshape(-1)[0])
        elif low.endswith(".csv"):
            if fs is None:
                raise CliError("a .csv file needs --fs")
            with open(path, encoding="utf-8") as fh:
                first = fh.readline()
            skip = 0
            try:
                [float(v) for v in first.replace(";", ",").split(",") if v.strip()]
            except ValueError:
                skip = 1
            data = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2).T
        else:
            raise CliError(f"{path}: unsupported format (use .npz or .csv)")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(f"cannot parse {path}: {exc}") from None
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[1] == 0:
        raise CliError(f"{path}: expected [channels, samples] data, got shape {data.shape}")
    if not fs or fs <= 0:
        raise CliError(f"bad sampling rate {fs!r}")
    if not np.all(np.isfinite(data)):
        raise CliError(f"{path}: data contain NaN or inf")
    return data, float(fs)


def _handler(args: argparse.Namespace) -> int:
    import csv

    from perifacial.cli import CliError
    from perifacial.dsp.spotting import events_to_table, spot

    data, fs = _load(args.file, args.fs)
    labels = None
    if data.shape[0] == 24:
        from perifacial.dsp.montage import default_montage

        labels = default_montage().labels
    if args.envelope:
        env = data
    else:
        from perifacial.dsp.filters import linear_envelope

        band = (20.0, min(450.0, 0.45 * fs))  # the seed 003 band; its top lowered below Nyquist at 500 Hz
        try:
            env = linear_envelope(data, fs, band=band, notch=args.notch)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    try:
        events = spot(env if env.shape[0] > 1 else env[0], fs, method=args.method)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not args.all:
        events = [e for e in events if e.is_expression]
    rows = events_to_table(events, fs, labels)
    cols = ["onset_s", "offset_s", "duration_s", "kind", "region", "channel", "peak", "score", "onset", "offset"]
    out = sys.stdout
    out.write(f"# {args.file}: {data.shape[0]} channels, {data.shape[1]} samples at {fs:g} Hz, method {args.method}, "
              f"{len(rows)} events\n")
    fmt = "{:>9} {:>9} {:>8}  {:<10} {:<13} {:>7} {:>10} {:>7}\n"
    out.write(fmt.format("onset_s", "offset_s", "dur_s", "kind", "region", "channel", "peak", "score"))
    for r in rows:
        score = "" if r["score"] != r["score"] else f"{r['score']:.1f}"
        out.write(fmt.format(f"{r['onset_s']:.3f}", f"{r['offset_s']:.3f}", f"{r['duration_s']:.3f}", r["kind"],
                             r["region"] or "-", str(r["channel"]), f"{r['peak']:.3g}", score))
    if args.csv:
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        except OSError as exc:
            raise CliError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
    return 0
