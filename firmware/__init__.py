"""The MicroPython firmware, shipped as package data so ``perifacial flash`` works from an installed wheel.

On the host, :mod:`perifacial.firmware.wire` is the wire format the decoder imports, and the virtual board
(``perifacial.host.sim.virtual_board``) runs the application itself (``perifacial.firmware.app``) on the ADS1299
model. This ``__init__`` is not copied to boards: there the modules sit at the top level (see app.py for the import
pattern that works both ways).
"""
