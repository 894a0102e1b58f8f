"""The emulated-board tests need node, the rp2040js npm package (``npm ci --prefix tests/mpy``), the MicroPython
RPI_PICO UF2 + boot ROM (``../shared/rp2emu`` or ``PERIFACIAL_RP2EMU``) and littlefs-python. Where one is missing
they skip and say which; with ``PERIFACIAL_REQUIRE_EMULATOR=1`` (.ci/run sets it where the rp2emu folder exists)
they fail instead, so CI cannot skip them silently."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def emu_ready():
    from perifacial.host.emu.runner import missing

    why = missing()
    if why:
        if os.environ.get("PERIFACIAL_REQUIRE_EMULATOR") == "1":
            pytest.fail("emulator required (PERIFACIAL_REQUIRE_EMULATOR=1) but " + why, pytrace=False)
        pytest.skip("emulated RP2040 unavailable: " + why)
    return True
