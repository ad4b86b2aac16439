"""A study's aggregate as text, files and an error-bar figure (matplotlib's object API only)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import OptionError
from gansuite.contract.files import atomic_write, atomic_write_bytes
from gansuite.report import results
from gansuite.report.texttable import text_table
from gansuite.study.aggregate import ALPHA, aggregate, is_control, label_columns, pairwise, study_rows
from gansuite.study.folder import StudyFolder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StudyTables", "load_tables", "format_tables", "write_outputs", "plot_aggregate",
           "display_rows", "PAIRWISE_HEADERS"]

PAIRWISE_HEADERS = ["model_a", "model_b", "mean_a", "mean_b", "diff", "welch_p", "perm_p", "verdict"]


class StudyTables:
    """The rows of a study's finished cells, their aggregate and the pairwise tests."""

    def __init__(self, study: StudyFolder, rows: pd.DataFrame | None = None) -> None:
        self.study = study
        self.rows = study_rows(study) if rows is None else rows
        self.aggregate = aggregate(self.rows)
        self.pairwise = pairwise(self.rows)
        self.labels = label_columns(self.rows)


def load_tables(path: Path | str) -> StudyTables:
    return StudyTables(StudyFolder(path))


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if abs(value) >= 1000:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _interval(mean: Any, half: Any) -> str:
    if half is None or (isinstance(half, float) and math.isnan(half)):
        return _num(mean)
    return f"{_num(mean)} +- {_num(half)} [{_num(mean - half)}, {_num(mean + half)}]"


def display_rows(tables: StudyTables) -> tuple[list[str], list[list[str]]]:
    """Headers and text cells of the aggregate: mean +- 95% half-width [interval]."""
    agg = tables.aggregate
    labels = [c for c in tables.labels if c in agg.columns]
    has_control = "control" in agg.columns and agg["control"].notna().any()
    headers = ["model", "dataset", "eval", "metric", *labels, "n", "mean +- ci95 [95% CI]", "std"]
    if has_control:
        headers += ["control", "control mean +- ci95", "minus control (paired) +- ci95"]
    body = []
    for _, r in agg.iterrows():
        cells = [str(r["model"]), str(r["dataset"]), str(r["eval"]), str(r["metric"]),
                 *(str(r[c]) for c in labels), str(int(r["n"])), _interval(r["mean"], r["ci95"]), _num(r["std"])]
        if has_control:
            ctrl = r.get("control")
            cells += ([str(ctrl), _interval(r["control_mean"], r["control_ci95"]),
                       _interval(r["vs_control"], r["vs_control_ci95"])] if isinstance(ctrl, str) else ["", "", ""])
        body.append(cells)
    return headers, body


def _pairwise_rows(tables: StudyTables) -> tuple[list[str], list[list[str]]]:
    pw = tables.pairwise
    keys = [c for c in pw.columns if c not in {*PAIRWISE_HEADERS, "n_a", "n_b"}]
    body = [[*(str(r[k]) for k in keys), str(r["model_a"]), str(r["model_b"]), _num(r["mean_a"]),
             _num(r["mean_b"]), _num(r["diff"]), _num(r["welch_p"], 3), _num(r["perm_p"], 3), str(r["verdict"])]
            for _, r in pw.iterrows()]
    return [*keys, *PAIRWISE_HEADERS], body


def format_tables(tables: StudyTables, fmt: str = "table") -> str:
    """``table``: the aggregate and the pairwise tests as text; ``csv``/``json``/``markdown`` of the aggregate
    (markdown adds the pairwise tests)."""
    if fmt in {"csv", "json"}:
        return results.format_table(tables.aggregate, fmt)
    if tables.aggregate.empty:
        return "(no finished cells yet)"
    if fmt == "markdown":
        return (results.format_table(tables.aggregate, "markdown") + "\n\n"
                + results.format_table(tables.pairwise, "markdown"))
    if fmt != "table":
        raise OptionError(f"Unknown format '{fmt}'. Choose one of: table, csv, markdown, json.")
    headers, body = display_rows(tables)
    text = [f"Mean over seeds with the 95% t-interval of the mean ({tables.study.path}):",
            text_table(body, headers)]
    if not tables.pairwise.empty:
        pheaders, pbody = _pairwise_rows(tables)
        text += ["", f"Pairwise tests over seeds (two-sided; 'differ' means Welch p < {ALPHA:g}, "
                 "no correction for multiple comparisons):", text_table(pbody, pheaders)]
    return "\n".join(text)


def plot_aggregate(tables: StudyTables, png: Path | str | None = None) -> bytes:
    """One panel per eval x metric (plus train images/s): a bar per model and variant at the mean,
    the 95% interval as error bar, one dot per seed. Returns the PNG (also written to ``png``)."""
    from matplotlib.figure import Figure

    agg = tables.aggregate
    if agg.empty:
        raise OptionError("No finished cells to plot yet; run the study first.")
    shown = agg[(agg["eval"] != "train") | (agg["metric"].isin(["images_per_s", "wall_s"]))]
    panels = list(dict.fromkeys(zip(shown["eval"], shown["metric"], strict=True)))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.4 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (ev, metric) in zip(axes.flat, panels, strict=False):
        _panel(ax, tables, shown[(shown["eval"] == ev) & (shown["metric"] == metric)])
        ax.set_title(f"{ev}: {metric}", fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    data = buffer.getvalue()
    if png is not None:
        atomic_write_bytes(Path(png), data)
    return data


def _panel(ax: Any, tables: StudyTables, part: pd.DataFrame) -> None:
    labels = [c for c in tables.labels if c in part.columns]
    rows = tables.rows.assign(**{c: tables.rows[c].map(lambda v: "" if v is None or v != v else str(v))
                                 for c in labels})
    names = []
    colours = {m: f"C{i % 10}" for i, m in enumerate(dict.fromkeys(part["model"]))}  # one per model
    for i, (_, r) in enumerate(part.iterrows()):
        tag = " ".join(str(r[c]) for c in labels if str(r[c]))
        names.append(f"{r['model']}\n{tag}".strip())
        control = any(is_control(r[c]) for c in labels)
        err = None if math.isnan(r["ci95"]) else r["ci95"]
        ax.bar(i, r["mean"], yerr=err, capsize=4, color=colours[r["model"]], alpha=0.25 if control else 0.6,
               hatch="//" if control else None, edgecolor="black", linewidth=0.5)
        mask = ((rows["model"] == r["model"]) & (rows["dataset"] == r["dataset"]) & (rows["eval"] == r["eval"])
                & (rows["metric"] == r["metric"]))
        for c in labels:
            mask &= rows[c] == r[c]
        seeds = rows[mask]["value"].astype(float)
        ax.plot([i] * len(seeds), seeds, "k.", ms=5)
    ax.set_xticks(range(len(names)), names, fontsize=7)


def write_outputs(tables: StudyTables) -> list[Path]:
    """``aggregate.csv``, ``pairwise.csv`` and ``aggregate.png`` in the study folder."""
    root = tables.study.path
    written = []
    for name, frame in (("aggregate.csv", tables.aggregate), ("pairwise.csv", tables.pairwise)):
        _write_text(root / name, results.format_table(frame, "csv") + "\n")
        written.append(root / name)
    if not tables.aggregate.empty:
        plot_aggregate(tables, root / "aggregate.png")
        written.append(root / "aggregate.png")
    return written


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text))
