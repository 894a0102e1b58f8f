"""The JSON files of the DSP objects (MVC calibrations, region unmixers, montages): one way to write and read them,
with one wording for a file that cannot be read or is not JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

__all__ = ["JsonFile", "read_json", "write_json"]


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


class JsonFile:
    """Mixin for the DSP objects kept as JSON files: :meth:`save` writes the object's ``to_dict()``, :meth:`load`
    reads it back through ``from_dict``; the class attribute ``_JSON_WHAT`` names the file in error messages."""

    _JSON_WHAT = "JSON file"

    def save(self, path: str | Path) -> None:
        """Write the object to ``path`` as JSON (floats with full round-trip precision)."""
        write_json(path, self.to_dict())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a file written by :meth:`save`; ValueError if it cannot be read or does not describe the object."""
        return cls.from_dict(read_json(path, cls._JSON_WHAT))  # type: ignore[attr-defined]
