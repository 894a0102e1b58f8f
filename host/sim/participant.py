"""The simulated participant of the MVC session on ``sim://``: the synthetic model's electrodes, noise, mains and
crosstalk (``perifacial.dsp.synth``) without spontaneous expressions, contracting the movement's muscles at 85-100 %
MVC during each contraction step of a :class:`perifacial.host.workflow.mvc_session.MvcProtocol` (after a reaction
time), as a participant following the prompts would. A signal source for the virtual board
(``open_board("sim://", source=participant)``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from perifacial.errors import InvalidArgument

if TYPE_CHECKING:
    from perifacial.host.workflow.mvc_session import MvcProtocol

__all__ = ["ACTIVATION", "SimulatedParticipant"]

#: what the simulated participant contracts for each movement key of the MVC protocol
#: (:data:`perifacial.host.workflow.mvc_session.MOVEMENTS`): montage muscle -> fraction of its maximal effort
ACTIVATION: dict[str, tuple[tuple[str, float], ...]] = {
    "brow_raise": (("frontalis", 1.0),),
    "frown": (("corrugator supercilii", 1.0), ("frontalis", 0.1)),
    "eye_squeeze": (("orbicularis oculi", 1.0), ("corrugator supercilii", 0.3)),
    "nose_wrinkle": (("orbicularis oculi", 0.35), ("corrugator supercilii", 0.25), ("zygomaticus major", 0.2)),
    "smile": (("zygomaticus major", 1.0), ("orbicularis oculi", 0.3)),
    "lip_press": (("mentalis", 1.0), ("depressor labii inferioris", 0.3)),
    "mouth_down": (("depressor anguli oris", 1.0), ("platysma", 1.0), ("depressor labii inferioris", 1.0)),
}


class SimulatedParticipant:
    """Signal source for the virtual board: ``read(n)`` -> ``[24, n]`` uV that follows ``protocol`` (sample 0 =
    the first conversion). ``dead_channels``: channel indices whose electrode sees nothing (device noise only),
    to test the dead-channel refusal."""

    def __init__(
        self,
        protocol: MvcProtocol,
        fs: float = 1000.0,
        seed: int = 0,
        snr: str | float = "medium",
        reaction_s: float = 0.3,
        dead_channels: tuple[int, ...] = (),
    ):
        from scipy.signal import butter

        from perifacial.dsp.defaults import max_edge
        from perifacial.dsp.synth import SynthStream

        self.fs = float(fs)
        # the synthetic electrodes without spontaneous events (first event after an enormous gap)
        self.base = SynthStream(seed, fs=self.fs, snr=snr, event_gap=1e12, contact_rate=0.0)
        self.rng = np.random.default_rng([seed, 99])
        self.pos = 0
        self.dead = tuple(int(c) for c in dead_channels)
        regions = self.base.montage.regions
        names = [m for r in regions for m in r.muscles[:2]]
        # activation segments: (start, stop, source levels [14])
        self.segments: list[tuple[int, int, np.ndarray]] = []
        unknown = sorted({m.key for m in protocol.movements} - set(ACTIVATION))
        if unknown:
            raise InvalidArgument(
                f"the simulated participant does not know the movement(s) {', '.join(unknown)}; add what it should "
                "contract to perifacial.host.sim.participant.ACTIVATION (montage muscle -> fraction of maximal effort)"
            )
        for st in protocol.steps():
            if st.kind != "contract":
                continue
            lv = np.zeros(14)
            effort = float(self.rng.uniform(0.85, 1.0))
            for muscle, frac in ACTIVATION[protocol.movements[st.movement].key]:
                for j, nm in enumerate(names):
                    if nm == muscle:
                        lv[j] = frac * effort * float(self.rng.uniform(0.95, 1.05))
            a = int(round((st.start + reaction_s) * self.fs))
            b = int(round(st.stop * self.fs))
            self.segments.append((a, b, lv))
        self.sos = butter(2, [20.0, max_edge(self.fs, 300.0)], btype="bandpass", fs=self.fs, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 14, 2))
        imp = np.zeros(int(self.fs) * 2)
        imp[0] = 1.0
        from scipy.signal import sosfilt

        self.gain = 1.0 / math.sqrt(float(np.sum(sosfilt(self.sos, imp) ** 2)))

    def read(self, n: int) -> np.ndarray:
        from scipy.signal import sosfilt

        x = self.base.read(n)
        s0 = self.pos
        act = np.zeros((14, n))
        t = np.arange(s0, s0 + n)
        for a, b, lv in self.segments:
            if b <= s0 or a >= s0 + n:
                continue
            u = np.clip((t - a) / max(1, b - a), 0.0, 1.0)
            ramp = np.clip(np.minimum(u, 1 - u) / 0.1, 0.0, 1.0) * ((t >= a) & (t < b))  # 10 % ramps
            act += lv[:, None] * ramp[None, :]
        carrier, self.zi = sosfilt(self.sos, self.rng.standard_normal((14, n)), axis=-1, zi=self.zi)
        x += self.base.mixing @ (self.base.source_mvc_uv[:, None] * act * carrier * self.gain)
        for c in self.dead:
            x[c] = 0.0
        self.pos += n
        return x
