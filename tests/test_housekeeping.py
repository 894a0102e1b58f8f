"""House-keeping rules of the code base (issue 17): one home per fact, thin commands, one error base.

Checked on the source text and the imported modules, so that a new copy of a fact or a new argparse user outside
the command modules fails here with its file name.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest

from perifacial.errors import PerifacialError

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = [ROOT / "host", ROOT / "dsp", ROOT / "firmware", ROOT / "hardware"]


def _py_files(dirs):
    for d in dirs:
        yield from sorted(p for p in d.rglob("*.py") if "node_modules" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_argparse_only_in_the_command_line_modules():
    """Library modules take plain arguments; only src/perifacial/commands/* (the commands and their shared
    options, ``commands/options.py``, with the top-level parser) know argparse: not cli.py, not validate.py."""
    bad = [
        str(p.relative_to(ROOT))
        for p in _py_files(LIBRARY + [ROOT / "src/perifacial"])
        if "argparse" in _imports(p) and "commands" not in p.parts
    ]
    assert bad == []


def test_commands_do_not_import_the_cli():
    """No import cycle commands <-> cli: CliError lives in perifacial.errors."""
    bad = [
        p.name
        for p in _py_files([ROOT / "src/perifacial/commands"])
        if {"perifacial.cli", "cli"} & _imports(p) or "from ..cli" in p.read_text(encoding="utf-8")
    ]
    assert bad == []
    from perifacial import cli, errors

    assert cli.CliError is errors.CliError and issubclass(errors.CliError, PerifacialError)


def test_dsp_never_imports_host_and_firmware_imports_neither():
    for p in _py_files([ROOT / "dsp"]):
        assert not any(m.startswith(("perifacial.host", "host")) for m in _imports(p)), p
    for p in _py_files([ROOT / "firmware"]):
        assert not any(m.startswith(("perifacial.host", "perifacial.dsp")) for m in _imports(p)), p


def test_no_private_name_imported_from_another_host_module():
    """``from perifacial.host.x import _name`` is a missing public name in x (dsp's numba kernel modules
    ``_iir``/``_design``/``_ica_kernels``/``_spot_kernels`` are private modules of the package: not counted)."""
    bad = []
    for p in _py_files([ROOT / "host", ROOT / "src/perifacial"]):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("perifacial.host"):
                bad += [
                    f"{p.relative_to(ROOT)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert bad == []


def _library_modules():

    names = []
    for pkg in (
        "perifacial.host",
        "perifacial.dsp",
        "perifacial.host.sync",
        "perifacial.host.workflow",
        "perifacial.host.emu",
        "perifacial.host.sim",
    ):
        mod = importlib.import_module(pkg)
        names += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__) if not m.ispkg]
    return [n for n in names if not n.endswith(("._generate_iir", ".video", ".ble", ".lsl"))] + ["perifacial.errors"]


@pytest.mark.parametrize("name", _library_modules())
def test_every_library_exception_is_a_perifacial_error(name):
    """Callers catch PerifacialError for every expected failure (and still the built-in base, e.g. ValueError).
    Exceptions used for control flow inside the simulator (``SimReset``, a BaseException) are not errors."""
    mod = importlib.import_module(name)
    for cname, cls in inspect.getmembers(mod, inspect.isclass):
        if cls.__module__ != name or not issubclass(cls, BaseException) or issubclass(cls, Warning):
            continue
        if not issubclass(cls, Exception):  # BaseException control flow (SimReset)
            continue
        assert issubclass(cls, PerifacialError), f"{name}.{cname}"


def test_no_copied_emg_band_or_nyquist_clamp():
    """The 20-450 Hz band and its 0.45 fs clamp have one home, perifacial.dsp.defaults."""
    pat = re.compile(r"0\.45 \* \(?(self\.)?fs|\(20\.0, 450\.0\)|min\(450")
    bad = []
    for p in _py_files([ROOT / "host", ROOT / "dsp", ROOT / "src"]):
        if p.name == "defaults.py":
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if pat.search(line) and not line.lstrip().startswith("#"):
                bad.append(f"{p.relative_to(ROOT)}:{i}")
    assert bad == []


def test_emg_band_clamp_against_the_definition():
    from perifacial.dsp.defaults import EMG_BAND, ME_MAX_DURATION_MS, ME_MAX_DURATION_S, emg_band
    from perifacial.dsp.quantification import ME_MAX_MS

    assert EMG_BAND == (20.0, 450.0) and ME_MAX_DURATION_S == 0.5 and ME_MAX_DURATION_MS == ME_MAX_MS == 500.0
    for fs in (250.0, 500.0, 999.0, 1000.0, 2000.0):
        lo, hi = emg_band(fs)
        assert lo == 20.0 and hi == min(450.0, 0.45 * fs) and hi < fs / 2


def test_runs_against_a_loop():
    """perifacial.dsp.intervals.runs: half-open runs of True, compared with a plain Python scan."""
    rng = np.random.default_rng(3)
    from perifacial.dsp.intervals import finite_runs, runs

    def scan(m):
        out, start = [], None
        for i, v in enumerate(m):
            if v and start is None:
                start = i
            if not v and start is not None:
                out.append((start, i))
                start = None
        return out + ([(start, len(m))] if start is not None else [])

    for n in (0, 1, 2, 7, 100):
        for _ in range(20):
            m = rng.random(n) < rng.random()
            assert runs(m) == scan(list(m))
    x = rng.normal(size=(3, 50))
    x[1, 10:13] = np.nan
    x[2, 40] = np.inf
    assert finite_runs(x) == [(0, 10), (13, 40), (41, 50)]
    assert finite_runs(np.full((2, 4), np.nan)) == []


def test_leadoff_is_channels_by_samples_on_every_block():
    """DataBlock.leadoff and SampleBlock.leadoff are both bool [channels, n] (DataBlock.leadoff_channels: any)."""
    from perifacial.host.board import SampleBlock
    from perifacial.host.decoder import DataBlock, leadoff_bits

    status = np.full((3, 4), 0xC00000, dtype=np.uint32)
    status[0, 1] |= 1 << (12 + 5)  # chip 0 LOFF_STATP bit 5 -> channel 5, sample 1
    status[2, 3] |= 1 << (4 + 0)  # chip 2 LOFF_STATN bit 0 -> channel 16, sample 3
    codes = np.zeros((24, 4), dtype=np.int32)
    z = np.zeros(1, dtype=np.int64)
    db = DataBlock(0, codes, status, z, z + 4, z, z, z)
    sb = SampleBlock(0, codes, status, np.ones(24), 0.0)
    expect = np.zeros((24, 4), dtype=bool)
    expect[5, 1] = expect[16, 3] = True
    assert np.array_equal(db.leadoff, expect) and np.array_equal(sb.leadoff, expect)
    assert np.array_equal(leadoff_bits(status), expect)
    assert db.leadoff_channels.tolist() == [c in (5, 16) for c in range(24)]


def test_event_codes_come_from_the_wire_module():
    from perifacial.firmware import wire
    from perifacial.host.sync import display

    assert display.EV_DISPLAY is wire.EV_DISPLAY


def _package_of(path: Path) -> str:
    """Dotted package of a source file in the mapped layout (host/ -> perifacial.host, src/perifacial -> perifacial)."""
    rel = path.relative_to(ROOT).parent.parts
    if rel[:2] == ("src", "perifacial"):
        return ".".join(("perifacial",) + rel[2:])
    return ".".join(("perifacial",) + rel)


def _module_file(mod: str) -> Path | None:
    parts = mod.split(".")[1:]
    for d in (ROOT / "src" / "perifacial", ROOT):
        if (d.joinpath(*parts).with_suffix(".py")).is_file() or (d.joinpath(*parts) / "__init__.py").is_file():
            return d.joinpath(*parts)
    return None


def _private_imports(path: Path, text: str | None = None) -> list[str]:
    """Violations in one file: a ``_helper`` imported from another module, or a ``_private`` module imported from
    outside the package that owns it."""
    pkg, out = _package_of(path), []

    def inside(owner: str) -> bool:
        return pkg == owner or pkg.startswith(owner + ".")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8") if text is None else text)):
        if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
            continue
        base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
        mod = ".".join(base + ([node.module] if node.module else []))
        parts = mod.split(".")
        for i, c in enumerate(parts):
            if c.startswith("_") and not c.startswith("__") and not inside(".".join(parts[:i])):
                out.append(f"{mod} is private to {'.'.join(parts[:i])}")
        for a in node.names:
            n = a.name
            if not n.startswith("_") or n.startswith("__"):
                continue
            d = _module_file(mod)
            is_module = d is not None and ((d / f"{n}.py").is_file() or (d / n / "__init__.py").is_file())
            if not is_module:
                out.append(f"from {mod} import {n} (a private helper of another module)")
            elif not inside(mod):
                out.append(f"{mod}.{n} is private to {mod}")
    return out


def test_no_private_name_is_imported_across_modules():
    """No module imports another module's ``_private`` helper (``from x import _name``), and a ``_private`` module
    is imported only from inside its own package (``dsp._api`` by dsp's modules, never by host)."""
    bad = [
        f"{p.relative_to(ROOT)}: {v}"
        for p in _py_files(LIBRARY + [ROOT / "src/perifacial"])
        for v in _private_imports(p)
    ]
    assert bad == []
    # the check itself sees both kinds of violation (a source text as if it were host/x.py)
    probe = "from perifacial.dsp._api import keyword_only\nfrom .quality import _x\nfrom ..dsp import _iir\n"
    assert len(_private_imports(ROOT / "host" / "x.py", probe)) == 3
