"""Sphinx configuration of the perifacial documentation site (API reference, guides, references).

Build: ``pip install 'perifacial[docs]'`` then ``sphinx-build -W -b html docs docs/_build/html`` (the test suite runs
the same build with warnings as errors: tests/test_docs.py)."""

from perifacial._version import __version__

project = "perifacial"
author = "The perifacial authors"
copyright = "2026, The perifacial authors (MIT licence)"
version = release = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# numpydoc-style docstrings, rendered by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # "Attributes" sections as fields (dataclass fields are not documented twice)
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": False}

myst_heading_anchors = 3
html_theme = "alabaster"
html_title = f"perifacial {__version__}"
