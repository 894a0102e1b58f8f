"""Argument checks shared by every command and by the library entry points that take user input (board URLs,
files, numbers). Each check returns the clean value or raises :class:`perifacial.errors.InvalidArgument` whose
message names the argument, what was given and what is accepted.

The command line's ``argparse`` helpers built on these checks (``type=`` functions, the option vocabulary) are in
``perifacial.commands._options``. This module imports nothing heavy.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from perifacial.errors import InvalidArgument

__all__ = [
    "number",
    "integer",
    "check_output_file",
    "check_output_dir",
    "check_input_file",
    "check_board_url",
]

_log = logging.getLogger("perifacial.cli")

SIM_RATES = (500, 1000, 2000)
MAX_CHIPS = 4
MAX_SAMPLES_PER_FRAME = 50  # firmware/framer.py


def number(
    value, name: str, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> float:
    """``value`` as a finite float within [lo, hi] (``lo_open``/``hi_open``: excluded)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise InvalidArgument(f"{name}: {value!r} is not a finite number")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise InvalidArgument(f"{name}: {value!r} must be {'>' if lo_open else '>='} {lo:g}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise InvalidArgument(f"{name}: {value!r} must be {'<' if hi_open else '<='} {hi:g}")
    return v


def integer(value, name: str, *, lo: int | None = None, hi: int | None = None, choices=None) -> int:
    """``value`` as an int (decimal text or an integral number) within [lo, hi] or among ``choices``."""
    try:
        v = int(str(value).strip(), 10) if not isinstance(value, int) else int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: {value!r} is not a whole number") from None
    if choices is not None and v not in choices:
        raise InvalidArgument(f"{name}: {v} is not one of {', '.join(str(c) for c in choices)}")
    if lo is not None and v < lo or hi is not None and v > hi:
        rng = f"{lo}..{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")
        raise InvalidArgument(f"{name}: {v} is out of range ({rng})")
    return v


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def check_output_file(path, *, overwrite: bool = False, what: str = "output") -> Path:
    """A file we may create: its folder exists (or can be made: ``check_output_dir``) and is writable, it is not
    under a file, and it does not exist unless ``overwrite`` (and then it is a file)."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise InvalidArgument(f"{what}: {str(path)!r} is not a file name")
    if p.exists():
        if p.is_dir():
            raise InvalidArgument(f"{what}: {p} is a folder; give a file name inside it")
        if not overwrite:
            raise InvalidArgument(f"{what}: {p} exists: choose another name or pass --overwrite")
    parent = p.parent
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise InvalidArgument(f"{what}: {p} would be inside {base}, which is a file, not a folder")
    if base != parent:
        raise InvalidArgument(f"{what}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidArgument(f"{what}: no permission to write in folder {parent}")
    return p


def check_output_dir(path, *, what: str = "output folder", create: bool = True) -> Path:
    """A folder we may write into: existing and writable, or creatable under a writable folder (created if
    ``create``)."""
    p = Path(path)
    base = _nearest_existing(p)
    if p.exists() and not p.is_dir():
        raise InvalidArgument(f"{what}: {p} is a file, not a folder")
    if not base.is_dir():
        raise InvalidArgument(f"{what}: {p} would be inside {base}, which is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InvalidArgument(f"{what}: no permission to write in {base}")
    if create and not p.exists():
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgument(f"{what}: cannot create {p}: {exc.strerror or exc}") from None
    return p


def check_input_file(path, *, suffixes: tuple[str, ...] | None = None, what: str = "input", noun: str = "file") -> Path:
    """An existing, readable regular file (with one of ``suffixes``, lower case, if given)."""
    p = Path(path)
    if not p.exists():
        raise InvalidArgument(f"{what}: {p}: no such {noun}")
    if p.is_dir():
        raise InvalidArgument(f"{what}: {p} is a folder, not a file")
    if not os.access(p, os.R_OK):
        raise InvalidArgument(f"{what}: no permission to read {p}")
    if suffixes and not any(p.name.lower().endswith(s) for s in suffixes):
        raise InvalidArgument(f"{what}: {p} is not a {' or '.join(suffixes)} file")
    return p


def check_board_url(url: str) -> dict:
    """Check the parts of a board URL that are ours to check (port numbers, ``baud``, ``sim://`` options) and
    return the clean ``sim://`` options (empty for other schemes). Unknown schemes are left to the transport."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgument(
            "board URL: empty; give a port (/dev/ttyACM0, COM3), tcp://host:port, ble://name or sim://"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    q = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            raise InvalidArgument(f"{url!r}: the port must be a whole number 1..65535") from None
        if not parts.hostname or port is None:
            raise InvalidArgument(f"{url!r}: a TCP URL needs a host and a port, e.g. tcp://192.168.4.1:8765")
        integer(port, f"{url!r}: port", lo=1, hi=65535)
        return {}
    if scheme == "serial" and "baud" in q:
        integer(q["baud"], f"{url!r}: baud", lo=1, hi=20_000_000)
        return {}
    if scheme != "sim":
        return {}
    opts: dict = {}
    for k, v in q.items():
        name = f"{url!r}: {k}"
        if k == "seed":
            opts[k] = integer(v, name, lo=0)
        elif k == "rate":
            opts[k] = integer(v, name, choices=SIM_RATES)
        elif k == "n_chips":
            opts[k] = integer(v, name, lo=1, hi=MAX_CHIPS)
        elif k == "samples_per_frame":
            opts[k] = integer(v, name, lo=1, hi=MAX_SAMPLES_PER_FRAME)
        elif k in ("realtime", "fast_shim"):
            if v.strip().lower() not in ("0", "1", "true", "false", "yes", "no", "on", "off", ""):
                raise InvalidArgument(f"{name}: {v!r} is not a yes/no value (1/0, true/false)")
            opts[k] = v.strip().lower() not in ("0", "false", "no", "off", "")
        elif k == "source":
            if v.lower() not in ("synth", "default", "", "none", "0", "false", "off"):
                raise InvalidArgument(f"{name}: {v!r}: use source=synth (default) or source=none")
            opts[k] = None if v.lower() in ("synth", "default", "") else False
        elif k in ("reboot_at", "mute_at", "mute_s"):
            opts[k] = number(v, name, lo=0.0)
        elif k in ("clock_error_ppm",):
            opts[k] = number(v, name, lo=-1e5, hi=1e5)
        elif k in ("idle_us", "link_buffer"):
            opts[k] = integer(v, name, lo=1)
        elif k == "board":
            opts[k] = v
        else:  # other VirtualBoard/shim keywords: numbers only
            try:
                opts[k] = number(v, name)
            except InvalidArgument:
                raise InvalidArgument(
                    f"{url!r}: unknown sim:// option {k}={v!r} (known: seed, rate, n_chips, "
                    "samples_per_frame, realtime, source, reboot_at, mute_at, mute_s, clock_error_ppm, board)"
                ) from None
    return opts
