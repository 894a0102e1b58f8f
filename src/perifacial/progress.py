"""Progress bars through tqdm: a live line on a terminal, a widget in Jupyter (when ipywidgets is installed), and
nothing at all when the output is not a terminal (a log file, a pipe, CI), so logs never get ``\\r`` lines."""

from __future__ import annotations

import os
import sys

__all__ = ["progress_bar"]


def _tqdm_class():
    try:  # Jupyter: the notebook widget, if ipywidgets is there (tqdm.notebook needs it)
        ip = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
        if ip is not None and "IPKernelApp" in getattr(ip, "config", {}):
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as bar

            return bar
    except Exception:  # noqa: BLE001 - any problem: the plain terminal bar
        pass
    from tqdm import tqdm as bar

    return bar


def progress_bar(total=None, desc: str = "", unit: str = "it", enabled: bool = True, file=None, **kwargs):
    """A tqdm progress bar. ``enabled=False`` (e.g. ``--quiet``) or a ``file`` (default stderr) that is not a
    terminal gives a disabled bar (every method still works, nothing is written). Extra keyword arguments go to
    tqdm (``bar_format``, ``mininterval``...)."""
    out = sys.stderr if file is None else file
    disable = True if not enabled else None  # None: tqdm disables itself when `out` is not a tty
    try:
        width = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, OSError, ValueError):
        width = 0
    # a terminal that reports no width (some ptys) would get an empty line: give tqdm a width then
    size = {"dynamic_ncols": True} if width > 0 else {"ncols": 120, "nrows": 40}
    return _tqdm_class()(total=total, desc=desc, unit=unit, file=out, disable=disable, leave=True, **{**size, **kwargs})
