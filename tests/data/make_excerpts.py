"""Re-create the real-EMG excerpts in this folder from the full files in ``../shared/data`` (run from the repo root:
``python tests/data/make_excerpts.py /path/to/shared/data``). Values are copied verbatim (text), only rows/columns
are cut; see README.md for sources and licences."""

import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
here = Path(__file__).resolve().parent

# BioSPPy emg_1.txt: '#' header (3 lines + labels), then one raw 12-bit ADC count per line at 1000 Hz.
lines = (src / "biosppy" / "emg_1.txt").read_text().splitlines()
header = [ln for ln in lines if ln.startswith("#")]
data = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
cut = data[13000:19000]  # 13.0-19.0 s: rest, then a clear burst (~14-18 s)
(here / "biosppy_emg_1_13-19s.txt").write_text(
    "\n".join(header + ["# Excerpt: samples 13000-18999 (13.0-19.0 s) of BioSPPy examples/emg_1.txt"] + cut) + "\n"
)

# UCI 'EMG dataset in Lower Limb', 5Nmar.txt: 7 header lines, then RF BF VM ST (mV) + knee angle, tab-separated.
lines = (src / "uci_lower_limb" / "5Nmar.txt").read_text().splitlines()
rows = [ln.split("\t")[:4] for ln in lines[7 : 7 + 6563]]
cut = rows[1000:3500]  # 1.0-3.5 s of gait, the four EMG columns
(here / "uci_lower_limb_5Nmar_1-3.5s.tsv").write_text(
    "# Excerpt: rows 1000-3499 (1.0-3.5 s at 1000 Hz) of UCI 'EMG dataset in Lower Limb' 5Nmar.txt; "
    "columns RF BF VM ST in mV, unfiltered\n" + "\n".join("\t".join(r) for r in cut) + "\n"
)

# Nilsonne FACIAL 09_FMOV_preprocessed.txt: 8 whitespace-separated columns at 100 Hz; keep columns 2-5.
lines = (src / "nilsonne_facial" / "09_FMOV_preprocessed.txt").read_text().splitlines()
rows = [ln.split()[1:5] for ln in lines[6000:7500]]  # 60-75 s
(here / "nilsonne_facial_09_60-75s.txt").write_text(
    "# Excerpt: rows 6000-7499 (60-75 s at 100 Hz) of 09_FMOV_preprocessed.txt (GNilsonne, CC0); columns: raw EMG "
    "zygomaticus (mV), raw EMG corrugator (mV), average-rectified zygomaticus (mV), average-rectified corrugator (mV)\n"
    + "\n".join(" ".join(r) for r in rows)
    + "\n"
)
