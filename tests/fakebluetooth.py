"""Test helper: a stand-in for MicroPython's ``bluetooth`` module around a fake radio."""


class BluetoothModule:
    """``bluetooth`` as the firmware uses it: ``BLE()`` returns ``ble`` (the fake radio), ``UUID(s)`` is ``s``."""

    def __init__(self, ble):
        self.ble = ble

    def BLE(self):
        return self.ble

    def UUID(self, s):
        return s
