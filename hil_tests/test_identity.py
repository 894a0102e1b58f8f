"""Identity: who the board says it is, read from the chips themselves."""

from __future__ import annotations

import re

from perifacial.firmware import wire
from perifacial.firmware.app import VERSION as HOST_FIRMWARE_VERSION
from perifacial.host.selftest import DR_CODE, GAIN_CODE, MUX_CODE, check_id, decode_registers


def test_chip_ids_by_field(hil, hil_report):
    """Every chip's ID register (0x00), both as `identify` reports it and as read back over SPI with `registers`,
    has DEV_ID[3:2] = 11 (ADS1299 family), NU_CH[1:0] = 10 (8 channels) and bit 4 = 1.
    Criterion: ADS1299 datasheet SBAS499C, ID register; firmware/WIRE.md `identify.ids`."""
    ids = hil.info["ids"]
    assert len(ids) == hil.chips >= 1
    regs = hil.registers()
    assert len(regs) == hil.chips
    rows = []
    for chip, (idv, dump) in enumerate(zip(ids, regs)):
        ok, text = check_id(int(idv))
        assert ok, f"chip {chip}: ID {text} is not an 8-channel ADS1299"
        assert dump[0] == idv, f"chip {chip}: identify says 0x{idv:02X}, register 0x00 reads 0x{dump[0]:02X}"
        rows.append(text)
    hil_report.add("chip_ids", {"summary": "; ".join(rows), "ids": ids})


def test_firmware_version_and_channel_count(hil, hil_report):
    """`identify`: name "perifacial", firmware version = the firmware this host ships (what `perifacial flash`
    installs), wire version = the host's decoder version, channels = 8 x chips, no boot fault; `version` agrees.
    Criterion: firmware/WIRE.md (identify, version)."""
    info = hil.info
    assert info["name"] == "perifacial"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", str(info["firmware"]))
    assert info["firmware"] == HOST_FIRMWARE_VERSION, (
        f"board runs firmware {info['firmware']}, this host ships {HOST_FIRMWARE_VERSION}: reflash with "
        "`perifacial flash`"
    )
    assert info["wire"] == wire.VERSION
    assert info["fault"] is None, f"board reports a fault: {info['fault']}"
    assert info["channels"] == 8 * info["chips"] == hil.channels
    v = hil.command("version")
    assert v["firmware"] == info["firmware"] and v["wire"] == info["wire"]
    # only the rates the board's measured budget supports (board profile "rates"/"rates_budget"); the virtual board
    # has no CPU budget and offers all three
    assert info["rates"] and set(info["rates"]) <= {500, 1000, 2000}
    assert hil.config["rate"] in info["rates"]
    if hil.is_sim:
        assert sorted(info["rates"]) == [500, 1000, 2000]
    hil_report.add(
        "firmware",
        {
            "summary": f"{info['firmware']} wire {info['wire']}, {info['channels']} channels",
            "firmware": info["firmware"],
            "channels": info["channels"],
        },
    )


def test_register_readback_after_configure(hil):
    """After `set_config` with a per-channel pattern (gains 1..24 cycling, muxes normal/shorted/test, every fifth
    channel powered down, the highest advertised rate (2000 SPS on sim://), CAL_AMP 2x), the registers read back over
    SPI hold exactly those fields:
    CONFIG1.DR, CONFIG2.INT_CAL/CAL_AMP, CONFIG3.PD_REFBUF, CHnSET.PD/GAIN/MUX for every channel of every chip,
    and CONFIG1.CLK_EN only on chip 0 (one clock for the chain).
    Criterion: SBAS499C register map (CONFIG1-3, CHnSET); firmware/WIRE.md set_config ("read back from the chips")."""
    n = hil.channels
    gains = [(1, 2, 4, 6, 8, 12, 24)[c % 7] for c in range(n)]
    muxes = [("normal", "shorted", "test")[c % 3] for c in range(n)]
    enabled = [c % 5 != 4 for c in range(n)]
    rate = max(hil.info["rates"])  # 2000 where the board supports it
    cfg = hil.configure(rate=rate, gain=gains, mux=muxes, enabled=enabled, test_amp_2x=True)
    assert cfg["rate"] == rate and cfg["gain"] == gains and cfg["mux"] == muxes and cfg["enabled"] == enabled
    regs = hil.registers()
    for chip, dump in enumerate(regs):
        f = decode_registers(dump)
        assert f["dr"] == DR_CODE[rate], f"chip {chip}: CONFIG1 DR {f['dr']}"
        assert not f["daisy_off"], f"chip {chip}: CONFIG1 DAISY_EN=1 (multiple readback) but the chain is daisy-chained"
        assert f["clk_en"] == (chip == 0), f"chip {chip}: CONFIG1 CLK_EN {f['clk_en']}"
        assert f["int_cal"] and f["cal_amp_2x"], f"chip {chip}: CONFIG2 0x{dump[2]:02X}"
        assert f["pd_refbuf"], f"chip {chip}: internal reference buffer off (CONFIG3 0x{dump[3]:02X})"
        for k, ch in enumerate(f["channels"]):
            c = chip * 8 + k
            assert ch["pd"] == (not enabled[c]), f"channel {c}: CH{k + 1}SET PD {ch['pd']}"
            assert ch["gain_code"] == GAIN_CODE[gains[c]], f"channel {c}: gain code {ch['gain_code']}"
            if enabled[c]:
                assert ch["mux"] == MUX_CODE[muxes[c]], f"channel {c}: MUX {ch['mux']:03b} for {muxes[c]}"
    # and back: the defaults read back too
    hil.reset()
    for dump in hil.registers():
        f = decode_registers(dump)
        assert f["dr"] == DR_CODE[int(hil.baseline["rate"])]
        assert not f["cal_amp_2x"] or hil.baseline.get("test_amp_2x")
