"""The firmware's logic on the ADS1299 model: the same scenarios under CPython and under real MicroPython."""

import json

import pytest
import scenarios
from mpy_harness import ROOT, availability, run_micropython, skip_or_fail

NAMES = sorted(scenarios.SCENARIOS)
# scenarios whose results do not depend on the model's noise generator (numpy on CPython, an LCG on MicroPython)
# or on the runtime's error texts: their results must be equal on both runtimes
DETERMINISTIC = (
    "backpressure",
    "machine_shim_stream",
    "boot_identify",
    "stream",
    "stream_cs_toggle",
    "test_signal",
    "overrun",
    "late_reads",
    "config",
    "display_marker",
    "link_drop",
)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_cpython(name):
    scenarios.run(name)


def test_stream_with_clock_error_and_rates():
    # the ADS1299 oscillator is +-0.5 %: the stream stays contiguous and the test-signal period stays exact
    scenarios.sc_stream(ms=500, clock_error=0.004)
    scenarios.sc_stream(ms=500, rate=2000, clock_error=-0.005)
    scenarios.sc_test_signal(rate=2000, clock_error=0.005)
    scenarios.sc_test_signal(rate=500, clock_error=-0.004, channels=(0, 23))


def wrong_id(chip, value):
    orig = chip.do_reset

    def do_reset(t):
        orig(t)
        chip.regs[0] = value

    chip.do_reset = do_reset
    chip.regs[0] = value


def test_id_fault_names_the_chip():
    r = scenarios.Rig(boot=False)
    wrong_id(r.chain.chips[2], 0x3D)  # an ADS1299-6: NU_CH = 01
    assert r.app.boot() is False
    assert r.app.fault.startswith("chip 2:") and "NU_CH 1" in r.app.fault
    ident = r.cmd("identify")
    assert ident["fault"] == r.app.fault
    st = r.cmd("start")
    assert not st["ok"] and "fault" in st["error"]
    logs = r.of_type(4)
    assert logs[0][2][0] == 40 and b"chip 2" in logs[0][2]


def test_dev_id_fault():
    r = scenarios.Rig(boot=False)
    wrong_id(r.chain.chips[0], 0x92)  # DEV_ID 00: not an ADS1299
    assert r.app.boot() is False
    assert r.app.fault.startswith("chip 0:") and "DEV_ID 0" in r.app.fault


@pytest.fixture(scope="module")
def mpy_results():
    reason = availability()
    if reason is not None:
        skip_or_fail(reason)
    files = {
        "/lib/ads1299_model.py": ROOT / "host" / "sim" / "ads1299_model.py",
        "/lib/machine_shim.py": ROOT / "host" / "sim" / "machine_shim.py",
        "/lib/scenarios.py": ROOT / "tests" / "firmware" / "scenarios.py",
    }
    script = (
        "import json, sys\n"
        "import scenarios\n"
        "res = {}\n"
        "for name in %r:\n"
        "    try:\n"
        "        res[name] = {'ok': True, 'result': scenarios.run(name)}\n"
        "    except Exception as e:\n"
        "        sys.print_exception(e)\n"
        "        res[name] = {'ok': False, 'error': repr(e)}\n"
        "print('@@RESULT@@' + json.dumps(res))\n" % (NAMES,)
    )
    rc, out, err = run_micropython(script, files)
    line = [x for x in out.splitlines() if x.startswith("@@RESULT@@")]
    assert rc == 0 and line, "MicroPython run failed (rc=%d)\nstdout:\n%s\nstderr:\n%s" % (rc, out[-4000:], err[-4000:])
    return json.loads(line[-1][len("@@RESULT@@") :]), err


@pytest.mark.micropython
@pytest.mark.parametrize("name", NAMES)
def test_scenario_micropython(mpy_results, name):
    res, err = mpy_results
    r = res[name]
    assert r["ok"], "%s failed under MicroPython: %s\n%s" % (name, r.get("error"), err[-3000:])
    if name in DETERMINISTIC:
        assert json.loads(json.dumps(scenarios.run(name))) == r["result"]


@pytest.mark.micropython
def test_relative_import_fallback_on_micropython():
    """The intra-firmware import pattern: `from . import x` fails with ImportError in a top-level module."""
    require = availability()
    if require is not None:
        skip_or_fail(require)
    rc, out, err = run_micropython(
        "try:\n"
        "    from . import wire\n"
        "except ImportError as e:\n"
        "    print('ImportError', e)\n"
        "import app, wire, commands, framer, selftest\n"
        "print(app.VERSION, wire.VERSION)\n"
    )
    assert rc == 0, err
    assert "ImportError" in out and "0.1.0 1" in out, out
