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


def test_ci_runs_exactly_the_readme_test_command():
    """README's test command (lint, format check, tests) is what .ci/run runs, word for word."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv") and "[test]" in line]
    assert len(commands) == 1, "README.md must hold one test command line"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert commands[0] in ci, f".ci/run must run README's test command:\n{commands[0]}"
    assert "ruff check ." in commands[0] and "ruff format --check ." in commands[0]
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 120
