"""``perifacial devices``: serial ports and nearby BLE boards."""

from __future__ import annotations

import argparse

from .options import nonneg_float_arg

BLE_HINT = "finding BLE boards needs bleak: pip install 'perifacial[ble]'"


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "devices",
        help="list serial ports and nearby BLE boards",
        description="List serial ports (with USB ids) and, where Bluetooth works, BLE boards advertising the "
        "perifacial service. sim:// (the virtual board) is always available.",
    )
    p.add_argument("--ble-seconds", type=nonneg_float_arg, default=3.0, help="BLE scan time (0 = skip BLE)")
    p.add_argument("--all", action="store_true", help="also list ports without a USB id")
    p.set_defaults(func=run)
    return p


def list_serial(show_all: bool = False) -> list[dict]:
    from serial.tools import list_ports

    out = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        if p.vid is None and not show_all:
            continue
        out.append(
            {
                "url": p.device,
                "description": p.description or "",
                "usb": f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "",
                "serial": p.serial_number or "",
                "micropython": (p.manufacturer or "").lower().startswith("micropython") or p.vid == 0x2E8A,
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    ports = list_serial(args.all)
    print("serial ports:")
    if not ports:
        print("  (none found; plug the board in over USB, or use sim:// for the virtual board)")
    for p in ports:
        tag = "  <- MicroPython" if p["micropython"] else ""
        print(f"  {p['url']:<16} {p['usb']:<10} {p['description']}{tag}")
    if args.ble_seconds > 0:
        print("BLE boards:")
        from perifacial.host.transport import TransportError

        try:
            from perifacial.host.ble import scan

            found = scan(args.ble_seconds)
        except ImportError:
            print(f"  (not scanned: {BLE_HINT})")
        except (RuntimeError, TransportError) as exc:
            msg = str(exc)
            if "bleak" in msg and "pip install" in msg:
                print(f"  (not scanned: {BLE_HINT})")
            else:  # no adapter, no BlueZ/D-Bus...
                print(f"  ({msg if msg.startswith('BLE') else 'BLE unavailable: ' + msg}; serial and TCP boards work)")
        else:
            if not found:
                print("  (none advertising)")
            for d in found:
                print(f"  {d['url']:<24} {d['name']:<20} RSSI {d['rssi']}")
    print("virtual board:\n  sim://?seed=0&realtime=1")
    return 0
