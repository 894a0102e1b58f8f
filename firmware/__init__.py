"""The MicroPython firmware, shipped as package data so ``perifacial flash`` works from an installed wheel.

On the host only :mod:`perifacial.firmware.wire` (the wire format) is imported as a regular module. This
``__init__`` is not copied to boards.
"""
