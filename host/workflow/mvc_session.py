"""The MVC calibration session (Li et al. 2024 [arXiv:2409.00017], part A): seven facial movements, 3 maximal
repetitions each.

Timeline (seconds of *samples*, so a real board at its nominal rate and the faster-than-real-time virtual board
follow the same script): ``baseline_s`` of rest, then per movement a ``prepare_s`` announcement with a countdown
and, ``repetitions`` times, ``contract_s`` of maximal contraction followed by ``rest_s`` of rest.

Calibration: the recording is turned into linear envelopes (Li et al. 2024 chain, gap-aware), the noise floor of each
channel is the mean envelope of the baseline, every channel's response to every movement is the mean over the
repetitions of the peak 0.5 s moving mean; each channel is calibrated on the movement it responded to most, its
MVC the highest of that movement's repetitions (:func:`perifacial.dsp.mvc.calibrate_mvc` with a channel ->
repetitions mapping; ``combine="mean"`` for the mean of the repetitions). A channel that responds to no
movement (peak < ``min_ratio`` x its noise floor), or is flat, refuses the calibration with an error naming it.

On ``sim://`` the participant is :class:`perifacial.host.sim.participant.SimulatedParticipant` (part of the
simulator, not of the protocol).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perifacial.dsp.defaults import emg_band
from perifacial.errors import PerifacialError

log = logging.getLogger(__name__)

__all__ = [
    "Movement",
    "MOVEMENTS",
    "Step",
    "MvcProtocol",
    "MvcSessionResult",
    "DeadChannelError",
    "calibrate_session",
    "run_mvc_session",
    "response_table",
    "format_response_table",
]


@dataclass(frozen=True)
class Movement:
    """One calibration movement: ``key``, the instruction shown, the target muscle(s). (What a simulated participant
    contracts for each key is the simulator's: :data:`perifacial.host.sim.participant.ACTIVATION`.)"""

    key: str
    instruction: str
    target: str


MOVEMENTS: tuple[Movement, ...] = (
    Movement("brow_raise", "Raise your eyebrows as high as you can", "frontalis"),
    Movement("frown", "Frown: pull your eyebrows down and together", "corrugator supercilii"),
    Movement("eye_squeeze", "Squeeze your eyes shut tightly", "orbicularis oculi"),
    Movement("nose_wrinkle", "Wrinkle your nose", "levator labii superioris"),
    Movement("smile", "Smile as broadly as you can", "zygomaticus major"),
    Movement("lip_press", "Press your lips together hard (or pucker)", "orbicularis oris"),
    Movement("mouth_down", "Pull the corners of your mouth down", "depressor anguli oris"),
)


@dataclass(frozen=True)
class Step:
    """One step of the protocol: ``[start, stop)`` in seconds from the first sample; ``kind`` "baseline",
    "prepare", "contract" or "rest"; ``movement`` index into the protocol's movements (-1 for baseline);
    ``repetition`` 1-based (0 if none); ``prompt`` what the participant is told."""

    start: float
    stop: float
    kind: str
    movement: int
    repetition: int
    prompt: str


@dataclass(frozen=True)
class MvcProtocol:
    """Timing of the session (seconds)."""

    movements: tuple[Movement, ...] = MOVEMENTS
    repetitions: int = 3
    baseline_s: float = 5.0
    prepare_s: float = 3.0
    contract_s: float = 3.0
    rest_s: float = 3.0

    def steps(self) -> list[Step]:
        t = 0.0
        out = [Step(0.0, self.baseline_s, "baseline", -1, 0, "Relax your face and keep still")]
        t = self.baseline_s
        for i, m in enumerate(self.movements):
            out.append(Step(t, t + self.prepare_s, "prepare", i, 0, f"Next: {m.instruction.lower()} ({m.target})"))
            t += self.prepare_s
            for r in range(1, self.repetitions + 1):
                out.append(
                    Step(
                        t,
                        t + self.contract_s,
                        "contract",
                        i,
                        r,
                        f"GO: {m.instruction} - maximal effort ({r}/{self.repetitions})",
                    )
                )
                t += self.contract_s
                out.append(Step(t, t + self.rest_s, "rest", i, r, "Relax"))
                t += self.rest_s
        return out

    @property
    def duration_s(self) -> float:
        return self.steps()[-1].stop


class DeadChannelError(ValueError, PerifacialError):
    """A channel showed no contraction in any movement (its name and numbers are in the message)."""


@dataclass
class MvcSessionResult:
    """``calibration`` (:class:`~perifacial.dsp.mvc.MvcCalibration`), ``responses`` ``[channels, movements]``
    (mean repetition peak, uV of envelope), ``noise`` ``[channels]`` (uV), ``best`` movement index per channel,
    ``labels``, ``movements`` (keys), ``recording`` path if recorded."""

    calibration: object
    responses: np.ndarray
    noise: np.ndarray
    best: np.ndarray
    labels: list[str]
    movements: list[str]
    min_ratio: float
    recording: Path | None = None
    steps: list[Step] = field(default_factory=list)


def response_table(
    env: np.ndarray,
    fs: float,
    protocol: MvcProtocol,
    window_s: float = 0.5,
    t0: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[int, list[tuple[int, int]]]]:
    """Responses ``[channels, movements]`` (uV, mean over repetitions of the peak ``window_s`` moving mean),
    noise floor ``[channels]`` (mean envelope over the baseline, uV) and the repetition ranges per movement
    (samples, ``[start, stop)``; ranges with a gap are left out). ``env``: ``[channels, samples]``, NaN in gaps;
    ``t0``: column of protocol time 0."""
    steps = protocol.steps()
    C, n = env.shape
    w = max(1, int(round(window_s * fs)))
    base = steps[0]
    b0, b1 = t0 + int(base.start * fs) + int(0.5 * fs), t0 + int(base.stop * fs)
    noise = np.nanmean(env[:, b0:b1], axis=1)
    reps: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(protocol.movements))}
    for st in steps:
        if st.kind != "contract":
            continue
        a = t0 + int(round(st.start * fs))
        b = min(n, t0 + int(round((st.stop + 0.5) * fs)))  # half a second of slack for a late release
        if b - a < w or not np.isfinite(env[:, a:b]).all():
            log.warning(
                "repetition %d of %s lies in a gap: left out", st.repetition, protocol.movements[st.movement].key
            )
            continue
        reps[st.movement].append((a, b))
    resp = np.full((C, len(protocol.movements)), np.nan)
    kernel = np.ones(w) / w
    for m, rr in reps.items():
        peaks = []
        for a, b in rr:
            mm = np.array([np.convolve(env[c, a:b], kernel, "valid").max() for c in range(C)])
            peaks.append(mm)
        if peaks:
            resp[:, m] = np.mean(peaks, axis=0)
    return resp, noise, reps


def format_response_table(res: MvcSessionResult) -> str:
    """Text table: one row per channel, one column per movement, the response in % of the channel's MVC
    (``*`` the movement it was calibrated on, ``-`` no response above ``min_ratio`` x noise)."""
    keys = [k[:11] for k in res.movements]
    head = f"{'channel':<8}{'MVC uV':>8}{'noise':>7} " + " ".join(f"{k:>11}" for k in keys)
    lines = [head]
    mvc = np.asarray(res.calibration.mvc_uv)
    for c, lab in enumerate(res.labels):
        cells = []
        for m in range(len(keys)):
            v = res.responses[c, m]
            if not np.isfinite(v) or v < res.min_ratio * res.noise[c]:
                cells.append(f"{'-':>11}")
            else:
                mark = "*" if m == res.best[c] else " "
                cells.append(f"{100 * v / mvc[c]:>9.0f}%{mark}")
        lines.append(f"{lab:<8}{mvc[c]:>8.1f}{res.noise[c]:>7.2f} " + " ".join(cells))
    return "\n".join(lines)


def calibrate_session(
    data: np.ndarray,
    fs: float,
    protocol: MvcProtocol,
    labels,
    participant: str = "",
    notch: float | str | None = "auto",
    min_ratio: float = 5.0,
    t0: int = 0,
    combine: str = "max",
) -> MvcSessionResult:
    """Build the calibration from the session's raw data ``[channels, samples]`` (uV, NaN in gaps). Raises
    :class:`DeadChannelError` naming every channel without a response (flat, or below ``min_ratio`` x noise in all
    movements). ``combine``: the MVC from the repetitions' peaks, "max" (the highest) or "mean"
    (:func:`perifacial.dsp.mvc.calibrate_mvc`)."""
    from perifacial.dsp.mvc import calibrate_mvc

    from .process import ProcessOptions, envelope_segments

    labels = list(labels)
    opts = ProcessOptions(notch=notch, min_segment_s=1.0)
    env, _ = envelope_segments(data, fs, opts)
    resp, noise, reps = response_table(env, fs, protocol, t0=t0)
    dead = []
    with np.errstate(invalid="ignore"):
        for c, lab in enumerate(labels):
            finite = data[c][np.isfinite(data[c])]
            flat = finite.size == 0 or float(np.std(finite)) < 1e-3
            best = np.nanmax(resp[c]) if np.isfinite(resp[c]).any() else math.nan
            if flat or not (best >= min_ratio * noise[c]) or not noise[c] > 0:
                dead.append(
                    f"{lab} (best response {best:.2f} uV vs noise floor {noise[c]:.2f} uV"
                    f"{', flat signal' if flat else ''})"
                )
    if dead:
        raise DeadChannelError(
            "no contraction seen on channel(s) "
            + "; ".join(dead)
            + f": check the electrode(s) and lead-off, then repeat the calibration (need > {min_ratio:g} x noise)"
        )
    best = np.nanargmax(np.where(np.isfinite(resp), resp, -np.inf), axis=1)
    mapping = {c: reps[int(best[c])] for c in range(len(labels))}
    cal = calibrate_mvc(
        np.nan_to_num(env, nan=0.0),
        fs,
        mapping,
        kind="envelope",
        noise_floor=noise,
        labels=labels,
        participant=participant,
        min_ratio=min_ratio,
        combine=combine,
        chain={"band": list(emg_band(fs)), "cutoff": 6.0, "order": 2, "notch": notch, "zero_phase": True},
    )
    return MvcSessionResult(
        cal, resp, noise, best, labels, [m.key for m in protocol.movements], min_ratio, steps=protocol.steps()
    )


def run_mvc_session(
    board,
    protocol: MvcProtocol,
    record_path: str | Path | None = None,
    prompt: Callable[[str], None] | None = None,
    participant: str = "",
    notch: float | str | None = "auto",
    min_ratio: float = 5.0,
    timeout: float = 10.0,
) -> MvcSessionResult:
    """Run the protocol on an open ``board``: start it, show each step's prompt (``prompt(text)``, with a 3-2-1
    countdown in the last seconds of each "prepare" step), mark each step in the recording (``record_path``,
    optional), stop, and :func:`calibrate_session` the data. Steps follow the sample count, not the wall clock."""
    from perifacial.host.board import BoardTimeout
    from perifacial.host.recording import Recorder, session_header

    say = prompt or (lambda text: None)
    fs = float(board.fs)
    steps = protocol.steps()
    n_total = int(round(protocol.duration_s * fs))
    rec = None
    if record_path is not None:
        rec = Recorder(
            record_path,
            session_header(
                board,
                {
                    "mvc_protocol": {
                        "movements": [m.key for m in protocol.movements],
                        "repetitions": protocol.repetitions,
                        "baseline_s": protocol.baseline_s,
                        "prepare_s": protocol.prepare_s,
                        "contract_s": protocol.contract_s,
                        "rest_s": protocol.rest_s,
                    },
                    "participant": participant,
                },
            ),
            overwrite=True,
        )
        rec.attach(board)
    data = None
    first = None
    got = 0
    next_step = 0
    countdown: list[tuple[int, str]] = []
    try:
        board.start()
        import time as _t

        last_data = _t.monotonic()
        while got < n_total:
            board.pump(0.05)
            blocks = board.drain()
            if not blocks:
                if _t.monotonic() - last_data > timeout:
                    raise BoardTimeout(f"no samples for {timeout:g} s during the MVC session")
                continue
            last_data = _t.monotonic()
            for b in blocks:
                if first is None:
                    first = b.first_sample
                    data = np.full((b.data.shape[0], n_total), np.nan)
                i0 = b.first_sample - first
                if i0 >= n_total:
                    continue
                k = min(b.n, n_total - i0)
                data[:, i0 : i0 + k] = b.data[:, :k]
                got = max(got, i0 + k)
            while next_step < len(steps) and got >= steps[next_step].start * fs:
                st = steps[next_step]
                if rec is not None:
                    rec.marker(
                        next_step,
                        f"{st.kind}:{protocol.movements[st.movement].key if st.movement >= 0 else ''}:{st.repetition}",
                        sample=first + int(round(st.start * fs)),
                    )
                say(st.prompt)
                if st.kind == "prepare":
                    countdown = [
                        (int(round((st.stop - k) * fs)), f"  {k}...") for k in (3, 2, 1) if st.stop - k >= st.start
                    ]
                next_step += 1
            while countdown and got >= countdown[0][0]:
                say(countdown.pop(0)[1])
    finally:
        try:
            board.stop()
        except Exception as exc:  # noqa: BLE001 - the data are what matters
            log.warning("stopping the board failed: %s", exc)
        if rec is not None:
            rec.close({**board.stats.as_dict(), "host_gaps": board.gaps})
    say("Done: thank you. Building the calibration...")
    res = calibrate_session(data, fs, protocol, board.labels, participant, notch, min_ratio)
    res.recording = Path(record_path) if record_path is not None else None
    return res
