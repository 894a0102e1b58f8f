"""``perifacial sync RECORDING``: align a video with the EMG through the digit display.

RECORDING is a perifacial recording (its sync log) or a sync-log CSV with columns value,sample,host_time,kind
(shown optional). Digits come from ``--observations OBS.csv`` (columns frame,digit; typed by a coder or written
by ``--save-observations``) or are read from ``--video FILE --roi x,y,w,h`` (needs ``pip install 'perifacial[video]'``).
The fit prints offset, drift (ppm), residual spread and rejected observations; ``--frame F --digit N`` maps one
frame to its EMG sample range; ``--events EVENTS.csv`` adds *_sample columns to *_frame columns and vice versa.
"""

from __future__ import annotations

import argparse
import sys

from .options import add_option, add_output_option, options_of


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sync",
        help="map video frames to EMG samples through the sync digit display",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recording", help="recording file, or a sync-log CSV (value,sample,host_time,kind)")
    p.add_argument("--observations", metavar="OBS.csv", help="digits seen in video frames: columns frame,digit")
    p.add_argument("--video", metavar="FILE", help="read the digits from this video (optional dependency)")
    p.add_argument("--roi", metavar="x,y,w,h", help="the display's digits in the video, pixels (with --video)")
    p.add_argument("--save-observations", metavar="OUT.csv", help="write the digits read from --video")
    p.add_argument("--fps", type=float, help="video frame rate (default with --video: the file's)")
    add_option(
        p,
        "--fs",
        deprecated=("--rate",),
        type=float,
        help="nominal EMG rate for the drift, samples/s (default: the recording's; for a CSV log, the "
        "rate measured on the host clock)",
    )
    p.add_argument(
        "--digits", type=int, help="digits of the display (capacity 10**digits; default: from the log, else 4)"
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="mean delay from sampling to the display change for host-driven logs, ms (default 0)",
    )
    p.add_argument("--frame", type=int, help="map this frame (with --digit) to its EMG sample range")
    p.add_argument("--digit", type=int, help="the digits seen in --frame")
    p.add_argument(
        "--events",
        metavar="EVENTS.csv",
        help="convert an events table: *_frame columns get *_sample twins and vice versa",
    )
    p.add_argument("--unit", choices=("frames", "samples"), help="unit of plain onset/apex/offset columns in --events")
    add_output_option(
        p, "where to write the converted events (default: stdout)", deprecated=("--out",), metavar="OUT.csv"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_handler)


def _handler(args: argparse.Namespace) -> int:
    import csv
    import io
    import json

    from perifacial.host.sync.align import align

    same = options_of(args, *"observations video roi save_observations fps fs digits frame digit events unit".split())
    res = align(args.recording, latency_s=args.latency_ms / 1e3, **same)
    text = list(res.lines)
    if res.events is not None:
        if args.output:
            with open(args.output, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=res.events_header)
                w.writeheader()
                w.writerows(res.events)
            text.append(f"wrote {len(res.events)} events to {args.output}")
        elif not args.json:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=res.events_header, lineterminator="\n")
            w.writeheader()
            w.writerows(res.events)
            text.append(buf.getvalue().rstrip("\n"))
    if args.json:
        json.dump(res.data, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
    else:
        print("\n".join(text))
    return 0
