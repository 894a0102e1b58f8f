"""The one base class of the errors perifacial expects and explains.

Library code raises subclasses of :class:`PerifacialError` (often also a subclass of the matching built-in, e.g.
``ValueError`` or ``OSError``, so generic handlers keep working) with a message that says what was wrong and what
to do. The command line prints such an error as one line on stderr and exits with status 2; anything else is a bug
and shows its traceback with ``--debug``.
"""

from __future__ import annotations

__all__ = [
    "PerifacialError",
    "InvalidArgument",
    "RecordingError",
    "StorageError",
    "CliError",
    "BoardError",
    "BoardTimeout",
]


class PerifacialError(Exception):
    """An expected failure with a message meant for the user (no traceback needed)."""


class InvalidArgument(PerifacialError, ValueError):
    """A parameter, URL part or input file is not acceptable; the message names it and the accepted values."""


class RecordingError(PerifacialError, ValueError):
    """A recording file cannot be read (not a recording, nothing recoverable in it)."""


class StorageError(PerifacialError, OSError):
    """Writing a recording failed (disk full, quota, I/O error); what was received before is flushed and kept."""


class CliError(PerifacialError):
    """A command-line usage error whose message is shown to the user as is (no traceback), with exit code 2.

    Raised by the command handlers in :mod:`perifacial.commands`; ``perifacial.cli.CliError`` is the same class."""


class BoardError(PerifacialError, RuntimeError):
    """The board answered a command with ``ok: false`` (the message is the board's reason).

    Also importable as ``perifacial.host.board.BoardError`` (defined here so that the recorder, which the board
    calls, needs no import of the board module)."""


class BoardTimeout(PerifacialError, TimeoutError):
    """No answer (or no data) within the timeout; the message says what to check (``perifacial.host.board``)."""
