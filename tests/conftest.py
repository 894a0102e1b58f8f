import sys
from pathlib import Path

# test-only helpers in this folder (refdecode.py, video_writer.py) import as top-level modules, from tests and bench
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
