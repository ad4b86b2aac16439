"""A study's finished cells aggregated over seeds, with their controls and pairwise tests.

One row per model x dataset x eval x metric (and label such as the result rows' ``variant``):
``n`` seeds, mean, standard deviation and the 95% t-interval of the mean. A row whose variant is
a control (``random...``: a randomly initialised network, ``copy...``, ``real...``) is kept as
its own row and also shown beside the other variants of the same measurement, with the paired
difference over the seeds both have. Training adds ``train`` rows: median images/s per run
(from ``metrics.jsonl``), steps, last losses, and ``wall_s`` (the cell's command time, summed
over attempts, from the study's records).

:func:`pairwise` compares every two models on every non-control measurement over seeds: Welch's
t-test and an exact (or 9,999-draw) permutation test of the difference of means. With three seeds
a side the permutation test cannot go below p = 0.1; read it as "within seed noise" unless the
effect is large.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import TYPE_CHECKING, Any

from gansuite.report import results
from gansuite.study.folder import StudyFolder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["study_rows", "aggregate", "pairwise", "is_control", "CONTROL_PREFIXES", "ALPHA"]

CONTROL_PREFIXES = ("random", "copy", "real")
ALPHA = 0.05
_TRAIN = "train"


def is_control(variant: Any) -> bool:
    return isinstance(variant, str) and variant.startswith(CONTROL_PREFIXES)


def study_rows(study: StudyFolder) -> pd.DataFrame:
    """Result rows of every finished cell; ``model`` is the study's label, ``cell`` the cell id."""
    import pandas as pd

    info = study.read_study()
    evals = tuple(info.get("evals", ()))
    rows: list[dict[str, Any]] = []
    for cell in study.cells():
        if not study.finished(cell.id, evals):
            continue
        cell_rows = results.run_rows(study.run_dir(cell.id), name=cell.id, train=True)
        wall = study.read_record(cell.id).get("wall_s")
        if isinstance(wall, (int, float)):
            cell_rows.append({"run": cell.id, "eval": _TRAIN, "metric": "wall_s", "value": float(wall),
                              "dataset": cell.dataset, "seed": cell.seed})
        for row in cell_rows:
            rows.append({**row, "model": cell.label, "registered_model": cell.model, "cell": cell.id,
                         "seed": cell.seed})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def label_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that tell apart the rows of one run's (eval, metric), e.g. ``variant``."""
    if frame.empty:
        return []
    return [c for c in results.display_columns(frame) if c not in (*results.COLUMNS, *results.NOTE_COLUMNS)]


def _keyed(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    labels = label_columns(frame)
    frame = frame.assign(**{c: frame[c].map(_text) for c in labels})
    return frame.dropna(subset=["value"]), labels


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def t_interval(values: Any) -> tuple[float, float, float, float]:
    """``(mean, std, half_width, n)`` of the 95% t-interval of the mean (NaN spread for n < 2)."""
    import numpy as np
    from scipy import stats

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(1 - ALPHA / 2, n - 1) * std / math.sqrt(n))
    return mean, std, half, n


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and 95% interval over seeds per model x dataset x eval x metric (x labels)."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame(columns=["model", "dataset", "eval", "metric", "n", "mean", "std", "ci95"])
    frame, labels = _keyed(frame)
    keys = ["model", "dataset", "eval", "metric", *labels]
    out = []
    for key, part in frame.groupby(keys, sort=False):
        mean, std, half, n = t_interval(part["value"])
        row = dict(zip(keys, key, strict=True))
        row.update(n=n, mean=mean, std=std, ci95=half, ci_low=mean - half, ci_high=mean + half,
                   seeds=",".join(str(s) for s in sorted(part["seed"].tolist())))
        out.append(row)
    table = pd.DataFrame(out)
    if "variant" in labels:
        table = _with_controls(table, frame, keys)
    evals = {k: i for i, k in enumerate(dict.fromkeys(table["eval"]))}
    models = {k: i for i, k in enumerate(dict.fromkeys(frame["model"]))}  # the spec's order
    table = table.assign(_train=table["eval"] == _TRAIN, _eval=table["eval"].map(evals),
                         _model=table["model"].map(models))
    return table.sort_values(["_train", "_eval", "dataset", "metric", "_model"], kind="stable") \
        .drop(columns=["_train", "_eval", "_model"]).reset_index(drop=True)


def _with_controls(table: pd.DataFrame, frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Beside each non-control variant: its control's mean and interval, and the paired difference."""
    others = [k for k in keys if k != "variant"]
    extra: dict[str, list[Any]] = {c: [] for c in ("control", "control_mean", "control_ci95",
                                                   "vs_control", "vs_control_ci95")}
    for _, row in table.iterrows():
        match = table[(table[others] == row[others]).all(axis=1) & table["variant"].map(is_control)]
        if is_control(row["variant"]) or match.empty or row["eval"] == _TRAIN:
            for name, values in extra.items():
                values.append(None if name == "control" else math.nan)
            continue
        ctrl = match.iloc[0]
        mine = _per_seed(frame, row, others)
        theirs = _per_seed(frame, ctrl, others)
        paired = [mine[s] - theirs[s] for s in mine if s in theirs]
        diff, _std, half, _n = t_interval(paired)
        for name, value in zip(extra, (ctrl["variant"], ctrl["mean"], ctrl["ci95"], diff, half), strict=True):
            extra[name].append(value)
    return table.assign(**extra)


def _per_seed(frame: pd.DataFrame, row: Any, others: list[str]) -> dict[int, float]:
    part = frame[(frame[others] == row[others]).all(axis=1) & (frame["variant"] == row["variant"])]
    return {int(s): float(v) for s, v in part.groupby("seed")["value"].mean().items()}


def _tests(a: Any, b: Any) -> tuple[float, float]:
    """Welch's t-test and a permutation test of the difference of means (two-sided p-values)."""
    import numpy as np
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return math.nan, math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        welch = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        perm = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                                      permutation_type="independent", alternative="two-sided",
                                      n_resamples=9999, vectorized=True, rng=np.random.default_rng(0))
    return welch, float(perm.pvalue)


def pairwise(frame: pd.DataFrame) -> pd.DataFrame:
    """Every two models on every non-control measurement (train rows left out)."""
    import pandas as pd

    columns = ["dataset", "eval", "metric", "model_a", "model_b", "n_a", "n_b", "mean_a", "mean_b",
               "diff", "welch_p", "perm_p", "verdict"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame, labels = _keyed(frame)
    frame = frame[frame["eval"] != _TRAIN]
    if "variant" in labels:
        frame = frame[~frame["variant"].map(is_control)]
    keys = ["dataset", "eval", "metric", *labels]
    out = []
    for key, part in frame.groupby(keys, sort=False):
        by_model = {m: p.groupby("seed")["value"].mean() for m, p in part.groupby("model", sort=False)}
        for ma, mb in combinations(by_model, 2):
            a, b = by_model[ma].to_numpy(), by_model[mb].to_numpy()
            welch, perm = _tests(a, b)
            row = dict(zip(keys, key, strict=True))
            row.update(model_a=ma, model_b=mb, n_a=len(a), n_b=len(b), mean_a=float(a.mean()),
                       mean_b=float(b.mean()), diff=float(b.mean() - a.mean()), welch_p=welch, perm_p=perm,
                       verdict=_verdict(welch))
            out.append(row)
    return pd.DataFrame(out, columns=[*keys, *[c for c in columns if c not in keys]])


def _verdict(p: float) -> str:
    if math.isnan(p):
        return "untestable (under 2 seeds or no spread)"
    return f"differ (Welch p < {ALPHA:g})" if p < ALPHA else "within seed noise"
