"""The API reference (issue 16): every public name of perifacial.dsp and perifacial.host has a runnable Examples
section, the examples pass as doctests, the Sphinx site builds with warnings as errors, and nothing shipped cites a
"seed" placeholder instead of a real reference."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import perifacial.dsp as dsp
import perifacial.host as host

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PUBLIC = [("perifacial.dsp", n) for n in dsp.__all__] + [("perifacial.host", n) for n in sorted(host._LAZY)]


def _obj(pkg, name):
    return getattr(importlib.import_module(pkg), name)


@pytest.mark.parametrize("pkg,name", PUBLIC, ids=[f"{p.split('.')[-1]}.{n}" for p, n in PUBLIC])
def test_public_name_has_a_runnable_examples_section(pkg, name):
    doc = inspect.getdoc(_obj(pkg, name)) or ""
    assert re.search(r"^Examples\n--------\n", doc, re.M), f"{pkg}.{name}: no numpydoc Examples section"
    examples = doctest.DocTestParser().get_examples(doc.split("Examples\n--------\n", 1)[1])
    assert len(examples) >= 2, f"{pkg}.{name}: the Examples section has fewer than 2 doctest lines"
    assert any(ex.want.strip() for ex in examples), f"{pkg}.{name}: the examples check no output"


# the modules defining the public names, plus the packages' own docstrings
MODULES = sorted({_obj(p, n).__module__ for p, n in PUBLIC} | {"perifacial.dsp", "perifacial.host"})


@pytest.mark.parametrize("modname", MODULES)
def test_doctests(modname):
    """What ``python -m pytest --doctest-modules dsp host`` runs, on the installed modules."""
    mod = importlib.import_module(modname)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    tests = [t for t in finder.find(mod, modname) if t.examples]
    for t in tests:
        runner.run(t, out=lambda s: sys.stdout.write(s))
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{modname}: {res.failed} of {res.attempted} doctest examples failed (output above)"


def test_api_pages_list_every_public_name():
    text = (ROOT / "docs" / "api" / "dsp.rst").read_text() + (ROOT / "docs" / "api" / "host.rst").read_text()
    missing = [f"{p}.{n}" for p, n in PUBLIC if not re.search(rf":: {re.escape(p)}\.{n}$", text, re.M)]
    assert not missing, f"add these to docs/api/*.rst: {missing}"


def test_docs_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs build needs the [docs] or [test] extra")
    pytest.importorskip("myst_parser", reason="the docs build needs the [docs] or [test] extra")
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(tmp_path / "doctrees"),
        str(ROOT / "docs"),
        str(tmp_path / "html"),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"sphinx-build failed or warned:\n{run.stdout}\n{run.stderr}"
    page = (tmp_path / "html" / "api" / "dsp.html").read_text(encoding="utf-8")
    assert "linear_envelope" in page and "Examples" in page
    assert "arXiv:2409.00017" in (tmp_path / "html" / "references.html").read_text(encoding="utf-8")


SHIPPED = ["README.md", "docs", "hardware", "dsp", "host", "firmware", "src"]


def test_no_seed_placeholders_in_shipped_text():
    hits = []
    for top in SHIPPED:
        base = ROOT / top
        files = (
            [base] if base.is_file() else [p for p in base.rglob("*") if p.suffix in (".py", ".md", ".json", ".rst")]
        )
        for f in files:
            for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if re.search(r"\bseeds? 00\d\b", line, re.I):
                    hits.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:80]}")
    assert not hits, "cite the paper (docs/references.md), not the seed file:\n" + "\n".join(hits)


def test_references_license_changelog():
    refs = (ROOT / "docs" / "references.md").read_text(encoding="utf-8")
    for key in ("arXiv:2409.00017", "ChinaXiv:202506.00079", "FED-PsyAU", "Could Micro-Expressions be Quantified?"):
        assert key in refs
    lic = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert lic.startswith("MIT License")
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == {"text": "MIT"}
    from perifacial._version import __version__

    assert f"[{__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
