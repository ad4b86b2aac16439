"""The stored benchmark runs as a table (pandas) and a PNG of throughput over commits: what
``gansuite bench history`` shows (pytest-benchmark compares runs in time; this is images/s)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gansuite.contract.errors import OptionError
from gansuite.contract.files import atomic_write_bytes
from gansuite.report.bench import benchmark_rows, load_report, report_time, saved_reports

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["history_table", "history_pivot", "plot_history"]


def history_table(history_root: Path, machine: str | None = None) -> pd.DataFrame:
    """Every stored benchmark result as a long table, oldest run first: machine, mode, date,
    commit, file, benchmark, throughput, unit, median_s, rounds, device."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for path in saved_reports(history_root, machine):
        report = load_report(path)
        commit = report.get("commit_info") or {}
        base = {
            "machine": path.parents[2].name,
            "mode": path.parents[1].name,
            "when": report_time(report),
            "commit": str(commit.get("id") or "")[:8] + ("+" if commit.get("dirty") else ""),
            "file": path.relative_to(history_root).as_posix(),
        }
        rows.extend({**base, **row} for row in benchmark_rows(report))
    columns = ["machine", "mode", "when", "commit", "file", "benchmark", "throughput", "unit", "median_s",
               "rounds", "device"]
    frame = pd.DataFrame(rows, columns=columns).sort_values("when", kind="stable")
    frame.insert(2, "date", frame.pop("when").map(lambda t: t.strftime("%Y-%m-%d %H:%M")))
    return frame.reset_index(drop=True)


def history_pivot(frame: pd.DataFrame, last: int = 6) -> pd.DataFrame:
    """Throughput per benchmark (rows) and stored run (columns, the ``last`` most recent)."""
    if frame.empty:
        return frame
    runs = list(dict.fromkeys(frame["file"]))[-last:]
    part = frame[frame["file"].isin(runs)]
    label: dict[str, str] = {}
    for f, d, c in zip(part["file"], part["date"], part["commit"], strict=True):
        if f not in label:
            text = f"{d} {c}"
            label[f] = text if text not in label.values() else f"{text} #{len(label)}"
    wide = part.pivot_table(
        index=["machine", "mode", "benchmark", "unit"], columns="file", values="throughput", aggfunc="first"
    )
    wide = wide[[r for r in runs if r in wide.columns]].rename(columns=label)
    wide.columns.name = None
    return wide.reset_index()


def plot_history(frame: pd.DataFrame, png: Path) -> Path:
    """One small panel per benchmark: throughput over stored runs (x: date and commit)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if frame.empty:
        raise OptionError("No stored benchmark runs to plot; store one with 'gansuite bench --save'.")
    keys = sorted(frame.groupby(["machine", "mode", "benchmark"]).groups)
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(5.0 * ncols, 2.8 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (machine, mode, name) in zip(axes.flat, keys, strict=False):
        part = frame[(frame["machine"] == machine) & (frame["mode"] == mode) & (frame["benchmark"] == name)]
        ax.plot(range(len(part)), part["throughput"], "o-", ms=4)
        ax.set_xticks(range(len(part)), [f"{d[5:10]}\n{c}" for d, c in zip(part["date"], part["commit"], strict=True)],
                      fontsize=6)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{name} ({mode})", fontsize=8)
        ax.set_ylabel(str(part["unit"].iloc[0]), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Throughput over commits: " + ", ".join(sorted(set(frame["machine"]))), fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    atomic_write_bytes(Path(png), buffer.getvalue())
    return Path(png)
