"""Hardware-in-the-loop suite: one board for the whole session, selected with --board (default: the virtual board).

Options (see hil_tests/README.md):
  --board URL            sim:// (default), a serial port (/dev/ttyACM0, COM3), tcp://host:port
  --soak-seconds N       length of the continuity soak (default 5; hours on a rig)
  --throughput-seconds N stream length per rate in the throughput test (default 2)
  --hil-report PATH      write a JSON summary of the measured figures (JUnit XML: pytest's --junitxml)
  --open-electrode CH    real boards only: the operator has left channel CH's positive electrode open (all others
                         connected), which enables the manual lead-off test
  --test-amp-uv UV       nominal test-signal amplitude (CAL_AMP = 0) if a golden board says otherwise than
                         VREF/2.4 = 1875 uV
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pytest
from _board import HilBoard  # hil_tests/ is on sys.path (rootdir-relative conftest, no package)

_REPORT = pytest.StashKey[dict]()


def pytest_addoption(parser):
    g = parser.getgroup("hil", "perifacial hardware-in-the-loop")
    g.addoption("--board", default="sim://", help="board URL: sim:// (default), /dev/ttyACM0, COM3, tcp://host:port")
    g.addoption("--soak-seconds", type=float, default=5.0, help="continuity soak length in seconds (default 5)")
    g.addoption(
        "--throughput-seconds",
        type=float,
        default=2.0,
        help="stream length per data rate in the throughput test (default 2)",
    )
    g.addoption(
        "--hil-report", default=None, metavar="PATH", help="write a JSON summary of the measured figures to PATH"
    )
    g.addoption(
        "--open-electrode",
        type=int,
        default=None,
        metavar="CH",
        help="real board: channel (0-based) whose positive electrode the operator left open",
    )
    g.addoption(
        "--test-amp-uv",
        type=float,
        default=None,
        help="nominal internal test-signal amplitude in uV for CAL_AMP=0 (default VREF/2.4 = 1875)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sim_only: needs fault injection that only the virtual board (sim://) has")
    config.addinivalue_line("markers", "manual: needs an operator at a real board (skipped unless set up)")
    config.stash[_REPORT] = {"figures": {}, "tests": {}}
    _STORE[:] = [config.stash[_REPORT]]


class HilReport:
    """Measured figures for the JSON summary (``--hil-report``); each figure's one-line summary also goes to the
    JUnit XML as a test-suite property (``--junitxml``)."""

    def __init__(self, store: dict, record_suite_property=None, nodeid: str = ""):
        self.store = store
        self.record_suite_property = record_suite_property
        self.nodeid = nodeid

    def add(self, key: str, value) -> None:
        self.store["figures"][key] = value
        if self.record_suite_property is not None:
            summary = value.get("summary") if isinstance(value, dict) else value
            if isinstance(summary, (int, float, str)):
                self.record_suite_property(f"hil.{key}", summary)


@pytest.fixture(scope="session")
def hil(request):
    """The board under test (HilBoard), opened once per session."""
    url = request.config.getoption("--board")
    t0 = time.monotonic()
    try:
        hb = HilBoard(url)
    except Exception as exc:  # noqa: BLE001 - every test depends on it: one clear failure
        pytest.fail(f"could not open the board at {url!r}: {exc}", pytrace=False)
    store = request.config.stash[_REPORT]
    store["board"] = {
        "url": url,
        "is_sim": hb.is_sim,
        "identify": {k: v for k, v in hb.info.items() if k != "config"},
        "baseline_config": hb.baseline,
        "open_s": round(time.monotonic() - t0, 3),
    }
    yield hb
    hb.close()


@pytest.fixture(autouse=True)
def _fresh_config(request):
    """Each test starts from the session's baseline configuration with the board stopped (only if it uses it)."""
    if "hil" in request.fixturenames:
        hb = request.getfixturevalue("hil")
        hb.reset()
        yield
        try:
            hb.reset()
        except Exception:  # noqa: BLE001 - the next test's setup reports a broken board
            pass
    else:
        yield


@pytest.fixture
def hil_report(request, record_testsuite_property):
    return HilReport(request.config.stash[_REPORT], record_testsuite_property, request.node.nodeid)


@pytest.fixture
def sim_board(hil):
    """The VirtualBoard behind sim:// (fault injection); skips on a real board."""
    if hil.vb is None:
        pytest.skip(
            f"needs the virtual board object (sim://: fault injection, model checks); {hil.url} is a real board"
        )
    return hil.vb


_STORE: list = []  # the session's report store (set in pytest_configure) for hooks that get no config


def pytest_runtest_logreport(report):
    if not _STORE or "hil_tests/" not in report.nodeid.replace("\\", "/"):
        return
    t = _STORE[0]["tests"].setdefault(report.nodeid, {"outcome": "passed", "duration_s": 0.0})
    t["duration_s"] = round(t["duration_s"] + report.duration, 3)
    if report.failed:
        t["outcome"] = "failed" if report.when == "call" else "error"
        t["message"] = str(report.longrepr)[-800:]
    elif report.skipped and report.when in ("setup", "call"):
        t["outcome"] = "skipped"
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            t["reason"] = report.longrepr[2]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    store = config.stash.get(_REPORT, None)
    if not store or "board" not in store:
        return
    figs = store["figures"]
    tr = terminalreporter
    tr.section("perifacial HIL figures")
    tr.write_line(
        f"board {store['board']['url']}: "
        + ", ".join(
            f"{k} {v}" for k, v in store["board"]["identify"].items() if k in ("firmware", "board", "chips", "link")
        )
    )
    for key in sorted(figs):
        v = figs[key]
        if isinstance(v, dict) and "summary" in v:
            tr.write_line(f"  {key}: {v['summary']}")
        elif isinstance(v, (int, float, str)):
            tr.write_line(f"  {key}: {v}")
    path = config.getoption("--hil-report")
    if path:
        out = {
            "board": store["board"],
            "figures": figs,
            "tests": store["tests"],
            "exitstatus": int(exitstatus),
            "host": {"python": platform.python_version(), "machine": platform.machine()},
            "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        Path(path).write_text(json.dumps(out, indent=2, default=float))
        tr.write_line(f"HIL report written to {path}")
