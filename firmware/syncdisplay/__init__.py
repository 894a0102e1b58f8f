# The video-sync digit display board: MicroPython firmware (main.py, drivers) and its serial protocol (proto.py).
# On the board the files are copied flat (main.py imports ``proto``); the host imports
# ``perifacial.firmware.syncdisplay.proto`` so the protocol is defined once.
