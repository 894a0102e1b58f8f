"""``perifacial pair PORT``: give a board a new random key over USB and store it for this host."""

from __future__ import annotations

import argparse

from ..errors import CliError
from .options import add_remote_admin_option


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "pair",
        help="pair a board over USB: new random key on the board and in this host's key store",
        description=(
            "Pairing needs the USB cable (physical access is the proof): the board stores a new random key, this "
            "host stores the same key under the board's id (one file, mode 0600, in the user's config folder or "
            "$PERIFACIAL_KEYS_DIR). Wireless sessions (tcp://) then authenticate with it automatically. Pairing "
            "again replaces the key (hosts holding the old one are locked out)."
        ),
    )
    p.add_argument("port", metavar="PORT", help="the board's USB serial port: /dev/ttyACM0, COM3 (sim:// for tests)")
    add_remote_admin_option(p, "also allow repl and reboot over the wireless links (test rigs without a participant)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from perifacial.host.board import BoardError, BoardTimeout, open_board
    from perifacial.host.pairing import pair
    from perifacial.host.transport import TransportError

    scheme = args.port.split("://", 1)[0].lower() if "://" in args.port else ""
    if scheme in ("tcp", "ble", "socket", "rfc2217"):
        raise CliError(
            f"{args.port!r}: pairing works over USB only (physical access is the proof); plug the board "
            "in and give its serial port, e.g. /dev/ttyACM0 or COM3"
        )
    try:
        with open_board(args.port) as board:
            board_id, path = pair(board, remote_admin=args.remote_admin)
    except (TransportError, BoardTimeout) as exc:
        raise CliError(str(exc)) from exc
    except BoardError as exc:
        raise CliError(f"the board refused pairing: {exc}") from exc
    extra = " (repl/reboot allowed over the air)" if args.remote_admin else ""
    print(f"paired board {board_id}{extra}; key stored in {path}")
    return 0
