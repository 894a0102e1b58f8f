# Board entry point: read /board.json, bring up the link, the display and the application, run the main loop.
#
# /board.json is one of hardware/boards/*.json (copied by `perifacial flash`). Optional /wifi.json:
# {"ssid": "...", "password": "..."} for the TCP link; /montage.json for the lead-off interlock; /auth.json holds
# the pairing key (written by the `pair` command over USB).
import json
import time

import machine
import micropython
from app import App
from tm1637 import TM1637, NullDisplay

micropython.alloc_emergency_exception_buf(200)


def load_profile(path="/board.json"):
    with open(path) as f:
        return json.load(f)


def wifi_up():
    import network
    import wifi

    with open("/wifi.json") as f:
        cred = json.load(f)
    # retries with backoff (never raises to the REPL); progress on the USB console for whoever is watching
    return wifi.join(network, cred["ssid"], cred["password"], time, log=print)


def load_montage(path="/montage.json"):
    """The montage the lead-off interlock reads (copied by `perifacial flash`); None: assume the worst case."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def make_link(profile):
    import links

    lp = profile.get("link", {})
    kind = lp.get("type", "usb")
    if kind == "tcp":
        wifi_up()
        return links.TcpLink(lp.get("tcp_port", 4242)), kind  # authenticated: see auth.py
    if kind == "ble":
        return links.BleLink(lp.get("ble_name", "perifacial"), notify_per_s=lp.get("ble_notify_per_s", 200)), kind
    return links.UsbLink(capacity=lp.get("usb_bytes_per_s"), limit=lp.get("usb_limit")), "usb"


def make_display(profile):
    dp = profile.get("display")
    if not dp:
        return NullDisplay()
    Pin = machine.Pin
    return TM1637(Pin(dp["clk"], Pin.OUT), Pin(dp["dio"], Pin.OUT), time)


def main():
    profile = load_profile()
    link, kind = make_link(profile)
    app = App(profile, machine, time, link, display=make_display(profile), link_name=kind, montage=load_montage())
    app.run()


main()
