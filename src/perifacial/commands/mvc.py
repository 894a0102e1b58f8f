"""``perifacial mvc URL -o participant.mvc.json [--participant ID] [--yes]``: the guided MVC calibration session."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import CliError
from ..validate import check_board_url, check_output_file
from .options import (
    add_board_url,
    add_notch_option,
    add_output_option,
    nonneg_float_arg,
    positive_float_arg,
    positive_int_arg,
)


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "mvc",
        help="guided MVC calibration: seven facial movements x 3 maximal repetitions -> calibration file",
        description=(
            "Guides the participant through the seven movements of Li et al. 2024 [arXiv:2409.00017] (brow raise, "
            "frown, eye squeeze, nose "
            "wrinkle, smile, lip press/pucker, mouth corners down), 3 maximal repetitions each, with prompts and "
            "countdowns on stderr; records the session (FILE with .pfr instead of .json), builds the per-channel "
            "MVC calibration and prints which channels responded to which movement. A channel that responds to "
            "no movement refuses the calibration (exit 2, the channel is named). On sim:// a simulated participant "
            "follows the prompts."
        ),
    )
    add_board_url(p, "board: /dev/ttyACM0, tcp://HOST:PORT, ble://NAME or sim://?seed=1")
    add_output_option(p, "calibration file to write (.mvc.json)", required=True, type=Path)
    p.add_argument("--participant", default="", help="participant ID stored in the calibration")
    p.add_argument("--yes", action="store_true", help="start without waiting for Enter (unattended, tests)")
    p.add_argument("--overwrite", action="store_true", help="replace the output files if they exist")
    add_notch_option(p, "mains removal in the envelope chain: auto (default, as in process), off, or the frequency")
    p.add_argument(
        "--min-ratio",
        type=positive_float_arg,
        default=5.0,
        help="a channel responds if its peak exceeds this x its resting noise floor (5)",
    )
    g = p.add_argument_group("timing (seconds)")
    g.add_argument("--baseline", type=positive_float_arg, default=5.0, help="initial rest (5)")
    g.add_argument("--prepare", type=nonneg_float_arg, default=3.0, help="announcement + countdown per movement (3)")
    g.add_argument("--contract", type=positive_float_arg, default=3.0, help="each maximal contraction (3)")
    g.add_argument("--rest", type=positive_float_arg, default=3.0, help="rest after each contraction (3)")
    g.add_argument("--repetitions", type=positive_int_arg, default=3, help="repetitions per movement (3)")
    p.set_defaults(func=run)
    return p


def _sim_participant(url: str, protocol):
    """A SimulatedParticipant for sim:// URLs that use the default synthetic source, else None."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() != "sim":
        return None
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if q.get("source", "synth").lower() not in ("synth", "default", ""):
        return None
    from perifacial.host.sim.participant import SimulatedParticipant

    return SimulatedParticipant(protocol, fs=float(q.get("rate", 1000)), seed=int(q.get("seed", 0)))


def run(args: argparse.Namespace) -> int:
    from perifacial.host.board import BoardError, BoardTimeout, open_board
    from perifacial.host.transport import TransportError
    from perifacial.host.workflow.mvc_session import (
        DeadChannelError,
        MvcProtocol,
        format_response_table,
        run_mvc_session,
    )

    out: Path = check_output_file(args.output, overwrite=args.overwrite, what="-o")
    check_board_url(args.url)
    raw = out.with_name(out.name[:-5] + ".pfr" if out.name.endswith(".json") else out.name + ".pfr")
    for f in (out, raw):
        if f.exists() and not args.overwrite:
            raise CliError(f"{f} exists: choose another name or pass --overwrite")
    if not out.parent.exists():
        raise CliError(f"folder {out.parent} does not exist")
    if min(args.contract, args.rest, args.baseline) <= 0.5 or args.prepare < 0 or args.repetitions < 1:
        raise CliError("--baseline/--contract/--rest must be > 0.5 s, --repetitions >= 1")
    protocol = MvcProtocol(
        repetitions=args.repetitions,
        baseline_s=args.baseline,
        prepare_s=args.prepare,
        contract_s=args.contract,
        rest_s=args.rest,
    )
    participant = _sim_participant(args.url, protocol)
    try:
        board = open_board(args.url, **({"source": participant} if participant is not None else {}))
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(str(exc)) from exc
    print(
        f"MVC calibration: {len(protocol.movements)} movements x {protocol.repetitions} repetitions, "
        f"{protocol.duration_s:.0f} s",
        file=sys.stderr,
    )
    for i, m in enumerate(protocol.movements, 1):
        print(f"  {i}. {m.instruction} ({m.target})", file=sys.stderr)
    if not args.yes:
        try:
            input("Press Enter when the participant is ready (Ctrl-C to abort)... ")
        except EOFError:
            raise CliError("no terminal input: pass --yes to run unattended") from None

    def prompt(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        res = run_mvc_session(board, protocol, raw, prompt, args.participant, args.notch, args.min_ratio)
    except DeadChannelError as exc:
        raise CliError(f"calibration refused: {exc} (session recorded in {raw})") from exc
    except (TransportError, BoardTimeout, BoardError) as exc:
        raise CliError(f"{exc} (what was received is in {raw})") from exc
    except ValueError as exc:
        raise CliError(f"calibration failed: {exc} (session recorded in {raw})") from exc
    finally:
        board.close()
    d = res.calibration.to_dict()
    d["session"] = {
        "recording": str(raw),
        "movements": res.movements,
        "movement_per_channel": {lab: res.movements[int(b)] for lab, b in zip(res.labels, res.best)},
        "responses_uv": {
            lab: [None if v != v else round(float(v), 4) for v in row] for lab, row in zip(res.labels, res.responses)
        },
    }
    out.write_text(json.dumps(d, indent=1), encoding="utf-8")
    print(format_response_table(res))
    print(f"{out}: MVC of {len(res.labels)} channels (participant {args.participant or '-'}); session in {raw}")
    return 0
