import subprocess
import sys

from perifacial import __version__
from perifacial.cli import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "usage: perifacial" in capsys.readouterr().out


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "perifacial", "--help"], capture_output=True, text=True, check=True)
    assert "sim://" in out.stdout
