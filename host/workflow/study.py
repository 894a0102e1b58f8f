"""A study: every recording of a BIDS EMG dataset (or of a folder with a participants table) processed as
``perifacial process`` does, into BIDS derivatives, then the group level in the layout of Li et al. 2024
[arXiv:2409.00017] Table 4 (per participant and across participants, per region and kind: counts, duration and
%MVC mean +- sd with the 95 % interval of the mean).

Inputs (:func:`find_recordings`):

* a BIDS dataset (``dataset_description.json`` at its root): every ``sub-*/[ses-*/]emg/*_emg.{bdf,edf}``;
* a folder with ``participants.tsv`` or ``participants.csv`` (column ``participant_id``; optional ``recording``
  column: a file relative to the folder, several rows per participant allowed; without it every recording file
  under the folder whose name starts with the participant's id (or ``sub-<id>``) is that participant's; optional
  ``mvc`` column: the participant's calibration).

MVC calibrations (``perifacial mvc``) for %MVC: ``sub-<label>.mvc.json`` or ``<label>.mvc.json`` in the ``mvc_dir``
folder (default ``DATASET/sourcedata/mvc``, which the BIDS validator ignores), or the table's ``mvc`` column.

Outputs (``out``, a BIDS derivative dataset, e.g. ``DATASET/derivatives/perifacial``)::

    out/dataset_description.json          DatasetType "derivative", GeneratedBy perifacial
    out/sub-<label>/[ses-<label>/]emg/    <stem>.events.csv .episodes.csv .summary.json .*.png  (process_file)
    out/group/table4.tsv                  one row per (participant|"all", region|"all", ME|MaE)
    out/group/table4.md                   the same, "mean +- sd" as in the paper
    out/group/duration_vs_intensity.png   every expression of every participant
    out/group/study.json                  all of it: recordings (done / skipped / failed), the table rows

Resuming: a recording whose ``<stem>.summary.json`` is newer than the recording (and its calibration) is skipped,
the summary being the completion mark (removed before a recording is processed, written last and atomically: a
run that crashed half-way through a recording leaves none, and the recording is redone),
unless the processing options differ from the previous run's (``group/study.json``): then all are redone.
Failures of one recording are reported and do not stop the study.

Scale-out: :func:`run_study` runs the recordings on Dask (``dask.distributed``): a ``LocalCluster`` (processes,
one worker of one thread per core, a memory limit per worker) by default, or an existing scheduler by address;
without Dask installed it runs them one after the other.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from perifacial.errors import InvalidArgument, PerifacialError

log = logging.getLogger(__name__)

__all__ = [
    "StudyItem",
    "StudyResult",
    "StudyError",
    "find_recordings",
    "run_study",
    "group_table",
    "GROUP_COLUMNS",
    "DASK_HINT",
]

#: recording suffixes taken from a BIDS ``emg`` folder or a participants folder
RECORDING_SUFFIXES = (".bdf", ".edf", ".pfr", ".xdf", ".acq", ".npz")
DASK_HINT = "pip install 'perifacial[study]'"
_PARTICIPANT = re.compile(r"^(?:sub-)?([A-Za-z0-9]+)")


class StudyError(PerifacialError, ValueError):
    """The dataset folder cannot be used as a study (no recordings, no participants table, bad table)."""


@dataclass(frozen=True)
class StudyItem:
    """One recording of the study: ``subject`` (label without ``sub-``), ``session`` (or None), the recording
    ``path``, the derivatives folder ``out_dir`` its outputs go to, their ``stem`` and the ``mvc`` calibration
    (or None: %MVC not computed)."""

    subject: str
    session: str | None
    path: Path
    out_dir: Path
    stem: str
    mvc: Path | None = None

    @property
    def summary_path(self) -> Path:
        return self.out_dir / f"{self.stem}.summary.json"

    @property
    def events_path(self) -> Path:
        return self.out_dir / f"{self.stem}.events.csv"

    def up_to_date(self) -> bool:
        """True when the outputs exist and are newer than the recording and the calibration."""
        try:
            done = min(self.summary_path.stat().st_mtime, self.events_path.stat().st_mtime)
        except OSError:
            return False
        inputs = [self.path] + ([self.mvc] if self.mvc is not None else [])
        return all(done >= p.stat().st_mtime for p in inputs)


@dataclass
class StudyResult:
    """What :func:`run_study` did: ``items``, ``status`` per recording (``"done"``, ``"skipped"`` or
    ``"failed: ..."``, keyed by the recording path), the group ``table`` rows (:data:`GROUP_COLUMNS`) and the
    ``files`` written (name -> path)."""

    items: list[StudyItem]
    status: dict[str, str]
    table: list[dict]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.status.items() if v.startswith("failed")]


# ------------------------------------------------------------------------------------------------- discovery
def _read_table(path: Path) -> list[dict]:
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f, delimiter=delim))
    if not rows or "participant_id" not in rows[0]:
        raise StudyError(f"{path}: needs a 'participant_id' column and one row per participant")
    return rows


def _label(text: str) -> str:
    m = _PARTICIPANT.match(text.strip())
    if not m:
        raise StudyError(f"participant id {text!r} must start with letters or digits (BIDS label)")
    return m.group(1)


def _mvc_for(subject: str, mvc_dir: Path | None) -> Path | None:
    if mvc_dir is None or not mvc_dir.is_dir():
        return None
    for name in (f"sub-{subject}.mvc.json", f"{subject}.mvc.json"):
        if (mvc_dir / name).is_file():
            return mvc_dir / name
    return None


def find_recordings(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    mvc_dir: str | os.PathLike | None = None,
) -> list[StudyItem]:
    """The recordings of ``dataset`` (a BIDS dataset or a folder with a participants table, see the module
    docstring) with their derivatives folders under ``out`` and calibrations. Raises :class:`StudyError` when the
    folder is neither or holds no recording."""
    root = Path(dataset)
    out = Path(out)
    if not root.is_dir():
        raise StudyError(f"DATASET {root}: not a folder (give a BIDS dataset or a folder with participants.tsv)")
    mdir = Path(mvc_dir) if mvc_dir is not None else root / "sourcedata" / "mvc"
    if mvc_dir is not None and not mdir.is_dir():
        raise StudyError(f"--mvc {mdir}: not a folder (it holds sub-<label>.mvc.json files)")
    items: list[StudyItem] = []
    if (root / "dataset_description.json").is_file():
        for sub in sorted(root.glob("sub-*")):
            if not sub.is_dir():
                continue
            subject = sub.name[4:]
            for emg in sorted(list(sub.glob("emg")) + list(sub.glob("ses-*/emg"))):
                session = emg.parent.name[4:] if emg.parent.name.startswith("ses-") else None
                for p in sorted(emg.iterdir()):
                    if p.name.endswith(("_emg.bdf", "_emg.edf")):
                        items.append(
                            StudyItem(subject, session, p, out / emg.relative_to(root), p.stem, _mvc_for(subject, mdir))
                        )
        if not items:
            raise StudyError(f"DATASET {root}: a BIDS dataset without EMG recordings (sub-*/[ses-*/]emg/*_emg.bdf)")
        return items
    tables = [root / n for n in ("participants.tsv", "participants.csv") if (root / n).is_file()]
    if not tables:
        raise StudyError(
            f"DATASET {root}: neither a BIDS dataset (no dataset_description.json) nor a folder with "
            "a participants table (participants.tsv or participants.csv with a participant_id column)"
        )
    rows = _read_table(tables[0])
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES and out not in p.parents
    )
    for r in rows:
        subject = _label(r["participant_id"])
        mvc = Path(root / r["mvc"]) if r.get("mvc") else _mvc_for(subject, mdir)
        if mvc is not None and not mvc.is_file():
            raise StudyError(f"{tables[0]}: participant {subject}: calibration {mvc} does not exist")
        if r.get("recording"):
            mine = [root / r["recording"]]
            if not mine[0].is_file():
                raise StudyError(f"{tables[0]}: participant {subject}: recording {mine[0]} does not exist")
        else:
            mine = [
                p
                for p in files
                if _PARTICIPANT.match(p.name)
                and _PARTICIPANT.match(p.name).group(1) == subject
                or p.name.startswith((f"{subject}_", f"{subject}-", f"{subject}."))
            ]
        for p in mine:
            items.append(StudyItem(subject, None, p, out / f"sub-{subject}" / "emg", p.stem, mvc))
    if not items:
        raise StudyError(
            f"DATASET {root}: no recording matches a participant of {tables[0].name} (name files "
            "<participant_id>_*.bdf or give a 'recording' column)"
        )
    return items


# ------------------------------------------------------------------------------------------------- one recording
def _process_one(item: StudyItem, opts) -> dict:
    """Worker entry point: process one recording; never raises (the error is returned as ``{"error": ...}``)."""
    import matplotlib

    matplotlib.use("Agg")
    from perifacial.host.workflow.process import process_file

    try:
        item.out_dir.mkdir(parents=True, exist_ok=True)
        item.summary_path.unlink(missing_ok=True)  # the completion mark: back only when everything is written
        s = process_file(item.path, item.mvc, opts, item.out_dir)
        return {"counts": s.get("counts", {})}
    except Exception as exc:  # noqa: BLE001 - one recording's failure is reported, the study goes on
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run_sequential(todo: list[StudyItem], opts, done: Callable[[StudyItem, dict], None]) -> None:
    for it in todo:
        done(it, _process_one(it, opts))


def _run_dask(
    todo: list[StudyItem],
    opts,
    done: Callable[[StudyItem, dict], None],
    scheduler: str | None,
    workers: int | None,
    memory_limit: str | None,
    connect_timeout: str = "20s",
) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise StudyError(
                f"--scheduler {scheduler}: cannot connect to a dask.distributed scheduler ({exc})"
            ) from None
    else:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit or "auto",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        futs = {
            client.submit(_process_one, it, opts, pure=False, key=f"perifacial-study-{i}-{it.stem}"): it
            for i, it in enumerate(todo)
        }
        for f in as_completed(futs):
            it = futs[f]
            try:
                res = f.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker (memory limit): reported, go on
                res = {"error": f"{type(exc).__name__}: {exc}"}
            done(it, res)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def have_dask() -> bool:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------------------- group level
GROUP_COLUMNS: tuple[str, ...] = (
    "participant",
    "region",
    "kind",
    "n",
    "flagged_left_out",
    "recordings",
    "duration_mean_s",
    "duration_sd_s",
    "duration_ci_low_s",
    "duration_ci_high_s",
    "mvc_n",
    "mvc_mean_pct",
    "mvc_sd_pct",
    "mvc_ci_low_pct",
    "mvc_ci_high_pct",
    "iemg_mean_pct_s",
    "iemg_sd_pct_s",
)


def _events_of(items: list[StudyItem]) -> list[tuple[str, dict]]:
    from perifacial.host.workflow.process import read_events_csv

    out = []
    for it in items:
        if it.events_path.is_file():
            out += [(it.subject, r) for r in read_events_csv(it.events_path) if r.get("kind") in ("ME", "MaE")]
    return out


def _quantified(r: dict):
    """An ``events.csv`` row as a :class:`~perifacial.dsp.quantification.QuantifiedEvent` (for ``summarize``)."""
    from perifacial.dsp.quantification import QuantifiedEvent

    def num(k):
        try:
            return float(r.get(k) or "nan")
        except ValueError:
            return math.nan

    return QuantifiedEvent(
        int(r["onset_sample"]),
        int(r["offset_sample"]),
        num("onset_s"),
        num("offset_s"),
        num("duration_ms"),
        -1,
        r.get("channel", ""),
        r.get("region", ""),
        num("peak_uv"),
        num("peak_mvc_pct"),
        num("iemg_pct_s"),
        r["kind"],
    )


def group_table(items: list[StudyItem], confidence: float = 0.95, flagged: bool = False) -> list[dict]:
    """Rows of :data:`GROUP_COLUMNS`: for each participant, then ``"all"`` (every expression of every participant
    pooled, as Table 4 pools its 380 expressions), each region and ``"all"`` regions, ME then MaE: the count, the
    duration (s) and peak %MVC mean, SD and ``confidence`` interval of the mean
    (:func:`perifacial.dsp.quantification.summarize`), and the iEMG mean and SD. Read from the recordings'
    ``events.csv``; recordings without one (failed) are left out. Expressions flagged by ``process`` (overlapping
    an electrode artefact or a blink's EOG on their region: their amplitude is not the muscle's) are left out and
    counted in ``flagged_left_out`` unless ``flagged``."""
    from perifacial.dsp.quantification import summarize

    evs = [(s, r.get("region") or "", _quantified(r), r.get("flagged") == "True") for s, r in _events_of(items)]
    subjects = sorted({it.subject for it in items})
    n_rec = {s: sum(it.subject == s and it.events_path.is_file() for it in items) for s in subjects}
    regions = sorted({reg for _, reg, _, _ in evs if reg})
    out = []
    for who in subjects + ["all"]:
        mine = [(reg, q, f) for s, reg, q, f in evs if who in ("all", s)]
        for region in ["all"] + regions:
            sel = [q for reg, q, f in mine if region in ("all", reg) and (flagged or not f)]
            stats = {(e.kind, e.quantity): e for e in summarize(sel, confidence=confidence)}
            for kind in ("ME", "MaE"):
                d, m, i = (stats[(kind, q)] for q in ("duration_s", "peak_mvc_pct", "iemg_pct_s"))
                out.append(
                    {
                        "participant": who,
                        "region": region,
                        "kind": kind,
                        "n": d.n,
                        "flagged_left_out": 0
                        if flagged
                        else sum(f and q.kind == kind for reg, q, f in mine if region in ("all", reg)),
                        "recordings": sum(n_rec.values()) if who == "all" else n_rec[who],
                        "duration_mean_s": d.mean,
                        "duration_sd_s": d.sd,
                        "duration_ci_low_s": d.ci_low,
                        "duration_ci_high_s": d.ci_high,
                        "mvc_n": m.n,
                        "mvc_mean_pct": m.mean,
                        "mvc_sd_pct": m.sd,
                        "mvc_ci_low_pct": m.ci_low,
                        "mvc_ci_high_pct": m.ci_high,
                        "iemg_mean_pct_s": i.mean,
                        "iemg_sd_pct_s": i.sd,
                    }
                )
    return out


def _f(v, nd=3) -> str:
    return (
        "n/a"
        if v is None or (isinstance(v, float) and not math.isfinite(v))
        else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))
    )


def _pm(m, s, nd) -> str:
    return "n/a" if not math.isfinite(m) else f"{m:.{nd}f} ± {_f(s, nd)}"


def write_group_files(
    table: list[dict], out: Path, items: list[StudyItem], status: dict[str, str], opts
) -> dict[str, Path]:
    """Write ``table4.tsv``, ``table4.md``, ``duration_vs_intensity.png`` and ``study.json`` into ``out/group``."""
    from perifacial.host.workflow.process import jsonable

    g = out / "group"
    g.mkdir(parents=True, exist_ok=True)
    files = {}
    p = g / "table4.tsv"
    with open(p, "w", newline="", encoding="utf-8") as f:
        f.write("\t".join(GROUP_COLUMNS) + "\n")
        for r in table:
            f.write("\t".join(_f(r[c], 6) for c in GROUP_COLUMNS) + "\n")
    files["table_tsv"] = p
    lines = [
        "# Duration and intensity of ME and MaE (layout of Li et al. 2024, Table 4)",
        "",
        "mean ± sd; 95 % CI of the mean in brackets; %MVC needs an MVC calibration per participant.",
        "",
        "| participant | region | kind | N | duration (s) | 95 % CI (s) | MVC% | 95 % CI (%) |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    for r in table:
        if r["n"] == 0:
            continue
        lines.append(
            f"| {r['participant']} | {r['region']} | {r['kind']} | {r['n']} | "
            f"{_pm(r['duration_mean_s'], r['duration_sd_s'], 3)} | "
            f"[{_f(r['duration_ci_low_s'])}, {_f(r['duration_ci_high_s'])}] | "
            f"{_pm(r['mvc_mean_pct'], r['mvc_sd_pct'], 2)} | "
            f"[{_f(r['mvc_ci_low_pct'], 2)}, {_f(r['mvc_ci_high_pct'], 2)}] |"
        )
    p = g / "table4.md"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files["table_md"] = p
    p = g / "duration_vs_intensity.png"
    _scatter(items, p)
    files["scatter"] = p
    p = g / "study.json"
    files["json"] = p
    doc = {
        "recordings": [
            {
                "subject": it.subject,
                "session": it.session,
                "recording": str(it.path),
                "mvc": str(it.mvc) if it.mvc else None,
                "summary": str(it.summary_path),
                "status": status.get(str(it.path), "not run"),
            }
            for it in items
        ],
        "options": asdict(opts),
        "group_table": table,
        "files": {k: str(v) for k, v in files.items()},
    }
    p.write_text(json.dumps(jsonable(doc), indent=2), encoding="utf-8")
    return files


def _scatter(items: list[StudyItem], path: Path) -> None:
    """Duration (s) vs peak %MVC (peak uV when no participant has a calibration) of every expression; the ones
    ``process`` flagged are grey crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    evs = _events_of(items)
    mvc = any(math.isfinite(float(r.get("peak_mvc_pct") or "nan")) for _, r in evs)
    key = "peak_mvc_pct" if mvc else "peak_uv"
    fig, ax = plt.subplots(figsize=(7, 5))
    subjects = sorted({s for s, _ in evs})
    colors = plt.get_cmap("tab10")
    for i, s in enumerate(subjects):
        for kind, marker in (("ME", "o"), ("MaE", "^")):
            pts = np.array(
                [
                    (float(r["duration_ms"]) / 1000, float(r.get(key) or "nan"))
                    for t, r in evs
                    if t == s and r["kind"] == kind and r.get("flagged") != "True"
                ],
                dtype=float,
            ).reshape(-1, 2)
            if len(pts):
                ax.scatter(
                    pts[:, 0], pts[:, 1], s=14, marker=marker, color=colors(i % 10), alpha=0.7, label=f"sub-{s} {kind}"
                )
    flagged = np.array(
        [(float(r["duration_ms"]) / 1000, float(r.get(key) or "nan")) for _, r in evs if r.get("flagged") == "True"],
        dtype=float,
    ).reshape(-1, 2)
    if len(flagged):
        ax.scatter(flagged[:, 0], flagged[:, 1], s=18, marker="x", color="0.5", label="flagged (not in the table)")
    ax.axvline(0.5, color="0.4", ls="--", lw=1)
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("peak intensity (%MVC)" if mvc else "peak envelope (µV; no MVC calibration)")
    ax.set_title(f"duration vs intensity, {len(subjects)} participants, {len(evs)} expressions", loc="left")
    if subjects:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_description(out: Path, dataset: Path) -> Path:
    """``out/dataset_description.json`` of the derivative dataset (BIDS: DatasetType, GeneratedBy,
    SourceDatasets)."""
    from perifacial import __version__
    from perifacial.host.bids import BIDS_VERSION

    p = out / "dataset_description.json"
    try:
        src = os.path.relpath(dataset.resolve(), out.resolve())
    except ValueError:  # another drive
        src = str(dataset.resolve())
    p.write_text(
        json.dumps(
            {
                "Name": f"perifacial study of {dataset.resolve().name}",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "derivative",
                "GeneratedBy": [
                    {
                        "Name": "perifacial",
                        "Version": __version__,
                        "Description": "perifacial study: envelope chain, spotting and quantification per "
                        "recording (perifacial process), group tables (Li et al. 2024 Table 4)",
                    }
                ],
                "SourceDatasets": [{"URL": Path(src).as_posix() if not os.path.isabs(src) else Path(src).as_uri()}],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return p


# ------------------------------------------------------------------------------------------------- main entry
def run_study(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    opts=None,
    *,
    mvc_dir=None,
    scheduler: str | None = None,
    workers: int | None = None,
    memory_limit: str | None = None,
    use_dask: bool | None = None,
    force: bool = False,
    connect_timeout: str = "20s",
    progress: Callable[[StudyItem, str, int, int], None] | None = None,
) -> StudyResult:
    """Process every recording of ``dataset`` into the derivative dataset ``out`` and write the group level.

    ``opts``: :class:`~perifacial.host.workflow.process.ProcessOptions`; ``mvc_dir``: folder of the participants'
    calibrations (default ``dataset/sourcedata/mvc``); ``scheduler``: address of a running ``dask.distributed``
    scheduler (given up after ``connect_timeout``; else a ``LocalCluster`` of ``workers`` processes, default one per
    core, each of one thread with
    ``memory_limit``, e.g. ``"4GiB"``, default Dask's ``"auto"``); ``use_dask``: None = when installed, False =
    sequential; ``force``: reprocess up-to-date recordings; ``progress(item, status, done, total)`` after each
    recording (status ``"done"``, ``"skipped"`` or ``"failed: ..."``)."""
    from perifacial.host.workflow.process import ProcessOptions, jsonable

    opts = opts or ProcessOptions()
    dataset, out = Path(dataset), Path(out)
    items = find_recordings(dataset, out, mvc_dir)
    if use_dask is None:
        use_dask = have_dask()
        if not use_dask:
            if scheduler:
                raise InvalidArgument(f"--scheduler needs Dask: {DASK_HINT}")
            print(
                f"perifacial study: Dask is not installed, processing the recordings one after the other "
                f"({DASK_HINT} for parallel workers)",
                file=sys.stderr,
            )
    out.mkdir(parents=True, exist_ok=True)
    write_description(out, dataset)
    status: dict[str, str] = {}
    total = len(items)
    say = progress or (lambda it, st, k, n: None)

    def done(it: StudyItem, res: dict) -> None:
        st = "skipped" if res.get("skipped") else f"failed: {res['error']}" if "error" in res else "done"
        if "error" in res:
            log.error("%s: %s", it.path, res["error"])
        status[str(it.path)] = st
        say(it, st, len(status), total)

    previous = out / "group" / "study.json"
    if not force and previous.is_file():
        try:
            before = json.loads(previous.read_text(encoding="utf-8")).get("options")
        except (OSError, ValueError):
            before = None
        now = json.loads(json.dumps(jsonable(asdict(opts))))
        if before is not None and before != now:
            log.warning(
                "the processing options differ from the previous run's (%s): every recording is redone",
                ", ".join(k for k in now if before.get(k) != now[k]),
            )
            force = True
    todo = []
    for it in items:
        if not force and it.up_to_date():
            done(it, {"skipped": True})
        else:
            todo.append(it)
    if todo:
        if use_dask:
            _run_dask(todo, opts, done, scheduler, workers, memory_limit, connect_timeout)
        else:
            _run_sequential(todo, opts, done)
    table = group_table(items)
    files = write_group_files(table, out, items, status, opts)
    return StudyResult(items, status, table, files)
