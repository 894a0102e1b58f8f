"""Ground truth of a recording made on the virtual board (``sim://``).

The virtual board's default signal is ``perifacial.dsp.synth.SynthStream(seed, fs=rate)`` (medium SNR), read one
sample per conversion from the start of acquisition, so column ``i`` of a loaded recording is stream sample
``first_sample + i``. The seed is in the session header's URL (``sim://?seed=N``, default 0). Regenerating the stream
with that seed gives the events it contains (:meth:`SynthStream.events_until`). This is only valid for recordings
whose URL asked for the default synthetic source (no ``source=none``).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

__all__ = ["sim_seed", "sim_ground_truth"]


def sim_seed(recording) -> int | None:
    """The simulator seed of a ``sim://`` recording, None for a real board or a sim without synthetic signal."""
    url = (recording.info or {}).get("url") or ""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        return None
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if q.get("source", "synth").lower() not in ("synth", "default", ""):
        return None
    return int(q.get("seed", 0))


def sim_ground_truth(recording, kinds=("ME", "MaE"), snr="medium") -> list:
    """Ground-truth :class:`~perifacial.dsp.spotting.Event` list (columns of the recording, offset inclusive) of a
    ``sim://`` recording, restricted to ``kinds`` and to events wholly inside the recording. ValueError if the
    recording was not made on the simulator with its synthetic source."""
    from dataclasses import replace

    from perifacial.dsp.synth import SynthStream

    seed = sim_seed(recording)
    if seed is None:
        raise ValueError("not a sim:// recording with the default synthetic source: no ground truth")
    st = SynthStream(seed, fs=float(recording.fs), snr=snr)
    first = int(recording.first_sample)
    end = first + recording.n_samples
    out = []
    for e in st.events_until(end):
        if e.kind in kinds and e.onset >= first and e.offset < end:
            out.append(replace(e, onset=e.onset - first, offset=e.offset - first))
    return out
