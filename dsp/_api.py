"""The DSP API contract's transition helpers (see docs/conventions.md).

Every public DSP function takes ``(x, fs, *, ...)``: the data and the sampling rate positionally, everything else
by keyword. Calls written before that rule (extra positional arguments, a renamed parameter) keep working for one
release with a :class:`DeprecationWarning` that says how to write the call instead.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["fs_keyword", "keyword_only", "renamed"]


def _warn(func: Callable, message: str) -> None:
    warnings.warn(f"{func.__qualname__}: {message}", DeprecationWarning, stacklevel=3)


def keyword_only(*legacy: str) -> Callable[[F], F]:
    """Decorate a function whose parameters ``legacy`` (in their old positional order) became keyword-only.

    A call passing more positional arguments than the function now accepts maps the extra ones onto ``legacy`` in
    order and warns; a call that also names one of them, or passes too many, raises TypeError as Python would.
    """

    def wrap(func: F) -> F:
        params = inspect.signature(func).parameters.values()
        n_pos = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if len(args) > n_pos:
                extra = args[n_pos:]
                if len(extra) > len(legacy):
                    raise TypeError(
                        f"{func.__qualname__}() takes {n_pos} positional arguments (the data and fs) and "
                        f"{len(legacy)} legacy ones, but {len(args)} were given"
                    )
                names = legacy[: len(extra)]
                for name, value in zip(names, extra, strict=True):
                    if name in kwargs:
                        raise TypeError(f"{func.__qualname__}() got multiple values for argument {name!r}")
                    kwargs[name] = value
                _warn(func, f"pass {', '.join(names)} by keyword ({names[0]}=...); positional use is deprecated")
                args = args[:n_pos]
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return wrap


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Decorate a function whose keyword parameters were renamed (``renamed(old="new")``): the old name still works
    and warns; passing both raises TypeError."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__qualname__}() got both {old!r} and its new name {new!r}")
                    kwargs[new] = kwargs.pop(old)
                    _warn(func, f"the parameter {old!r} is now called {new!r}")
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return wrap


def fs_keyword(*legacy: str) -> Callable[[F], F]:
    """Decorate a filter design whose old signature was ``design(fs, *legacy)`` and whose new one, as in SciPy, is
    ``design(*legacy, fs=..., ...)``.

    A call without ``fs=`` but with positional arguments is an old call: the first is ``fs``, the rest map onto
    ``legacy`` in order, with a warning. (A new call always names ``fs``: it has no default.)
    """

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if "fs" not in kwargs and args:
                names = ("fs", *legacy)
                if len(args) > len(names):
                    raise TypeError(
                        f"{func.__qualname__}() takes at most {len(names)} arguments in the old "
                        f"order ({', '.join(names)}), but {len(args)} were given"
                    )
                for name, value in zip(names, args, strict=False):
                    if name in kwargs:
                        raise TypeError(f"{func.__qualname__}() got multiple values for argument {name!r}")
                    kwargs[name] = value
                _warn(func, f"fs comes last now, as in SciPy: call {func.__name__}({', '.join(legacy[:2])}, fs=...)")
                args = ()
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return wrap
