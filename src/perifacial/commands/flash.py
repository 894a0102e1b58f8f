"""``perifacial flash PORT --board NAME``: compile the firmware, copy it with mpremote, verify, reset, identify."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import CliError

BOARD_CHOICES = ("pico2w", "picow", "esp32s3")
LINK_CHOICES = ("usb", "tcp", "ble")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "flash",
        help="compile the firmware with mpy-cross and put it on a board with mpremote",
        description=(
            "Compile every firmware module with mpy-cross for the board's architecture (main.py/boot.py stay "
            "source), copy them and the board profile (as /board.json) with mpremote, verify their SHA-256 on "
            "the board, reset it and check that the firmware answers. --dry-run only builds and prints the plan."
        ),
    )
    p.add_argument("port", metavar="PORT", help="serial port of the board's REPL, e.g. /dev/ttyACM0 or COM5")
    p.add_argument("--board", required=True, choices=BOARD_CHOICES, help="board profile (hardware/boards/NAME.json)")
    p.add_argument(
        "--dry-run", action="store_true", help="build and print files, sizes, hashes and commands; touch no port"
    )
    p.add_argument(
        "--link",
        choices=LINK_CHOICES,
        help="link the firmware uses after reset (the `link` section of /board.json; default: the profile's)",
    )
    p.add_argument("--wifi-ssid", help="Wi-Fi network for --link tcp (written to /wifi.json)")
    p.add_argument(
        "--wifi-password", help="Wi-Fi password (or set PERIFACIAL_WIFI_PASSWORD to keep it out of the shell history)"
    )
    p.add_argument("--tcp-port", type=int, help="TCP port the firmware listens on (--link tcp; firmware default 4242)")
    p.add_argument("--ble-name", help="BLE advertising name (--link ble)")
    p.add_argument("--build-dir", type=Path, help="keep the build in this folder (default: a temp folder)")
    p.add_argument("--no-identify", action="store_true", help="do not check that the firmware answers after the reset")
    p.add_argument(
        "--check-url", help="where to send the identify command after the reset (default: PORT for a USB link)"
    )
    p.set_defaults(func=run)
    return p


def link_config(args: argparse.Namespace) -> tuple[dict | None, dict | None]:
    """``(link, wifi)`` from the options: the ``link`` section for /board.json (None: keep the profile's) and the
    ``{"ssid", "password"}`` for /wifi.json (None: leave the board's as it is)."""
    password = args.wifi_password if args.wifi_password is not None else os.environ.get("PERIFACIAL_WIFI_PASSWORD")
    wifi_given = args.wifi_ssid is not None or args.wifi_password is not None
    tcp_given = wifi_given or args.tcp_port is not None
    if args.link is None and not (tcp_given or args.ble_name is not None):
        return None, None
    kind = args.link or ("tcp" if tcp_given else "ble")
    if kind != "tcp" and tcp_given:
        raise CliError(f"--wifi-ssid/--wifi-password/--tcp-port only apply to --link tcp, not --link {kind}")
    if kind != "ble" and args.ble_name is not None:
        raise CliError(f"--ble-name only applies to --link ble, not --link {kind}")
    link: dict = {"type": kind}
    wifi = None
    if kind == "tcp":
        if not args.wifi_ssid:
            raise CliError(
                "--link tcp needs --wifi-ssid (and the password in --wifi-password or PERIFACIAL_WIFI_PASSWORD)"
            )
        wifi = {"ssid": args.wifi_ssid, "password": password or ""}
        if args.tcp_port is not None:
            if not 0 < args.tcp_port < 65536:
                raise CliError(f"--tcp-port {args.tcp_port} is not a TCP port")
            link["tcp_port"] = args.tcp_port
    elif kind == "ble" and args.ble_name:
        link["ble_name"] = args.ble_name
    return link, wifi


def run(args: argparse.Namespace) -> int:
    from perifacial.host.flash import FlashError, flash  # lazy: keeps `perifacial --help` fast

    link, wifi = link_config(args)
    try:
        flash(
            args.port,
            args.board,
            link=link,
            wifi=wifi,
            dry_run=args.dry_run,
            build_dir=args.build_dir,
            identify=not args.no_identify,
            check_url=args.check_url,
        )
    except FlashError as exc:
        raise CliError(str(exc)) from None
    return 0
