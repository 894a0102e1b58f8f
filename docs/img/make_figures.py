"""Regenerate the figures of docs/spotting.md (issue 15): ``python docs/img/make_figures.py [path/to/shared/data]``.

mains.png: residual around 50 Hz and edge behaviour of the mains removers on EMG + 50 Hz mains (drifting, with
harmonics). real_events.png: the default spotter on the real facial recording (no labels available).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.signal as ss  # noqa: E402

from perifacial.dsp.filters import linear_envelope, lowpass  # noqa: E402
from perifacial.dsp.mains import cancel_mains, remove_mains  # noqa: E402
from perifacial.dsp.spotting import spot  # noqa: E402

HERE = Path(__file__).parent
FS = 1000.0


def mains_figure():
    rng = np.random.default_rng(0)
    n = 12000
    emg = ss.sosfilt(ss.butter(2, [20, 300], "bandpass", fs=FS, output="sos"), rng.standard_normal((1, n))) * 10
    t = np.arange(n) / FS
    ph = 2 * np.pi * np.cumsum(50 + 0.1 * np.sin(2 * np.pi * 0.05 * t)) / FS
    x = emg + 6 * np.sin(ph) + 2 * np.sin(3 * ph + 0.3) + 2 * np.sin(5 * ph + 0.6)
    nt = np.concatenate([np.r_[ss.iirnotch(f, 30.0, fs=FS)].reshape(1, 6) for f in range(50, 450, 50)])
    outs = {
        "no removal": x,
        "IIR notch q=30 (sosfiltfilt)": ss.sosfiltfilt(nt, x),
        "block least squares (default, offline)": remove_mains(x, FS),
        "RLS canceller (default, causal)": cancel_mains(x, FS, freq=50.0, max_freq=450.0),
    }
    clean = linear_envelope(emg, FS, notch=None)[0]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    f, p0 = ss.welch(emg[0], FS, nperseg=4000)
    ax[0].semilogy(f, p0, color="0.6", lw=2, label="EMG alone")
    for name, y in outs.items():
        f, p = ss.welch(y[0], FS, nperseg=4000)
        ax[0].semilogy(f, p, lw=1, label=name)
        env = linear_envelope(y, FS, notch=None)[0]
        ax[1].plot(t[:1500], (env - clean)[:1500] / clean.mean() * 100, lw=1, label=name)
    ax[0].set_xlim(40, 60)
    ax[0].set_xlabel("Hz", fontsize=10)
    ax[0].set_ylabel("PSD (uV^2/Hz)", fontsize=10)
    ax[0].set_title("residual around 50 Hz", fontsize=11)
    ax[0].legend(fontsize=8)
    ax[1].set_xlabel("s from the start of the recording", fontsize=10)
    ax[1].set_ylabel("envelope error (% of mean envelope)", fontsize=10)
    ax[1].set_title("edge behaviour (first 1.5 s)", fontsize=11)
    fig.savefig(HERE / "mains.png", dpi=100)


def real_figure(data_dir: Path):
    raw = np.loadtxt(data_dir / "nilsonne_facial" / "09_FMOV_preprocessed.txt", usecols=(3, 4))  # rectified, mV
    fs = 100.0
    env = lowpass(
        raw.T * 1000.0, fs, cutoff=6.0
    )  # uV; 100 Hz cannot hold the 20-450 Hz band: use the rectified columns
    ev = spot(env, fs)
    t = np.arange(env.shape[1]) / fs
    fig, ax = plt.subplots(2, 1, figsize=(12, 5), sharex=True, layout="constrained")
    for c, name in enumerate(("zygomaticus major", "corrugator supercilii")):
        ax[c].plot(t, env[c], lw=0.6, color="k")
        for e in ev:
            if e.channel == c:
                ax[c].axvspan(
                    e.onset / fs, (e.offset + 1) / fs, color="tab:red" if e.is_expression else "0.7", alpha=0.35
                )
        ax[c].set_title(
            f"{name}: {sum(e.channel == c and e.is_expression for e in ev)} expression events", fontsize=10, loc="left"
        )
        ax[c].set_ylabel("envelope (uV)", fontsize=10)
    ax[1].set_xlabel("s", fontsize=10)
    fig.savefig(HERE / "real_events.png", dpi=100)
    return ev


if __name__ == "__main__":
    mains_figure()
    if len(sys.argv) > 1:
        ev = real_figure(Path(sys.argv[1]))
        print(
            len(ev),
            "events;",
            sum(e.is_expression for e in ev),
            "expressions;",
            {k: sum(e.kind == k for e in ev) for k in {e.kind for e in ev}},
        )
