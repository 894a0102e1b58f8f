"""The emulated-board tests need node, the rp2040js npm package (``npm ci --prefix tests/mpy``), the MicroPython
RPI_PICO UF2 + boot ROM (``../shared/rp2emu`` or ``PERIFACIAL_RP2EMU``) and littlefs-python. Where one is missing
they skip and say which; with ``PERIFACIAL_REQUIRE_EMULATOR=1`` (.ci/run sets it where the rp2emu folder exists)
they fail instead, so CI cannot skip them silently."""
from __future__ import annotations

import os

import pytest


def emulator_missing() -> str | None:
    from perifacial.host.emu.runner import EmulatorUnavailable, find_paths

    try:
        find_paths()
        import littlefs  # noqa: F401
    except EmulatorUnavailable as exc:
        return str(exc)
    except ImportError:
        return "littlefs-python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def emu_ready():
    why = emulator_missing()
    if why:
        if os.environ.get("PERIFACIAL_REQUIRE_EMULATOR") == "1":
            pytest.fail("emulator required (PERIFACIAL_REQUIRE_EMULATOR=1) but " + why, pytrace=False)
        pytest.skip("emulated RP2040 unavailable: " + why)
    return True
