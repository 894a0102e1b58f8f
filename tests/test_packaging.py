"""The mapped layout (``perifacial.dsp`` <- ``dsp/`` ...) cannot be discovered by setuptools, so pyproject lists every
package by hand: this keeps the list from drifting."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = _config()
    listed = set(cfg["packages"])
    found = set()
    for name, folder in cfg["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part.startswith((".", "_")) or part == "__pycache__" for part in rel.parts):
                continue
            found.add(".".join((name, *rel.parts)))
    missing = sorted(found - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
    stale = sorted(p for p in listed if p not in found)
    assert not stale, f"listed in pyproject.toml but no such package folder: {stale}"
