"""Board bring-up check: the firmware's own self-test plus host-side checks on short streams.

Usage::

    from perifacial.host.selftest import run_selftest
    result = run_selftest("sim://?seed=1")        # or "/dev/ttyACM0", "tcp://192.168.4.1:4242"
    result.ok, [(c.name, c.status) for c in result.checks]

Every check carries its measured value, its pass criterion and where the criterion comes from (the ADS1299
datasheet, TI SBAS499C, or the firmware's contract in firmware/WIRE.md). The datasheet figures and the measurement
functions (:func:`square_wave`, :func:`noise_figures`, :func:`rate_from_frames`) are shared with ``hil_tests/``,
so the one-minute check and the HIL suite judge a board by the same numbers.

Host-side checks (besides the board's ``selftest`` command, which judges on the board):

- ID register of every chip by its fields (DEV_ID = 11, NU_CH = 10: an 8-channel ADS1299);
- internal test signal through the whole chain (SPI, framing, link, host decoder, gains): period exactly
  2^21 tCLK in samples (1024 at 1000 SPS, 2048 at 2000, 512 at 500), amplitude VREF/2.4 mV +- 2 % on every channel;
- a short normal-mode stream: no frame-sequence or sample-index gap, no CRC error, no device overrun;
- the sample rate measured against the board's microsecond clock within +-0.5 % of nominal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from perifacial.firmware.wire import TICKS_PERIOD
from perifacial.host.decoder import VREF_V

__all__ = [
    "Check",
    "SelftestResult",
    "run_selftest",
    "check_id",
    "expected_test_period",
    "expected_test_amplitude_uv",
    "noise_limits",
    "square_wave",
    "noise_figures",
    "rate_from_frames",
    "FrameTap",
    "decode_registers",
    "RATE_TOLERANCE",
    "TEST_AMP_TOLERANCE",
]

# --- datasheet figures (TI SBAS499C, ADS1299) ------------------------------------------------------------------
FCLK_HZ = 2.048e6  #: nominal internal oscillator
#: tCLK per output sample for each data rate (CONFIG1 DR: fMOD / ratio; DR 3/4/5 = 2000/1000/500 SPS)
TCLK_PER_SAMPLE = {2000: 1024, 1000: 2048, 500: 4096}
DR_CODE = {2000: 3, 1000: 4, 500: 5}
#: PGA gain -> CHnSET GAIN[2:0] code
GAIN_CODE = {1: 0, 2: 1, 4: 2, 6: 3, 8: 4, 12: 5, 24: 6}
MUX_CODE = {"normal": 0, "shorted": 1, "test": 5}
#: internal oscillator accuracy at 25 C: the measured rate must be within this of nominal
RATE_TOLERANCE = 0.005
#: internal test signal amplitude tolerance (research notes, table 1.5; the reference and gain errors are far less)
TEST_AMP_TOLERANCE = 0.02
#: Table 1 (SBAS499C, 5-V supply, 4.5-V reference, inputs shorted, >= 1000 consecutive readings): input-referred
#: noise (uVrms, uVpp) for PGA gain 1 and 2 at each data rate. Increasing the gain lowers the input-referred noise
#: (datasheet 8.1), so for gains > 2 the gain-2 figure is an upper bound.
NOISE_TABLE = {
    500: {1: (1.53, 10.73), 2: (0.81, 5.65)},
    1000: {1: (2.17, 15.17), 2: (1.14, 7.98)},
    2000: {1: (3.06, 21.45), 2: (1.61, 11.29)},
}
NOISE_WINDOW = 1000  #: samples per peak-to-peak reading (the datasheet's "1000 consecutive readings")


def check_id(value: int) -> tuple[bool, str]:
    """ID register (0x00) by its fields: REV_ID[7:5], bit 4 = 1, DEV_ID[3:2] = 11 (ADS1299), NU_CH[1:0] = 10 (8 ch)."""
    dev = (value >> 2) & 3
    nu = value & 3
    ok = dev == 0b11 and nu == 0b10 and bool(value & 0x10)
    text = f"0x{value:02X}: REV_ID {value >> 5}, DEV_ID {dev:02b}, NU_CH {nu:02b}"
    return ok, text


def expected_test_period(rate: int, cal_freq: int = 0) -> int:
    """Test-signal period in samples: 2^21 tCLK (CAL_FREQ = 00) or 2^20 tCLK (01) over tCLK per sample."""
    return (1 << (21 if cal_freq == 0 else 20)) // TCLK_PER_SAMPLE[int(rate)]


def expected_test_amplitude_uv(cal_amp_2x: bool = False, vref: float = VREF_V) -> float:
    """Test-signal amplitude (half peak-to-peak, uV): 1 or 2 x (VREFP - VREFN) / 2.4 mV (CONFIG2 CAL_AMP)."""
    return (2.0 if cal_amp_2x else 1.0) * vref / 2.4 * 1e6 / 1000.0


def noise_limits(gain: int, rate: int) -> tuple[float, float]:
    """(uVrms, uVpp) bound for inputs shorted at ``gain`` and ``rate`` (Table 1; gain-2 column for gains > 2)."""
    col = NOISE_TABLE[int(rate)]
    return col[1] if int(gain) == 1 else col[2]


def decode_registers(regs: list[int]) -> dict[str, Any]:
    """Fields of one chip's 24-register dump (0x00..0x17) by the datasheet's register map."""
    ch = []
    for i in range(8):
        v = regs[0x05 + i]
        ch.append({"pd": bool(v & 0x80), "gain_code": (v >> 4) & 7, "srb2": bool(v & 0x08), "mux": v & 7})
    return {
        "id": regs[0x00],
        "dr": regs[0x01] & 7,
        "daisy_off": bool(regs[0x01] & 0x40),
        "clk_en": bool(regs[0x01] & 0x20),
        "int_cal": bool(regs[0x02] & 0x10),
        "cal_amp_2x": bool(regs[0x02] & 0x04),
        "cal_freq": regs[0x02] & 3,
        "pd_refbuf": bool(regs[0x03] & 0x80),
        "channels": ch,
        "loff": regs[0x04],
        "loff_sensp": regs[0x0F],
        "loff_sensn": regs[0x10],
        "pd_loff_comp": bool(regs[0x17] & 0x02),
        "srb1": bool(regs[0x15] & 0x20),
    }


# --- measurements ----------------------------------------------------------------------------------------------
def square_wave(x: np.ndarray, guard: int = 4) -> dict[str, list]:
    """Per channel of ``x`` (uV ``[channels, n]``): rising-edge indices (crossings of the mid level), the
    intervals between them (samples) and the amplitude (half the difference of the median high and low plateau,
    ``guard`` samples around each edge left out)."""
    x = np.asarray(x, dtype=np.float64)
    periods: list[list[int]] = []
    amps: list[float] = []
    rises: list[list[int]] = []
    for row in x:
        lo, hi = np.percentile(row, [10, 90])
        mid = (lo + hi) / 2.0
        above = row > mid
        r = np.flatnonzero(~above[:-1] & above[1:]) + 1
        f = np.flatnonzero(above[:-1] & ~above[1:]) + 1
        edges = np.sort(np.concatenate([r, f]))
        keep = np.ones(row.size, dtype=bool)
        for e in edges:
            keep[max(0, e - guard) : e + guard] = False
        hi_s = row[keep & above]
        lo_s = row[keep & ~above]
        amp = float((np.median(hi_s) - np.median(lo_s)) / 2.0) if hi_s.size and lo_s.size else 0.0
        rises.append([int(v) for v in r])
        periods.append([int(v) for v in np.diff(r)])
        amps.append(amp)
    return {"rises": rises, "periods": periods, "amplitude_uv": amps}


def noise_figures(x: np.ndarray, window: int = NOISE_WINDOW) -> dict[str, list]:
    """Per channel of ``x`` (uV ``[channels, n]``, inputs shorted): rms about the mean (uVrms) and the
    peak-to-peak of consecutive ``window``-sample readings (mean and max over the readings, uVpp)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[1]
    rms = np.sqrt(np.mean((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1))
    k = max(1, n // window)
    w = min(window, n)
    seg = x[:, : k * w].reshape(x.shape[0], k, w)
    pp = seg.max(axis=2) - seg.min(axis=2)
    return {
        "rms_uv": [float(v) for v in rms],
        "pp_uv": [float(v) for v in pp.mean(axis=1)],
        "pp_max_uv": [float(v) for v in pp.max(axis=1)],
        "readings": int(k),
        "window": int(w),
    }


def rate_from_frames(first: np.ndarray, times: np.ndarray, wrap: int | None = TICKS_PERIOD) -> float | None:
    """Sample rate (Hz) from a least-squares line through (frame first sample, frame time): ``times`` in
    microseconds of the board's clock (``wrap`` = the tick period: unwrapped here) or in host seconds
    (``wrap=None``, then pass ``times * 1e6``). None if fewer than 2 frames or no time elapsed."""
    first = np.asarray(first, dtype=np.float64)
    t = np.asarray(times, dtype=np.int64 if wrap else np.float64)
    if first.size < 2:
        return None
    if wrap:
        d = np.diff(t) % wrap
        t = np.concatenate([[0], np.cumsum(d)]).astype(np.float64)
    if t[-1] - t[0] <= 0:
        return None
    slope = np.polyfit(first - first[0], t - t[0], 1)[0]  # us per sample
    return float(1e6 / slope) if slope > 0 else None


class FrameTap:
    """Decodes a copy of the board's byte stream (a raw listener) to keep what :class:`SampleBlock` drops: the
    per-frame device time, flags and sequence numbers, responses without an id, and its own counters for the
    window it was attached (``stats``)."""

    def __init__(self, board):
        from perifacial.host.decoder import Decoder

        self.board = board
        self.decoder = Decoder()
        self.first: list[np.ndarray] = []
        self.device_time: list[np.ndarray] = []
        self.host_time: list[np.ndarray] = []
        self.frame_n: list[np.ndarray] = []
        self.flags: list[np.ndarray] = []
        self.orphan_responses: list[dict] = []  #: error replies without a command id (corrupt frames)
        self.error_responses: list[dict] = []  #: every ok = false reply
        self.bytes = 0
        self.t0: float | None = None
        self.t1: float | None = None
        board.add_raw_listener(self._feed)

    def _feed(self, chunk: bytes, now: float) -> None:
        if self.t0 is None:
            self.t0 = now
        self.t1 = now
        self.bytes += len(chunk)
        res = self.decoder.feed(chunk, now)
        for b in res.blocks:
            self.first.append(np.asarray(b.frame_first, dtype=np.int64))
            self.device_time.append(np.asarray(b.device_time_us, dtype=np.int64))
            self.host_time.append(np.full(len(b.frame_first), now))
            self.frame_n.append(np.asarray(b.frame_n, dtype=np.int64))
            self.flags.append(np.asarray(b.flags, dtype=np.int64))
        for r in res.responses:
            if not isinstance(r.get("id"), int):
                self.orphan_responses.append(r)
            if not r.get("ok", False):
                self.error_responses.append(r)

    def close(self) -> None:
        try:
            self.board.remove_raw_listener(self._feed)
        except ValueError:
            pass

    def __enter__(self) -> FrameTap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def stats(self):
        return self.decoder.stats

    def arrays(self) -> dict[str, np.ndarray]:
        def cat(lst, dt=np.int64):
            return np.concatenate(lst) if lst else np.empty(0, dtype=dt)

        return {
            "first": cat(self.first),
            "device_time_us": cat(self.device_time),
            "host_time": cat(self.host_time, np.float64),
            "n": cat(self.frame_n),
            "flags": cat(self.flags),
        }

    def device_rate(self) -> float | None:
        a = self.arrays()
        return rate_from_frames(a["first"], a["device_time_us"])

    def host_rate(self) -> float | None:
        a = self.arrays()
        return rate_from_frames(a["first"], a["host_time"] * 1e6, wrap=None)


# --- the self-test ---------------------------------------------------------------------------------------------
@dataclass
class Check:
    """One row of the self-test: ``status`` is "pass", "fail", "info" (reported, not judged) or "skip"."""

    name: str
    status: str
    measured: str
    criterion: str
    source: str
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    @classmethod
    def judged(cls, name: str, ok: bool, measured: str, criterion: str, source: str, details=None) -> Check:
        """A judged row: "pass" if ``ok`` else "fail"."""
        return cls(name, "pass" if ok else "fail", measured, criterion, source, {} if details is None else details)


@dataclass
class SelftestResult:
    url: str
    checks: list[Check]
    info: dict
    duration_s: float
    board_report: dict | None = None  #: the firmware's ``selftest`` reply as received

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "pass": self.ok,
            "duration_s": round(self.duration_s, 3),
            "info": self.info,
            "checks": [asdict(c) for c in self.checks],
            "board_report": self.board_report,
        }


def _fmt_range(vals, unit: str = "", nd: int = 1) -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    a, b = f"{min(vals):.{nd}f}", f"{max(vals):.{nd}f}"
    return f"{a}{unit}" if a == b else f"{a}..{b}{unit}"


def _collect(board, n: int, timeout: float = 10.0) -> np.ndarray:
    blk = board.read_samples(n, timeout=timeout)
    return blk.data


def run_selftest(
    target,
    *,
    stream_seconds: float = 3.0,
    board_selftest: bool = True,
    progress: Callable[[str], None] | None = None,
    command_timeout: float = 5.0,
) -> SelftestResult:
    """Run the bring-up check on ``target`` (a board URL or an open :class:`~perifacial.host.board.Board`).

    Opens the board (closing it again if it opened it), runs the checks listed in the module docstring and
    restores the board's configuration. Raises the transport's errors if the board cannot be reached at all;
    anything after that is a failed check, not an exception.
    """
    from perifacial.firmware import wire
    from perifacial.firmware.app import VERSION as HOST_FIRMWARE_VERSION
    from perifacial.host.board import Board, BoardError, open_board

    say = progress or (lambda msg: None)
    t_start = time.monotonic()
    own = not isinstance(target, Board)
    board = open_board(target, command_timeout=command_timeout) if own else target
    url = board.url
    checks: list[Check] = []
    info: dict = {}
    report = None
    try:
        if board.status().get("running"):  # a board left streaming: the self-test needs it stopped
            board.stop()
            board.drain()
        board.refresh_info()
        info = {k: v for k, v in board.info.items() if k != "config"}
        original = dict(board.config)
        chips = int(info.get("chips", 0) or 0)
        channels = int(info.get("channels", 0) or 0)

        # identity
        fw_ok = info.get("name") == "perifacial" and info.get("wire") == wire.VERSION and not info.get("fault")
        checks.append(
            Check.judged(
                "identify",
                fw_ok,
                f"firmware {info.get('firmware')}, wire {info.get('wire')}, fault {info.get('fault')}",
                f"name perifacial, wire {wire.VERSION}, no fault",
                "firmware/WIRE.md identify",
                {"host_firmware": HOST_FIRMWARE_VERSION},
            )
        )
        ids = list(info.get("ids") or [])
        id_rows = [check_id(int(v)) for v in ids]
        ids_ok = len(ids) == chips and chips > 0 and all(ok for ok, _ in id_rows)
        checks.append(
            Check.judged(
                "chip IDs",
                ids_ok,
                "; ".join(t for _, t in id_rows) or "none",
                "every chip: DEV_ID = 11, NU_CH = 10 (8-channel ADS1299)",
                "SBAS499C ID register (0x00)",
            )
        )
        ch_ok = channels == 8 * chips and channels > 0
        checks.append(
            Check.judged(
                "channel count",
                ch_ok,
                f"{channels} channels, {chips} chips",
                "channels = 8 x chips",
                "firmware/WIRE.md identify",
            )
        )

        # the firmware's own self-test
        if board_selftest:
            say("board self-test")
            try:
                report = board.selftest(timeout=max(30.0, command_timeout))
            except BoardError as exc:
                checks.append(Check("board self-test", "fail", str(exc), "answers", "firmware/WIRE.md selftest"))
            else:
                regs_ok = all(c.get("regs_ok") for c in report.get("chips", []))
                bad = [m for c in report.get("chips", []) for m in c.get("mismatches", [])]
                ts, nz = report.get("test_signal", {}), report.get("noise", {})
                checks.append(
                    Check.judged(
                        "register read-back",
                        regs_ok,
                        "all registers as written" if regs_ok else f"mismatches {bad}",
                        "read-back = written",
                        "SBAS499C 9.5.3 RREG; firmware selftest",
                    )
                )
                checks.append(
                    Check.judged(
                        "board test signal",
                        ts.get("ok"),
                        f"period {_fmt_range(ts.get('period', []))}, amplitude "
                        f"{_fmt_range(ts.get('amplitude_uv', []), ' uV')}",
                        f"period {ts.get('expected_period')} samples; firmware amplitude window",
                        "firmware/WIRE.md selftest",
                    )
                )
                checks.append(
                    Check.judged(
                        "board noise (shorted)",
                        nz.get("ok"),
                        f"{_fmt_range(nz.get('rms_uv', []), ' uVrms', 2)}, "
                        f"{_fmt_range(nz.get('pp_uv', []), ' uVpp', 2)}",
                        f"<= {nz.get('limit_rms_uv')} uVrms, <= {nz.get('limit_pp_uv')} uVpp",
                        "firmware/WIRE.md selftest",
                    )
                )
                rms, pp = nz.get("rms_uv", []), nz.get("pp_uv", [])
                gains = nz.get("gain", [])
                gains = gains if isinstance(gains, list) else [gains] * len(rms)
                nrate = int(nz.get("rate", 1000))
                if rms and len(gains) == len(rms) and nrate in NOISE_TABLE:
                    bad = [
                        c
                        for c in range(len(rms))
                        if rms[c] > noise_limits(gains[c], nrate)[0] or pp[c] > noise_limits(gains[c], nrate)[1]
                    ]
                    lim = sorted({noise_limits(g, nrate) for g in gains})
                    checks.append(
                        Check.judged(
                            "noise vs datasheet",
                            not bad,
                            f"max {max(rms):.3f} uVrms, {max(pp):.2f} uVpp"
                            + (f"; over on channels {bad}" if bad else ""),
                            "<= " + ", ".join(f"{r} uVrms / {p} uVpp" for r, p in lim) + f" at {nrate} SPS",
                            "SBAS499C Table 1 (gain-2 column bounds gains > 2)",
                        )
                    )
                lo = report.get("lead_off", {})
                flagged = [i for i, (p, n) in enumerate(zip(lo.get("p", []), lo.get("n", []))) if p or n]
                checks.append(
                    Check(
                        "lead-off (reported)",
                        "info",
                        f"{len(flagged)} channel(s) flagged: {flagged}" if flagged else "no channel flagged",
                        "reported, not judged (electrodes may be off)",
                        "firmware/WIRE.md selftest",
                    )
                )
                lost = int(report.get("lost", 0) or 0)
                checks.append(
                    Check.judged(
                        "board self-test verdict",
                        report.get("pass") and lost == 0,
                        f"pass={report.get('pass')}, lost {lost}",
                        "pass, 0 samples lost",
                        "firmware/WIRE.md selftest",
                    )
                )

        rate = int(original.get("rate", 1000))
        # host-side: internal test signal through the whole chain
        say("test signal through the link")
        try:
            board.configure(mux="test", test_amp_2x=False, enabled=True)
            regs = board.registers()
            fields = [decode_registers(r) for r in regs]
            cal_freq = fields[0]["cal_freq"] if fields else 0
            period = expected_test_period(rate, cal_freq)
            amp0 = expected_test_amplitude_uv(False)
            board.start()
            x = _collect(board, int(period * 2.6) + 16)
            board.stop()
            board.drain()
            sw = square_wave(x)
            per_ok = [bool(p) and all(v == period for v in p) for p in sw["periods"]]
            amp_ok = [abs(a - amp0) <= TEST_AMP_TOLERANCE * amp0 for a in sw["amplitude_uv"]]
            bad = [i for i in range(len(per_ok)) if not (per_ok[i] and amp_ok[i])]
            all_p = [v for p in sw["periods"] for v in p]
            checks.append(
                Check.judged(
                    "test signal via host",
                    per_ok and not bad,
                    f"period {_fmt_range(all_p, nd=0)} samples, amplitude {_fmt_range(sw['amplitude_uv'], ' uV')}"
                    + (f"; bad channels {bad}" if bad else ""),
                    f"period = {period} samples exactly; amplitude {amp0:.0f} uV +- {TEST_AMP_TOLERANCE:.0%}",
                    "SBAS499C CONFIG2 (INT_CAL, CAL_AMP, CAL_FREQ)",
                    {"periods": sw["periods"], "amplitude_uv": sw["amplitude_uv"]},
                )
            )
        except Exception as exc:  # noqa: BLE001 - a failed step is a failed check
            checks.append(
                Check("test signal via host", "fail", f"{type(exc).__name__}: {exc}", "runs", "SBAS499C CONFIG2")
            )
        finally:
            _restore(board, original)

        # host-side: continuity and rate on a normal stream
        say(f"{stream_seconds:g} s stream")
        try:
            with FrameTap(board) as tap:
                board.start()
                n = int(round(stream_seconds * rate))
                got = 0
                for blk in board.blocks(n_samples=n, timeout=5.0):
                    got += blk.n
                stop = board.stop()
                board.drain()
                st = tap.stats
                dev_lost = int(stop.get("lost", 0) or 0)
                cont_ok = (
                    st.seq_gaps == 0
                    and st.sample_gaps == 0
                    and st.crc_errors == 0
                    and st.overrun_frames == 0
                    and dev_lost == 0
                    and got >= n
                )
                checks.append(
                    Check.judged(
                        "stream continuity",
                        cont_ok,
                        f"{got} samples; seq gaps {st.seq_gaps}, sample gaps {st.sample_gaps} ({st.lost_samples} "
                        "lost), "
                        f"CRC errors {st.crc_errors}, device lost {dev_lost}",
                        "zero gaps, zero CRC errors, zero device overruns",
                        "firmware/WIRE.md; DESIGN.md (no FIFO)",
                        st.as_dict(),
                    )
                )
                r_dev = tap.device_rate()
                r_host = tap.host_rate()
                tr = getattr(board, "transport", None)
                if getattr(tr, "kind", "") == "sim" and not getattr(getattr(tr, "board", None), "realtime", False):
                    r_host = None  # the virtual board runs as fast as the host reads: no wall-clock rate
                if r_dev is None:
                    checks.append(Check("sample rate", "fail", "not measurable", "", "SBAS499C 7.5"))
                else:
                    err = r_dev / rate - 1.0
                    checks.append(
                        Check.judged(
                            "sample rate",
                            abs(err) <= RATE_TOLERANCE,
                            f"{r_dev:.2f} SPS ({err * 100:+.3f} %) by the board clock"
                            + (f"; {r_host:.1f} SPS by the host clock" if r_host else ""),
                            f"{rate} SPS +- {RATE_TOLERANCE:.1%}",
                            "SBAS499C 7.5: internal oscillator +-0.5 % at 25 C",
                            {"device_rate": r_dev, "host_rate": r_host},
                        )
                    )
        except Exception as exc:  # noqa: BLE001
            checks.append(
                Check("stream continuity", "fail", f"{type(exc).__name__}: {exc}", "runs", "firmware/WIRE.md")
            )
        finally:
            _restore(board, original)
    finally:
        if own:
            board.close()
    return SelftestResult(url, checks, info, time.monotonic() - t_start, report)


def _restore(board, original: dict) -> None:
    """Stop the board if needed and put the configuration back (best effort)."""
    try:
        if board.running:
            board.stop()
        board.drain()
        keep = {
            k: v
            for k, v in original.items()
            if k in ("rate", "gain", "mux", "enabled", "bias", "lead_off", "test_amp_2x", "samples_per_frame", "srb1")
        }
        if keep:
            board.configure(**keep)
    except Exception:  # noqa: BLE001 - restoring is best effort; the checks already say what failed
        pass
