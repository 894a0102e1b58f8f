"""MVC session: the protocol, the simulated participant, the response table and the dead-channel refusal."""

from __future__ import annotations

import pytest

from perifacial.host.board import open_board
from perifacial.host.sim.participant import SimulatedParticipant
from perifacial.host.workflow.mvc_session import (
    MOVEMENTS,
    DeadChannelError,
    MvcProtocol,
    format_response_table,
    run_mvc_session,
)

FAST = MvcProtocol(baseline_s=2.0, prepare_s=1.0, contract_s=1.2, rest_s=0.8, repetitions=2)


def test_protocol_has_seven_movements_three_reps():
    p = MvcProtocol()
    assert [m.key for m in p.movements] == [
        "brow_raise",
        "frown",
        "eye_squeeze",
        "nose_wrinkle",
        "smile",
        "lip_press",
        "mouth_down",
    ]
    steps = p.steps()
    assert sum(s.kind == "contract" for s in steps) == 21
    assert steps[0].kind == "baseline" and steps[-1].stop == pytest.approx(p.duration_s)
    assert all(a.stop == pytest.approx(b.start) for a, b in zip(steps, steps[1:]))


def test_simulated_participant_knows_every_protocol_movement_and_names_an_unknown_one():
    """The protocol says what to do; what the simulated participant contracts for it is the simulator's table."""
    from perifacial.errors import InvalidArgument
    from perifacial.host.sim.participant import ACTIVATION
    from perifacial.host.workflow.mvc_session import Movement

    assert set(ACTIVATION) == {m.key for m in MOVEMENTS}
    custom = MvcProtocol(movements=(*MOVEMENTS[:2], Movement("wink", "Wink with your left eye", "orbicularis oculi")))
    with pytest.raises(InvalidArgument, match=r"movement\(s\) wink; add .*ACTIVATION"):
        SimulatedParticipant(custom, 1000.0, seed=1)


def test_dead_channel_refused_with_its_name(tmp_path):
    part = SimulatedParticipant(FAST, 1000.0, seed=4, dead_channels=(6,))
    prompts: list[str] = []
    with open_board("sim://?seed=4", source=part) as board:
        with pytest.raises(DeadChannelError, match=r"LM3"):
            run_mvc_session(board, FAST, tmp_path / "dead.pfr", prompts.append)
    assert any(p.startswith("GO: ") for p in prompts) and any(p.strip() == "1..." for p in prompts)
    assert (tmp_path / "dead.pfr").exists()


def test_cli_refuses_dead_channel(tmp_path, cli_run, capsys, monkeypatch):
    orig = SimulatedParticipant.__init__

    def dead_init(self, *a, **kw):
        kw["dead_channels"] = (20,)
        orig(self, *a, **kw)

    monkeypatch.setattr(SimulatedParticipant, "__init__", dead_init)
    rc = cli_run(
        [
            "mvc",
            "sim://?seed=5",
            "-o",
            tmp_path / "x.mvc.json",
            "--yes",
            "--baseline",
            "2",
            "--prepare",
            "0.5",
            "--contract",
            "1.2",
            "--rest",
            "0.8",
            "--repetitions",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "calibration refused" in err and "RL1" in err
    assert not (tmp_path / "x.mvc.json").exists()


def test_response_table_text(tmp_path):
    part = SimulatedParticipant(FAST, 1000.0, seed=9)
    with open_board("sim://?seed=9", source=part) as board:
        res = run_mvc_session(board, FAST, None, None, participant="P9")
    txt = format_response_table(res)
    assert txt.count("\n") == 24 and "brow_raise" in txt.splitlines()[0]
    # upper channels calibrate on a brow movement, lower-left on mouth corners down
    assert {res.movements[int(b)] for b in res.best[:4]} <= {"brow_raise", "frown"}
    assert {res.movements[int(b)] for b in res.best[8:12]} == {"mouth_down"}
    assert len(MOVEMENTS) == 7 and res.calibration.participant == "P9"
