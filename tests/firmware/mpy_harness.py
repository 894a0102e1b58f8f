"""Run Python code under the real MicroPython runtime (the WebAssembly build from npm) through node.

``run_micropython(script, files)`` writes the firmware modules (top level, as on a board) and any extra files into
the runtime's filesystem under ``/lib``, runs ``script`` and returns ``(exit_status, stdout, stderr)``.
``skip_or_fail(reason)``: tests skip when node or tests/mpy/node_modules is missing, unless
``PERIFACIAL_REQUIRE_MICROPYTHON=1`` (set by .ci/run), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPY_DIR = ROOT / "tests" / "mpy"
RUNNER = MPY_DIR / "run.mjs"
FIRMWARE = ROOT / "firmware"
# the modules copied to a board (main.py excluded: it starts the main loop on import)
FIRMWARE_MODULES = (
    "wire",
    "viper",
    "dmaspi",
    "auth",
    "interlock",
    "wifi",
    "ads1299",
    "acquire",
    "framer",
    "commands",
    "selftest",
    "tm1637",
    "links",
    "app",
)


def availability() -> str | None:
    """None when the runtime can run, else the reason it cannot."""
    if shutil.which("node") is None:
        return "node is not installed"
    pkg = MPY_DIR / "node_modules" / "@micropython" / "micropython-webassembly-pyscript" / "micropython.mjs"
    if not pkg.exists():
        return "tests/mpy/node_modules is missing: run `npm ci --prefix tests/mpy`"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("PERIFACIAL_REQUIRE_MICROPYTHON") == "1":
        pytest.fail("MicroPython runtime required (PERIFACIAL_REQUIRE_MICROPYTHON=1) but " + reason)
    pytest.skip(reason)


def require_runtime() -> None:
    reason = availability()
    if reason is not None:
        skip_or_fail(reason)


# The WebAssembly build has no native code emitter and rejects this decorator at compile time; the boards' builds
# compile the decorated function to machine code. The harness runs the same source with the decorator line removed.
NATIVE_DECORATOR = "@micropython.native"


def firmware_files() -> dict[str, Path]:
    return {"/lib/%s.py" % m: FIRMWARE / ("%s.py" % m) for m in FIRMWARE_MODULES}


def run_micropython(
    script: str, files: dict[str, Path] | None = None, timeout: float = 600, heapsize: int = 64 * 1024 * 1024
) -> tuple[int, str, str]:
    all_files = firmware_files()
    all_files.update(files or {})
    with tempfile.TemporaryDirectory() as td:
        for dest, src in list(all_files.items()):
            text = Path(src).read_text()
            if NATIVE_DECORATOR in text:  # this build has no native emitter: the same code as bytecode
                kept = [ln for ln in text.splitlines(True) if ln.strip() != NATIVE_DECORATOR]
                copy = Path(td) / ("bytecode_" + Path(src).name)
                copy.write_text("".join(kept))
                all_files[dest] = copy
        sp = Path(td) / "script.py"
        sp.write_text(script)
        manifest = {
            "files": {k: str(v) for k, v in all_files.items()},
            "path": ["/lib"],
            "script": str(sp),
            "heapsize": heapsize,
        }
        mp = Path(td) / "manifest.json"
        mp.write_text(json.dumps(manifest))
        proc = subprocess.run(
            ["node", str(RUNNER), str(mp)], capture_output=True, text=True, timeout=timeout, cwd=str(MPY_DIR)
        )
    return proc.returncode, proc.stdout, proc.stderr
