"""The firmware's real-time budget on the emulated RP2040: stream ``seconds`` at ``rate`` and account for every
sample and CPU cycle.

    from perifacial.host.emu.budget import measure
    b = measure(rate=2000, seconds=10)       # Budget: cpu_busy, samples_lost, latencies, ring high-water, ...
    print(b.table())

Emulated time is deterministic (a given firmware, UF2 and rate give the same figures every run) and a lower bound
for silicon: flash wait states and interrupt entry are free in the emulator (../shared/rp2emu/README.md). A budget
met with margin here is credible on a board; one missed here is missed on a board.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from perifacial.firmware import wire

from .chain import expected_frame

log = logging.getLogger(__name__)

__all__ = ["Budget", "measure", "measured", "data_frames", "PATHS"]

#: Acquisition paths the budget can measure: name -> board-profile keys that select it on the emulated flash.
#: "irq+dma": the DRDY hard IRQ starts a DMA read of the chain and returns (rp2 profiles, ``spi_dma``); "irq": the
#: handler reads with a blocking ``SPI.readinto`` (boards without rp2.DMA). Both frame in the main loop.
PATHS: dict[str, dict] = {"irq+dma": {"spi_dma": True}, "irq": {"spi_dma": False}}
ALL_RATES = {"rates": [500, 1000, 2000]}  #: profile override: the board accepts every rate (for measuring)


@dataclass
class Budget:
    """One measured stream. Times in emulated seconds / microseconds; ``cpu_busy`` 0-1 (cycles not in WFI/WFE)."""

    rate: int
    seconds: float
    samples_expected: int  #: sample positions from the first to the last one the host asked for (rate x seconds)
    samples_received: int  #: samples that reached the host decoder
    samples_lost: int  #: expected - received (each also reported as a gap and in the firmware's counters)
    cpu_busy: float
    ring_high_water: int  #: max samples read from the chips but not yet sent over USB (ring + frame + USB FIFO)
    latency_us_median: float | None  #: DRDY falling edge to the first SCLK of its read
    latency_us_max: float | None
    usb_bytes_per_s: float
    conversions: int  #: DRDYs the emulated chips produced in the window
    reads: int  #: conversions whose 81 bytes the firmware clocked out completely
    overwritten: int  #: conversions replaced before all their bytes were read (lost at the chip: no FIFO)
    n_gaps: int = 0  #: sample-index gaps the host saw
    gaps: list = field(default_factory=list)  #: the first 20 [start, stop) sample ranges the host saw missing
    firmware_lost: int = 0  #: the firmware's own count (stop reply `lost`)
    frames_checked: int = 0  #: DATA frames compared byte for byte with what the emulated chips produced
    frames_mismatched: int = 0
    duplicates: int = 0  #: sample indices that arrived more than once
    path: str = "irq+dma"  #: acquisition path measured (a key of PATHS)
    uf2: str = ""
    url: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        def f(v, fmt):
            return "-" if v is None else format(v, fmt)

        period_us = 1e6 / self.rate
        rows = [
            ("rate", f"{self.rate} SPS (period {period_us:.0f} us), {self.seconds:g} emulated s, path {self.path}"),
            ("CPU busy", f"{100 * self.cpu_busy:.1f} % (emulated cycles outside WFI/WFE; a lower bound for silicon)"),
            ("DRDY -> read", f"median {f(self.latency_us_median, '.1f')} us, worst {f(self.latency_us_max, '.1f')} us"),
            ("ring high-water", f"{self.ring_high_water} samples (read but not yet sent over USB)"),
            (
                "samples",
                f"{self.samples_received} of {self.samples_expected} received, {self.samples_lost} lost "
                f"({self.overwritten} overwritten at the chip, firmware reports {self.firmware_lost})",
            ),
            ("frames", f"{self.frames_checked} DATA frames checked byte for byte, {self.frames_mismatched} differ"),
            ("USB", f"{self.usb_bytes_per_s / 1000:.1f} kB/s"),
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def data_frames(raw: bytes):
    """Yield ``(first_sample, n_samples, n_chips, flags, sample_bytes)`` of every intact DATA frame in ``raw``."""
    mv = memoryview(raw)
    off = 0
    n = len(raw)
    while off + wire.OVERHEAD <= n:
        if raw[off] != 0xA5 or raw[off + 1] != 0x5A:
            nxt = raw.find(wire.MAGIC, off + 1)
            if nxt < 0:
                return
            off = nxt
            continue
        size = wire.check(mv, off)
        if size <= 0:
            off += 1
            continue
        hdr = wire.parse_header(mv, off)
        if hdr is not None and hdr[0] == wire.T_DATA:
            first, _t, ns, nc, flags = wire.unpack_data_header(mv, off + wire.HEADER_SIZE)
            body = off + wire.HEADER_SIZE + wire.DATA_HDR_SIZE
            yield first, ns, nc, flags, bytes(mv[body : body + ns * nc * wire.CHIP_BYTES])
        off += size


def check_frames(raw: bytes, n_chips: int = 3) -> tuple[int, int, list[int]]:
    """Compare every DATA frame's samples with :func:`expected_frame`; return (frames, mismatched, indices)."""
    frames = bad = 0
    idx: list[int] = []
    rec = n_chips * wire.CHIP_BYTES
    for first, ns, nc, _flags, body in data_frames(raw):
        frames += 1
        ok = nc == n_chips
        for k in range(ns):
            idx.append(first + k)
            if ok and body[k * rec : (k + 1) * rec] != expected_frame(first + k, n_chips):
                ok = False
        bad += not ok
    return frames, bad, idx


def measure(
    rate: int = 1000,
    seconds: float = 5.0,
    *,
    uf2: str | None = None,
    board=None,
    url_options: str = "",
    check: bool = True,
    timeout: float = 2.0,
    path: str = "irq+dma",
) -> Budget:
    """Stream ``seconds`` at ``rate`` from the emulated board and return its :class:`Budget`.

    ``board``: an open :class:`perifacial.host.board.Board` on ``emu://`` to reuse (its rate is set here), else one
    is opened (``uf2``, ``url_options`` as in emu:// URLs) and closed. ``check``: compare every DATA frame byte for
    byte with what the emulated chips produced (needs every channel on its normal input, as after boot).
    ``timeout``: emulated seconds without a sample before the stream counts as stalled (the rest is lost).
    ``path``: the acquisition path (a key of :data:`PATHS`) written into the emulated board's profile.
    """
    from perifacial.host.board import BoardTimeout, open_board

    own = board is None
    if own:
        q = f"rate={int(rate)}" + (f"&uf2={uf2}" if uf2 else "") + (f"&{url_options}" if url_options else "")
        if path not in PATHS:
            raise ValueError(f"unknown acquisition path {path!r} (known: {', '.join(PATHS)})")
        # every rate is measured, also those the profile does not advertise (that is what the measurement decides)
        board = open_board(f"emu://?{q}", command_timeout=5.0, profile={**ALL_RATES, **PATHS[path]})
    tr = board.transport
    if not hasattr(tr, "stats"):
        raise ValueError(f"{board.url} is not an emulated board (emu://)")
    try:
        if int(board.config.get("rate", 0)) != int(rate):
            board.configure(rate=int(rate))
        raw = bytearray()
        listener = (lambda chunk, _now: raw.extend(chunk)) if check else None
        if listener:
            board.add_raw_listener(listener)
        n_target = int(round(rate * seconds))
        gaps0 = len(board.gaps)
        tr.stats(reset=True)
        board.start()
        received = 0
        first = None
        try:
            for blk in board.blocks(n_samples=n_target, timeout=timeout):
                if first is None:
                    first = blk.first_sample
                received += blk.n
        except BoardTimeout as exc:
            log.warning("stream stalled: %s", exc)
        st = tr.stats()
        stop = board.stop()
        if listener:
            board.remove_raw_listener(listener)
        gaps = [list(g) for g in board.gaps[gaps0:]]
        frames = bad = dup = 0
        if check:
            frames, bad, idx = check_frames(bytes(raw), board.n_channels // 8)
            a = np.asarray(idx, dtype=np.int64)
            dup = int(a.size - np.unique(a).size)
        received = min(received, n_target)
        return Budget(
            rate=int(rate),
            seconds=float(seconds),
            samples_expected=n_target,
            samples_received=int(received),
            samples_lost=int(n_target - received),
            cpu_busy=float(st["cpu_busy"]),
            ring_high_water=int(st["ring_high_water"]),
            latency_us_median=st["latency_us_median"],
            latency_us_max=st["latency_us_max"],
            usb_bytes_per_s=float(st["usb_bytes_per_s"]),
            conversions=int(st["conversions"]),
            reads=int(st["reads"]),
            overwritten=int(st["overwritten"]),
            n_gaps=len(gaps),
            gaps=gaps[:20],
            firmware_lost=int(stop.get("lost", 0) or 0),
            frames_checked=frames,
            frames_mismatched=bad,
            duplicates=dup,
            path=path,
            uf2=str(tr.proc.paths.uf2),
            url=board.url,
        )
    finally:
        if own:
            board.close()


_CACHE: dict = {}


def measured(rate: int, seconds: float, path: str = "irq+dma", uf2: str | None = None) -> Budget:
    """:func:`measure` on a freshly booted board, once per process and arguments: emulated time is deterministic,
    so the tests and the benchmarks of one session share a measurement instead of repeating minutes of emulation."""
    key = (int(rate), float(seconds), path, uf2)
    if key not in _CACHE:
        _CACHE[key] = measure(rate, seconds, uf2=uf2, path=path)
    return _CACHE[key]
