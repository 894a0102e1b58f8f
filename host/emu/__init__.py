"""perifacial.host.emu: the firmware on MicroPython's real RP2040 build in the rp2040js emulator (node).

- :mod:`.runner`: find node/rp2040js/UF2/boot ROM, build the flash image, run one emulated board (``js/board.mjs``);
- :mod:`.transport`: ``emu://`` board URLs (emulated time drives the host's deadlines);
- :mod:`.budget`: stream and account for every sample and cycle (``perifacial emulate``, bench, tests);
- :mod:`.chain`: what the emulated ADS1299 chain (``js/ads1299_chain.mjs``) shifts out, computed independently.
"""
