"""Run folders gathered into one tidy table, and the comparison of two runs.

One row per (run, eval, metric): ``run, model, dataset, dedup, eval, metric, value, seed, device,
versions, data_verified, created``, then any other scalar fields the probes put in their rows
(``std``, ``discriminator``, ``n_samples``...). Fields a row lacks are taken from the run's
``config.json``. Training itself contributes rows with ``eval = "train"`` (steps, last losses,
median images/s from ``metrics.jsonl``) so that a run without evals still shows up.

pandas and matplotlib are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import fnmatch
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import CheckpointError, OptionError
from gansuite.engine.runfolder import RunFolder, atomic_write_bytes
from gansuite.report.texttable import cell_text, frame_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "KEY_COLUMNS",
    "find_runs",
    "run_rows",
    "results_table",
    "filter_table",
    "compare_runs",
    "display_columns",
    "NOTE_COLUMNS",
    "config_differences",
    "format_table",
    "plot_results",
]

COLUMNS = (
    "run",
    "model",
    "dataset",
    "dedup",
    "eval",
    "metric",
    "value",
    "seed",
    "device",
    "versions",
    "data_verified",
    "created",
)
# Columns that identify one measurement inside a run (besides any extra descriptive fields).
KEY_COLUMNS = ("eval", "metric")
# Row fields never shown as columns (bulky or already folded into another column).
_DROPPED = {"plugins", "options", "model_config", "dataset_config", "probe_configs", "dedup_config"}
_TRAIN_EVAL = "train"


def find_runs(paths: Iterable[Path | str]) -> list[Path]:
    """Run folders under ``paths``: each is a run folder or a folder holding run folders.

    A folder is a run folder when it holds ``config.json``. Folders of run folders are searched
    recursively (``checkpoints/`` and ``samples/`` are skipped). Raises :class:`OptionError`
    when a path does not exist or holds no run.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise OptionError(f"{path} does not exist; pass a run folder or a folder of run folders.")
        runs = [path] if (path / "config.json").is_file() else _search(path)
        if not runs:
            raise OptionError(
                f"No run folders under {path} (a run folder holds config.json); "
                "create one with 'gansuite run'."
            )
        found.extend(runs)
    return list(dict.fromkeys(p.resolve() for p in found))


def _search(root: Path) -> list[Path]:
    runs: list[Path] = []
    if not root.is_dir():
        return runs
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name in {"checkpoints", "samples"} or child.name.startswith("."):
            continue
        if (child / "config.json").is_file():
            runs.append(child)
        else:
            runs.extend(_search(child))
    return runs


def _versions_text(versions: Any) -> str:
    if isinstance(versions, dict):
        return " ".join(f"{k}={v}" for k, v in versions.items())
    return "" if versions is None else str(versions)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _train_rows(folder: RunFolder) -> list[dict[str, Any]]:
    """Rows summarising ``metrics.jsonl``: steps, last losses, median images/s."""
    metrics = folder.read_metrics(strict=True)
    if not metrics:
        return []
    last = metrics[-1]
    rows = [{"eval": _TRAIN_EVAL, "metric": "steps", "value": float(last.get("step", len(metrics)))}]
    for key in ("loss_d", "loss_g"):
        if isinstance(last.get(key), (int, float)):
            rows.append({"eval": _TRAIN_EVAL, "metric": key, "value": float(last[key])})
    speeds = sorted(
        float(r["images_per_s"]) for r in metrics if isinstance(r.get("images_per_s"), (int, float))
    )
    if speeds:
        rows.append({"eval": _TRAIN_EVAL, "metric": "images_per_s", "value": speeds[len(speeds) // 2]})
    return rows


def _device(config: dict[str, Any]) -> Any:
    return config.get("device_resolved") or config.get("device")


def run_rows(path: Path | str, *, name: str | None = None, train: bool = True,
             warn: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The rows of one run folder, each completed from its ``config.json``.

    An unreadable ``config.json`` raises :class:`CheckpointError`; an unreadable ``results.json``
    too, unless ``warn`` is given: then it is reported through ``warn`` and the training rows stay.
    """
    folder = RunFolder(path)
    config = folder.read_config()
    try:
        results = folder.read_results()
    except CheckpointError as exc:
        if warn is None:
            raise
        warn(f"{exc} Showing its training rows only.")
        results = []
    defaults = {
        "run": name or folder.path.name,
        "model": config.get("model"),
        "dataset": config.get("dataset"),
        "dedup": config.get("dedup"),
        "seed": config.get("seed"),
        "device": _device(config),
        "versions": config.get("versions"),
        "data_verified": config.get("data_verified"),
        "created": config.get("created"),
    }
    rows = []
    for row in (_train_rows(folder) if train else []) + results:
        merged = {**defaults, **{k: v for k, v in row.items() if v is not None or k not in defaults}}
        merged["run"] = defaults["run"]
        merged["versions"] = _versions_text(merged.get("versions"))
        rows.append({k: v for k, v in merged.items() if k not in _DROPPED and _scalar(v)})
    return rows


def _run_names(runs: Sequence[Path]) -> list[str]:
    """Folder names, made unique with their parent's name where two runs share one."""
    names = [p.name for p in runs]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in runs]


def results_table(paths: Iterable[Path | str], *, train: bool = True,
                  warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One tidy DataFrame over every run under ``paths`` (see the module docstring).

    With ``warn``, a run whose files cannot be read is reported through it (one line) and left
    out, and the other runs are still tabulated; without, it raises."""
    import pandas as pd

    runs = find_runs(paths)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    first: list[str] = []
    for run, name in zip(runs, _run_names(runs), strict=True):
        try:
            rows.extend(run_rows(run, name=name, train=train, warn=problems.append if warn else None))
        except CheckpointError as exc:
            if warn is None:
                raise
            first.append(str(exc))
            problems.append(f"{exc} Skipping {run}.")
    where = ", ".join(str(p) for p in paths)
    if not rows and problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CheckpointError(f"No run under {where} could be read: {(first or problems)[0]}{more}")
    if not rows:
        raise OptionError(f"The runs under {where} have no results rows yet (no metrics.jsonl rows, no "
                          "results.json); train with 'gansuite run' or evaluate with 'gansuite eval'.")
    for problem in problems:
        warn(problem)  # type: ignore[misc]  # problems only collects with warn given
    extras = sorted({k for r in rows for k in r} - set(COLUMNS))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *extras])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.reset_index(drop=True)


def filter_table(frame: pd.DataFrame, filters: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Rows matching every ``(column, pattern)``: a case-insensitive fnmatch glob on the text.

    The same column given twice matches either value.
    """
    wanted: dict[str, list[str]] = {}
    for key, pattern in filters:
        if key not in frame.columns:
            raise OptionError(f"Unknown filter column '{key}'. Choose one of: {', '.join(frame.columns)}.")
        wanted.setdefault(key, []).append(pattern)
    mask = [True] * len(frame)
    for key, patterns in wanted.items():
        texts = frame[key].map(cell_text)
        col = [any(fnmatch.fnmatchcase(t.lower(), p.lower()) for p in patterns) for t in texts]
        mask = [a and b for a, b in zip(mask, col, strict=True)]
    return frame[mask].reset_index(drop=True)


def _label_columns(frame: pd.DataFrame) -> list[str]:
    """Extra columns that tell rows of one run's (eval, metric) apart (``discriminator``,
    ``n_labels``...): text or integer columns whose value varies inside such a group.
    Provenance that is constant per run (``probe``, ``step``) and float measurements
    (``eval_seconds``) are not labels."""
    from pandas.api.types import is_float_dtype

    labels = []
    for col in frame.columns:
        if col in COLUMNS:
            continue
        values = frame[col]
        if is_float_dtype(values) and not (values.dropna() % 1 == 0).all():
            continue
        texts = values.map(cell_text)
        if (texts.groupby([frame["run"], frame["eval"], frame["metric"]]).nunique() > 1).any():
            labels.append(col)
    return labels


# Row fields shown whenever a row fills them: a probe's warning about its own number (a difference
# "not distinguishable from 0", a fit stopped short of its criterion).
NOTE_COLUMNS = ("note",)


def display_columns(frame: pd.DataFrame) -> list[str]:
    """The columns a person reads: the standard ones, the labels and any probe notes (provenance
    left to csv/json)."""
    labels = _label_columns(frame)
    notes = [c for c in NOTE_COLUMNS if c in frame.columns and c not in labels
             and frame[c].map(cell_text).astype(bool).any()]
    return [*COLUMNS, *labels, *notes]


def _one_run(run: Path | str, warn: Callable[[str], None]) -> pd.DataFrame:
    """One run's table; its damaged results.json is warned about, a damaged config.json raises."""
    import pandas as pd

    rows = run_rows(Path(run).resolve(), name=Path(run).resolve().name, warn=warn)
    extras = sorted({k for r in rows for k in r} - set(COLUMNS))
    frame = pd.DataFrame(rows, columns=[*COLUMNS, *extras])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def compare_runs(run_a: Path | str, run_b: Path | str, *,
                 warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Metrics of two runs side by side: ``value_a, value_b, diff (b - a), rel_diff``."""
    import pandas as pd

    for run in (run_a, run_b):
        if not (Path(run) / "config.json").is_file():
            raise OptionError(f"{run} is not a run folder (no config.json); gansuite compare takes two.")
    a = results_table([run_a], warn=warn) if warn is None else _one_run(run_a, warn)
    b = results_table([run_b], warn=warn) if warn is None else _one_run(run_b, warn)
    keys = [*KEY_COLUMNS, *sorted(set(_label_columns(a)) | set(_label_columns(b)))]
    for frame in (a, b):
        for key in keys:
            if key not in frame.columns:
                frame[key] = None
            frame[key] = frame[key].map(cell_text)
    left = a[[*keys, "value"]].rename(columns={"value": "value_a"})
    right = b[[*keys, "value"]].rename(columns={"value": "value_b"})
    merged = pd.merge(left, right, on=keys, how="outer", sort=False)
    merged["diff"] = merged["value_b"] - merged["value_a"]
    denom = merged["value_a"].abs().where(merged["value_a"] != 0)
    merged["rel_diff"] = merged["diff"] / denom
    empty = [k for k in keys if k not in KEY_COLUMNS and (merged[k] == "").all()]
    return merged.drop(columns=empty).reset_index(drop=True)


def config_differences(run_a: Path | str, run_b: Path | str) -> list[tuple[str, Any, Any]]:
    """Top-level ``config.json`` settings that differ between two runs (bulky ones flattened)."""
    ca, cb = RunFolder(run_a).read_config(), RunFolder(run_b).read_config()
    skip = {"created", "git_commit", "data_root"}
    out = []
    for key in dict.fromkeys([*ca, *cb]):
        if key in skip:
            continue
        va, vb = ca.get(key), cb.get(key)
        if va != vb:
            out.append((key, _compact(va), _compact(vb)))
    return out


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def format_table(frame: pd.DataFrame, fmt: str) -> str:
    """Render as ``table`` (aligned text), ``csv``, ``markdown`` or ``json`` (a list of rows)."""
    if fmt == "csv":
        return str(frame.to_csv(index=False)).rstrip("\n")
    if fmt == "json":
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=2)
    if fmt in ("table", "markdown"):
        if frame.empty and fmt == "table":
            return "(no rows)"
        return frame_table(frame, markdown=fmt == "markdown")
    raise OptionError(f"Unknown format '{fmt}'. Choose one of: table, csv, markdown, json.")


def plot_results(frame: pd.DataFrame, png: Path | str) -> Path:
    """Bar chart of each (eval, metric): mean value per model (and label such as
    ``discriminator``), error bar = std over runs, one dot per run.

    Needs at least two runs; raises :class:`OptionError` otherwise.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = frame.dropna(subset=["value"])
    if frame["run"].nunique() < 2:
        raise OptionError("A results plot compares runs: pass at least two run folders.")
    labels = _label_columns(frame)
    frame = frame.assign(
        _bar=[
            "\n".join(t for t in (cell_text(v) for v in row) if t)
            for row in frame[["model", *labels]].itertuples(index=False)
        ]
    )
    panels = sorted(frame.groupby(["eval", "metric"]).groups)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (ev, metric) in zip(axes.flat, panels, strict=False):
        part = frame[(frame["eval"] == ev) & (frame["metric"] == metric)]
        bars = sorted(part["_bar"].unique())
        for i, bar in enumerate(bars):
            vals = part[part["_bar"] == bar]["value"].astype(float)
            ax.bar(
                i,
                vals.mean(),
                color=f"C{i % 10}",
                alpha=0.6,
                yerr=vals.std() if len(vals) > 1 else None,
                capsize=3,
            )
            ax.plot([i] * len(vals), vals, "k.", ms=5)
        ax.set_xticks(range(len(bars)), bars, fontsize=7)
        ax.set_title(f"{ev}: {metric}", fontsize=9)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    out = Path(png)
    atomic_write_bytes(out, buffer.getvalue())
    return out
