"""Redraw ``hardware/montage.svg`` and ``montage.png``: ``python hardware/make_montage_figure.py [-o DIR]``.

The same as ``perifacial montage -o hardware`` (:func:`perifacial.host.montage_figure.save_montage_figure`); other
options as that command's.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    from perifacial.cli import main

    args = sys.argv[1:]
    here = ["-o", str(Path(__file__).resolve().parent)] if not {"-o", "--output", "--out-dir"} & set(args) else []
    raise SystemExit(main(["montage", *here, *args]))
