"""A thin adapter between the HIL tests and perifacial.host.board: one place that knows the host API, so the tests
read as checks. Works the same on a real board (serial port, tcp://) and on the virtual board (sim://), where it
also exposes the fault-injection hooks of perifacial.host.sim.virtual_board.VirtualBoard."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from perifacial.host.board import Board, open_board
from perifacial.host.selftest import FrameTap


def skip_unadvertised(hil: HilBoard, rate: int) -> None:
    """Skip a per-rate check at a rate the board does not advertise (its measured budget does not carry it)."""
    import pytest

    if rate not in hil.info.get("rates", ()):
        pytest.skip(
            f"{hil.url} does not advertise {rate} SPS (identify rates {hil.info.get('rates')}: the board "
            "profile's measured budget)"
        )


CONFIG_KEYS = ("rate", "gain", "mux", "enabled", "bias", "lead_off", "test_amp_2x", "samples_per_frame", "srb1")


@dataclass
class Capture:
    """What one acquisition produced: data as the host delivers it plus frame-level facts from a tap."""

    data: np.ndarray  #: uV [channels, n] (NaN where samples never arrived)
    codes: np.ndarray
    leadoff: np.ndarray  #: bool [channels, n]
    first_sample: int
    n: int  #: sample positions from the first to the last received (received + lost)
    received: int  #: samples actually delivered
    gaps: list  #: board.gaps entries [start, stop) added during the capture
    stats: dict  #: the tap decoder's counters for this capture
    device_rate: float | None
    host_rate: float | None
    frames: int
    bytes: int
    wall_s: float
    stop_reply: dict = field(default_factory=dict)
    status_after: dict = field(default_factory=dict)
    orphan_responses: list = field(default_factory=list)


class HilBoard:
    def __init__(self, url: str, command_timeout: float = 5.0):
        self.url = url
        self.board: Board = open_board(url, command_timeout=command_timeout, reconnect_timeout=15.0)
        self.baseline = {k: v for k, v in self.board.config.items() if k in CONFIG_KEYS}

    # -- what kind of board --------------------------------------------------------------------------------------
    @property
    def transport(self):
        return self.board.transport

    @property
    def is_sim(self) -> bool:
        return getattr(self.transport, "kind", "") == "sim"

    @property
    def vb(self):
        """The VirtualBoard behind sim:// (None on a real board)."""
        return getattr(self.transport, "board", None) if self.is_sim else None

    @property
    def realtime(self) -> bool:
        """True when samples arrive at the board's pace (real boards, sim://?realtime=1)."""
        return not self.is_sim or bool(getattr(self.vb, "realtime", False))

    @property
    def info(self) -> dict:
        return self.board.info

    @property
    def channels(self) -> int:
        return self.board.n_channels

    @property
    def chips(self) -> int:
        return int(self.info.get("chips", self.channels // 8))

    @property
    def config(self) -> dict:
        return self.board.config

    # -- control --------------------------------------------------------------------------------------------------
    def command(self, cmd: str, **args) -> dict:
        return self.board.command(cmd, **args)

    def configure(self, **settings) -> dict:
        return self.board.configure(**settings)

    def status(self) -> dict:
        return self.board.status()

    def registers(self) -> list[list[int]]:
        return self.board.registers()

    def idle(self) -> None:
        """Stop acquisition if running and drop queued blocks."""
        if self.board.running:
            self.board.stop()
        st = self.status()
        if st.get("running"):
            self.board.command("stop")
            self.board.running = False
        self.board.pump(0.05)
        self.board.drain()

    def reset(self) -> None:
        """Back to the configuration the board had when the session opened it."""
        self.idle()
        self.configure(**self.baseline)

    def write_raw(self, data: bytes) -> None:
        self.transport.write(bytes(data))

    # -- acquisition ----------------------------------------------------------------------------------------------
    def acquire(self, n: int, timeout: float = 10.0, stop: bool = True, during=None, keep_data: bool = True) -> Capture:
        """Start, take ``n`` consecutive sample positions, stop (unless ``stop`` is False) and return a Capture.
        ``during(got, hil)`` is called after each received block with the sample positions so far (fault
        injection, link tricks; blocks can be hundreds of samples long). With
        ``keep_data=False`` (long soaks) the samples are counted, not kept (``data`` etc. are empty)."""
        b = self.board
        gaps0 = len(b.gaps)
        with FrameTap(b) as tap:
            t0 = time.monotonic()
            b.start()
            blocks = []
            got = 0
            first = None
            received = 0
            for blk in b.blocks(n_samples=n, timeout=timeout):
                received += blk.n
                if keep_data:
                    blocks.append(blk)
                if first is None:
                    first = blk.first_sample
                got = blk.stop_sample - first
                if during is not None:
                    during(got, self)
            stop_reply = b.stop() if stop else {}
            wall = time.monotonic() - t0
            if stop:
                b.pump(0.05)
                b.drain()
            status_after = self.status()
            nch = self.channels
            width = got if keep_data else 0
            data = np.full((nch, width), np.nan)
            codes = np.zeros((nch, width), dtype=np.int64)
            lo = np.zeros((nch, width), dtype=bool)
            for blk in blocks:
                i0 = blk.first_sample - first
                data[:, i0 : i0 + blk.n] = blk.data
                codes[:, i0 : i0 + blk.n] = blk.codes
                lo[:, i0 : i0 + blk.n] = blk.leadoff
            arr = tap.arrays()
            return Capture(
                data=data,
                codes=codes,
                leadoff=lo,
                first_sample=int(first),
                n=int(got),
                received=int(received),
                gaps=list(b.gaps[gaps0:]),
                stats=tap.stats.as_dict(),
                device_rate=tap.device_rate(),
                host_rate=tap.host_rate() if self.realtime else None,
                frames=int(arr["first"].size),
                bytes=int(tap.bytes),
                wall_s=wall,
                stop_reply=stop_reply,
                status_after=status_after,
                orphan_responses=list(tap.orphan_responses),
            )

    # -- faults ---------------------------------------------------------------------------------------------------
    def disconnect(self, seconds: float) -> None:
        """The host drops the link for ``seconds`` while the board streams. sim://: the firmware's link has no peer
        for that long (virtual time); emu://: what the board sends for that long (emulated time) is lost; real board:
        the host closes the port/socket and reopens it."""
        if self.is_sim:
            self.vb.link_down(seconds * 1000.0)
            return
        link_down = getattr(self.transport, "link_down", None)
        if link_down is not None:  # emu://: the port stays closed for `seconds` of emulated time
            link_down(seconds)
            self.board.decoder.reset_stream()
            return
        self.transport.close()
        time.sleep(seconds)
        self.transport.reconnect(15.0)
        self.board.decoder.reset_stream()

    def set_electrode_open(self, channel: int, is_open: bool = True) -> None:
        if self.vb is None:
            raise RuntimeError("electrode faults can only be injected on sim://")
        self.vb.set_electrode_open(channel, positive=True, is_open=is_open)

    def close(self) -> None:
        try:
            self.reset()
        except Exception:  # noqa: BLE001 - closing must not fail
            pass
        self.board.close()
