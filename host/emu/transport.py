"""``emu://`` board URLs: the firmware on the emulated RP2040 (:mod:`perifacial.host.emu.runner`) as a transport.

    emu://?rate=2000                 RPI_PICO UF2 from PERIFACIAL_RP2EMU or ../shared/rp2emu, picow profile
    emu://?uf2=/path/RPI_PICO.uf2    another official RPI_PICO MicroPython build (v1.27)

Query options: ``rate`` (500/1000/2000: set with ``set_config`` right after boot, before the host sees the
stream), ``uf2``, ``board`` (a profile of hardware/boards with an RP2040 pin map; default picow), ``source=1``
(``.py`` sources on the flash instead of ``.mpy``), ``spi_baud`` (the profile's SPI clock: a slow read path),
``drdy_pin`` (the GPIO the emulated chips' DRDY is wired to; the profile keeps its own: a wiring fault),
``clock_error_ppm`` (the chips' oscillator error).

Time is emulated: ``read(n, timeout)`` runs the emulation until the firmware sent bytes or ``timeout`` emulated
seconds passed, and :attr:`EmuTransport.clock` gives the emulated time, which :class:`perifacial.host.board.Board`
uses for its deadlines. The emulated board runs slower than real time (10-75 M cycles per real second for a
125 MHz core), so wall-clock deadlines would make the outcome depend on the host's speed.
"""

from __future__ import annotations

import json
import logging

from perifacial.firmware import wire
from perifacial.host.transport import LinkLost, Transport, TransportOpenError, parse_query

from .runner import DEFAULT_BOARD, EmulatorUnavailable, EmuProcess, build_flash_image, find_paths

log = logging.getLogger(__name__)

__all__ = ["EmuTransport", "emu_options"]

_SETUP_ID = 0x7FFF0001  # id of the transport's own set_config at open (its response is consumed here)
BOOT_TIMEOUT_S = 3.0  # emulated seconds for boot + bring-up (about 0.6 s: tPOR x 2, register setup)


def emu_options(query: str) -> dict:
    opts: dict = {}
    for k, v in parse_query(query).items():
        if k in ("rate", "spi_baud", "drdy_pin"):
            opts[k] = int(v)
        elif k == "clock_error_ppm":
            opts[k] = float(v)
        elif k == "source":
            opts[k] = v.strip().lower() not in ("0", "false", "no", "")
        elif k in ("uf2", "board"):
            opts[k] = v
        else:
            raise TransportOpenError(
                f"emu:// does not know the option {k!r} (known: rate, uf2, board, source, "
                "spi_baud, drdy_pin, clock_error_ppm)"
            )
    return opts


class EmuTransport(Transport):
    """The firmware on the emulated RP2040, behind the byte-stream interface of every transport."""

    kind = "emu"

    def __init__(
        self,
        url: str,
        rate: int | None = None,
        uf2: str | None = None,
        board: str = DEFAULT_BOARD,
        source: bool = False,
        spi_baud: int | None = None,
        drdy_pin: int | None = None,
        clock_error_ppm: float = 0.0,
        extra_files: dict | None = None,
        profile: dict | None = None,
        boot: bool = True,
    ):
        """``profile``: keys merged into the board profile written to the emulated flash (``board.json``), e.g. an
        acquisition-path switch; ``extra_files``: more files for the flash (name -> bytes)."""
        self.url = url
        try:
            paths = find_paths(uf2)
            overrides: dict = dict(profile or {})
            if spi_baud is not None:
                overrides["spi"] = {"baudrate": int(spi_baud)}
            image = build_flash_image(board, overrides, source=source, extra_files=extra_files)
        except EmulatorUnavailable as exc:
            raise TransportOpenError(f"{url}: {exc}") from exc
        from perifacial.host.flash import board_spec

        prof = board_spec(board).profile
        ads = prof["ads"]
        pins = {"cs": list(ads["cs"]), "drdy": ads["drdy"]}
        for k in ("sck", "mosi", "miso"):  # bit-level SPI (PIO) on the same pins
            if k in prof.get("spi", {}):
                pins[k] = prof["spi"][k]
        for k in ("start", "reset", "pwdn"):
            if ads.get(k) is not None:
                pins[k] = ads[k]
        if drdy_pin is not None:
            pins["drdy"] = int(drdy_pin)
        self.chain_pins = pins
        self.proc = EmuProcess(image, paths, {"pins": pins, "clockError": clock_error_ppm * 1e-6})
        self._pending = bytearray()
        self._closed = False
        if boot:
            self._boot(rate)

    # -- open: wait for the firmware, set the rate ----------------------------------------------------------------
    def _boot(self, rate: int | None) -> None:
        from perifacial.host.decoder import Decoder

        dec = Decoder()
        seen = bytearray()
        t_end = self.proc.now_s + BOOT_TIMEOUT_S
        ready = False
        while not ready and self.proc.now_s < t_end:
            chunk = self._proc_read(1 << 16, t_end - self.proc.now_s)
            seen += chunk
            for lg in dec.feed(chunk).logs:
                if "ready" in lg.text or "fault" in lg.text:
                    ready = True
        if not ready:
            self.close()
            raise TransportOpenError(
                f"{self.url}: the firmware did not report ready within {BOOT_TIMEOUT_S:g} "
                f"emulated s (got {len(seen)} bytes): does the UF2 boot main.py?"
            )
        self._pending += seen
        if rate is not None and rate != 1000:
            cmd = json.dumps({"id": _SETUP_ID, "cmd": "set_config", "rate": int(rate)}).encode()
            self.proc.write(wire.encode(wire.T_COMMAND, 0, cmd))
            t_end = self.proc.now_s + BOOT_TIMEOUT_S
            while self.proc.now_s < t_end:
                chunk = self._proc_read(1 << 16, t_end - self.proc.now_s)
                for r in dec.feed(chunk).responses:
                    if r.get("id") == _SETUP_ID:
                        if not r.get("ok"):
                            self.close()
                            raise TransportOpenError(f"{self.url}: the board refused rate {rate}: {r.get('error')}")
                        self._pending.clear()  # the stream restarts here for the host (no orphan response)
                        return
                self._pending += chunk
            self.close()
            raise TransportOpenError(f"{self.url}: no answer to set_config rate={rate}")

    def _proc_read(self, n: int, timeout: float) -> bytes:
        try:
            return self.proc.read(n, timeout)
        except EmulatorUnavailable as exc:
            raise LinkLost(f"{self.url}: {exc}") from exc

    # -- Transport ------------------------------------------------------------------------------------------------
    def clock(self) -> float:
        """Emulated seconds since the board was switched on (deadlines of :class:`~perifacial.host.board.Board`)."""
        return self.proc.now_s

    def read(self, n: int, timeout: float) -> bytes:
        if self._closed:
            raise LinkLost(f"{self.url}: transport closed")
        if self._pending:
            data = bytes(self._pending[:n])
            del self._pending[:n]
            return data
        return self._proc_read(n, timeout)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise LinkLost(f"{self.url}: transport closed")
        try:
            self.proc.write(bytes(data))
        except EmulatorUnavailable as exc:
            raise LinkLost(f"{self.url}: {exc}") from exc

    def link_down(self, seconds: float) -> None:
        """The host closes the port for ``seconds`` of emulated time while the board runs on: everything the board
        sends meanwhile is lost (bytes in the OS buffers of a closed port), so the host sees a sequence and
        sample-index gap. (A real port is closed with :meth:`close` and reopened; here that would end the board.)"""
        self._pending.clear()
        end = self.proc.now_s + float(seconds)
        while self.proc.now_s < end:
            self._proc_read(1 << 20, end - self.proc.now_s)

    def stats(self, reset: bool = False) -> dict:
        """The emulator's budget counters (CPU busy, DRDY-to-read latency, ring fill, USB bytes) for the window
        since the last ``stats(reset=True)``."""
        return self.proc.stats(reset)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.proc.close()

    def reconnect(self, timeout: float = 10.0) -> None:
        if self._closed:
            raise LinkLost(f"{self.url}: the emulated board was closed; open a new one")

    @property
    def is_open(self) -> bool:
        return not self._closed
