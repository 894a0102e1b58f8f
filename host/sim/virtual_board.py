"""The virtual board: the firmware's own code (perifacial.firmware.app.App) running on the register-level ADS1299
model and the `machine` shim (host/sim), behind the byte-stream interface a host transport expects.

    vb = VirtualBoard(rate=1000, seed=0)        # boots the firmware (virtual 0.3 s: tPOR x 2, register setup)
    vb.write(wire.encode(wire.T_COMMAND, 0, b'{"id": 1, "cmd": "start"}'))
    data = vb.read(65536, timeout=1.0)          # frames, exactly the bytes a USB/TCP link would carry
    vb.close()

Time is virtual. ``read`` advances it as far as needed to produce bytes: as fast as the CPU allows by default, or
paced to the wall clock with ``realtime=True``. In the fast mode ``timeout`` is virtual time (a stopped board
produces only its 1 s STATUS heartbeat, so ``read(timeout=1.0)`` on an idle board returns that heartbeat).

Signal source (``source``): what the electrodes see, sample j of the source feeding conversion j.
- ``None`` (default): ``perifacial.dsp.synth.SynthStream(seed, fs=rate).read`` when importable (24 channels of
  synthetic perifacial EMG in uV), else no signal (device noise only).
- a callable ``fn(n)`` or an object with ``read(n)``, returning ``[n_channels, n]`` (numpy array or nested lists) in
  the unit given by ``source_units``: ``"uV"`` (default, as SynthStream) or ``"V"``.
- ``False``: no signal.
The source is sampled at the rate given here; a later ``set_config`` of another rate keeps the source's rate.

Fault injection for tests and HIL: ``stall(ms)`` (the main loop stops; DRDY keeps firing: ring overruns),
``link_down(ms)`` (no peer: frames dropped and counted), ``reboot()`` (a brown-out or watchdog reset: the firmware
starts over, stopped), ``reboot_at`` (virtual seconds; also a ``sim://?reboot_at=5`` URL option: reboot once then),
``mute_at``/``mute_s`` (virtual seconds; URL options too: the link carries nothing from ``mute_at`` for ``mute_s``,
a silent board), ``set_electrode_open(channel)``, ``chain`` / ``hw`` / ``app`` attributes. ``display_value`` is the
emulated on-board digit display.
"""

from __future__ import annotations

import json
import time as _walltime
from pathlib import Path

from perifacial.firmware import wire
from perifacial.firmware.app import App
from perifacial.firmware.tm1637 import NullDisplay

from .machine_shim import SimHardware, SimReset, install

BOARDS_DIR = Path(__file__).resolve().parents[2] / "hardware" / "boards"
try:  # installed wheel: the profiles ship as perifacial.hardware package data
    import perifacial.hardware as _hw_pkg

    _PKG_BOARDS = Path(_hw_pkg.__file__).resolve().parent / "boards"
    if _PKG_BOARDS.is_dir():
        BOARDS_DIR = _PKG_BOARDS
except ImportError:  # pragma: no cover
    pass

DEFAULT_LINK_BUFFER = 1 << 20  # bytes the emulated link holds for a host that does not read (realtime mode)


def _load_montage() -> dict | None:
    """hardware/montage.json (the file `perifacial flash` copies to the board as /montage.json)."""
    path = BOARDS_DIR.parent / "montage.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # pragma: no cover - shipped with the package
        return None


def load_profile(board: str | dict = "pico2w") -> dict:
    if isinstance(board, dict):
        return dict(board)
    return json.loads((BOARDS_DIR / (board + ".json")).read_text())


def shim_profile(profile: dict) -> dict:
    """The firmware's board profile in the machine shim's format (same pins)."""
    a = profile["ads"]
    pins = {"cs": list(a["cs"]), "drdy": a["drdy"]}
    for k in ("start", "reset", "pwdn"):
        if a.get(k) is not None:
            pins[k] = a[k]
    return {"spi": dict(profile.get("spi", {})), "pins": pins, "n_chips": len(a["cs"])}


class _LoopLink:
    """The firmware's link, looped back to the VirtualBoard's byte buffers (the same contract as links.py)."""

    def __init__(self, capacity: int):
        self.to_host = bytearray()
        self.to_board = bytearray()
        self.capacity = capacity
        self.up = True
        self.busy = 0

    def connected(self) -> bool:
        return self.up

    def write(self, frame) -> int:
        if len(self.to_host) + len(frame) > self.capacity:
            self.busy += 1
            return 0
        self.to_host += frame
        return len(frame)

    def read_into(self, mv) -> int:
        n = min(len(mv), len(self.to_board))
        if n:
            mv[:n] = self.to_board[:n]
            del self.to_board[:n]
        return n

    def service(self) -> None:
        pass

    def stats(self) -> dict:
        return {"type": "sim", "busy": self.busy, "staged": len(self.to_host)}


def _default_source(seed: int, rate: int):
    try:
        from perifacial.dsp.synth import SynthStream
    except ImportError:  # pragma: no cover - dsp is part of the distribution
        return None
    return SynthStream(seed, fs=float(rate)).read


class VirtualBoard:
    def __init__(
        self,
        rate: int = 1000,
        seed: int = 0,
        source=None,
        clock_error_ppm: float = 0.0,
        realtime: bool = False,
        board: str | dict = "pico2w",
        n_chips: int | None = None,
        samples_per_frame: int = 10,
        source_units: str = "uV",
        link_buffer: int = DEFAULT_LINK_BUFFER,
        idle_us: int | None = 5000,
        fast_shim: bool = True,
        reboot_at: float | None = None,
        mute_at: float | None = None,
        mute_s: float = 0.0,
        link=None,
        link_name: str = "sim",
        **shim_kw,
    ):
        """``fast_shim``: charge no virtual time per shim call (the shim's call_cost_us=0; SPI transfers and sleeps
        still take their time), which keeps a 60-minute session well faster than real time. ``idle_us``: the
        firmware's idle sleep per main-loop pass (virtual; 5 ms batches 5 samples per pass at 1 kSPS, well inside
        the 256-sample ring; None keeps the board profile's 500 us). ``link``: a firmware link to use instead of the
        in-process byte buffers (``perifacial serve`` passes the firmware's own TcpLink), named ``link_name``.
        The pairing key lives in the board's state (``self.store``), the montage is hardware/montage.json."""
        profile = load_profile(board)
        if n_chips is not None:
            profile["ads"] = dict(profile["ads"])
            profile["ads"]["cs"] = list(range(40, 40 + n_chips))
        if idle_us is not None:
            profile["idle_us"] = idle_us
        profile["name"] = "sim:" + str(profile.get("name", "board"))
        profile.setdefault("board_id", "sim-%s-%d" % (profile.get("name", "board")[4:], int(seed)))
        profile["rates"] = [500, 1000, 2000]  # the model has no CPU budget: every rate the ADS1299 driver knows
        profile["gc_collect_ms"] = 0  # CPython's gc.collect() is not MicroPython's: no periodic collection here
        self.profile = profile
        self.rate = int(rate)
        self.seed = int(seed)
        self.realtime = bool(realtime)
        if fast_shim:
            shim_kw.setdefault("call_cost_us", 0.0)
        self.hw = SimHardware(shim_profile(profile), clock_error=clock_error_ppm * 1e-6, seed=seed + 1, **shim_kw)
        self.chain = self.hw.chain
        self.machine = install(self.hw)
        if fast_shim and [r for r in self.hw.roles.values() if r[0] == "drdy"] == [("drdy", 0)]:
            # only chip 0's DRDY is wired (every profile): skip the shim's pin search for the other chips' DRDY
            on_drdy = self.chain.on_drdy

            def drdy0(t, chip, _f=on_drdy):
                if chip == 0:
                    _f(t, chip)

            self.chain.on_drdy = drdy0
        self.link = _LoopLink(link_buffer) if link is None else link
        self.link_name = link_name
        from perifacial.firmware.auth import MemStore

        self.store = MemStore()
        self.montage = _load_montage()
        self.display = NullDisplay()
        self.reboots = 0
        self.reboot_at = None if reboot_at is None else float(reboot_at)  #: virtual s: reboot once then
        self._mute = None if mute_at is None else (float(mute_at) * 1e6, (float(mute_at) + float(mute_s)) * 1e6)
        self._closed = False
        self._set_source(source, source_units)
        self._boot()
        cfg = {}
        if self.rate != 1000:
            cfg["rate"] = self.rate
        if samples_per_frame != 10:
            cfg["samples_per_frame"] = samples_per_frame
        if cfg:
            self.app.set_config(cfg)
        self._wall0 = _walltime.monotonic()
        self._virt0 = self.hw.now_us

    # -- set-up -------------------------------------------------------------------------------------------------------
    def _set_source(self, source, units: str) -> None:
        if source is None:
            source = _default_source(self.seed, self.rate)
        if source is False or source is None:
            self.chain.set_source(None) if hasattr(self.chain, "set_source") else None
            self._source = None
            return
        fn = source.read if hasattr(source, "read") else source
        if units not in ("uV", "V"):
            raise ValueError("source_units must be 'uV' or 'V'")
        scale = 1e-6 if units == "uV" else 1.0

        n_ch = self.chain.n_chips * 8

        def volts(n):
            x = fn(n)
            try:
                import numpy as np

                a = np.asarray(x, dtype=np.float64)
                if a.shape[0] > n_ch:  # a 24-channel source on a smaller chain: its first channels
                    a = a[:n_ch]
                return a * scale
            except ImportError:  # pragma: no cover
                return [[v * scale for v in row] for row in x[:n_ch]]

        self._source = fn
        self.chain.set_source(volts)

    def _boot(self) -> None:
        self.app = App(
            self.profile,
            self.machine,
            self.hw.time,
            self.link,
            display=self.display,
            link_name=self.link_name,
            store=self.store,
            montage=self.montage,
        )
        self.app.boot()
        if self.app.fault:
            raise RuntimeError("virtual board failed to boot: " + self.app.fault)

    # -- the byte stream -----------------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Bytes from the host (COMMAND frames)."""
        if self._closed:
            raise OSError("virtual board closed")
        self.link.to_board += data

    def _step(self) -> None:
        if self.reboot_at is not None and self.hw.now_us >= self.reboot_at * 1e6:
            self.reboot_at = None
            self.reboot()
            return
        if self._mute is not None:
            a, b = self._mute
            self.link.up = not (a <= self.hw.now_us < b)
            if self.hw.now_us >= b:
                self._mute = None
        try:
            self.app.guarded_step()  # as App.run() on a board: an exception in a step is reported, not fatal
            if self.app.exit_requested:
                # `repl`: the firmware left its main loop; the virtual board has no REPL, so it starts over
                raise SimReset("repl")
        except SimReset:
            # machine.reset(): the firmware starts over (the chips keep their power; boot() resets them)
            self.reboots += 1
            self.link.to_board.clear()
            self._boot()

    def run_for(self, ms: float) -> None:
        """Run the firmware for ``ms`` of virtual time (its output stays buffered for ``read``)."""
        end = self.hw.now_us + ms * 1000.0
        while self.hw.now_us < end:
            self._step()

    def read(self, max_bytes: int = 65536, timeout: float | None = 1.0) -> bytes:
        """Up to ``max_bytes`` of frames. Returns as soon as some bytes are there (after running at most ~20 ms
        of virtual time more to batch them), or b"" after ``timeout`` (virtual seconds; wall seconds in realtime)."""
        if self._closed:
            raise OSError("virtual board closed")
        out = self.link.to_host
        if len(out) < max_bytes:
            if self.realtime:
                self._read_realtime(max_bytes, timeout)
            else:
                hw = self.hw
                t_start = hw.now_us
                limit = t_start + (1e6 * timeout if timeout is not None else 3.6e9)
                batch_end = None
                while len(out) < max_bytes:
                    now = hw.now_us
                    if out:
                        if batch_end is None:
                            batch_end = now + 20000.0
                        elif now >= batch_end:
                            break
                    elif now >= limit:
                        break
                    self._step()
        n = min(max_bytes, len(out))
        data = bytes(out[:n])
        del out[:n]
        return data

    def _read_realtime(self, max_bytes: int, timeout: float | None) -> None:
        out = self.link.to_host
        deadline = None if timeout is None else _walltime.monotonic() + timeout
        while True:
            target = self._virt0 + (_walltime.monotonic() - self._wall0) * 1e6
            while self.hw.now_us < target and len(out) < max_bytes:
                self._step()
            if out or (deadline is not None and _walltime.monotonic() >= deadline):
                return
            _walltime.sleep(0.002)

    def keep_pace(self) -> None:
        """Run the firmware until its virtual time catches up with the wall clock (serving over a real link)."""
        target = self._virt0 + (_walltime.monotonic() - self._wall0) * 1e6
        while self.hw.now_us < target:
            self._step()

    def close(self) -> None:
        self._closed = True

    # -- introspection and fault injection -----------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        """Virtual time since the board was made, seconds."""
        return self.hw.now_us / 1e6

    @property
    def display_value(self) -> int:
        return self.display.value

    def stall(self, ms: float) -> None:
        """The firmware's main loop stops for ``ms`` (DRDY IRQs keep running): ring overruns show as a gap."""
        self.hw.advance(ms * 1000.0)

    def link_down(self, ms: float) -> None:
        """No peer for ``ms`` of virtual time: the firmware drops (and counts) frames; the host sees the gaps."""
        self.link.up = False
        try:
            self.run_for(ms)
        finally:
            self.link.up = True

    def reboot(self) -> None:
        """The board resets now (power glitch, watchdog): the firmware boots again and waits, stopped; bytes the
        host had sent and not yet delivered are gone; what the board had already sent stays in the link."""
        self.reboots += 1
        self.link.to_board.clear()
        self._boot()

    def set_electrode_open(self, channel: int, positive: bool = True, is_open: bool = True) -> None:
        self.chain.set_electrode_open(channel, positive=positive, is_open=is_open)

    def violations(self) -> list:
        """Datasheet rules the firmware broke on the model (expected: none)."""
        return list(self.chain.violations)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return "<VirtualBoard %s rate=%d seed=%d t=%.3fs>" % (
            self.profile.get("name"),
            self.rate,
            self.seed,
            self.now_s,
        )


__all__ = ["VirtualBoard", "load_profile", "shim_profile", "wire"]
