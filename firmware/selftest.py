# Self-test and lead-off/impedance checks: run short acquisitions through the app and reduce them on the board.
#
# Result (one dict, sent as the RESPONSE of `selftest`):
#   pass         all checks below passed (lead-off state is reported, not judged: electrodes may be off)
#   chips        [{chip, id, id_ok, rev, regs_ok, mismatches: [[addr, wrote, read], ...]}]
#   test_signal  {rate, expected_period, period: [24], amplitude_uv: [24], ok}   internal square wave (MUX=101)
#   noise        {rate, gain, samples, rms_uv: [24], pp_uv: [24], limit_rms_uv, limit_pp_uv, ok}   inputs shorted
#   lead_off     {current_na, p: [24 bools], n: [24 bools]}   DC lead-off comparators on the normal inputs
#   lost         samples lost during the test acquisitions (0 expected)
try:
    from . import ads1299 as ads
except ImportError:
    import ads1299 as ads  # type: ignore[no-redef]

NOISE_LIMIT_RMS_UV = 3.0  # > datasheet typ. at any gain, 1 kSPS (gain 1: 2.17 uVrms, 15.17 uVpp; Table 1)
NOISE_LIMIT_PP_UV = 20.0
TEST_AMP_MIN_UV = 500.0  # internal test signal +-(VREFP - VREFN)/2.4 mV nominal (TI: +-1 mV input-referred)
TEST_AMP_MAX_UV = 2500.0


def _sqrt(x):
    return x**0.5


def test_signal(app, periods=3.2):
    """Square-wave period (samples, from rising crossings of zero with hysteresis) and amplitude per channel."""
    cfg = app.config
    rate = cfg["rate"]
    expected = 1024 * rate // 1000
    nch = app.n_chips * 8
    lsb = [ads.lsb_uv(g) for g in cfg["gain"]]
    hyst = [int(TEST_AMP_MIN_UV / 4 / lsb[c]) for c in range(nch)]
    state = [0] * nch  # -1 low, +1 high, 0 unknown
    first_rise = [-1] * nch
    last_rise = [-1] * nch
    rises = [0] * nch
    hi_sum = [0] * nch
    hi_n = [0] * nch
    lo_sum = [0] * nch
    lo_n = [0] * nch
    code24 = ads.code24

    def consume(idx, view):
        for c in range(nch):
            v = code24(view, 3 + (c >> 3) * 27 + (c & 7) * 3)
            h = hyst[c]
            if v > h:
                if state[c] < 0:
                    if first_rise[c] < 0:
                        first_rise[c] = idx
                    last_rise[c] = idx
                    rises[c] += 1
                state[c] = 1
                hi_sum[c] += v
                hi_n[c] += 1
            elif v < -h:
                state[c] = -1
                lo_sum[c] += v
                lo_n[c] += 1

    lost = app.collect(int(expected * periods), consume, mux=ads.MUX_TEST)
    period = []
    amp = []
    ok = lost == 0
    for c in range(nch):
        p = (last_rise[c] - first_rise[c]) / (rises[c] - 1) if rises[c] >= 2 else 0.0
        a = 0.0
        if hi_n[c] and lo_n[c]:
            a = (hi_sum[c] / hi_n[c] - lo_sum[c] / lo_n[c]) / 2 * lsb[c]
        period.append(p)
        amp.append(round(a, 1))
        if not cfg["enabled"][c]:
            continue
        if p != expected or not TEST_AMP_MIN_UV <= a <= TEST_AMP_MAX_UV:
            ok = False
    return {"rate": rate, "expected_period": expected, "period": period, "amplitude_uv": amp, "ok": ok}


def noise(app, seconds=1.0):
    cfg = app.config
    rate = cfg["rate"]
    nch = app.n_chips * 8
    n_total = int(rate * seconds)
    s1 = [0] * nch
    s2 = [0] * nch
    lo = [0x7FFFFF] * nch
    hi = [-0x800000] * nch
    cnt = [0]
    code24 = ads.code24

    def consume(idx, view):
        cnt[0] += 1
        for c in range(nch):
            v = code24(view, 3 + (c >> 3) * 27 + (c & 7) * 3)
            s1[c] += v
            s2[c] += v * v
            if v < lo[c]:
                lo[c] = v
            if v > hi[c]:
                hi[c] = v

    lost = app.collect(n_total, consume, mux=ads.MUX_SHORTED)
    n = cnt[0] or 1
    rms = []
    pp = []
    ok = lost == 0
    for c in range(nch):
        lsb = ads.lsb_uv(cfg["gain"][c])
        mean = s1[c] / n
        var = s2[c] / n - mean * mean
        r = _sqrt(var if var > 0 else 0.0) * lsb
        p = (hi[c] - lo[c]) * lsb if hi[c] >= lo[c] else 0.0
        rms.append(round(r, 4))
        pp.append(round(p, 3))
        if cfg["enabled"][c] and (r > NOISE_LIMIT_RMS_UV or p > NOISE_LIMIT_PP_UV):
            ok = False
    return {
        "rate": rate,
        "gain": cfg["gain"],
        "samples": cnt[0],
        "rms_uv": rms,
        "pp_uv": pp,
        "limit_rms_uv": NOISE_LIMIT_RMS_UV,
        "limit_pp_uv": NOISE_LIMIT_PP_UV,
        "ok": ok,
    }


def lead_off(app, current_na=6, samples=64, ac=False):
    """Lead-off flags per channel from the status words of the acquired frames (the last `samples // 2`)."""
    nch = app.n_chips * 8
    p = [False] * nch
    n = [False] * nch
    seen = [0]
    half = samples // 2

    def consume(idx, view):
        seen[0] += 1
        if seen[0] <= half:
            return
        for chip in range(app.n_chips):
            o = chip * 27
            statp = ((view[o] & 0x0F) << 4) | (view[o + 1] >> 4)
            statn = ((view[o + 1] & 0x0F) << 4) | (view[o + 2] >> 4)
            for i in range(8):
                if statp & (1 << i):
                    p[chip * 8 + i] = True
                if statn & (1 << i):
                    n[chip * 8 + i] = True

    lost = app.collect(samples, consume, mux=ads.MUX_NORMAL, lead_off=(current_na, ac))
    return {"current_na": current_na, "ac": ac, "p": p, "n": n, "lost": lost}


def impedance(app, current_na=6, samples=256):
    """Electrode impedance estimate from AC lead-off excitation at fDR/4: Z = V(fDR/4 amplitude) / I.

    The excitation current flows through both electrodes of a channel, so the value is the sum of the two; it is an
    estimate (the ADS1299 lead-off current tolerance is wide), good for "connected / poor / open" screening.
    """
    cfg = app.config
    nch = app.n_chips * 8
    acc_i = [0] * nch
    acc_q = [0] * nch
    cnt = [0]
    code24 = ads.code24
    sgn_i = (1, 0, -1, 0)
    sgn_q = (0, 1, 0, -1)

    def consume(idx, view):
        k = idx & 3
        si = sgn_i[k]
        sq = sgn_q[k]
        cnt[0] += 1
        for c in range(nch):
            v = code24(view, 3 + (c >> 3) * 27 + (c & 7) * 3)
            acc_i[c] += si * v
            acc_q[c] += sq * v

    lost = app.collect(samples, consume, mux=ads.MUX_NORMAL, lead_off=(current_na, True))
    n = cnt[0] or 1
    z = []
    for c in range(nch):
        # amplitude of the fDR/4 component (peak), codes -> uV; I in nA -> Z in kOhm = uV / nA
        amp = 2.0 * _sqrt(acc_i[c] * acc_i[c] + acc_q[c] * acc_q[c]) / n * ads.lsb_uv(cfg["gain"][c])
        z.append(round(amp / current_na, 1))
    flags = lead_off(app, current_na)
    for c in range(nch):
        if flags["p"][c] or flags["n"][c]:
            z[c] = None  # an open electrode: the input sits at a rail, no meaningful estimate
    return {"current_na": current_na, "impedance_kohm": z, "p": flags["p"], "n": flags["n"], "lost": lost}


def run(app):
    app.collect_lost = 0
    chips = []
    ok = True
    for c in range(app.n_chips):
        idv = app.ads.rreg(c, ads.ID, 1)[0]
        id_ok = (idv & ads.ID_DEV_MASK) == ads.ID_DEV_ADS1299 and (idv & ads.ID_NU_CH_MASK) == ads.ID_NU_CH_8
        mism = app.ads.verify(c, app.plans[c]) if app.plans else []
        chips.append({"chip": c, "id": idv, "id_ok": id_ok, "rev": idv >> 5, "regs_ok": not mism, "mismatches": mism})
        if not id_ok or mism:
            ok = False
    # the per-sample analysis below runs in Python on the MCU; a board whose budget cannot analyse every sample at
    # its configured rate names a lower one (profile "selftest_rate"): the tests run there, the rate is restored
    rate = app.config["rate"]
    low = app.profile.get("selftest_rate")
    if low and low < rate:
        app.config["rate"] = low
        app.apply_config()
    try:
        ts = test_signal(app)
        nz = noise(app)
        lo = lead_off(app)
    finally:
        if app.config["rate"] != rate:
            app.config["rate"] = rate
            app.apply_config()
    ok = ok and ts["ok"] and nz["ok"]
    return {"pass": ok, "chips": chips, "test_signal": ts, "noise": nz, "lead_off": lo, "lost": app.collect_lost}
