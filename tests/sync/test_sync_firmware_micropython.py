"""The display board's protocol and command loop run under the real MicroPython runtime (WebAssembly, node) and
produce byte-identical echoes to CPython's."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from perifacial.firmware.syncdisplay import proto

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "firmware" / "syncdisplay"
MPY = ROOT / "tests" / "mpy"

SCRIPT = r"""
import binascii
import proto
import main

class Led:
    digits = 4
    def __init__(self):
        self.shown = []
    def show(self, v):
        self.shown.append(v)
    def blank(self):
        self.shown.append(-1)
    def brightness(self, level):
        pass

t = [0]
def ticks():
    t[0] += 1000
    return t[0]

led = Led()
app = main.App(led, ticks)
reader = proto.FrameReader(proto.CMD_MAGIC, proto.CMD_SIZE)
stream = binascii.unhexlify(STREAM)
out = b""
for i in range(0, len(stream), 5):  # arrives in pieces
    for frame in reader.feed(stream[i:i + 5]):
        out += app.handle(frame, reader.bad)
print(binascii.hexlify(out).decode())
print(led.shown)

# the shared TM1637 driver behind the adapter main.py uses on a real board
import tm1637

class Pin:
    def __init__(self):
        self.edges = 0
    def value(self, v=None):
        self.edges += 1

class T:
    @staticmethod
    def sleep_us(us):
        pass

clk = Pin()
digits = main.Tm1637Digits(tm1637.TM1637(clk, Pin(), T, 4))
app2 = main.App(digits, ticks)
app2.handle(proto.pack_command(proto.OP_SHOW, 98765, 1))
app2.handle(proto.pack_command(proto.OP_BRIGHTNESS, 0, 2, 2))
print(digits.tm.value, digits.tm.brightness, clk.edges > 50)
"""


def _runtime_or_skip():
    pkg = MPY / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
    if shutil.which("node") is None or not pkg.exists() or not (MPY / "run.mjs").exists():
        if os.environ.get("PERIFACIAL_REQUIRE_MICROPYTHON") == "1":
            pytest.fail("MicroPython runtime required but node or tests/mpy/node_modules is missing")
        pytest.skip("the MicroPython WebAssembly runtime is not installed (npm ci --prefix tests/mpy)")


def test_display_firmware_under_micropython(tmp_path):
    _runtime_or_skip()
    cmds = [proto.pack_command(proto.OP_HELLO, 0, 1), proto.pack_command(proto.OP_SHOW, 12345, 2)]
    bad = bytearray(proto.pack_command(proto.OP_SHOW, 7, 3))
    bad[6] ^= 1
    stream = b"\x00\x7e" + cmds[0] + bytes(bad) + cmds[1] + proto.pack_command(proto.OP_BLANK, 0, 4)
    script = tmp_path / "script.py"
    script.write_text("STREAM = %r\n" % stream.hex() + SCRIPT)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "files": {
                    "/lib/proto.py": str(FW / "proto.py"),
                    "/lib/main.py": str(FW / "main.py"),
                    "/lib/tm1637.py": str(FW.parent / "tm1637.py"),
                },
                "path": ["/lib"],
                "script": str(script),
            }
        )
    )
    res = subprocess.run(
        ["node", str(MPY / "run.mjs"), str(manifest)], capture_output=True, text=True, timeout=120, cwd=str(MPY)
    )
    assert res.returncode == 0, res.stderr
    hexout, shown, tm = res.stdout.strip().splitlines()
    assert tm == "8765 2 True"
    expected = (
        proto.pack_echo(proto.OP_HELLO, 0, 4, 0, 0, 1, 1000)
        + proto.pack_echo(proto.OP_SHOW, 0, 4, 1, 2345, 2, 2000)
        + proto.pack_echo(proto.OP_BLANK, 0, 4, 1, 2345, 4, 3000)
    )
    assert bytes.fromhex(hexout) == expected
    assert shown == "[2345, -1]"
