"""The host decoder on the firmware's byte-exact golden frames (tests/data/golden_frames.*, written by the
firmware's own IRQ handler -> ring -> framer path: tests/firmware/golden.py). The JSON describes every frame
independently of the decoder; any byte split of the stream must decode to the same result."""

import json
from pathlib import Path

import numpy as np
import pytest

from perifacial.host.decoder import Decoder

DATA = Path(__file__).resolve().parents[1] / "data"
STREAM = (DATA / "golden_frames.bin").read_bytes()
FRAMES = json.loads((DATA / "golden_frames.json").read_text())["frames"]
# the host->board COMMAND frame at the end is part of the file too; a board->host decoder counts it as a command
BOARD_FRAMES = [f for f in FRAMES if f["type"] != "COMMAND"]


def _decode(chunks):
    dec = Decoder()
    res = None
    for c in chunks:
        r = dec.feed(c)
        if res is None:
            res = r
        else:
            res.extend(r)
    res.extend(dec.flush())
    return dec, res


def _check(dec, res):
    data = [f for f in FRAMES if f["type"] == "DATA"]
    # samples: concatenate the blocks and compare with each frame's codes and status words, at its sample index
    got = {}
    for b in res.blocks:
        for j in range(b.codes.shape[1]):
            got[b.first_sample + j] = (b.codes[:, j], b.status[:, j])
    for f in data:
        codes = np.asarray(f["codes"]).T  # [channels, samples]
        status = np.array([[int(s, 16) for s in row] for row in f["status"]]).T  # [chips, samples]
        for j in range(f["n_samples"]):
            c, s = got[f["first_sample"] + j]
            np.testing.assert_array_equal(c, codes[:, j])
            np.testing.assert_array_equal(s, status[:, j])
    assert sorted(got) == sorted(f["first_sample"] + j for f in data for j in range(f["n_samples"]))
    st = dec.stats
    assert st.crc_errors == st.truncated == st.malformed == st.skipped_bytes == 0
    assert st.data_frames == len(data) and st.samples == sum(f["n_samples"] for f in data)
    # seq wraps 2**32-2 -> 2**32-1 -> 0 -> ...: no sequence gap; the sample index jumps 10 -> 15: five lost samples
    assert st.seq_gaps == 0 and st.lost_frames == 0
    assert st.sample_gaps == 1 and st.lost_samples == 5
    assert st.overrun_frames == sum(bool(f["flags"] & 1) for f in data)
    assert st.device_status_errors == sum(bool(f["flags"] & 2) for f in data)
    # every chip status word of the golden stream that lacks the 0xC nibble is counted
    bad = sum((int(s, 16) >> 20) != 0xC for f in data for row in f["status"] for s in row)
    assert st.status_misaligned == bad
    # the other frame types, field by field
    (status,) = [f["status"] for f in BOARD_FRAMES if f["type"] == "STATUS"]
    assert [s.values for s in res.statuses] == [status]
    events = [(f["kind"], f["value"], f["sample"], f["device_time_us"]) for f in BOARD_FRAMES if f["type"] == "EVENT"]
    assert [(e.kind, e.value, e.sample, e.device_time_us) for e in res.events] == events
    assert [(g.level, g.text) for g in res.logs] == [
        (f["level"], f["text"]) for f in BOARD_FRAMES if f["type"] == "LOG"
    ]
    responses = [f["json"] for f in BOARD_FRAMES if f["type"] == "RESPONSE"]
    assert [
        {k: v for k, v in r.items() if k in ("id", "ok", "error", "first_sample", "rate")} for r in res.responses
    ] == responses
    assert st.frames == len(FRAMES)


def test_frame_table_matches_the_bytes():
    # the JSON's offsets and sizes tile the file exactly: nothing in the stream is undescribed
    assert FRAMES[0]["offset"] == 0
    for a, b in zip(FRAMES, FRAMES[1:]):
        assert a["offset"] + a["size"] == b["offset"]
    assert FRAMES[-1]["offset"] + FRAMES[-1]["size"] == len(STREAM)


def test_golden_stream_decodes_exactly_in_one_piece():
    _check(*_decode([STREAM]))


@pytest.mark.parametrize("step", [1, 7, 27, 836, 1000])
def test_golden_stream_decodes_exactly_in_any_chunking(step):
    _check(*_decode([STREAM[i : i + step] for i in range(0, len(STREAM), step)]))
