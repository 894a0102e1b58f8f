"""Lead-off detection: an open electrode flags exactly its own channel."""

from __future__ import annotations

import numpy as np
import pytest


def _flagged_stream(hil, settle: int = 16, n: int = 128) -> tuple[list[int], np.ndarray]:
    """Stream with DC lead-off detection on (6 nA) and return the channels whose status-word bit (LOFF_STATP or
    LOFF_STATN) is set in every sample after ``settle``, plus the per-channel fraction of flagged samples."""
    hil.configure(mux="normal", enabled=True, lead_off={"current_na": 6, "ac": False})
    cap = hil.acquire(n)
    lo = cap.leadoff[:, settle:]
    frac = lo.mean(axis=1)
    return [int(c) for c in np.flatnonzero(frac == 1.0)], frac


def _flagged_command(hil) -> tuple[list[int], list[int]]:
    r = hil.command("leadoff", current_na=6)
    return ([i for i, v in enumerate(r["p"]) if v], [i for i, v in enumerate(r["n"]) if v])


def _check_only(hil, channel: int) -> dict:
    flagged, frac = _flagged_stream(hil)
    anywhere = [int(c) for c in np.flatnonzero(frac > 0)]
    assert flagged == [channel] and anywhere == [channel], (
        f"electrode of channel {channel} open: the status words flag channels {flagged} in every sample and "
        f"{anywhere} in some"
    )
    p, n = _flagged_command(hil)
    assert p == [channel] and n == [], f"`leadoff` command: LOFF_STATP {p}, LOFF_STATN {n}"
    return {"stream": flagged, "command_p": p, "command_n": n}


@pytest.mark.sim_only
@pytest.mark.parametrize("channel", [0, 13, 23])
def test_open_electrode_flags_its_channel(hil, sim_board, hil_report, channel):
    """sim://: open the positive electrode of one channel (first chip, middle chip, last chip) with the model's
    `set_electrode_open`; with DC lead-off detection on (6 nA, CONFIG4.PD_LOFF_COMP = 1, LOFF_SENSP/N set) that
    channel's LOFF_STATP bit, and no other bit, is set in the streamed status words and in the `leadoff` reply;
    closing it clears the flag.
    Criterion: SBAS499C 9.3.2.4.3 lead-off detection, status word = 1100 + LOFF_STATP + LOFF_STATN + GPIO;
    research notes table 1.5 ("only that channel flags")."""
    if channel >= hil.channels:
        pytest.skip(f"the board has {hil.channels} channels")
    _, frac0 = _flagged_stream(hil)
    assert not frac0.any(), f"no electrode open, yet channels {np.flatnonzero(frac0).tolist()} flag lead-off"
    hil.reset()
    hil.set_electrode_open(channel, True)
    try:
        res = _check_only(hil, channel)
    finally:
        hil.set_electrode_open(channel, False)
    hil.reset()
    _, frac1 = _flagged_stream(hil)
    assert not frac1.any(), f"electrode closed again, yet channels {np.flatnonzero(frac1).tolist()} flag lead-off"
    hil_report.add(f"leadoff_ch{channel}", {"summary": f"open ch {channel} -> flagged {res['stream']}", **res})


@pytest.mark.manual
def test_open_electrode_manual(hil, hil_report, request):
    """Real board, operator present: every electrode connected (a phantom or a resistor network) except the
    positive electrode of channel --open-electrode CH. Exactly that channel flags lead-off (LOFF_STATP) in the
    status words and in the `leadoff` reply.
    Criterion: SBAS499C 9.3.2.4.3 lead-off detection; research notes table 1.5."""
    ch = request.config.getoption("--open-electrode")
    if hil.is_sim:
        pytest.skip("manual test for real boards; on sim:// test_open_electrode_flags_its_channel injects the fault")
    if ch is None:
        pytest.skip(
            "needs an operator: connect all electrodes but channel CH's positive one and pass --open-electrode CH"
        )
    res = _check_only(hil, int(ch))
    hil_report.add(f"leadoff_ch{ch}_manual", {"summary": f"open ch {ch} -> flagged {res['stream']}", **res})
