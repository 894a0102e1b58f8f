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


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    """mvc (short timings) + 90 s recording + process with the calibration, all on sim://?seed=11."""
    d = tmp_path_factory.mktemp("workflow")
    url = f"sim://?seed={SEED}"
    assert (
        run_cli(
            [
                "mvc",
                url,
                "-o",
                d / "p01.mvc.json",
                "--yes",
                "--participant",
                "P01",
                "--baseline",
                "3",
                "--prepare",
                "1",
                "--contract",
                "1.5",
                "--rest",
                "1",
            ]
        )
        == 0
    )
    assert run_cli(["record", url, "-o", d / "s01.pfr", "--seconds", SECONDS, "--quiet"]) == 0
    assert run_cli(["process", d / "s01.pfr", "--mvc", d / "p01.mvc.json", "-o", d / "out"]) == 0
    return d
