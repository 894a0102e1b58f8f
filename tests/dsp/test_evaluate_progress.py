"""``evaluate-spotting`` shows progress through tqdm on a terminal, nothing when stderr is a log or a pipe, nothing
with ``--quiet`` (issue 16)."""

from __future__ import annotations

import io
import sys

import pytest

from perifacial import cli


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stderr,quiet,shown", [("tty", False, True), ("tty", True, False), ("log", False, False)])
def test_evaluate_spotting_progress(monkeypatch, capsys, stderr, quiet, shown):
    err = _Tty() if stderr == "tty" else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    argv = ["evaluate-spotting", "--sessions", "2", "--seconds", "12", "--snr", "high", "--methods", "adaptive"]
    assert cli.main(argv + (["--quiet"] if quiet else [])) == 0
    out = capsys.readouterr().out
    assert "adaptive" in out  # the table
    text = err.getvalue()
    assert ("2/2" in text and "sessions" in text) == shown
    if not shown:
        assert text == ""
