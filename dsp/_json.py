"""The JSON files of the DSP objects (MVC calibrations, region unmixers, montages): one way to write and read them,
with one wording for a file that cannot be read or is not JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["read_json", "write_json"]


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` to ``path`` as indented UTF-8 JSON (floats with full round-trip precision)."""
    Path(path).write_text(json.dumps(obj, indent=1), encoding="utf-8")


def read_json(path: str | Path, what: str) -> Any:
    """The JSON value stored in ``path``; ValueError naming ``what`` (e.g. ``"montage file"``) and the path when the
    file cannot be read or does not hold valid JSON."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {p}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {p} is not valid JSON: {exc}") from None
