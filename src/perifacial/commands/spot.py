"""``perifacial spot FILE``: spot expression intervals in a recording and print them as a table.

Input formats: a ``.pfr`` recording from ``perifacial record``, ``.npz`` with ``data`` ``[channels, samples]`` (raw
EMG, e.g. uV) and ``fs`` (Hz), or ``.csv`` with one row per sample and one column per channel (an optional
non-numeric header row is skipped; ``--fs`` is then required). Gaps (NaN columns, e.g. samples a recording lost)
are allowed: every gap-free stretch is enveloped and spotted on its own, and no event spans a gap.
"""
from __future__ import annotations

import argparse
import sys

from ..validate import check_output_file, positive_float_arg


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spot",
        help="spot expression intervals (ME/MaE, blinks, jaw artefacts) in a recording",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("file", help="recording: .pfr, .npz (keys data, fs) or .csv (rows = samples, columns = channels)")
    p.add_argument("--fs", type=positive_float_arg, help="sampling rate in Hz (required for .csv; overrides the .npz value)")
    p.add_argument("--method", choices=("adaptive", "casmemg"), default="adaptive",
                   help="adaptive (default, long recordings) or casmemg (the lab's baseline, one clip)")
    p.add_argument("--envelope", action="store_true",
                   help="the file already holds envelopes (skip the band-pass/rectify/low-pass chain)")
    p.add_argument("--notch", type=float, choices=(50.0, 60.0), help="mains notch before the envelope")
    p.add_argument("--all", action="store_true", help="also list blinks, jaw and other artefacts")
    p.add_argument("--csv", metavar="OUT", help="also write the events to this CSV file")
    p.set_defaults(func=_handler)


def _load(path: str, fs: float | None):
    import numpy as np

    from perifacial.cli import CliError

    low = path.lower()
    try:
        if low.endswith(".pfr"):
            from perifacial.host.recording import load

            rec = load(path)
            data = rec.data
            fs = fs or rec.fs
        elif low.endswith(".npz"):
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
            raise CliError(f"{path}: unsupported format (use .pfr, .npz or .csv)")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, EOFError, KeyError) as exc:
        raise CliError(f"cannot parse {path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile: a truncated or damaged .npz
        if type(exc).__name__ != "BadZipFile":
            raise
        raise CliError(f"cannot read {path}: damaged or truncated .npz ({exc})") from None
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[1] == 0:
        raise CliError(f"{path}: expected [channels, samples] data, got shape {data.shape}")
    if not fs or fs <= 0:
        raise CliError(f"bad sampling rate {fs!r}")
    if np.isinf(data).any():
        raise CliError(f"{path}: data contain inf (NaN marks gaps; inf is not a sample)")
    if not np.isfinite(data).any():
        raise CliError(f"{path}: no finite samples")
    return data, float(fs)


def _handler(args: argparse.Namespace) -> int:
    import csv

    from perifacial.cli import CliError
    from perifacial.dsp.spotting import events_to_table
    from perifacial.host.workflow.gapped import spot_gapped

    if args.csv:
        check_output_file(args.csv, overwrite=True, what="--csv")
    data, fs = _load(args.file, args.fs)
    labels = None
    if data.shape[0] == 24:
        from perifacial.dsp.montage import default_montage

        labels = default_montage().labels
    try:  # the Li et al. 2024 [arXiv:2409.00017] band (its top lowered below Nyquist at 500 Hz), per gap-free stretch
        res = spot_gapped(data, fs, method=args.method, is_envelope=args.envelope, notch=args.notch)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    events = res.events
    if not args.all:
        events = [e for e in events if e.is_expression]
    rows = events_to_table(events, fs, labels)
    cols = ["onset_s", "offset_s", "duration_s", "kind", "region", "channel", "peak", "score", "onset", "offset"]
    out = sys.stdout
    gaps = f", {len(res.segments) - 1 + len(res.skipped)} gaps (stretches spotted separately)" if (
        len(res.segments) + len(res.skipped) > 1) else ""
    out.write(f"# {args.file}: {data.shape[0]} channels, {data.shape[1]} samples at {fs:g} Hz, method {args.method}, "
              f"{len(rows)} events{gaps}\n")
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
