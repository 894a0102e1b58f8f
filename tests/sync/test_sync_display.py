import importlib.util
import sys
from pathlib import Path

import pytest

from perifacial.firmware.syncdisplay import proto
from perifacial.host.sync import (
    DigitDisplay,
    DisplayRateWarning,
    NullBackend,
    SerialBackend,
    SyncLog,
    open_display,
    parse_display_spec,
)
from perifacial.host.sync.display import EV_DISPLAY

FW = Path(__file__).resolve().parents[2] / "firmware" / "syncdisplay"


def test_parse_display_spec():
    assert parse_display_spec("screen").backend == "screen"
    assert parse_display_spec("none").backend == "none"
    assert parse_display_spec("BOARD").backend == "board"
    s = parse_display_spec("serial:socket://localhost:7000")
    assert (s.backend, s.port, str(s)) == ("serial", "socket://localhost:7000", "serial:socket://localhost:7000")
    for bad in ("serial", "serial:", "lcd", "screen:1", ""):
        with pytest.raises(ValueError):
            parse_display_spec(bad)
    assert open_display("none") is None
    d = open_display("board", every_samples=250)
    assert (
        d.mode == "board" and d.capacity == 10**4 and d.board_command() == {"mode": "board", "every": 250, "value": 0}
    )


def test_host_mode_every_n_frames_and_wrap():
    be = NullBackend(digits=2)
    d = DigitDisplay(be, every_frames=3, start=98)
    rows = [d.on_frame(10 * j, 10, 0.01 * j) for j in range(10)]
    changed = [r for r in rows if r is not None]
    # frame 0 shows the start value, then every third frame increments
    assert [r.value for r in changed] == [98, 99, 100, 101]
    assert [r.shown for r in changed] == [98, 99, 0, 1]
    assert [r.sample for r in changed] == [10, 40, 70, 100]  # one past the last received sample
    assert all(r.kind == "received" for r in changed)
    assert be.last == 1
    log = SyncLog.from_rows(d.rows)
    assert log.capacity == 100 and log.candidates(0).tolist() == [100]
    assert d.on_event(EV_DISPLAY, 5, 5, 0, 0.0) is None  # host mode ignores board events


def test_board_mode_logs_events_and_unwraps():
    d = DigitDisplay(None, mode="board", every_samples=100)
    assert d.on_frame(0, 10, 0.0) is None
    r0 = d.on_event(EV_DISPLAY, 0xFFFFFFFF, 100, 1, 0.1)
    r1 = d.on_event(EV_DISPLAY, 0, 200, 2, 0.2)  # u32 wrap on the wire
    assert d.on_event(2, 7, 250, 3, 0.25) is None  # a marker, not a display change
    assert (r0.value, r1.value, r1.shown, r1.kind, r1.device_time_us) == (0xFFFFFFFF, 0x100000000, 0, "sampled", 2)
    # a board that reports the shown (wrapped) value
    d2 = DigitDisplay(None, mode="board", capacity=10**4)
    d2.on_event(EV_DISPLAY, 9999, 100, 0, 0.0)
    assert d2.on_event(EV_DISPLAY, 0, 200, 0, 0.1).value == 10000


def test_readability_warning():
    d = DigitDisplay(NullBackend(), every_frames=2)
    with pytest.warns(DisplayRateWarning):
        assert d.check_readable(30.0, 1000.0, samples_per_frame=10) == pytest.approx(0.6)
    d = DigitDisplay(NullBackend(), every_frames=12)
    assert d.check_readable(30.0, 1000.0, samples_per_frame=10) == pytest.approx(3.6)


def test_attach_to_board_and_recorder():
    class Blk:
        def __init__(self, first, n, t, frame_first=None, frame_n=None):
            self.first_sample, self.n, self.host_time = first, n, t
            if frame_first is not None:
                self.frame_first, self.frame_n = frame_first, frame_n

    class FakeBoard:
        def __init__(self):
            self.block, self.event, self.cmds = [], [], []
            self.fs = 1000.0
            self.config = {"samples_per_frame": 10}

        def add_block_listener(self, fn):
            self.block.append(fn)

        def remove_block_listener(self, fn):
            self.block.remove(fn)

        def add_event_listener(self, fn):
            self.event.append(fn)

        def remove_event_listener(self, fn):
            self.event.remove(fn)

        def display(self, **args):
            self.cmds.append(args)
            return args

    class FakeRecorder:
        def __init__(self):
            self.synced, self.notes = [], []

        def sync(self, value, sample=None, kind="received", host_time=None, **extra):
            self.synced.append((value, sample, kind, host_time, extra))

        def note(self, **obj):
            self.notes.append(obj)

    board, rec = FakeBoard(), FakeRecorder()
    d = DigitDisplay(NullBackend(), every_frames=2, camera_fps=30.0)
    d.attach(board, rec)
    with pytest.warns(DisplayRateWarning):  # 2 x 10 samples at 1000 SPS = 0.6 frames at 30 fps
        for j in range(5):
            for fn in list(board.block):
                fn(Blk(10 * j, 10, 1.0 + j))
    d.detach()
    assert not board.block
    assert [s[:3] for s in rec.synced] == [(0, 10, "received"), (1, 30, "received"), (2, 50, "received")]
    assert rec.synced[0][4] == {"shown": 0, "capacity": 10**4}
    assert rec.notes[0]["sync_display"] == {
        "mode": "host",
        "kind": d.kind,
        "capacity": 10**4,
        "every_frames": 2,
        "every_samples": 100,
        "start": 0,
        "backend": "NullBackend",
    }
    # frames merged into one block by the link (one read): counted frame by frame, drawn once
    be = NullBackend()
    d = DigitDisplay(be, every_frames=2)
    d.attach(board, rec)
    n0 = len(rec.synced)
    for fn in list(board.block):
        fn(Blk(0, 55, 2.0))  # 6 frames: 10 x 5 + 5
    assert [r.sample for r in d.rows] == [10, 30, 50]  # frames 1, 3, 5 end there (frame 1 shows the start)
    assert be.last == 2 and len(rec.synced) == n0 + 3 and {r.host_time for r in d.rows} == {2.0}
    blk = Blk(55, 40, 3.0, [55, 75], [20, 20])  # per-frame arrays, when the block carries them
    for fn in list(board.block):
        fn(blk)
    assert [r.sample for r in d.rows][-1] == 75  # the 8th frame (55..74) completes the next pair
    d.detach()
    bd = DigitDisplay(None, mode="board", every_samples=500)
    bd.attach(board, rec)
    assert board.cmds[-1] == {"mode": "board", "every": 500, "value": 0}


def _load_main():
    sys.path.insert(0, str(FW))
    try:
        spec = importlib.util.spec_from_file_location("syncdisplay_main", FW / "main.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(FW))


class FakeLed:
    def __init__(self, digits):
        self.digits = digits
        self.shown = []

    def show(self, v):
        self.shown.append(v)

    def blank(self):
        self.shown.append(None)

    def brightness(self, level):
        self.level = level


class LoopbackBoard:
    """A serial-port stand-in running the display firmware's App (CPython) on whatever the host writes."""

    def __init__(self, digits=4, garbage=b""):
        main = _load_main()
        self.led = FakeLed(digits)
        self.t = 0
        self.app = main.App(self.led, self._ticks)
        self.reader = proto.FrameReader(proto.CMD_MAGIC, proto.CMD_SIZE)
        self.out = bytearray(garbage)

    def _ticks(self):
        self.t += 1000
        return self.t

    def write(self, data):
        for frame in self.reader.feed(data):
            self.out += self.app.handle(frame, self.reader.bad)
        return len(data)

    @property
    def in_waiting(self):
        return len(self.out)

    def read(self, n):
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data

    def close(self):
        pass


@pytest.mark.parametrize("digits", [4, 8])
def test_serial_backend_with_firmware_app(digits):
    port = LoopbackBoard(digits, garbage=b"\x7e\x00junk")
    be = SerialBackend(port)
    assert be.capacity == 10**digits
    d = DigitDisplay(be, every_frames=1, start=10**digits - 1)
    for j in range(3):
        d.on_frame(10 * j, 10, float(j))
    d.poll()
    assert port.led.shown == [10**digits - 1, 0, 1]
    assert [e.value for e in d.echoes] == [10**digits - 1, 0, 1]
    assert [e.device_time_us for e in d.echoes] == [2000, 3000, 4000]
    assert all(e.round_trip_s >= 0 for e in d.echoes)
    # a corrupted command is skipped (CRC) and counted; the next one still works
    frame = bytearray(proto.pack_command(proto.OP_SHOW, 42, 9))
    frame[5] ^= 0xFF
    port.write(bytes(frame) + proto.pack_command(proto.OP_SHOW, 43, 10))
    (echo,) = be.poll()
    assert (echo.value, echo.seq, echo.bad_frames) == (43, 10, 1)


def test_serial_backend_times_out_without_board():
    class Mute:
        in_waiting = 0

        def write(self, data):
            return len(data)

        def read(self, n):
            return b""

        def close(self):
            pass

    with pytest.raises(TimeoutError):
        SerialBackend(Mute(), timeout=0.05)
