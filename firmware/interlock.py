# Lead-off safety interlock: the DC (and AC) lead-off current through any single electrode stays <= 10 uA.
#
# The ADS1299 sources/sinks the lead-off current on every input whose LOFF_SENSP/LOFF_SENSN bit is set (the firmware
# sets both for every enabled channel). An electrode wired to several inputs carries the sum: with the perifacial
# montage a region's reference serves the N inputs of its four channels, and with SRB1 on every N input of a chip
# goes to the one SRB1 electrode. The electrode of each input comes from the montage (hardware/montage.json, copied
# to the board as /montage.json); without a montage every N input is assumed to share one electrode (worst case).
# Limit: IEC 60601-1 patient auxiliary current, DC, normal condition, 10 uA (hardware/safety.md).
LIMIT_NA = 10000


def electrode_map(montage, n_ch, srb1=False):
    """``(p, n)``: the electrode name on each channel's P and N input (lists of ``n_ch`` str)."""
    p = ["ch%d+" % (c + 1) for c in range(n_ch)]
    n = ["common reference (no montage: all N inputs assumed on one electrode)"] * n_ch
    if isinstance(montage, dict):
        for reg in montage.get("regions", ()):
            code = reg.get("code") or reg.get("name") or "?"
            ref = reg.get("reference") or {}
            ref_name = ref.get("label") or (code + " ref")
            chans = reg.get("channels") or ()
            for i in range(len(chans)):
                c = chans[i]
                if 0 <= c < n_ch:
                    p[c] = "%s%d" % (code, i + 1)
                    n[c] = ref_name
    if srb1:
        for c in range(n_ch):
            n[c] = "SRB1 (chip %d common reference)" % (c // 8)
    return p, n


def currents(p, n, enabled, current_na):
    """Electrode name -> total lead-off current (nA) with ``current_na`` on both inputs of every enabled channel."""
    tot = {}
    for c in range(len(p)):
        if enabled[c]:
            for e in (p[c], n[c]):
                tot[e] = tot.get(e, 0) + current_na
    return tot


def check(p, n, enabled, current_na, bench=False):
    """Raise ValueError naming the electrode and the current when any electrode would carry > LIMIT_NA."""
    if bench or not current_na:
        return
    tot = currents(p, n, enabled, current_na)
    worst = None
    for e in tot:
        if tot[e] > LIMIT_NA and (worst is None or tot[e] > tot[worst]):
            worst = e
    if worst is not None:
        k = 0
        for c in range(len(p)):
            if enabled[c] and (p[c] == worst or n[c] == worst):
                k += 1
        raise ValueError(
            "lead-off %d nA per input puts %d nA (%.1f uA) DC through electrode '%s' (%d inputs), over the %d uA "
            "limit for a participant (IEC 60601-1 patient auxiliary current): use 6 or 24 nA, or, with no "
            "participant connected, switch bench mode on over USB"
            % (current_na, tot[worst], tot[worst] / 1000, worst, k, LIMIT_NA // 1000)
        )
