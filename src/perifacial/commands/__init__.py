"""Subcommands of the ``perifacial`` CLI, one module each, registered by ``perifacial.cli.COMMAND_MODULES``.

Each module exposes ``register(subparsers)``; it must not import NumPy, numba or SciPy at import time (only in its
handler) so that ``perifacial --help`` stays fast.
"""
