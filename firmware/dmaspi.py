# rp2 only: the chained DRDY read as two DMA transfers on the SPI (TX clocks out zeros, RX fills the ring slot),
# started from the DRDY handler, which then returns at once instead of waiting for the 648 bits. At 8 MHz that wait
# was about 100 us of every 500 us sample period at 2000 SPS (`perifacial emulate`: the emulated budget per path).
#
# Needs the chip-selects held low while streaming (profile cs_hold, the default) and the SPI set up by machine.SPI
# (baud rate, mode 1). The slot the last read went into is not complete until busy() is False: Acquirer.available()
# leaves it out until then. Every other port (and CPython, the WebAssembly MicroPython) has no `rp2` module: the
# import fails and the firmware reads with the blocking spi.readinto.
try:
    from micropython import const  # type: ignore[import-not-found]
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


import rp2  # type: ignore[import-not-found]
import uctypes  # type: ignore[import-not-found]

_SPI_BASE = (0x4003C000, 0x40040000)  # SPI0, SPI1 on the RP2040
_SPI_BASE_2350 = (0x40080000, 0x40088000)
_SSPDR = const(0x08)
_DREQ_SPI_TX = (16, 18)  # RP2040 DREQ numbers
_DREQ_SPI_RX = (17, 19)
_DREQ_SPI_TX_2350 = (24, 26)
_DREQ_SPI_RX_2350 = (25, 27)
_TRANS_COUNT = const(2)  # channel register indices (words)
_AL1_TRANS_COUNT_TRIG = const(7)
_AL2_WRITE_ADDR_TRIG = const(11)


class DmaReader:
    def __init__(self, spi_id, nbytes, rp2350=False):
        dr = (_SPI_BASE_2350 if rp2350 else _SPI_BASE)[spi_id] + _SSPDR
        tx_dreq = (_DREQ_SPI_TX_2350 if rp2350 else _DREQ_SPI_TX)[spi_id]
        rx_dreq = (_DREQ_SPI_RX_2350 if rp2350 else _DREQ_SPI_RX)[spi_id]
        self.zero = bytearray(4)
        self.scratch = bytearray(nbytes)
        self.rx = rx = rp2.DMA()
        self.tx = tx = rp2.DMA()
        rx.config(
            read=dr,
            write=self.scratch,
            count=nbytes,
            ctrl=rx.pack_ctrl(size=0, inc_read=False, inc_write=True, treq_sel=rx_dreq),
        )
        tx.config(
            read=self.zero,
            write=dr,
            count=nbytes,
            ctrl=tx.pack_ctrl(size=0, inc_read=False, inc_write=False, treq_sel=tx_dreq),
        )
        # DMA.registers (the channel's registers by word index) is in the port since v1.21 but not in the stubs
        self.rx_regs = getattr(rx, "registers")
        self.tx_regs = getattr(tx, "registers")
        self.nbytes = nbytes
        self._addressof = uctypes.addressof
        self.read = self._read  # bound once: the hard IRQ calls it
        self.busy = self._busy

    def _read(self, mv):
        """Start clocking one chained frame into ``mv`` (no allocation; returns before the data is there). False,
        and nothing started, while the previous read is still clocking (restarting would cut it short)."""
        rx = self.rx_regs
        if rx[_TRANS_COUNT] != 0:
            return False
        rx[_AL2_WRITE_ADDR_TRIG] = self._addressof(mv)  # arm RX first: it must catch the first byte
        self.tx_regs[_AL1_TRANS_COUNT_TRIG] = self.nbytes
        return True

    def _busy(self):
        return self.rx_regs[_TRANS_COUNT] != 0

    def close(self):
        self.rx.close()
        self.tx.close()
