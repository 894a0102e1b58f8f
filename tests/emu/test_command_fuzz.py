"""Hostile input on the command link, then a clean recording: the same checks on the emulated RP2040 (emu://) and on
the virtual board (sim://). A ~2000-backslash command (its error reply, escaped twice, would exceed the frame
limit) and 1000 seeded random oversized (40-300 characters of escape-heavy junk) or malformed commands; afterwards
the board answers `identify` and records 1000 samples (1 s at 1000 SPS) with no
lost sample. On emu:// the 1000 commands take ~20 emulated s (each error reply is JSON work on the RP2040), about
a minute of wall time."""

from __future__ import annotations

import json
import random

import pytest

from perifacial.firmware import wire
from perifacial.host.board import open_board

N_RANDOM = 1000


def hostile_frames(seed: int = 12) -> list[bytes]:
    rng = random.Random(seed)
    frames = [wire.encode(wire.T_COMMAND, 0, json.dumps({"id": 999_999, "cmd": "\\" * 2000}).encode())]
    alphabet = "\\\"'{}[]:,abc xyz\u00e9\u20ac0123456789"
    for i in range(N_RANDOM):
        kind = rng.randrange(4)
        n = rng.randrange(40, 300)
        junk = "".join(rng.choice(alphabet) for _ in range(n))
        if kind == 0:  # unknown command with a long, escape-heavy name
            payload = json.dumps({"id": 1_000_000 + i, "cmd": junk}).encode()
        elif kind == 1:  # known command, oversized bad argument
            payload = json.dumps({"id": 1_000_000 + i, "cmd": "set_config", "gain": junk}).encode()
        elif kind == 2:  # not JSON at all
            payload = junk.encode()
        else:  # an unknown setting whose name is long
            payload = json.dumps({"id": 1_000_000 + i, "cmd": "set_config", junk[:300]: 1}).encode()
        frames.append(wire.encode(wire.T_COMMAND, i + 1, payload))
    return frames


@pytest.fixture(params=["sim://", pytest.param("emu://", marks=pytest.mark.slow)])
def url(request):
    if request.param == "emu://":
        request.getfixturevalue("emu_ready")
    return request.param


def test_hostile_commands_then_lossless_recording(url):
    b = open_board(url, command_timeout=10.0)
    try:
        frames = hostile_frames()
        b.transport.write(frames[0])  # the backslash command first: a firmware that dies on it fails fast here
        assert b.command("identify", timeout=5.0)["name"] == "perifacial"
        for k in range(1, len(frames), 20):
            b.transport.write(b"".join(frames[k : k + 20]))
            b.pump(0.05)
        # the replies queue behind ~1000 error replies (each JSON work on the RP2040): emulated time, not wall time
        assert b.command("identify", timeout=60.0)["name"] == "perifacial"
        st = b.status()
        assert st["bad_commands"] >= len(frames)
        b.start()
        got = 0
        for blk in b.blocks(n_samples=1000, timeout=5.0):
            got += blk.n
        stop = b.stop()
        assert got == 1000 and not b.gaps
        assert stop["lost"] == 0
    finally:
        b.close()
