"""The virtual board's heart: a register-level ADS1299 / daisy-chain model and MicroPython `machine`/`time` shims
on a virtual clock. See host/sim/MODEL.md. Both modules also run under MicroPython (copy them side by side)."""

from .ads1299_model import ADS1299Model, DaisyChain, Violation, code_to_volts, decode_frame, volts_to_code
from .machine_shim import DEFAULT_PROFILE, SimHardware, SimReset, install, install_sys_modules

__all__ = [
    "ADS1299Model",
    "DaisyChain",
    "Violation",
    "decode_frame",
    "code_to_volts",
    "volts_to_code",
    "DEFAULT_PROFILE",
    "SimHardware",
    "SimReset",
    "install",
    "install_sys_modules",
]
