"""Lead-off safety interlock (firmware/interlock.py) and the USB-only commands, on the virtual board.

The expected currents are worked out from the ADS1299 datasheet's lead-off options (6 nA, 24 nA, 6 uA, 24 uA per
input, sourced on P and sunk on N of every enabled channel) and the montage (hardware/montage.json: four channels per
region share the region's reference), independently of the firmware's arithmetic: e.g. 6 uA x 4 inputs = 24 uA on a
reference electrode, over the 10 uA IEC 60601-1 DC patient auxiliary current limit."""

import json
from pathlib import Path

import pytest
from test_virtual_board import Host

from perifacial.firmware import interlock, wire
from perifacial.host.sim.virtual_board import VirtualBoard

MONTAGE = json.loads((Path(__file__).resolve().parents[2] / "hardware" / "montage.json").read_text())


def test_electrode_map_from_the_montage():
    p, n = interlock.electrode_map(MONTAGE, 24)
    for reg in MONTAGE["regions"]:
        for i, c in enumerate(reg["channels"]):
            assert p[c] == "%s%d" % (reg["code"], i + 1)
            assert n[c] == reg["reference"]["label"]
    assert len(set(n)) == 6 and all(n.count(x) == 4 for x in set(n))
    _, n1 = interlock.electrode_map(MONTAGE, 24, srb1=True)
    assert len(set(n1)) == 3 and all(n1.count(x) == 8 for x in set(n1))  # SRB1: one per chip
    _, n0 = interlock.electrode_map(None, 24)
    assert len(set(n0)) == 1  # no montage: worst case, every N input on one electrode


@pytest.fixture()
def usb():
    vb = VirtualBoard(seed=2)
    yield vb, Host(vb)
    vb.close()


def test_set_config_over_the_limit_names_electrode_and_current(usb):
    vb, h = usb
    r = h.cmd("set_config", lead_off={"current_na": 6000})
    assert not r["ok"]
    assert "'LU ref'" in r["error"] and "24000 nA" in r["error"] and "10 uA" in r["error"]
    assert vb.app.config["lead_off"] is None  # nothing applied
    # 24 uA on one channel: its recording electrode alone is over the limit
    en = [False] * 24
    en[5] = True
    r = h.cmd("set_config", enabled=en, lead_off={"current_na": 24000})
    assert not r["ok"] and "'LM2'" in r["error"] and "24000 nA" in r["error"]
    # 6 uA on one channel per reference: 6 uA through each electrode, allowed
    r = h.cmd("set_config", enabled=en, lead_off={"current_na": 6000})
    assert r["ok"] and r["config"]["lead_off"] == {"current_na": 6000, "ac": False}
    # SRB1 puts eight N inputs on one electrode: 8 x 6 uA refused even with a single channel's P... every channel on
    r = h.cmd("set_config", enabled=True, srb1=True, lead_off={"current_na": 6000})
    assert not r["ok"] and "SRB1" in r["error"] and "48000 nA" in r["error"]
    r = h.cmd("set_config", enabled=True, srb1=False, lead_off={"current_na": 24, "ac": True})
    assert r["ok"]  # 4 x 24 nA = 96 nA


def test_leadoff_command_over_the_limit_refused_within_it_runs(usb):
    vb, h = usb
    r = h.cmd("leadoff", current_na=6000)
    assert not r["ok"] and "'LU ref'" in r["error"] and "24000 nA" in r["error"]
    assert not h.cmd("leadoff", current_na=24000)["ok"]
    r = h.cmd("leadoff", current_na=24)
    assert r["ok"] and len(r["p"]) == 24
    r = h.cmd("impedance", current_na=24)  # AC excitation, within the limit
    assert r["ok"] and len(r["impedance_kohm"]) == 24


def test_bench_mode_lifts_the_interlock_and_is_reported_everywhere(usb):
    vb, h = usb
    assert h.cmd("identify")["bench"] is False
    assert h.cmd("bench", on=True) == {"id": h.seq, "ok": True, "bench": True}
    r = h.cmd("leadoff", current_na=6000)
    assert r["ok"]
    assert h.cmd("identify")["bench"] is True and h.cmd("status")["bench"] is True
    h.frames.clear()
    h.cmd("start")
    for _ in range(500):  # until two heartbeats (virtual time)
        h.pump()
        sts = [wire.unpack_status(p) for t, s, p in h.frames if t == wire.T_STATUS]
        if len(sts) >= 2:
            break
    assert len(sts) >= 2 and all(s["running"] & 2 for s in sts) and sts[-1]["running"] & 1
    h.cmd("stop")
    # leaving bench mode with an over-limit lead-off configured is refused (the config would be unsafe)
    assert h.cmd("set_config", lead_off={"current_na": 6000})["ok"]
    r = h.cmd("bench", on=False)
    assert not r["ok"] and "'LU ref'" in r["error"]
    assert h.cmd("set_config", lead_off=None)["ok"]
    assert h.cmd("bench", on=False)["bench"] is False
    assert not h.cmd("leadoff", current_na=6000)["ok"]


def test_wireless_link_refuses_bench_pair_repl_reboot():
    vb = VirtualBoard(seed=3, link_name="tcp")  # the firmware believes it is on Wi-Fi
    h = Host(vb)
    for name, args in (("bench", {"on": True}), ("pair", {"key": "00" * 32}), ("repl", {}), ("reboot", {})):
        r = h.cmd(name, **args)
        assert not r["ok"] and "only over USB" in r["error"], (name, r)
    assert not vb.app.exit_requested and vb.reboots == 0 and vb.app.auth.key is None
    # a key set at pairing time with remote_admin lets a rig reboot over the air
    vb.app.auth.pair("11" * 32, remote_admin=True)
    assert h.cmd("reboot")["ok"]
    h.pump(0.5)
    assert vb.reboots == 1 and vb.app.auth.key == bytes([0x11]) * 32  # the key survives the reboot
