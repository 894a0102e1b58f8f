"""``perifacial serve sim:// --tcp HOST:PORT``: serve the virtual board over its authenticated TCP link."""

from __future__ import annotations

import argparse
import sys

from ..errors import CliError
from .options import add_board_url, add_remote_admin_option


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help="serve the virtual board over TCP (authenticated, like a Wi-Fi board), pairing this machine",
        description=(
            "Run the virtual board (the firmware's own code on the ADS1299 model) in real time behind the firmware's "
            "TCP link: challenge-response with a pairing key, one owner, keepalive. The board gets a new random key "
            "and this machine stores it (as `perifacial pair` would), so `perifacial record tcp://HOST:PORT` works "
            "here with no extra step. Other machines need the key (tcp://HOST:PORT?key=HEX). Stop with Ctrl-C."
        ),
    )
    add_board_url(p, "the virtual board and its options, e.g. sim://?seed=1&rate=1000")
    p.add_argument("--tcp", required=True, metavar="HOST:PORT", help="address to listen on, e.g. 127.0.0.1:4242")
    add_remote_admin_option(p, "allow repl/reboot over TCP (rigs only; off by default, as on a real board)")
    p.set_defaults(func=run)
    return p


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CliError(f"--tcp {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4242")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    from perifacial.host.serve import serve_virtual
    from perifacial.host.transport import TransportOpenError

    host, port = parse_hostport(args.tcp)
    if not args.url.startswith("sim:"):
        raise CliError(f"{args.url!r}: only the virtual board (sim://...) can be served")

    def ready(served) -> None:
        print(
            f"virtual board {served.board_id} on {served.url} (key stored in {served.key_file}); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve_virtual(args.url, host, port, ready=ready, remote_admin=args.remote_admin)
    except (TransportOpenError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    return 0
