"""Side-by-side benchmark bookkeeping: a session table of (reference, ours) timings and their ratio.

Benchmarks put their timings in the ``ratios`` fixture (``ratios.add(...)``); at the end of the session the table is
printed, and when benchmarking is enabled (``pytest bench --benchmark-enable``) it is also written to
``bench/results.json``. Under the project default ``--benchmark-disable`` every benchmark body runs once as a
correctness check and nothing is timed or written.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import pytest

_RESULTS = Path(__file__).resolve().parent / "results.json"
# the references shared with the tests (tests/refdecode.py, ...) import as top-level modules, as in tests/conftest.py
_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
_KEY = pytest.StashKey[list]()


class Ratios:
    """Rows of the ratio table. A row: name, reference and ours (seconds), ratio = reference / ours, goal."""

    def __init__(self, rows: list) -> None:
        self.rows = rows

    def add(self, name: str, reference: str, ref_s: float, ours_s: float, goal: float, note: str = "") -> float:
        ratio = ref_s / ours_s
        self.rows.append(
            dict(name=name, reference=reference, reference_s=ref_s, ours_s=ours_s, ratio=ratio, goal=goal, note=note)
        )
        return ratio

    @staticmethod
    def stats_of(benchmark) -> dict | None:
        """min/median seconds of a finished ``benchmark`` fixture (None when benchmarking is disabled)."""
        if benchmark.disabled or benchmark.stats is None:
            return None
        s = benchmark.stats.stats
        return {"min": s.min, "median": s.median, "rounds": s.rounds}

    def add_absolute(self, name: str, seconds: float, goal_s: float, note: str = "") -> None:
        self.rows.append(
            dict(
                name=name,
                reference=f"goal < {goal_s} s",
                reference_s=goal_s,
                ours_s=seconds,
                ratio=None,
                goal=None,
                note=note,
            )
        )


def pytest_configure(config):
    config.stash[_KEY] = []


@pytest.fixture(scope="session")
def ratios(request) -> Ratios:
    return Ratios(request.config.stash[_KEY])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = config.stash.get(_KEY, [])
    if not rows:
        return
    tr = terminalreporter
    tr.section("perifacial: ratios against the reference measured in this run (best of rounds)")
    tr.write_line(f"{'benchmark':<44} {'reference':<34} {'ref s':>9} {'ours s':>9} {'ratio':>7} {'goal':>6}")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        goal = "" if r["goal"] is None else f"{r['goal']:g}x"
        tr.write_line(
            f"{r['name']:<44} {r['reference']:<34} {r['reference_s']:>9.4g} {r['ours_s']:>9.4g} {ratio:>7} {goal:>6}"
            + (f"  {r['note']}" if r["note"] else "")
        )
    if config.getoption("benchmark_enable", False) or not config.getoption("benchmark_disable", False):
        old = {}
        if _RESULTS.exists():
            try:
                old = json.loads(_RESULTS.read_text())
            except ValueError:
                old = {}
        runs = old.get("runs", [])
        runs.append(
            {
                "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "rows": rows,
            }
        )
        _RESULTS.write_text(json.dumps({"runs": runs[-20:]}, indent=1) + "\n")
        tr.write_line(f"written to {_RESULTS}")
