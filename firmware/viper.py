# Machine-code helpers for the ports that have the viper emitter (rp2, esp32). Importing this module fails where
# there is none (CPython: no `micropython` module; the WebAssembly MicroPython: SyntaxError), and each user keeps a
# pure-Python definition of the same function as its fallback; tests run both against each other.
import micropython


@micropython.viper
def bad_status(buf, off: int, count: int) -> int:
    """Chip status words among ``count`` 27-byte records from ``buf[off]`` lacking the 0xC nibble."""
    p = ptr8(buf)  # noqa: F821 - a viper builtin
    bad = 0
    end = off + count * 27
    while off < end:
        if (p[off] & 0xF0) != 0xC0:
            bad += 1
        off += 27
    return bad
