"""No allocation in the DRDY handler, checked by the real MicroPython runtime: the handler runs with the heap locked
(micropython.heap_lock: any allocation raises MemoryError), through the on-time, late-read, duplicate-call and
ring-full paths, with both chained-read variants (CS held low, CS toggled)."""

import pytest
from mpy_harness import require_runtime, run_micropython

SCRIPT = 'import micropython, acquire, ads1299\nprint(hasattr(micropython, "heap_lock"))\nclass T:\n    def __init__(self):\n        self.t = 1000\n    def ticks_us(self):\n        return self.t\n    def ticks_diff(self, a, b):\n        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000\n    def ticks_add(self, a, d):\n        return (a + d) & 0x3FFFFFFF\nclass SPI:\n    def readinto(self, buf, w=0):\n        buf[0] = 0xC0\nclass P:\n    def value(self, v=None):\n        return 0\ntm = T()\nads = ads1299.ADS1299(SPI(), [P(), P(), P()], P(), tm)\nfor hold in (True, False):\n  for soft in (False, True):\n    acq = acquire.Acquirer(ads.make_reader(hold), 3, tm, 1000, 16, soft=soft)\n    h = acq.handler\n    for i in range(40):\n        tm.t += 3100 if i == 5 else (20 if i == 9 else 1000)\n        micropython.heap_lock()\n        try:\n            h(None)\n        finally:\n            micropython.heap_unlock()\n    print(hold, soft, acq.count, acq.lost_late, acq.lost_full, acq.dup)\n'  # noqa: E501


@pytest.mark.micropython
def test_drdy_handler_allocates_nothing():
    require_runtime()
    rc, out, err = run_micropython(SCRIPT)
    assert rc == 0, err
    lines = out.split()
    assert lines[0] == "True"  # heap_lock is there
    # hold_cs, soft, count, lost_late, lost_full, dup
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert rows == [
        ["True", "False", "42", "2", "24", "0"],
        ["True", "True", "41", "2", "23", "1"],
        ["False", "False", "42", "2", "24", "0"],
        ["False", "True", "41", "2", "23", "1"],
    ], out
