import subprocess
import sys

import perifacial.dsp as dsp


def test_every_advertised_name_resolves_to_its_module():
    for name in dsp.__all__:
        obj = getattr(dsp, name)
        assert obj.__module__.startswith("perifacial.dsp"), name


def test_importing_the_package_is_cheap():
    # the CLI's --help and the host import perifacial.dsp.montage: that must not pull in numba
    code = "import sys, perifacial.dsp.montage; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_function_names_are_not_shadowed_by_submodules():
    # a submodule named like a function would replace it on the package once imported
    import importlib

    for name in dsp.__all__:
        assert importlib.util.find_spec(f"perifacial.dsp.{name}") is None, name
        assert callable(getattr(dsp, name))
