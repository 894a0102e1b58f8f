"""Shared fixtures: one end-to-end session on the virtual board (mvc -> record -> process), made once per test run."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

SEED = 11
SECONDS = 90


def run_cli(argv: list[str]) -> int:
    from perifacial import cli

    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="session")
def cli_run():
    """``cli_run(argv) -> exit code``."""
    return run_cli


@pytest.fixture(scope="session")
def sim_seed_used() -> int:
    return SEED


def session_argv(d: Path, seed: int, seconds: int = SECONDS) -> list[list[str]]:
    """The command lines of one virtual-board session in ``d``: mvc (short timings), record, process."""
    url = f"sim://?seed={seed}"
    mvc = ["mvc", url, "-o", d / "p01.mvc.json", "--yes", "--participant", "P01"]
    mvc += ["--baseline", "3", "--prepare", "1", "--contract", "1.5", "--rest", "1"]
    return [
        [str(a) for a in argv]
        for argv in (
            mvc,
            ["record", url, "-o", d / "s01.pfr", "--seconds", seconds, "--quiet"],
            ["process", d / "s01.pfr", "--mvc", d / "p01.mvc.json", "-o", d / "out"],
        )
    ]


@pytest.fixture(scope="session", name="session_argv")
def session_argv_fixture():
    """:func:`session_argv` for tests."""
    return session_argv


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    """mvc (short timings) + 90 s recording + process with the calibration, all on sim://?seed=11."""
    d = tmp_path_factory.mktemp("workflow")
    for argv in session_argv(d, SEED):
        assert run_cli(argv) == 0
    return d
