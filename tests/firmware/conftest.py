import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# scenarios.py (this folder), the ADS1299 model and the machine shim (host/sim) import as top-level modules, the way
# the MicroPython runtime sees them too
for p in (str(HERE), str(ROOT / "host" / "sim")):
    if p not in sys.path:
        sys.path.insert(0, p)
