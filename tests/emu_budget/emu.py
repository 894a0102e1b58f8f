"""Run the firmware's acquisition on the emulated RP2040 (../shared/rp2emu: MicroPython v1.27 RPI_PICO in rp2040js)
and measure its budget: emulated CPU busy fraction (cycles not waiting in WFI/WFE), samples lost, frame content.

    python tests/emu_budget/emu.py --rate 2000 --seconds 10 --path irq+dma [--baud 8000000]

``budget.py`` is the MicroPython side, ``ads_chain_hook.mjs`` the DRDY + ADS1299-chain side. The emulator folder is
found at $PERIFACIAL_RP2EMU or ../shared/rp2emu from the repository root; it is copied to a temporary folder once
per process and `npm ci` installs rp2040js there (../shared stays read-only). Emulated time is deterministic: the
same firmware gives the same cycles, so tests may assert the figures.
"""

from __future__ import annotations

import argparse
import ast
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIRMWARE = ROOT / "firmware"
PATHS = ("irq", "irq+dma")  # acquisition paths: blocking read in the DRDY handler; DMA read started by it
_WORK: dict[str, Path] = {}


def rp2emu_dir() -> Path | None:
    p = Path(os.environ.get("PERIFACIAL_RP2EMU", ROOT.parent / "shared" / "rp2emu"))
    return p if (p / "run.mjs").exists() and (p / "firmware.uf2").exists() else None


def unavailable() -> str | None:
    """None when the emulator can run here, else what is missing."""
    if rp2emu_dir() is None:
        return "the emulated RP2040 is absent: set PERIFACIAL_RP2EMU or provide ../shared/rp2emu (run.mjs, firmware.uf2)"
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed"
    try:
        import littlefs  # noqa: F401
    except ImportError:
        return "littlefs-python is not installed (pip install -e '.[test]')"
    return None


def workdir() -> Path:
    """A private copy of the emulator with rp2040js installed and a filesystem image of today's firmware."""
    if "dir" in _WORK:
        return _WORK["dir"]
    src = rp2emu_dir()
    assert src is not None, unavailable()
    d = Path(tempfile.mkdtemp(prefix="perifacial-rp2emu-"))
    atexit.register(shutil.rmtree, d, True)
    for name in ("run.mjs", "package.json", "package-lock.json", "bootrom.mjs", "firmware.uf2"):
        shutil.copy(src / name, d / name)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=d, check=True, capture_output=True,
                   timeout=300)
    from littlefs import LittleFS

    fs = LittleFS(block_size=4096, block_count=352, prog_size=256)  # MicroPython v1.27 RPI_PICO's flash filesystem
    for py in sorted(FIRMWARE.glob("*.py")):
        if py.name not in ("__init__.py", "main.py"):
            with fs.open(py.name, "wb") as f:
                f.write(py.read_bytes())
    (d / "fs.img").write_bytes(bytes(fs.context.buffer))
    _WORK["dir"] = d
    return d


def run_budget(rate: int, seconds: float, path: str = "irq+dma", baud: int = 8_000_000) -> dict:
    """Acquire ``seconds`` of emulated time at ``rate`` SPS over ``path``; returns the hook's and the board's
    figures merged: cpu_busy, drdy_edges, frames_read, samples, lost, frames, bytes, checked, bad, ..."""
    if path not in PATHS:
        raise ValueError("path must be one of %s" % (PATHS,))
    d = workdir()
    script = d / ("budget_%s_%d.py" % (path.replace("+", "_"), rate))
    script.write_text((HERE / "budget.py").read_text() % {"rate": rate, "seconds": seconds, "baud": baud,
                                                          "path": path})
    env = dict(os.environ, EMU_RATE=str(rate))
    proc = subprocess.run(
        ["node", "run.mjs", str(script), "--fs-image", "fs.img", "--hook", str(HERE / "ads_chain_hook.mjs"),
         "--timeout", str(seconds + 30)],
        cwd=d, env=env, capture_output=True, text=True, timeout=1800,
    )
    board = [ln for ln in proc.stdout.splitlines() if ln.startswith("BUDGET ")]
    chain = [ln for ln in proc.stderr.splitlines() if "EMU_CHAIN " in ln]
    if proc.returncode != 0 or not board or not chain:
        raise RuntimeError("emulated run failed (exit %d)\nstdout:\n%s\nstderr:\n%s" % (
            proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    out = json.loads(chain[-1].split("EMU_CHAIN ", 1)[1])
    out.update(ast.literal_eval(board[-1][len("BUDGET "):]))
    out["baud"] = baud
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=2000, choices=(500, 1000, 2000))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--path", default="all", choices=PATHS + ("all",))
    ap.add_argument("--baud", type=int, default=8_000_000)
    a = ap.parse_args(argv)
    why = unavailable()
    if why:
        print(why, file=sys.stderr)
        return 2
    for p in PATHS if a.path == "all" else (a.path,):
        r = run_budget(a.rate, a.seconds, p, a.baud)
        print("%-8s %4d SPS %5.1f s  cpu_busy %5.1f %%  samples %d  lost %d  content bad %d/%d" % (
            p, a.rate, r["seconds"], 100 * r["cpu_busy"], r["samples"], r["lost"], r["bad"], r["checked"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
