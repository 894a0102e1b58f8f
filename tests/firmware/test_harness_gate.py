"""The MicroPython tests skip without node/node_modules, except under PERIFACIAL_REQUIRE_MICROPYTHON=1 (.ci/run)."""

import mpy_harness
import pytest


def test_missing_runtime_skips_locally(monkeypatch, tmp_path):
    monkeypatch.setattr(mpy_harness, "MPY_DIR", tmp_path)
    monkeypatch.delenv("PERIFACIAL_REQUIRE_MICROPYTHON", raising=False)
    reason = mpy_harness.availability()
    assert reason is not None and "npm ci --prefix tests/mpy" in reason or "node" in reason
    with pytest.raises(pytest.skip.Exception):
        mpy_harness.require_runtime()


def test_missing_runtime_fails_when_required(monkeypatch, tmp_path):
    monkeypatch.setattr(mpy_harness, "MPY_DIR", tmp_path)
    monkeypatch.setenv("PERIFACIAL_REQUIRE_MICROPYTHON", "1")
    with pytest.raises(pytest.fail.Exception):
        mpy_harness.require_runtime()


def test_runner_reports_exceptions():
    mpy_harness.require_runtime()
    rc, out, err = mpy_harness.run_micropython("print('hi')\nraise ValueError('boom')\n")
    assert rc == 1 and out.strip() == "hi" and "ValueError: boom" in err
