"""Golden frames: the firmware's code path reproduces tests/data/golden_frames.bin byte for byte."""

import json

import golden

from perifacial.firmware import wire


def test_golden_stream_is_byte_exact():
    stream, desc = golden.build()
    assert stream == golden.BIN.read_bytes(), (
        "firmware framing changed: regenerate with tests/firmware/golden.py "
        "only if the wire format change is intended (the host decoder's tests use these files)"
    )
    on_disk = json.loads(golden.DESC.read_text())
    assert on_disk["frames"] == json.loads(json.dumps(desc))


def test_golden_content_follows_the_spec():
    desc = json.loads(golden.DESC.read_text())["frames"]
    types = [f["type"] for f in desc]
    assert types == ["DATA", "DATA", "DATA", "STATUS", "EVENT", "EVENT", "LOG", "RESPONSE", "RESPONSE", "COMMAND"]
    seqs = [f["seq"] for f in desc[:-1]]
    assert seqs == [(0xFFFFFFFE + i) & 0xFFFFFFFF for i in range(9)]  # u32 wrap
    d0, d1, d2 = desc[:3]
    assert (d0["first_sample"], d0["n_samples"], d0["flags"]) == (0, 10, 0)
    # samples 10..14 lost (late read); sample 23 has a chip status without 0xC
    assert (d1["first_sample"], d1["n_samples"], d1["flags"]) == (15, 10, wire.FLAG_OVERRUN | wire.FLAG_STATUS_ERROR)
    assert (d2["first_sample"], d2["n_samples"], d2["flags"]) == (25, 4, 0)
    assert d1["status"][8] == ["C00000", "000000", "C00000"]
    assert d1["status"][9] == ["C00000", "C00000", "C01000"]  # LOFF_STATP bit 0 of chip 2
    # raw bytes exactly as shifted out: codes reproduce the generator's, sign and full scale included
    for f in (d0, d1, d2):
        for s in range(f["n_samples"]):
            conv = f["first_sample"] + s
            assert f["codes"][s] == [golden.code_for(conv, ch) for ch in range(24)]
    assert d0["codes"][0][7] == 0x7FFFFF and d0["codes"][1][7] == -0x800000
    # device time: ticks of the first sample, modulo 2**30
    assert d1["device_time_us"] == (0x3FFFF000 + 15 * 1000) % (1 << 30)
    # framing overhead at the default frame size (10 samples x 3 chips)
    assert (d0["size"] - 10 * 81) / d0["size"] <= 0.05
    ev = desc[4]
    assert (ev["kind"], ev["value"], ev["sample"]) == (wire.EV_DISPLAY, 3, 1500)
    assert desc[6]["level"] == wire.LOG_INFO and desc[6]["text"].startswith("perifacial")
    assert desc[9]["json"] == {"id": 1, "cmd": "start"}
